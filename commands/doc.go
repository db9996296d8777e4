// Package commands owns the /mfa grammar and what the bot says: it parses what an admin
// typed or pressed, dispatches it to the approvals core or a read-only handler (status,
// pending, summary, help), and decides, once for every platform, which facts each card
// shows. Adapters render the resulting bot.Message; they contain no command logic.
//
// It imports approvals and bot, never an adapter, graph or storage.
package commands
