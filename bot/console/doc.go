// Package console is mfabot's third chat platform: a local web chat for `mfabot demo` and
// the browser tests, in which one can act as any of a few configured people. It renders
// bot.Message as HTML (escaped by html/template), hands what was typed or pressed to a
// bot.Handler, and implements bot.Platform for the approvals channel it shows.
//
// It has no login, so it listens on loopback only (IsLoopbackHost). It imports bot and
// approvals, never commands, storage, graph or another adapter.
package console
