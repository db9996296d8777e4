package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// StepUp issues the one-time sign-in link an approval of a step-up kind waits for (bound
// to the approver, the request and the approval) and says until when it works;
// bot/stepup.Flow implements it.
type StepUp interface {
	Link(ctx context.Context, a approvals.Actor, requestID string) (url string, expires time.Time, err error)
}

// stepUp answers an Approve that needs step-up: a private reply with the approver's
// one-time sign-in link, next to the card as it stands (unchanged).
func (d *Dispatcher) stepUp(ctx context.Context, a approvals.Actor, id string) (bot.Response, error) {
	svc := d.o.Service
	r, err := svc.Request(ctx, id)
	if err != nil {
		return bot.Response{}, err
	}
	card := d.Card(ctx, r)
	if d.o.StepUp == nil {
		return bot.Response{Card: &card}, approvals.Errorf(approvals.EINTERNAL, "%s needs a step-up sign-in, and this mfabot has no public_url to send one to", r.Kind)
	}
	now := d.o.Clock.Now()
	link, expires, err := d.o.StepUp.Link(ctx, a, r.ID)
	if err != nil {
		return bot.Response{Card: &card}, err
	}
	m := StepUpMessage(r, a, link, expires, now)
	return bot.Response{Reply: &m, Card: &card}, nil
}

// StepUpMessage is the private reply to an approver whose approval needs a fresh Entra
// sign-in: why, and a link button to the sign-in that is theirs alone.
func StepUpMessage(r *approvals.Request, a approvals.Actor, link string, expires, now time.Time) bot.Message {
	return bot.Message{
		Title: "Sign in to approve " + r.ID,
		Tone:  bot.TonePending,
		Text: fmt.Sprintf("Approving a %s needs a fresh sign-in to Microsoft Entra ID with MFA, as yourself: a chat session alone "+
			"does not prove who pressed Approve. Nothing is approved yet.\n\n"+
			"Open the link, sign in as %s, and your approval counts when the sign-in comes back. "+
			"The link is yours alone, works once and expires at %s (in %s).",
			r.Kind, orText(a.Name, a.Key()), stamp(expires, now), ago(expires.Sub(now))),
		Buttons: []bot.Button{{Label: "Sign in to approve " + r.ID, URL: link, Style: bot.ButtonPrimary}},
	}
}

// StepUpPreview is what the sign-in link's page shows a before they sign in: what they
// approve, and whether they still may (false when the request is no longer pending).
func (d *Dispatcher) StepUpPreview(ctx context.Context, a approvals.Actor, id string) (bot.Message, bool) {
	now := d.o.Clock.Now()
	if d.o.Service == nil {
		return bot.Message{Title: "Nothing to approve", Tone: bot.ToneBad, Text: "internal error"}, false
	}
	r, err := d.o.Service.Request(ctx, id)
	if err != nil {
		m := *d.fail(ctx, d.o.Logger, err, a, CmdApprove).Reply
		m.Title = "Nothing to approve"
		return m, false
	}
	if r.State != approvals.StatePending || !now.Before(r.ExpiresAt) {
		return bot.Message{Title: "Nothing to approve", Tone: bot.ToneWarning, Text: Standing(r, now) + "; nothing is left to approve."}, false
	}
	card := d.Card(ctx, r)
	return bot.Message{
		Title: "Approve " + r.ID + ": " + card.Title + "?",
		Tone:  bot.TonePending,
		Text: whatItDoes(r) + "\n\n" + fmt.Sprintf("Sign in to Microsoft Entra ID as %s, with MFA: your approval counts when the sign-in comes back. "+
			"Signing in as anyone else approves nothing.", orText(a.Name, a.Key())),
		Facts: card.Facts,
	}, true
}

// ApproveSignedIn approves request id as a with the verified step-up sign-in in and says
// how it went, for the page the browser comes back to. The card updates as for any
// approval (the service notifies).
func (d *Dispatcher) ApproveSignedIn(ctx context.Context, a approvals.Actor, id string, in approvals.SignIn) bot.Message {
	log := d.o.Logger.With(logActor, a.Key(), logCommand, "approve", logRequest, id, "step_up", true)
	if d.o.Service == nil {
		return *d.fail(ctx, log, approvals.Errorf(approvals.EINTERNAL, "dispatcher has no approvals service"), a, CmdApprove).Reply
	}
	r, err := d.o.Service.ApproveSignedIn(ctx, a, id, in)
	if err != nil {
		if code := approvals.ErrorCode(err); code != approvals.EINTERNAL {
			log.InfoContext(ctx, "command", logOutcome, code, approvals.LogErr, err)
		}
		return *d.fail(ctx, log, err, a, CmdApprove).Reply
	}
	log.InfoContext(ctx, "command", logOutcome, "ok")
	return bot.Message{
		Title: "Approved " + r.ID,
		Tone:  bot.ToneGood,
		Text:  "Your sign-in to Microsoft Entra ID was verified and your approval recorded with it. " + d.approvedText(r),
	}
}

// StepUpRefused audits a step-up sign-in refused before it reached the core.
func (d *Dispatcher) StepUpRefused(ctx context.Context, a approvals.Actor, id, why string) {
	if d.o.Service != nil {
		d.o.Service.StepUpRefused(ctx, a, id, why)
	}
}
