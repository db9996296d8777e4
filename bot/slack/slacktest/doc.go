// Package slacktest is a fake Slack for tests: a Web API on 127.0.0.1 that follows
// Slack's documented wire formats (form or JSON requests, {"ok":…} answers, Slack's error
// codes), checks the bot token and Block Kit's limits, records every call for assertions,
// can answer 429 with Retry-After or enforce Slack's documented rate limits (on a clock a
// test may share with the adapter, SetClock), can hold a method once it has been
// called n more times to catch bulk work in the middle (HoldAfter), and serves
// response_url endpoints, the files upload v2 flow and a Socket Mode WebSocket. It also
// plays Slack's inbound side: it builds slash command and interaction payloads the way
// Slack does, signs them with a signing secret, and sends them to an adapter over HTTP or
// over the socket.
//
// It imports no mfabot package, so it tests the adapter against Slack's formats rather
// than against the adapter's own idea of them.
package slacktest
