// Package summary owns mfabot's MFA enrollment summary: where MFA and SSPR registration
// stand in the tenant, or in one group's transitive members (summary <group>), who is still
// missing, and how both changed, decided once here for every chat platform. Members and
// guests are counted apart, and the accounts summary.exclude names (service and shared
// accounts) are left out of "missing" and counted on their own. It streams the tenant page
// by page (Source, Members), aggregates while it streams so a tenant of any size is
// summarised in bounded memory, keeps one snapshot per day and scope (Store) for the
// trends, and renders a neutral bot.Message with a PNG chart of both trends, a CSV of every
// enabled user without MFA (by object id, so that it feeds a bulk request), and the buttons
// that start the campaign for them (Job.Actions).
//
// Job posts that summary every day at a configured local time to each configured platform,
// exactly once per day and channel: the run is claimed in the Store before anything is
// posted, so restarts and several instances sharing one database never post twice.
//
// The package consumes the small interfaces it declares (Source, Store) and bot.Platform.
// Graph's refusals are classified by the core's kinds (approvals.ErrLicence,
// approvals.ErrAccessDenied). It must not import graph, storage or any platform adapter.
package summary
