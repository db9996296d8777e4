package commands

import (
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// PassMessage is the private message that hands a Temporary Access Pass to the requester
// (bot.PassWords). It is the only message that ever carries a pass: adapters send it
// where the requester alone sees it, and it is never stored.
func (d *Dispatcher) PassMessage(r *approvals.Request, p approvals.Pass) bot.Message {
	use := "several times until it expires"
	if p.OneTime {
		use = "once"
	}
	return bot.Message{
		Title: "Temporary Access Pass for " + p.UserName,
		Tone:  bot.ToneWarning,
		Text: "Request " + r.ID + ": " + p.UserName + "'s sign-in methods are reset. Give them this pass yourself, by phone or in person, " +
			"never by e-mail or chat: they sign in with it and register a new method at " + MFASetupURL + ".\n\n" +
			"Only you see this message, and mfabot keeps no copy of the pass. Anyone holding it can sign in as " + p.UserName + " until it expires.",
		Facts: []bot.Fact{
			{Label: "Pass", Value: p.Value, Exact: true},
			{Label: "Valid until", Value: p.Expires().UTC().Format(time.RFC3339)},
			{Label: "Usable", Value: use},
		},
		Footer: r.ID + " · " + p.UserName,
	}
}
