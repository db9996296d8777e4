// Package teams is mfabot's Microsoft Teams adapter. It speaks the Bot Framework protocol
// itself — no Bot Builder SDK — on azidentity (the bot's outbound token) and golang-jwt
// (inbound tokens), and owns the Teams side of the chat model in package bot:
//
//   - inbound, POST /api/messages: every request's bearer token is verified before its
//     body is read — RS256 signature by a key published in the Bot Framework OpenID
//     metadata (cached by this package, with the keys' endorsements), issuer (the Bot
//     Connector, or for single-tenant bots the home tenant's v1/v2 Entra issuer), audience
//     = the app id, validity with 5 minutes of skew — then the activity is bound to it
//     (serviceurl claim, channel endorsement) and to the configured tenant. Messages that
//     @mention the bot become command events; Action.Execute presses (adaptiveCard/action
//     invokes) and their Action.Submit fallbacks become button events, answered with the
//     request's current card; conversationUpdate and installationUpdate store conversation
//     references for later, unprompted posts;
//   - outbound (bot.Platform): Adaptive Cards 1.5 rendered from bot.Message with every text
//     escaped, sent, replied, updated and 1:1 chats created through the Bot Connector REST
//     API, paced under Teams' per-conversation limits, retried on 429/412/502/504, card
//     updates coalesced per message. The bot's token is only ever sent to a serviceUrl
//     that came in a verified activity.
//
// Check runs mfabot doctor's Teams checks (the bot's token, the signing keys, the
// approvals channel's stored address) with the adapter's own credential and key cache,
// sending nothing to Teams; Config.Validate is the one place the rules of the Teams
// settings live.
//
// It contains no command logic: command text goes to the Dispatcher, which parses it and
// asks the core, and card data is never trusted beyond the command text it carries. It
// imports bot and approvals, never commands, graph or storage; the interfaces it consumes
// (Dispatcher, ConversationStore, ConversationReader) are declared here.
package teams
