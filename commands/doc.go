// Package commands owns the /mfa grammar and what the bot says: it parses what an admin
// typed or pressed (Parse, with usage errors that name the wrong part; Canonical, the text
// buttons carry; ParseList, a pasted list of users), dispatches it to the approvals core
// or a read-only handler (status, pending, show, summary, help), asks for a form where a
// command line is too short (reset-bulk), and decides, once for every platform, which facts each
// card shows (Cards, StatusCard, PendingMessage, HelpMessage). Adapters render the
// resulting bot.Message; they contain no command logic.
//
// Adapters consume the Dispatcher through their own one-method interface,
// Handle(ctx, bot.Event) bot.Response; bot.Notifier takes the Dispatcher as its bot.Words to keep
// posted cards current and to tell people what became of a request, so bot never imports this package.
//
// It imports approvals, bot and commands/summary (for the names of methods), never an
// adapter, graph or storage: the directory is reached through StatusSource and the
// summary through Summarizer.
package commands
