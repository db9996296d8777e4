// Package summary owns mfabot's MFA enrollment summary: where registration stands in the
// tenant, who is still missing, and how that changed, decided once here for every chat
// platform. It streams the tenant page by page (Source), aggregates while it streams so a
// tenant of any size is summarised in bounded memory, keeps one snapshot per day (Store) for
// the trend, and renders a neutral bot.Message with a PNG chart and a CSV of every enabled
// user without MFA.
//
// Job posts that summary every day at a configured local time to each configured platform,
// exactly once per day and channel: the run is claimed in the Store before anything is
// posted, so restarts and several instances sharing one database never post twice.
//
// The package consumes the small interfaces it declares (Source, Store) and bot.Platform.
// Graph's refusals are classified by the core's kinds (approvals.ErrLicence,
// approvals.ErrAccessDenied). It must not import graph, storage or any platform adapter.
package summary
