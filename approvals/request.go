package approvals

import (
	"slices"
	"strings"
	"time"
)

// Kind is what a request does to its target.
type Kind string

// Request kinds.
const (
	KindReset       Kind = "reset"        // delete the user's methods (all but the password, or a selection), then revoke sessions
	KindRevoke      Kind = "revoke"       // revoke one user's sign-in sessions
	KindRevokeGroup Kind = "revoke-group" // revoke the sessions of every transitive member
	KindEnforce     Kind = "enforce"      // set the per-user MFA state
	KindResetBulk   Kind = "reset-bulk"   // reset each user of a list, one item per user (bulkreset.go)
)

// kinds lists every kind, each with whether it is bulk work. A kind missing here is never
// claimed by the executor's Run: add every new kind.
var kinds = map[Kind]bool{
	KindReset:       false,
	KindRevoke:      false,
	KindEnforce:     false,
	KindRevokeGroup: true,
	KindResetBulk:   true,
	KindNudge:       true,
}

// Bulk reports whether requests of kind k act on many users. Bulk work may not take every
// executor slot: a single-user request approved during a bulk run starts at once.
func (k Kind) Bulk() bool { return kinds[k] }

// Claimable reports whether the executor's Run claims requests of kind k: whether k is in
// the registry.
func Claimable(k Kind) bool {
	_, ok := kinds[k]
	return ok
}

// kindsWhere lists the kinds whose bulkness is bulk, in a stable order.
func kindsWhere(bulk bool) []Kind {
	var out []Kind
	for k, b := range kinds {
		if b == bulk {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// State is where a request stands. The only transitions are
//
//	pending → approved → running → succeeded | partly_failed | failed
//	pending → denied | expired | cancelled
//
// and each is one compare-and-set in the store.
type State string

// Request states.
const (
	StatePending      State = "pending"
	StateApproved     State = "approved"
	StateRunning      State = "running"
	StateSucceeded    State = "succeeded"
	StatePartlyFailed State = "partly_failed"
	StateFailed       State = "failed"
	StateDenied       State = "denied"
	StateExpired      State = "expired"
	StateCancelled    State = "cancelled"
)

// Final reports whether no transition leaves s.
func (s State) Final() bool {
	switch s {
	case StateSucceeded, StatePartlyFailed, StateFailed, StateDenied, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Actor is a person acting through a chat platform, as the platform verified them.
// Identity never comes from message text.
type Actor struct {
	Platform string // "slack", "teams", "console"
	ID       string // the platform's user id (Slack U…, Teams aadObjectId/29:…)
	Name     string // display name, for showing only
	EntraID  string // linked Entra object id, "" when unknown
	// LinkError says why the link to Entra could not be looked up (Graph or the chat
	// platform failed). Such an actor is refused, never taken for an unlinked one.
	LinkError string
}

// Key is the actor's platform identity, "slack:U123".
func (a Actor) Key() string { return a.Platform + ":" + a.ID }

// SamePerson reports whether a and b are the same person: the same platform account, or
// accounts on any platforms linked to the same Entra user.
func (a Actor) SamePerson(b Actor) bool {
	if a.Platform == b.Platform && a.ID == b.ID {
		return true
	}
	return a.EntraID != "" && strings.EqualFold(a.EntraID, b.EntraID)
}

// PersonKey identifies the person for uniqueness of decisions: the Entra id when linked,
// the platform identity otherwise.
func (a Actor) PersonKey() string {
	if a.EntraID != "" {
		return "entra:" + strings.ToLower(a.EntraID)
	}
	return a.Key()
}

// Target is what a request acts on, as resolved when the request was made.
type Target struct {
	Type string // "user" or "group"
	ID   string // object id
	Name string // UPN or group display name
}

// Preview is what the approver is shown before deciding: the facts as they were At. A
// request that waited long has them gathered again before an approval counts.
type Preview struct {
	At          time.Time // when these facts were read from the directory
	Only        []string  // reset: the method types selected (Method* constants); empty means all but the password
	Methods     []Method  // reset: methods that will be deleted, in the order they will be
	Kept        []Method  // reset: methods left registered, with why in Note (password, not selected, unknown types)
	Default     string    // reset: the user's default second factor (DefaultPush, …)
	MemberCount int       // revoke-group: members that will be revoked (protected accounts left out)
	FromState   string    // enforce: per-user MFA state before
	ToState     string    // enforce: the state asked for
	Becomes     string    // enforce: the state Entra will show after (enabled turns enforced for a user with methods)

	// Bulk is a reset-bulk's users and the rows refused before the request was made.
	Bulk *BulkPreview `json:",omitempty"`
	// TAP is the Temporary Access Pass a reset (single or bulk) creates after, with --tap.
	TAP *TAPPlan `json:",omitempty"`
	// Campaign is a nudge's or revoke-group --unregistered's reach: whom it reaches and
	// leaves out (MemberCount: how many it reaches).
	Campaign *Campaign // nudge, revoke-group --unregistered: whom it reaches and leaves out (MemberCount: how many it reaches)
}

// Decision is one approval or denial.
type Decision struct {
	Actor  Actor
	At     time.Time
	Reason string
}

// Request is a change to a user's or group's sign-in security waiting for, or carried out
// after, a second person's approval.
type Request struct {
	ID        string
	Kind      Kind
	State     State
	Requester Actor
	Target    Target
	Preview   Preview
	Reason    string
	CreatedAt time.Time
	ExpiresAt time.Time

	Approvals []Decision // in order; enough of them moves the request to approved
	Denial    *Decision  // who denied or cancelled, and why
	ClosedAt  time.Time  // when it reached a final state
	Error     string     // why it failed, for failed requests

	// Progress of execution, filled by the store from the items: Total items, Done of
	// them succeeded, Failed of them failed; Done+Failed have finished.
	Total, Done, Failed int
}

// ItemOp is the Graph operation of one execution item.
type ItemOp string

// Item operations.
const (
	OpDeleteMethod ItemOp = "delete-method"
	OpSetDefault   ItemOp = "set-default" // change the default second factor so the old one can go
	OpRevoke       ItemOp = "revoke"
	OpSetMFAState  ItemOp = "set-mfa-state"
	OpVerify       ItemOp = "verify" // list the user's methods again: what was to go must be gone
)

// Item operations of Temporary Access Passes and bulk resets.
const (
	OpTAP       ItemOp = "tap"        // create a Temporary Access Pass and hand it to the requester (tap.go)
	OpResetUser ItemOp = "reset-user" // reset-bulk: one user's whole reset, and their pass (bulkreset.go)
)

// ItemState is where an execution item stands.
type ItemState string

// Item states.
const (
	ItemPending ItemState = "pending"
	ItemDone    ItemState = "done"
	ItemFailed  ItemState = "failed"
)

// Item is one Graph call of an approved request: one method to delete, one user to revoke.
type Item struct {
	RequestID string
	Seq       int // order of execution within the request, from 1
	Op        ItemOp
	UserID    string
	UserName  string // UPN, for reports
	Arg       string // method id and type ("<odata type> <id>") or MFA state
	State     ItemState
	Attempts  int
	Error     string // why it failed, in words for the chat
	Result    string // what it left behind, when that is not obvious (the MFA state Entra shows now)
}

// Audit event types.
const (
	EventRequested = "requested"
	EventApproved  = "approved" // one approval; the request may need more
	EventDenied    = "denied"
	EventExpired   = "expired"
	EventCancelled = "cancelled"
	EventStarted   = "started"
	EventItem      = "item" // one item's outcome
	EventFinished  = "finished"
	EventRefreshed = "refreshed" // the preview was gathered again before an approval
	// EventRefused records a refusal of an actor: a self-approval, a click by someone who
	// may not approve, a request for a protected account, an unlinked or disabled actor.
	// Auditors look for these first.
	EventRefused = "refused"
)

// AuditEvent is one entry of the append-only, hash-chained audit log.
type AuditEvent struct {
	Seq       int64 // assigned by the store
	Time      time.Time
	RequestID string
	Type      string
	Actor     Actor // zero for the system (sweeper, executor)
	Detail    string
	PrevHash  string // assigned by the store
	Hash      string // assigned by the store
}
