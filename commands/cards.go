package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// maxListed caps the lines of a card's list; the rest is "… and N more". Slack allows 50
// blocks and Teams about 28 KB per card, so a card stays well inside both.
const maxListed = 20

// MFASetupURL is where users register their methods again.
const MFASetupURL = "https://aka.ms/mfasetup"

// Cards renders request cards under a policy, so that a card can say how many approvals a
// request needs and that a large revoke-group was confirmed by its member count. The zero
// Cards assumes the defaults: one approval, no confirmation threshold.
type Cards struct {
	Policy approvals.Policy
}

// RequestCard is a request's card under the default policy; see Cards.Request.
func RequestCard(r *approvals.Request, items []approvals.Item, now time.Time) bot.Message {
	return Cards{}.Request(r, items, now)
}

// Request is a request's card as it stands: what is asked, of whom, by whom and why, what
// it will change, who decided and when, progress while it runs and the result when it
// ends. items are the request's items as far as the caller loaded them: every item of a
// single-user request (the card lists what was deleted), the failed ones (up to maxListed)
// of a bulk request, whose other failures are counted from r.Failed. Approve and Deny
// buttons appear only while it is pending.
func (c Cards) Request(r *approvals.Request, items []approvals.Item, now time.Time) bot.Message {
	m := bot.Message{Title: requestTitle(r), Tone: tone(r.State), RequestID: r.ID}

	m.Facts = append(m.Facts, bot.Fact{Label: "Requested by", Value: actorName(r.Requester)})
	switch r.Kind {
	case approvals.KindNudge:
		m.Facts = append(m.Facts, c.campaignFacts(r)...)
	case approvals.KindRevokeGroup:
		if r.Preview.Campaign != nil {
			m.Facts = append(m.Facts, c.campaignFacts(r)...)
			break
		}
		m.Facts = append(m.Facts, bot.Fact{Label: "Group", Value: r.Target.Name + " (id " + r.Target.ID + ")"})
		members := bot.Thousands(r.Preview.MemberCount)
		if limit := c.Policy.ConfirmAbove; limit > 0 && r.Preview.MemberCount > limit {
			members += fmt.Sprintf(" (more than %s: the requester confirmed the count with --confirm %d)", bot.Thousands(limit), r.Preview.MemberCount)
		}
		m.Facts = append(m.Facts, bot.Fact{Label: "Members to revoke", Value: members})
	case approvals.KindResetBulk:
		m.Facts = append(m.Facts, bulkFacts(r)...)
	default:
		m.Facts = append(m.Facts, bot.Fact{Label: "User", Value: r.Target.Name, Exact: true})
	}
	if (r.Kind == approvals.KindReset || r.Kind == approvals.KindResetBulk) && len(r.Preview.Only) > 0 {
		m.Facts = append(m.Facts, bot.Fact{Label: "Only", Value: typeNames(r.Preview.Only)})
	}
	if f, ok := tapFact(r); ok {
		m.Facts = append(m.Facts, f)
	}
	if r.Kind == approvals.KindEnforce {
		v := orNone(r.Preview.FromState) + " → " + r.Preview.ToState
		if b := r.Preview.Becomes; b != "" && b != r.Preview.ToState {
			v += " (Entra shows " + b + ": methods are registered)"
		}
		m.Facts = append(m.Facts, bot.Fact{Label: "Per-user MFA", Value: v})
	}
	m.Facts = append(m.Facts, bot.Fact{Label: "Reason", Value: orText(r.Reason, "(none given)")})
	m.Facts = append(m.Facts, bot.Fact{Label: "State", Value: stateWords(r, now)})
	if req := c.required(); req > 1 && (r.State == approvals.StatePending || len(r.Approvals) > 0) {
		m.Facts = append(m.Facts, bot.Fact{Label: "Approvals", Value: fmt.Sprintf("%d of %d", min(len(r.Approvals), req), req)})
	}
	for _, d := range r.Approvals {
		m.Facts = append(m.Facts, bot.Fact{Label: "Approved by", Value: actorName(d.Actor) + " at " + stamp(d.At, now)})
	}
	if d := r.Denial; d != nil {
		label := "Denied by"
		if r.State == approvals.StateCancelled {
			label = "Cancelled by"
		}
		m.Facts = append(m.Facts, bot.Fact{Label: label, Value: actorName(d.Actor) + " at " + stamp(d.At, now)})
		if d.Reason != "" {
			m.Facts = append(m.Facts, bot.Fact{Label: "Why", Value: d.Reason})
		}
	}
	if r.State == approvals.StatePending {
		m.Facts = append(m.Facts, bot.Fact{Label: "Expires", Value: stamp(r.ExpiresAt, now)})
	}

	var text []string
	if r.State == approvals.StatePending || r.State == approvals.StateApproved {
		text = append(text, whatItDoes(r))
		// A bulk reset's list is checked user by user when it runs, not read again.
		if at := r.Preview.At; r.State == approvals.StatePending && !at.IsZero() && now.Sub(at) > approvals.RefreshAfter && r.Kind != approvals.KindResetBulk {
			text = append(text, "These facts were read "+ago(now.Sub(at))+" ago; they are read again when someone approves.")
		}
	}
	if s := outcome(r, items, now); s != "" {
		text = append(text, s)
	}
	if s := tapOutcome(r, items); s != "" {
		text = append(text, s)
	}
	m.Text = strings.Join(text, "\n\n")

	if r.Kind == approvals.KindReset && (r.State == approvals.StatePending || r.State == approvals.StateApproved) {
		m.Sections = append(m.Sections, list(fmt.Sprintf("Methods to delete (%d)", len(r.Preview.Methods)), methodLines(r.Preview.Methods, r.Preview.Default),
			"none registered: only the sign-in sessions are revoked"))
		if len(r.Preview.Kept) > 0 {
			m.Sections = append(m.Sections, list("Kept", methodLines(r.Preview.Kept, ""), ""))
		}
	}
	m.Sections = append(m.Sections, bulkSections(r)...)
	if r.State == approvals.StateRunning || (r.State.Final() && r.Total > 0) {
		m.Progress = &bot.Progress{Done: r.Done + r.Failed, Failed: r.Failed, Total: r.Total}
	}
	if deleted := deletedLines(items); len(deleted) > 0 && r.State != approvals.StatePending {
		m.Sections = append(m.Sections, list(fmt.Sprintf("Deleted (%d)", len(deleted)), deleted, ""))
	}
	var failed []string
	for _, it := range items {
		if it.State == approvals.ItemFailed {
			failed = append(failed, failedLine(it))
		}
	}
	if len(failed) > 0 {
		what := "Failed"
		if r.Kind == approvals.KindNudge {
			what = "Not reached"
		}
		sec := list(fmt.Sprintf("%s (%s)", what, bot.Thousands(max(r.Failed, len(failed)))), failed, "")
		if extra := r.Failed - len(failed); extra > 0 {
			sec.More += extra
		}
		m.Sections = append(m.Sections, sec)
	}
	if r.State == approvals.StatePending {
		m.Buttons = []bot.Button{
			{Label: "Approve", Command: Canonical(Command{Name: CmdApprove, Request: r.ID}), Style: bot.ButtonPrimary},
			{Label: "Deny", Command: Canonical(Command{Name: CmdDeny, Request: r.ID}), Style: bot.ButtonDanger, NeedsReason: true},
		}
	}
	m.Footer = r.ID + " · requested " + stamp(r.CreatedAt, now)
	if r.State == approvals.StatePending {
		m.Footer += " · the requester cannot approve their own request"
	}
	return m
}

// deletedLines names the methods a reset deleted, from its done items.
func deletedLines(items []approvals.Item) []string {
	var out []string
	for _, it := range items {
		if it.Op == approvals.OpDeleteMethod && it.State == approvals.ItemDone {
			m, label := approvals.DecodeMethodArg(it.Arg)
			out = append(out, methodArgLabel(m, label))
		}
	}
	return out
}

// methodArgLabel is the label of a method stored in an item: "Phone (mobile) +1 ••• 5555".
func methodArgLabel(m approvals.Method, label string) string {
	name := orText(methodTypes[m.Type], m.Type)
	if rest, ok := strings.CutPrefix(label, m.Type); ok {
		return name + rest
	}
	return orText(label, name)
}

// typeNames names method types for people: "Microsoft Authenticator, Software OTP".
func typeNames(types []string) string {
	var out []string
	for _, t := range types {
		out = append(out, orText(methodTypes[t], t))
	}
	return strings.Join(out, ", ")
}

func (c Cards) required() int {
	if c.Policy.RequiredApprovals < 1 {
		return 1
	}
	return c.Policy.RequiredApprovals
}

func requestTitle(r *approvals.Request) string {
	switch r.Kind {
	case approvals.KindReset:
		if len(r.Preview.Only) > 0 {
			return "Reset some MFA methods of " + r.Target.Name
		}
		return "Reset MFA for " + r.Target.Name
	case approvals.KindRevoke:
		return "Revoke sign-in sessions of " + r.Target.Name
	case approvals.KindRevokeGroup:
		if r.Preview.Campaign != nil {
			return campaignTitle(r)
		}
		return "Revoke sessions of " + r.Target.Name
	case approvals.KindNudge:
		return campaignTitle(r)
	case approvals.KindEnforce:
		return "Set per-user MFA of " + r.Target.Name + " to " + r.Preview.ToState
	case approvals.KindResetBulk:
		if len(r.Preview.Only) > 0 {
			return "Reset some MFA methods of " + r.Target.Name
		}
		return "Reset MFA for " + r.Target.Name
	}
	return string(r.Kind) + " " + r.Target.Name
}

// whatItDoes explains to the approver what approving will do.
func whatItDoes(r *approvals.Request) string {
	switch r.Kind {
	case approvals.KindReset:
		s := "Approving deletes every authentication method except the password"
		if len(r.Preview.Only) > 0 {
			s = "Approving deletes only the methods of the selected types (" + typeNames(r.Preview.Only) + "); every other method stays"
		}
		s += ", the default sign-in method last, then revokes all sign-in sessions. "
		if len(r.Preview.Only) > 0 {
			s += "The user registers a replacement at next sign-in (" + MFASetupURL + ")."
		} else {
			s += "The user must register again at next sign-in (" + MFASetupURL + ")."
		}
		if n := stuck(r.Preview.Kept); n > 0 {
			s += fmt.Sprintf(" %d selected method(s) cannot be removed through Microsoft Graph (listed under Kept): the request will end partly done, naming them.", n)
		}
		return s + tapSentence(r)
	case approvals.KindResetBulk:
		return bulkWhatItDoes(r)
	case approvals.KindRevoke:
		return "Approving revokes all sign-in sessions of " + r.Target.Name + ": they sign in again, with MFA, on every device and app. Their methods stay."
	case approvals.KindNudge:
		return campaignWhat(r)
	case approvals.KindRevokeGroup:
		if r.Preview.Campaign != nil {
			return campaignWhat(r)
		}
		return fmt.Sprintf("Approving revokes the sign-in sessions of %s members (protected accounts are skipped): "+
			"everyone signs in again, and whoever has no MFA meets the registration prompt. "+
			"If the group has grown by more than a tenth when it runs, nothing is revoked.", bot.Thousands(r.Preview.MemberCount))
	case approvals.KindEnforce:
		s := fmt.Sprintf("Approving sets the legacy per-user MFA state from %s to %s.", orNone(r.Preview.FromState), r.Preview.ToState)
		if b := r.Preview.Becomes; b != "" && b != r.Preview.ToState {
			s += fmt.Sprintf(" Entra will show %s at once: the user already has methods registered, and Entra enforces per-user MFA for them.", b)
		}
		if r.Preview.ToState == approvals.MFAEnforced || r.Preview.Becomes == approvals.MFAEnforced {
			s += " Enforced per-user MFA also blocks legacy authentication clients without app passwords."
		}
		return s
	}
	return ""
}

// stuck counts kept methods that were selected but cannot be removed.
func stuck(kept []approvals.Method) int {
	n := 0
	for _, m := range kept {
		if m.Type != approvals.MethodPassword && m.Note != "not selected" {
			n++
		}
	}
	return n
}

// outcome says in a sentence how far the request has come or how it ended.
func outcome(r *approvals.Request, items []approvals.Item, now time.Time) string {
	if s := bulkOutcome(r); s != "" {
		return s
	}
	switch r.State {
	case approvals.StateApproved:
		return "Approved; starting now."
	case approvals.StateRunning:
		if r.Total == 0 {
			return "Starting: working out what to change…"
		}
		s := fmt.Sprintf("%s %s of %s", doing(r.Kind), bot.Thousands(r.Done+r.Failed), bot.Thousands(r.Total))
		if r.Failed > 0 {
			s += fmt.Sprintf(" (%s failed so far)", bot.Thousands(r.Failed))
		}
		return s + "…"
	case approvals.StateSucceeded:
		switch r.Kind {
		case approvals.KindReset:
			if len(r.Preview.Only) > 0 {
				return "Done: the selected methods are deleted and all sign-in sessions are revoked; nothing of the selected types is left. " +
					r.Target.Name + " registers a replacement at next sign-in (" + MFASetupURL + ")."
			}
			return "Done: every method but the password is deleted and all sign-in sessions are revoked; nothing else is left. " +
				r.Target.Name + " must register again at next sign-in (" + MFASetupURL + ")."
		case approvals.KindRevoke:
			return "Done: all sign-in sessions of " + r.Target.Name + " are revoked."
		case approvals.KindRevokeGroup:
			if r.Preview.Campaign != nil {
				return fmt.Sprintf("Done: revoked the sign-in sessions of the %s members not registered for MFA; they meet the registration prompt at their next sign-in.", bot.Thousands(r.Done))
			}
			return fmt.Sprintf("Done: revoked the sign-in sessions of %s members.", bot.Thousands(r.Done))
		case approvals.KindNudge:
			return nudgeOutcome(r, items)
		case approvals.KindEnforce:
			became := r.Preview.ToState
			for _, it := range items {
				if it.Op == approvals.OpSetMFAState && it.Result != "" {
					became = it.Result
				}
			}
			s := "Done: per-user MFA of " + r.Target.Name + " is now " + became + "."
			if became != r.Preview.ToState {
				s += " (Set to " + r.Preview.ToState + "; Entra turned it into " + became + " because methods are registered.)"
			}
			return s
		}
	case approvals.StatePartlyFailed:
		if r.Kind == approvals.KindNudge {
			return nudgeOutcome(r, items)
		}
		s := fmt.Sprintf("Partly done: %s of %s succeeded, %s failed (listed below).", bot.Thousands(r.Done), bot.Thousands(r.Total), bot.Thousands(r.Failed))
		if r.Done+r.Failed < r.Total {
			s = fmt.Sprintf("Partly done: %s of %s succeeded, %s failed, %s not attempted.", bot.Thousands(r.Done), bot.Thousands(r.Total),
				bot.Thousands(r.Failed), bot.Thousands(r.Total-r.Done-r.Failed))
		}
		if r.Error != "" {
			s += " Stopped because: " + r.Error
		}
		return s
	case approvals.StateFailed:
		if r.Kind == approvals.KindNudge && r.Total > 0 {
			return nudgeOutcome(r, items)
		}
		switch {
		case r.Total > 0 && r.Failed == r.Total && r.Total == 1:
			return "Failed; nothing was changed. The reason is below."
		case r.Total > 0 && r.Failed == r.Total:
			return fmt.Sprintf("Failed: all %s steps failed; nothing was changed. The reasons are below.", bot.Thousands(r.Total))
		case r.Error != "":
			return "Failed: " + strings.TrimSuffix(r.Error, ".") + "."
		}
		return "Failed."
	case approvals.StateDenied:
		return "Denied; nothing was changed."
	case approvals.StateExpired:
		return "Nobody approved it before " + stamp(r.ExpiresAt, now) + "; nothing was changed. Ask again if it is still needed."
	case approvals.StateCancelled:
		return "Cancelled; nothing was changed."
	}
	return ""
}

// doing is the running verb of a request kind, for progress.
func doing(k approvals.Kind) string {
	switch k {
	case approvals.KindRevokeGroup:
		return "Revoked"
	case approvals.KindResetBulk:
		return "Reset"
	case approvals.KindNudge:
		return "Messaged"
	case approvals.KindReset, approvals.KindRevoke:
		return "Step"
	}
	return "Done"
}

func tone(s approvals.State) bot.Tone {
	switch s {
	case approvals.StatePending, approvals.StateApproved, approvals.StateRunning:
		return bot.TonePending
	case approvals.StateSucceeded:
		return bot.ToneGood
	case approvals.StatePartlyFailed, approvals.StateExpired:
		return bot.ToneWarning
	case approvals.StateFailed, approvals.StateDenied:
		return bot.ToneBad
	}
	return bot.ToneNeutral
}

// stateWords is the state in words, the same on the card and in the pending list.
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
		if r.Total == 0 {
			return "Running"
		}
		return fmt.Sprintf("Running: %s of %s done", bot.Thousands(r.Done+r.Failed), bot.Thousands(r.Total))
	case approvals.StateSucceeded:
		return "Succeeded at " + stamp(r.ClosedAt, now)
	case approvals.StatePartlyFailed:
		return "Partly failed at " + stamp(r.ClosedAt, now)
	case approvals.StateFailed:
		return "Failed at " + stamp(r.ClosedAt, now)
	case approvals.StateDenied:
		return "Denied"
	case approvals.StateExpired:
		return "Expired at " + stamp(r.ExpiresAt, now) + " without approval"
	case approvals.StateCancelled:
		return "Cancelled"
	}
	return string(r.State)
}

func failedLine(it approvals.Item) string {
	what := ""
	switch it.Op {
	case approvals.OpDeleteMethod:
		m, label := approvals.DecodeMethodArg(it.Arg)
		what = "delete " + methodArgLabel(m, label) + ": "
	case approvals.OpSetDefault:
		what = "change the default sign-in method to " + it.Arg + ": "
	case approvals.OpSetMFAState:
		what = "set per-user MFA to " + it.Arg + ": "
	case approvals.OpRevoke:
		what = "revoke sessions: "
	case approvals.OpVerify:
		what = "check that nothing is left: "
	case approvals.OpTAP:
		what = "Temporary Access Pass: "
	case approvals.OpNudge:
		what = ""
	}
	return fmt.Sprintf("%s — %s%s", orText(it.UserName, it.UserID), what, orText(it.Error, "failed"))
}

// methodTypes names Graph's authentication method types for people.
var methodTypes = map[string]string{
	"password":                "Password",
	"phone":                   "Phone",
	"microsoftAuthenticator":  "Microsoft Authenticator",
	"softwareOath":            "Software OTP",
	"hardwareOath":            "Hardware OTP",
	"email":                   "Email",
	"fido2":                   "FIDO2 security key",
	"windowsHelloForBusiness": "Windows Hello for Business",
	"temporaryAccessPass":     "Temporary Access Pass",
	"platformCredential":      "Platform credential (macOS)",
	"qrCodePin":               "QR code",
	"externalAuthentication":  "External method",
}

// methodLabel is "Phone (mobile) +1 206 ••• 5555".
func methodLabel(m approvals.Method) string {
	s := orText(methodTypes[m.Type], m.Type)
	if m.PhoneType != "" {
		s += " (" + m.PhoneType + ")"
	}
	if m.Detail != "" {
		s += " " + m.Detail
	}
	return s
}

// methodLines lists methods for a card; the one behind the default second factor def is
// marked, since it goes last.
func methodLines(ms []approvals.Method, def string) []string {
	var out []string
	for _, m := range ms {
		l := methodLabel(m)
		if def != "" && def != approvals.DefaultNone && m.Backs(def) {
			l += " · default sign-in method (" + def + ")"
		}
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

// actorName is who acted, for a card: "Ann Admin (slack)".
func actorName(a approvals.Actor) string {
	name := orText(a.Name, a.ID)
	if a.Platform == "" {
		return name
	}
	return name + " (" + a.Platform + ")"
}

// stamp writes t for a chat message: "09:14 UTC" on now's day, with the date otherwise.
func stamp(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.IsZero() {
		return "unknown time"
	}
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// ago writes a duration for people: "12 min", "3 h 05 min", "2 days".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// PendingMessage lists open requests (pending, approved, running) with what each is, who
// asked, how long ago, and where it stands.
func PendingMessage(rs []*approvals.Request, now time.Time) bot.Message {
	m := bot.Message{Title: "Open requests"}
	if len(rs) == 0 {
		m.Text = "Nothing is waiting for approval or running."
		return m
	}
	var waiting, running []string
	for _, r := range rs {
		l := fmt.Sprintf("%s · %s · asked by %s %s ago", r.ID, requestTitle(r), orText(r.Requester.Name, r.Requester.Key()), ago(now.Sub(r.CreatedAt)))
		if r.State == approvals.StatePending {
			if left := r.ExpiresAt.Sub(now); left > 0 {
				l += fmt.Sprintf(" · expires %s (in %s)", stamp(r.ExpiresAt, now), ago(left))
			} else {
				l += " · expired, closing shortly"
			}
			if len(r.Approvals) > 0 {
				l += fmt.Sprintf(" · %d approval(s) so far", len(r.Approvals))
			}
			waiting = append(waiting, l)
			continue
		}
		running = append(running, l+" · "+stateWords(r, now))
	}
	m.Title = fmt.Sprintf("Open requests (%d)", len(rs))
	if len(waiting) > 0 {
		m.Sections = append(m.Sections, list(fmt.Sprintf("Waiting for approval (%d)", len(waiting)), waiting, ""))
	}
	if len(running) > 0 {
		m.Sections = append(m.Sections, list(fmt.Sprintf("Approved or running (%d)", len(running)), running, ""))
	}
	m.Footer = "/mfa show <id> for a request's card · /mfa cancel <id> to withdraw one"
	return m
}

// help is each command's description and examples.
var help = map[string]struct {
	what     string
	examples []string
}{
	CmdStatus: {"Show a user's MFA registration, methods, default method and per-user MFA state, and what to do next.",
		[]string{"status ann@contoso.com", "status 6e7b768e-07e2-4810-8459-485f84f8f204"}},
	CmdReset: {"Ask to delete a user's methods and revoke their sessions; they register again at next sign-in. Without --only every method but the password goes; --only deletes just the types named (a lost phone need not cost the security key). The default sign-in method goes last. A second admin approves.",
		[]string{"reset ann@contoso.com lost her phone", "reset ann@contoso.com --only authenticator,oath lost her phone", `reset "sean.o'brien@contoso.com" new phone, same number`,
			"reset ann@contoso.com --tap new phone; she needs to sign in to register it"}},
	CmdResetBulk: {"Open a form to paste up to 1,000 users (UPNs or object ids, one a line) and ask for one request that resets them all; unknown users, protected accounts and users named twice are left out, each with why. --tap adds a Temporary Access Pass for each user, shown to you alone. For longer lists: mfabot request reset --csv.",
		[]string{"reset-bulk", "reset-bulk --only authenticator,oath phishing campaign", "reset-bulk --tap"}},
	CmdRevoke: {"Ask to revoke all of a user's sign-in sessions, so they sign in again (with MFA) everywhere; their methods stay. A second admin approves.",
		[]string{"revoke ann@contoso.com laptop stolen", "revoke 6e7b768e-07e2-4810-8459-485f84f8f204 left the project"}},
	CmdRevokeGroup: {"Ask to revoke the sign-in sessions of every member of a group, so that they sign in again and meet the MFA registration prompt; with --unregistered only the members not registered for MFA (everyone --unregistered: the whole tenant's). Large groups need --confirm with the count. A second admin approves.",
		[]string{`revoke-group "Sales EMEA" enrollment campaign`, `revoke-group "All Staff" --unregistered --confirm 2,640 enrollment deadline`, `revoke-group "All Staff" --confirm 12,345 enrollment deadline`}},
	CmdNudge: {"Ask to send a private message to every enabled member of a group (or everyone) who has not registered for MFA, with the registration link, your message and who sent it: Slack, else Teams, else e-mail. Each person once; more people than policy.confirm_above need --confirm with the count. A second admin approves.",
		[]string{`nudge "Sales EMEA" register before Friday, or you will be signed out`, `nudge everyone --confirm 2,640 MFA becomes mandatory on 1 December`}},
	CmdEnforce: {"Ask to set a user's legacy per-user MFA state (enabled, enforced or disabled). A second admin approves.",
		[]string{"enforce ann@contoso.com enforced audit finding", "enforce ann@contoso.com disabled moved to Conditional Access"}},
	CmdSummary: {"Post the enrollment summary (MFA and SSPR registered, by method, trends, who is missing; members and guests apart) to the approvals channel now, for the tenant or one group's transitive members. Its buttons start the matching nudge or revoke-group --unregistered.",
		[]string{"summary", `summary "Sales EMEA"`}},
	CmdPending: {"List the requests waiting for approval or running.", []string{"pending"}},
	CmdShow:    {"Show a request's card as it stands.", []string{"show R-7K2QXA"}},
	CmdCancel:  {"Withdraw a pending request; the requester or an approver may.", []string{"cancel R-7K2QXA wrong user"}},
	CmdApprove: {"Approve a request you did not make; the card's Approve button does the same.", []string{"approve R-7K2QXA"}},
	CmdDeny:    {"Deny a request, with a reason the requester is told; the card's Deny button does the same.", []string{"deny R-7K2QXA not during the change freeze"}},
	CmdHelp:    {"Show the commands, or one command in detail.", []string{"help", "help revoke-group"}},
}

// HelpMessage is the help for every command, or for one (topic, a command name).
func HelpMessage(topic string) bot.Message {
	if h, ok := help[topic]; ok {
		var ex []string
		for _, e := range h.examples {
			ex = append(ex, "/mfa "+e)
		}
		return bot.Message{
			Title:    "/mfa " + usage[topic],
			Text:     h.what,
			Sections: []bot.Section{{Title: "Examples", Lines: ex}},
			Footer:   argsNote,
		}
	}
	var lines []string
	for _, c := range order {
		lines = append(lines, "/mfa "+usage[c]+" — "+help[c].what)
	}
	return bot.Message{
		Title: "mfabot: MFA for Microsoft Entra ID, with two-person approval",
		Text: "Anything that changes a user becomes a request that a second admin approves in the approvals channel; only then does mfabot carry it out. Every step is audited.\n\n" +
			"Examples: /mfa status ann@contoso.com · /mfa reset ann@contoso.com lost her phone · /mfa help reset",
		Sections: []bot.Section{{Title: "Commands", Lines: lines}},
		Footer:   argsNote,
	}
}

const argsNote = "<user> is a UPN, mail address or object id; <group> an object id, mail nickname or display name (quote names with spaces); <request> an id such as R-7K2QXA."

func orNone(s string) string { return orText(s, "none") }

func orText(s, instead string) string {
	if s == "" {
		return instead
	}
	return s
}
