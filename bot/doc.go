// Package bot is the platform-neutral chat model of mfabot: who acted (a verified Actor),
// where (a Conversation), what they typed or pressed (an Event), and what the bot says back
// (a Message: title, facts, text, buttons, progress) that each platform renders its own way.
// It also holds the Notifier, which keeps every posted card of a request current and tells
// the people concerned; Form, which asks for more input than a command line holds (a list
// to paste); and Passes, which hands a Temporary Access Pass to its requester through a
// platform that can show one person a message nobody else sees (PrivateTeller). The Dispatcher, which turns events into commands and approvals
// calls, lives in commands; adapters reach it through a one-method interface of their own
// (Handle(ctx, Event) Response), and the Notifier gets the card renderer as a function, so
// bot never imports commands.
//
// Adapters (bot/slack, bot/teams, bot/console) import this package; it imports none of them
// and contains no platform markup.
package bot
