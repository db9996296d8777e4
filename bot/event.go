package bot

import (
	"context"

	"github.com/mfabot/mfabot/approvals"
)

// Conversation is where an event happened.
type Conversation struct {
	Platform string
	ID       string // Slack channel id, Teams conversation id, console channel
	Name     string // for showing only
}

// Event is a verified person typing a command or pressing a button.
type Event struct {
	Actor        approvals.Actor // verified by the adapter; never taken from text
	Conversation Conversation
	// Text is the command without its "/mfa" or "@mfabot" prefix: "reset ann@contoso.com
	// lost phone", or a button's Command ("approve R-7K2Q", "deny R-7K2Q reason…").
	Text   string
	Button bool // Text came from a button press
	// Reason is what the person typed into the reason prompt of a button that asks for one
	// (Deny), as typed. Adapters never splice it into Text: the dispatcher cleans, limits and
	// applies it, the same way for every platform.
	Reason string
	// Form holds the values of a submitted form (Response.Form) by field id, as typed:
	// Text is then the form's Command. nil for anything else.
	Form map[string]string
}

// MaxReason is the longest reason, in characters, a command or a reason prompt takes;
// adapters use it to say so in their prompt before anything is sent.
const MaxReason = 1000

// Response is the dispatcher's answer to an event.
type Response struct {
	// Reply is for the actor: shown to them alone (ephemeral) unless Public.
	Reply  *Message
	Public bool
	// Card is, for an event about a request (a button press, cancel, show), that request's
	// card as it stands now. Teams answers an Action.Execute invoke with it.
	Card *Message
	// Form, when set, asks the actor for input (a list to paste): Slack opens it as a
	// modal, Teams and the console show it as a card form (form.go).
	Form *Form
}

// Handler turns a verified event into the answer to it. It never panics, and errors are
// already turned into replies. Every adapter hands its events to one; commands.Dispatcher
// is it.
type Handler interface {
	Handle(ctx context.Context, ev Event) Response
}

// Recipient is someone the bot tells something directly: a chat actor (a requester) or
// an Entra user no conversation has introduced (the user a reset changed, the people a
// nudge asks to register), whom each platform finds its own way: Slack by Email, then UPN;
// Teams by EntraID, where its app can reach them.
type Recipient struct {
	Actor   *approvals.Actor
	Email   string
	UPN     string
	EntraID string
}

// MessageRef points at a card a platform posted for a request, so that it can be updated.
// Data is adapter-owned (a Teams serviceUrl, say) and opaque to everyone else.
type MessageRef struct {
	Platform  string
	Channel   string
	MessageID string
	Data      string
}

// Platform is a chat platform the bot posts to. Adapters implement it; the Notifier and
// the summary job use it.
type Platform interface {
	// Name is the platform name used in Actor.Platform and MessageRef.Platform.
	Name() string
	// Post posts a message to the platform's approvals/summary channel.
	Post(ctx context.Context, msg Message) (MessageRef, error)
	// Update replaces a posted message in place.
	Update(ctx context.Context, ref MessageRef, msg Message) error
	// Tell sends msg to one person directly. It returns an error wrapping
	// ErrUnreachable when the platform cannot reach them.
	Tell(ctx context.Context, to Recipient, msg Message) error
}
