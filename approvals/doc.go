// Package approvals is the domain core of mfabot: requests to change a user's sign-in
// security, their state machine, the two-person rule and the rest of the policy, the
// executor that carries an approved request out, and the audit events every step leaves.
//
// It imports only the standard library. The outside world reaches it through the small
// interfaces declared here (Store, Directory, Clock, Notifier), implemented by storage,
// graph and bot.
package approvals
