package commands

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// errorText is what the chat is told for err: the core and storage return codes and data
// (a request as it stands, the open request in the way), and the words for them are
// composed here, the same whichever layer noticed.
func errorText(err error, actor approvals.Actor, cmd string, now time.Time) string {
	if errors.Is(err, approvals.ErrUnlinked) {
		return unlinkedText(actor, errors.Is(err, approvals.ErrStepUpUnlinked))
	}
	var se *approvals.StateError
	if errors.As(err, &se) {
		s := Standing(se.Request, now)
		if cmd == CmdCancel && se.Request.State != approvals.StatePending {
			s += "; only pending requests can be cancelled"
		}
		return s
	}
	var oe *approvals.OpenRequestError
	if errors.As(err, &oe) {
		return openText(oe.Open)
	}
	return approvals.ErrorMessage(err)
}

// unlinkedText tells an actor whose chat account is not linked to an Entra user why they
// are refused (an approval that needs their step-up sign-in, or a policy that needs links)
// and how to get linked.
func unlinkedText(a approvals.Actor, stepUp bool) string {
	s := "mfabot cannot tell who you are in Microsoft Entra ID: your " + orText(a.Platform, "chat") +
		" account is not linked to an Entra user, and with more than one chat platform (or Entra principals) only linked accounts may request or decide, so that one person cannot act as two."
	if stepUp {
		s = "This approval needs a fresh Microsoft Entra sign-in with MFA as yourself, and your " + orText(a.Platform, "chat") +
			" account is not linked to an Entra user, so mfabot cannot tell whom to expect at the sign-in."
	}
	switch a.Platform {
	case "slack":
		s += " Ask an mfabot operator to add " + a.ID + "=<your Entra object id> to slack.users (MFABOT_SLACK_USERS), or to turn on slack.link_by_email with your Slack profile e-mail confirmed."
	case "teams":
		s += " Teams did not send your Entra object id; ask your Teams admin."
	default:
		s += " Ask an mfabot operator to link your account."
	}
	return s
}

// Standing says in one sentence where a request stands: "R-7K2QXA was already approved by
// Ann at 09:14 UTC".
func Standing(r *approvals.Request, now time.Time) string {
	switch r.State {
	case approvals.StatePending:
		if !now.Before(r.ExpiresAt) {
			return fmt.Sprintf("request %s expired at %s", r.ID, stamp(r.ExpiresAt, now))
		}
		return fmt.Sprintf("%s is waiting for approval until %s", r.ID, stamp(r.ExpiresAt, now))
	case approvals.StateApproved, approvals.StateRunning, approvals.StateSucceeded, approvals.StatePartlyFailed, approvals.StateFailed:
		by := ""
		if len(r.Approvals) > 0 {
			var who []string
			for _, d := range r.Approvals {
				who = append(who, d.Actor.Name+" at "+stamp(d.At, now))
			}
			by = " by " + strings.Join(who, " and ")
		}
		switch r.State {
		case approvals.StateApproved:
			return fmt.Sprintf("%s was already approved%s", r.ID, by)
		case approvals.StateRunning:
			return fmt.Sprintf("%s was already approved%s and is running", r.ID, by)
		case approvals.StateSucceeded:
			return fmt.Sprintf("%s was already approved%s and carried out (finished %s)", r.ID, by, stamp(r.ClosedAt, now))
		case approvals.StatePartlyFailed:
			return fmt.Sprintf("%s was already approved%s and partly failed (finished %s)", r.ID, by, stamp(r.ClosedAt, now))
		default:
			return fmt.Sprintf("%s was already approved%s and failed (%s)", r.ID, by, stamp(r.ClosedAt, now))
		}
	case approvals.StateDenied, approvals.StateCancelled:
		verb := "denied"
		if r.State == approvals.StateCancelled {
			verb = "cancelled"
		}
		if r.Denial == nil {
			return fmt.Sprintf("%s was %s", r.ID, verb)
		}
		s := fmt.Sprintf("%s was %s by %s at %s", r.ID, verb, orText(r.Denial.Actor.Name, r.Denial.Actor.Key()), stamp(r.Denial.At, now))
		if r.Denial.Reason != "" {
			s += fmt.Sprintf(" (%q)", r.Denial.Reason)
		}
		return s
	case approvals.StateExpired:
		return fmt.Sprintf("request %s expired at %s without approval", r.ID, stamp(r.ExpiresAt, now))
	}
	return fmt.Sprintf("%s is %s", r.ID, r.State)
}

// openText says which open request stands in the way of a new one.
func openText(r *approvals.Request) string {
	who := orText(r.Requester.Name, r.Requester.Key())
	switch r.State {
	case approvals.StatePending:
		return fmt.Sprintf("%s is already waiting for approval for %s (asked by %s)", r.ID, r.Target.Name, who)
	case approvals.StateApproved:
		return fmt.Sprintf("%s for %s is already approved and about to run (asked by %s)", r.ID, r.Target.Name, who)
	}
	return fmt.Sprintf("%s for %s is already running (asked by %s)", r.ID, r.Target.Name, who)
}

// RequesterNotice is what the requester is told after event, and whether they are told
// at all: when the request is approved (all approvals in), denied, cancelled by someone
// else, expires, or finishes. The notice is the request's card under a title addressed
// to them, so the facts (the denial's reason, the failed users) are the card's.
func (d *Dispatcher) RequesterNotice(r *approvals.Request, event string, card bot.Message) (bot.Message, bool) {
	var title string
	switch {
	case event == approvals.EventApproved && r.State == approvals.StateApproved:
		title = "Your request " + r.ID + " was approved"
		if n := len(r.Approvals); n > 0 {
			title += " by " + r.Approvals[n-1].Actor.Name
		}
	case event == approvals.EventDenied:
		title = "Your request " + r.ID + " was denied"
		if r.Denial != nil {
			title += " by " + r.Denial.Actor.Name
		}
	case event == approvals.EventCancelled && r.Denial != nil && !r.Denial.Actor.SamePerson(r.Requester):
		title = "Your request " + r.ID + " was cancelled by " + r.Denial.Actor.Name
	case event == approvals.EventExpired:
		title = "Your request " + r.ID + " expired without approval"
	case event == approvals.EventFinished:
		switch r.State {
		case approvals.StateSucceeded:
			title = "Your request " + r.ID + " succeeded"
		case approvals.StatePartlyFailed:
			title = "Your request " + r.ID + " partly failed"
		default:
			title = "Your request " + r.ID + " failed"
		}
	default:
		return bot.Message{}, false
	}
	m := card
	m.Title = title + ": " + card.Title
	// A notice is not the live card: no buttons, and no RequestID, which would let a
	// platform refresh it into the card and lose what it tells.
	m.Buttons, m.RequestID = nil, ""
	return m, true
}

// UserNotice is what the user a reset, revoke or enforce changed is told once it has run,
// on every channel that reaches them: Entra itself tells them nothing, and a change they
// did not expect is how a compromise shows. Nothing is said when nothing changed.
func (d *Dispatcher) UserNotice(r *approvals.Request, event string) (bot.Message, bool) {
	if event != approvals.EventFinished || r.Target.Type != "user" || r.Done == 0 {
		return bot.Message{}, false
	}
	const unexpected = "If you did not expect this, contact your IT service desk at once."
	switch {
	case r.Kind == approvals.KindReset && (r.State == approvals.StateSucceeded || r.State == approvals.StatePartlyFailed):
		what := "removed your multifactor authentication methods"
		if len(r.Preview.Only) > 0 {
			what = "removed some of your multifactor authentication methods (" + typeNames(r.Preview.Only) + ")"
		}
		return bot.Message{
			Title: "Your sign-in methods were reset",
			Text: "Your IT admins " + what + " and signed you out everywhere (request " + r.ID + "). " +
				"At your next sign-in you will be asked to set them up again; you can also do it now at " + MFASetupURL + ".\n\n" + unexpected,
		}, true
	case r.Kind == approvals.KindRevoke && r.State == approvals.StateSucceeded:
		return bot.Message{
			Title: "You were signed out everywhere",
			Text: "Your IT admins signed you out of every device and app (request " + r.ID + "). " +
				"Sign in again where you need to, with your password and your second factor; your methods are unchanged.\n\n" + unexpected,
		}, true
	case r.Kind == approvals.KindEnforce && r.State == approvals.StateSucceeded:
		return bot.Message{
			Title: "Your multifactor authentication setting changed",
			Text: "Your IT admins set your per-user multifactor authentication to " + r.Preview.ToState + " (request " + r.ID + "). " +
				"If you have not set up a second factor yet, do it at " + MFASetupURL + ".\n\n" + unexpected,
		}, true
	}
	return bot.Message{}, false
}
