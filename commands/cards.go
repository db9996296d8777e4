package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// maxListed caps the lines of a card's list; the rest is "… and N more".
const maxListed = 20

// MFASetupURL is where users register their methods again.
const MFASetupURL = "https://aka.ms/mfasetup"

// RequestCard is a request's card as it stands: what is asked, by whom, why, what it will
// change, who decided, progress and the result. Approve and Deny only while pending.
func RequestCard(r *approvals.Request, failed []approvals.Item, now time.Time) bot.Message {
	m := bot.Message{Title: requestTitle(r), Tone: tone(r.State), RequestID: r.ID}
	m.Facts = append(m.Facts, bot.Fact{Label: "Requested by", Value: r.Requester.Name + " (" + r.Requester.Platform + ")"})
	switch r.Target.Type {
	case "group":
		m.Facts = append(m.Facts, bot.Fact{Label: "Group", Value: r.Target.Name})
		m.Facts = append(m.Facts, bot.Fact{Label: "Members to revoke", Value: bot.Thousands(r.Preview.MemberCount)})
	default:
		m.Facts = append(m.Facts, bot.Fact{Label: "User", Value: r.Target.Name})
	}
	if r.Kind == approvals.KindEnforce {
		m.Facts = append(m.Facts, bot.Fact{Label: "Per-user MFA", Value: r.Preview.FromState + " → " + r.Preview.ToState})
	}
	reason := r.Reason
	if reason == "" {
		reason = "(none given)"
	}
	m.Facts = append(m.Facts, bot.Fact{Label: "Reason", Value: reason})
	m.Facts = append(m.Facts, bot.Fact{Label: "State", Value: stateWords(r, now)})
	for _, d := range r.Approvals {
		m.Facts = append(m.Facts, bot.Fact{Label: "Approved by", Value: fmt.Sprintf("%s at %s", d.Actor.Name, hhmm(d.At))})
	}
	if r.Denial != nil {
		label := "Denied by"
		if r.State == approvals.StateCancelled {
			label = "Cancelled by"
		}
		v := fmt.Sprintf("%s at %s", r.Denial.Actor.Name, hhmm(r.Denial.At))
		if r.Denial.Reason != "" {
			v += ": " + r.Denial.Reason
		}
		m.Facts = append(m.Facts, bot.Fact{Label: label, Value: v})
	}

	switch r.Kind {
	case approvals.KindReset:
		m.Text = "Deletes every authentication method except the password (phones last), then revokes all sign-in sessions. " +
			"The user must register again at next sign-in (" + MFASetupURL + ")."
		if r.State == approvals.StatePending || r.State == approvals.StateApproved {
			m.Sections = append(m.Sections, list("Methods to delete", methodLines(r.Preview.Methods), "(no methods registered: only sessions are revoked)"))
			if len(r.Preview.Kept) > 0 {
				m.Sections = append(m.Sections, list("Kept", methodLines(r.Preview.Kept), ""))
			}
		}
	case approvals.KindRevokeGroup:
		m.Text = "Revokes the sign-in sessions of every member (protected accounts are skipped), so that everyone signs in again and meets the MFA registration prompt."
	case approvals.KindEnforce:
		m.Text = "Sets the legacy per-user MFA state."
	}

	if r.State == approvals.StateRunning || r.State.Final() && r.Total > 0 {
		m.Progress = &bot.Progress{Done: r.Done + r.Failed, Failed: r.Failed, Total: r.Total}
	}
	if len(failed) > 0 {
		var lines []string
		for _, it := range failed {
			lines = append(lines, failedLine(it))
		}
		sec := list("Failed", lines, "")
		if extra := r.Failed - len(failed); extra > 0 {
			sec.More += extra
		}
		m.Sections = append(m.Sections, sec)
	}
	if r.State == approvals.StateFailed && r.Error != "" {
		m.Sections = append(m.Sections, bot.Section{Title: "Why it failed", Lines: []string{r.Error}})
	}
	if r.State == approvals.StatePending {
		m.Buttons = []bot.Button{
			{Label: "Approve", Command: Canonical(Command{Name: CmdApprove, Request: r.ID}), Style: bot.ButtonPrimary},
			{Label: "Deny", Command: Canonical(Command{Name: CmdDeny, Request: r.ID}), Style: bot.ButtonDanger, NeedsReason: true},
		}
	}
	m.Footer = fmt.Sprintf("%s · requested %s", r.ID, hhmm(r.CreatedAt))
	if r.State == approvals.StatePending {
		m.Footer += fmt.Sprintf(" · expires %s (%s left) · the requester cannot approve", hhmm(r.ExpiresAt), left(r.ExpiresAt.Sub(now)))
	}
	return m
}

func requestTitle(r *approvals.Request) string {
	switch r.Kind {
	case approvals.KindReset:
		return "Reset MFA for " + r.Target.Name
	case approvals.KindRevokeGroup:
		return "Revoke sessions of " + r.Target.Name
	case approvals.KindEnforce:
		return "Set per-user MFA of " + r.Target.Name + " to " + r.Preview.ToState
	}
	return string(r.Kind) + " " + r.Target.Name
}

func tone(s approvals.State) bot.Tone {
	switch s {
	case approvals.StatePending, approvals.StateApproved, approvals.StateRunning:
		return bot.TonePending
	case approvals.StateSucceeded:
		return bot.ToneGood
	case approvals.StatePartlyFailed, approvals.StateExpired, approvals.StateCancelled:
		return bot.ToneWarning
	case approvals.StateFailed, approvals.StateDenied:
		return bot.ToneBad
	}
	return bot.ToneNeutral
}

func stateWords(r *approvals.Request, now time.Time) string {
	switch r.State {
	case approvals.StatePending:
		if !now.Before(r.ExpiresAt) {
			return "Expired, waiting to be closed"
		}
		return "Waiting for approval"
	case approvals.StateApproved:
		return "Approved, starting"
	case approvals.StateRunning:
		return fmt.Sprintf("Running: %s of %s done", bot.Thousands(r.Done+r.Failed), bot.Thousands(r.Total))
	case approvals.StateSucceeded:
		return fmt.Sprintf("Succeeded at %s", hhmm(r.ClosedAt))
	case approvals.StatePartlyFailed:
		return fmt.Sprintf("Partly failed: %s done, %s failed", bot.Thousands(r.Done), bot.Thousands(r.Failed))
	case approvals.StateFailed:
		return "Failed"
	case approvals.StateDenied:
		return "Denied"
	case approvals.StateExpired:
		return fmt.Sprintf("Expired at %s without approval", hhmm(r.ExpiresAt))
	case approvals.StateCancelled:
		return "Cancelled"
	}
	return string(r.State)
}

func failedLine(it approvals.Item) string {
	what := ""
	switch it.Op {
	case approvals.OpDeleteMethod:
		what = "delete " + approvals.DecodeMethodArg(it.Arg).Type + ": "
	case approvals.OpSetMFAState:
		what = "set " + it.Arg + ": "
	}
	return fmt.Sprintf("%s — %s%s", it.UserName, what, it.Error)
}

func methodLines(ms []approvals.Method) []string {
	var out []string
	for _, m := range ms {
		l := m.Label()
		if !m.Created.IsZero() {
			l += " · added " + m.Created.UTC().Format("2006-01-02")
		}
		if m.Note != "" {
			l += " (" + m.Note + ")"
		}
		out = append(out, l)
	}
	return out
}

// list makes a section of at most maxListed lines.
func list(title string, lines []string, empty string) bot.Section {
	s := bot.Section{Title: title}
	if len(lines) == 0 && empty != "" {
		s.Lines = []string{empty}
		return s
	}
	if len(lines) > maxListed {
		s.More = len(lines) - maxListed
		lines = lines[:maxListed]
	}
	s.Lines = lines
	return s
}

func hhmm(t time.Time) string { return t.UTC().Format("15:04 UTC") }

func left(d time.Duration) string {
	if d <= 0 {
		return "none"
	}
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "under a minute"
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return fmt.Sprintf("%d min", m)
}

// PendingMessage lists open requests.
func PendingMessage(rs []*approvals.Request, now time.Time) bot.Message {
	m := bot.Message{Title: "Open requests"}
	if len(rs) == 0 {
		m.Text = "Nothing is waiting for approval or running."
		return m
	}
	var lines []string
	for _, r := range rs {
		l := fmt.Sprintf("%s · %s · asked by %s · %s", r.ID, requestTitle(r), r.Requester.Name, stateWords(r, now))
		if r.State == approvals.StatePending {
			l += fmt.Sprintf(" · expires in %s", left(r.ExpiresAt.Sub(now)))
		}
		lines = append(lines, l)
	}
	m.Sections = []bot.Section{list(fmt.Sprintf("%d open", len(rs)), lines, "")}
	m.Footer = "/mfa show <id> for a request's card · /mfa cancel <id> to withdraw one"
	return m
}

var helpText = map[string]string{
	CmdStatus:      "Show a user's MFA registration, methods, default method and per-user MFA state, and what to do next. Example: /mfa status ann@contoso.com",
	CmdReset:       "Ask to delete all of a user's methods but the password and revoke their sessions; they register again at next sign-in. Needs a second admin's approval. Example: /mfa reset ann@contoso.com lost her phone",
	CmdRevokeGroup: "Ask to revoke the sign-in sessions of every member of a group, so they meet the MFA registration prompt. Large groups need --confirm with the member count. Example: /mfa revoke-group \"Sales EMEA\" --confirm 2345 enrollment campaign",
	CmdEnforce:     "Ask to set a user's legacy per-user MFA state. Needs approval. Example: /mfa enforce ann@contoso.com enforced",
	CmdSummary:     "Post the enrollment summary (registered, capable, by method, trend, who is missing) to the approvals channel now.",
	CmdPending:     "List requests waiting for approval or running.",
	CmdShow:        "Show a request's card. Example: /mfa show R-7K2QXA",
	CmdCancel:      "Withdraw a pending request (the requester or an approver). Example: /mfa cancel R-7K2QXA typo",
	CmdApprove:     "Approve a request (an approver who did not ask for it). The card's button does the same.",
	CmdDeny:        "Deny a request, with a reason. Example: /mfa deny R-7K2QXA not during the change freeze",
	CmdHelp:        "Show this help, or help for one command: /mfa help reset",
}

// HelpMessage is the help for every command, or for one.
func HelpMessage(topic string) bot.Message {
	if topic != "" {
		return bot.Message{Title: "/mfa " + usage[topic], Text: helpText[topic]}
	}
	var lines []string
	for _, c := range order {
		lines = append(lines, "/mfa "+usage[c]+" — "+strings.SplitN(helpText[c], ". Example", 2)[0])
	}
	return bot.Message{
		Title:    "mfabot: MFA for Microsoft Entra ID, with two-person approval",
		Text:     "Anything that changes a user becomes a request that a second admin approves in the approvals channel; only then does mfabot carry it out. Every step is audited.",
		Sections: []bot.Section{{Title: "Commands", Lines: lines}},
		Footer:   "<user> is a UPN, mail address or object id; <group> an object id, mail nickname or display name (quote names with spaces).",
	}
}
