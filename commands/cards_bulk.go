package commands

import (
	"fmt"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// The card of a bulk reset shows how many users, the first of them, and the rows refused
// before the request was made, each with why; the approver approves the whole list.
// While it runs it shows progress, and at the end the failed users with Graph's reason.

// bulkFacts are a bulk reset's facts instead of a single user's.
func bulkFacts(r *approvals.Request) []bot.Fact {
	b := r.Preview.Bulk
	if b == nil {
		return []bot.Fact{{Label: "Users", Value: r.Target.Name}}
	}
	users := bot.Thousands(len(b.Users))
	if b.Source != "" {
		users += " (from " + b.Source + ")"
	}
	facts := []bot.Fact{{Label: "Users", Value: users}}
	if n := len(b.Refused); n > 0 {
		facts = append(facts, bot.Fact{Label: "Refused rows", Value: fmt.Sprintf("%s, left out (listed below)", bot.Thousands(n))})
	}
	return facts
}

// tapFact says whether a reset ends with a pass, of what terms, and who gets it.
func tapFact(r *approvals.Request) (bot.Fact, bool) {
	t := r.Preview.TAP
	if t == nil {
		return bot.Fact{}, false
	}
	to := "shown to the requester alone"
	if t.Holder != "" {
		to = "written to a file (mode 0600) by the requester's mfabot CLI"
	}
	return bot.Fact{Label: "Temporary Access Pass", Value: "yes: " + t.Terms() + ", " + to}, true
}

// tapSentence is what approving a pass means, for the approver.
func tapSentence(r *approvals.Request) string {
	t := r.Preview.TAP
	if t == nil {
		return ""
	}
	to := "shown to " + actorName(r.Requester) + " alone"
	if t.Holder != "" {
		to = "written to a file on " + actorName(r.Requester) + "'s machine by their mfabot CLI"
	}
	return fmt.Sprintf(" After a user's reset, a Temporary Access Pass (%s) is created for them and %s, to hand over by phone or in person: "+
		"anyone holding it can sign in as the user until it expires. mfabot keeps no copy.", t.Terms(), to)
}

// bulkWhatItDoes explains to the approver what approving a bulk reset does.
func bulkWhatItDoes(r *approvals.Request) string {
	n := 0
	if r.Preview.Bulk != nil {
		n = len(r.Preview.Bulk.Users)
	}
	what := "every authentication method except the password is deleted"
	if len(r.Preview.Only) > 0 {
		what = "the methods of the selected types (" + typeNames(r.Preview.Only) + ") are deleted and every other method stays"
	}
	return fmt.Sprintf("Approving resets each of the %s users listed, one by one, as /mfa reset does: %s, the default sign-in method last, "+
		"then all their sign-in sessions are revoked and mfabot checks that nothing selected is left. "+
		"They register again at next sign-in (%s). A user who has become a protected account since is left alone.",
		bot.Thousands(n), what, MFASetupURL) + tapSentence(r)
}

// bulkSections list the users (while the request waits) and the refused rows.
func bulkSections(r *approvals.Request) []bot.Section {
	b := r.Preview.Bulk
	if r.Kind != approvals.KindResetBulk || b == nil {
		return nil
	}
	var out []bot.Section
	if r.State == approvals.StatePending || r.State == approvals.StateApproved {
		lines := make([]string, 0, min(len(b.Users), maxListed))
		for _, u := range b.Users[:min(len(b.Users), maxListed)] {
			lines = append(lines, u.UPN)
		}
		s := list(fmt.Sprintf("Users (%s)", bot.Thousands(len(b.Users))), lines, "")
		s.More = len(b.Users) - len(lines)
		out = append(out, s)
	}
	if len(b.Refused) > 0 {
		lines := make([]string, 0, len(b.Refused))
		for _, f := range b.Refused {
			lines = append(lines, fmt.Sprintf("line %d: %s — %s", f.Line, f.Value, f.Why))
		}
		out = append(out, list(fmt.Sprintf("Refused before the request was made (%s)", bot.Thousands(len(b.Refused))), lines, ""))
	}
	return out
}

// bulkOutcome is how a bulk reset ended, "" where the words of every request fit.
func bulkOutcome(r *approvals.Request) string {
	if r.Kind != approvals.KindResetBulk {
		return ""
	}
	passes := ""
	if r.Preview.TAP != nil {
		passes = " Each has a Temporary Access Pass, handed to the requester alone."
	}
	switch r.State {
	case approvals.StateSucceeded:
		return fmt.Sprintf("Done: all %s users are reset: their methods are deleted and their sessions revoked, and nothing selected is left. "+
			"They register again at next sign-in (%s).", bot.Thousands(r.Done), MFASetupURL) + passes
	case approvals.StatePartlyFailed, approvals.StateFailed:
		if r.Total == 0 {
			return ""
		}
		s := fmt.Sprintf("%s of %s users done; %s failed, listed below with why (a user whose reset was done but who got no pass says so).",
			bot.Thousands(r.Done), bot.Thousands(r.Total), bot.Thousands(r.Failed))
		if left := r.Total - r.Done - r.Failed; left > 0 {
			s += fmt.Sprintf(" %s were not attempted.", bot.Thousands(left))
		}
		if r.Error != "" {
			s += " Stopped because: " + r.Error
		}
		return s + fmt.Sprintf(" To ask again for the failed users: mfabot request show %s --failed --csv > failed.csv, then mfabot request reset --csv failed.csv.", r.ID)
	}
	return ""
}

// tapOutcome says that a single reset's pass was handed over (never the pass).
func tapOutcome(r *approvals.Request, items []approvals.Item) string {
	if r.Kind != approvals.KindReset || r.Preview.TAP == nil {
		return ""
	}
	for _, it := range items {
		if it.Op == approvals.OpTAP && it.State == approvals.ItemDone {
			return "A Temporary Access Pass (" + r.Preview.TAP.Terms() + ") was shown to " + actorName(r.Requester) + " alone."
		}
	}
	return ""
}

// bulkPreviewText says in a sentence what a bulk reset will do, for the requester.
func bulkPreviewText(r *approvals.Request) string {
	b := r.Preview.Bulk
	if b == nil {
		return ""
	}
	s := fmt.Sprintf("It resets %s users", bot.Thousands(len(b.Users)))
	switch n := len(b.Refused); {
	case n == 1:
		s += "; 1 row was left out, with why (see the card)"
	case n > 1:
		s += fmt.Sprintf("; %s rows were left out, each with why (see the card)", bot.Thousands(n))
	}
	return s + "." + tapPreview(r)
}

// tapPreview tells the requester where the pass will come.
func tapPreview(r *approvals.Request) string {
	switch t := r.Preview.TAP; {
	case t == nil:
		return ""
	case t.Holder != "":
		return " Then a Temporary Access Pass is created for each user and written to your file."
	}
	return " Then a Temporary Access Pass is created and shown to you alone."
}
