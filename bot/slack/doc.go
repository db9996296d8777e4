// Package slack is mfabot's Slack adapter, built on github.com/slack-go/slack.
//
// It owns the Slack side of the chat model in package bot and nothing else:
//   - inbound: the HTTP endpoints POST /slack/commands and POST /slack/interactions
//     (every request checked against the signing secret, its 5-minute window and the
//     allowed workspace/enterprise/app before anything else happens), and the same
//     handling over Socket Mode for installs without a public URL;
//   - identity: the actor is the verified Slack user id, linked to an Entra user by an
//     explicit map or, when the operator allows it, by the Slack profile e-mail;
//   - outbound (bot.Platform): Block Kit rendering of bot.Message with every piece of text
//     escaped for mrkdwn, chat.postMessage, throttled chat.update, direct messages, file
//     uploads, and ephemeral replies through response_url.
//
// Check runs mfabot doctor's Slack checks (token, scopes, channel, Socket Mode token or
// signing secret) with the adapter's own Web API client, posting nothing; Config.Validate
// is the one place the rules of the Slack settings live.
//
// It contains no command logic: the text after "/mfa" and the command a button carries
// go to the Dispatcher unchanged, and authorisation is the core's business at every
// click. It imports bot and approvals, never commands, graph or storage; the consumer
// interfaces it needs (Dispatcher, UserResolver) are declared here.
package slack
