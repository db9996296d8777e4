// Package bot is the platform-neutral chat model of mfabot: who acted (a verified Actor),
// where (a Conversation), what they typed or pressed (an Event), and what the bot says back
// (a Message: title, facts, text, buttons, progress) that each platform renders its own way.
// It also holds what every adapter shares: the Handler they hand events to (the Dispatcher in
// commands implements it), the MessageRef of a posted card, Background for work that
// outlives a request, Form, which asks for more input than a command line holds (a list to
// paste), Passes, which hands a Temporary Access Pass to its requester through a platform
// that can show one person a message nobody else sees (PrivateTeller), the Courier, which
// reaches people no conversation has introduced (the people a nudge asks to register, the
// user a change concerns) over each platform's direct messages and, last, e-mail (a
// Mailer), and the Notifier, which keeps every posted card of a request current and tells
// the people concerned, in the words of a Words (commands again), so bot never imports
// commands.
//
// Adapters (bot/slack, bot/teams, bot/console) import this package; it imports none of them
// and contains no platform markup.
package bot
