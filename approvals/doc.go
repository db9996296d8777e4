// Package approvals is the domain core of mfabot: requests to change a user's sign-in
// security, their state machine, the two-person rule and the rest of the policy, the
// executor that carries an approved request out, and the audit events every step leaves.
//
// Enrollment campaigns are requests too: a nudge (a private message to everyone in a group,
// or the tenant, who has not registered for MFA) and revoke-group --unregistered; whom they
// reach is the Campaign's rule, read from the registration report (Report) and delivered
// by a Messenger.
//
// It imports only the standard library. The outside world reaches it through the small
// interfaces declared here (Store, Directory, Report, Clock, Notifier, Messenger),
// implemented by storage, graph and bot.
package approvals
