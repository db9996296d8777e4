// Package graph is mfabot's adapter to Microsoft Graph: every Entra ID operation the bot
// performs (users, authentication methods hardware OATH tokens included, the default
// second factor, the registration report (whole, or only who is not registered for MFA),
// per-user MFA, sign-in session revocation, Temporary Access Passes and their policy,
// groups, mail from a configured mailbox (Mailbox, sendMail, paced under Exchange Online's
// 30 messages a minute and never sent twice), and the app's own permissions), built on the msgraph-sdk-go v1.0
// client and azidentity credentials, in the public cloud or a national one (Cloud).
//
// It owns what talking to Graph at scale needs: paging that streams page by page, JSON
// batching, and pacing under Graph's documented per-app per-tenant limits. One adaptive
// pacer carries every write: it halves its pace when Graph answers 429 (and holds every
// writer for the Retry-After), climbs back while Graph is quiet, and lets single-user
// writes (a reset's deletions, a default change, one user's revocation) go ahead of bulk
// revocations while counting them against the same budget. A 503 or 504 is a busy
// server, not a spent budget: it holds only the request or batch item that got it. The
// retry middleware replaces kiota's so that every answer reaches the pacer, and the
// mapping of HTTP status and Graph error codes to approvals.Error (with a kind for
// errors.Is, and Transient for what is worth repeating) is done once, here. Every wait
// is on a clock tests can replace.
//
// Check runs mfabot doctor's Entra ID and Graph checks (token, permissions, licence,
// pinned groups, the mailbox of notify.mail_from) with the same credential and client serve builds.
//
// Client implements approvals.Directory. What lives only in Graph's beta API (per-user
// MFA, sign-in preferences, hardware OATH tokens) is reached through the v1.0 SDK's
// request adapter with raw beta URLs, because msgraph-beta-sdk-go is not a dependency.
//
// graph imports approvals (for the types it returns) and nothing else of mfabot's.
package graph
