// Package graph is mfabot's adapter to Microsoft Graph: every Entra ID operation the bot
// performs (users, authentication methods, the registration report, per-user MFA, sign-in
// session revocation, groups, and the app's own permissions for doctor), built on the
// msgraph-sdk-go v1.0 client and azidentity credentials.
//
// It owns what talking to Graph at scale needs: paging that streams page by page, JSON
// batching, pacing under Graph's documented per-app per-tenant limits with an adaptive
// pacer that slows down when Graph throttles earlier and speeds up again, its own retry
// middleware in place of kiota's (so that every 429 also feeds the pacer), and the mapping
// of HTTP status and Graph error codes to approvals.Error, done once, here.
//
// Client implements approvals.Directory. The per-user MFA state lives only in Graph's beta
// API; it is reached through the v1.0 SDK's request adapter with a raw beta URL, because
// msgraph-beta-sdk-go is not a dependency.
//
// graph imports approvals (for the types it returns) and nothing else of mfabot's.
package graph
