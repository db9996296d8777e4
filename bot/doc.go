// Package bot is the platform-neutral chat model of mfabot: who acted (a verified Actor),
// where (a Conversation), what they typed or pressed (an Event), and what the bot says back
// (a Message: title, facts, text, buttons, progress) that each platform renders its own way.
// It also holds the Notifier, which keeps every posted card of a request current and tells
// the people concerned, and the Courier, which reaches people no conversation has
// introduced — the people a nudge asks to register, the user a change concerns — over each
// platform's direct messages and, last, e-mail (a Mailer). The Dispatcher, which turns events into commands and approvals
// calls, lives in commands; adapters reach it through a one-method interface of their own
// (Handle(ctx, Event) Response), and the Notifier gets the card renderer as a function, so
// bot never imports commands.
//
// Adapters (bot/slack, bot/teams, bot/console) import this package; it imports none of them
// and contains no platform markup.
package bot
