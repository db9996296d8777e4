// Package doctor is `mfabot doctor`: from the configuration it builds the pieces serve
// would, runs the checks each of them offers, in order, and reports what they found.
//
// It knows no platform: storage.Check, graph.Check, slack.Check and teams.Check live
// next to the code they check, with their messages, and report through a Reporter each
// of those packages declares; doctor adds only the configuration check, the report with
// its secrets redacted, and its printing. Nothing it runs changes anything.
//
// It imports cmd/mfabot/config and the checked packages, never cmd/mfabot.
package doctor
