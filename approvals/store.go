package approvals

import (
	"context"
	"time"
)

// RequestFilter selects requests for listing; zero fields select everything.
type RequestFilter struct {
	States []State
	Limit  int // newest first; 0 means a sensible default
}

// Transition describes a compare-and-set state change for Store.Transition.
type Transition struct {
	From, To State
	Denial   *Decision // the denier or canceller and the reason, for denied/cancelled
	Error    string    // why, for failed
	At       time.Time
}

// Store keeps requests, their items and the audit log. Every method
// that changes a request writes its audit event in the same transaction, and every state
// change is one conditional update: when the request is no longer in the expected state
// it returns an *Error with code ECONFLICT and changes nothing. storage implements it.
type Store interface {
	// CreateRequest stores a new pending request. It assigns r.ID when empty.
	CreateRequest(ctx context.Context, r *Request, ev AuditEvent) error
	// Request loads a request with its decisions and progress counts (ENOTFOUND).
	Request(ctx context.Context, id string) (*Request, error)
	// Requests lists requests, newest first.
	Requests(ctx context.Context, f RequestFilter) ([]*Request, error)

	// Approve records d as an approval of a pending, unexpired request (expires_at > d.At)
	// and, when it then has `required` approvals, moves it to approved — in one
	// transaction. The same person (Actor.PersonKey) approving twice is ECONFLICT.
	Approve(ctx context.Context, id string, d Decision, required int, ev AuditEvent) (*Request, error)
	// Transition moves a request from t.From to t.To.
	Transition(ctx context.Context, id string, t Transition, ev AuditEvent) (*Request, error)
	// ExpireDue moves every pending request whose expires_at <= now to expired, with an
	// audit event each, and returns them.
	ExpireDue(ctx context.Context, now time.Time) ([]*Request, error)

	// UpdatePreview replaces the preview of a pending request (facts gathered again
	// before an approval), with ev as its audit event; ECONFLICT when it is not pending.
	UpdatePreview(ctx context.Context, id string, p Preview, ev AuditEvent) (*Request, error)
	// Audit appends an event that changes no request: a refusal, a step-up demand.
	Audit(ctx context.Context, ev AuditEvent) error

	// Claim takes one request of one of kinds (any kind when kinds is empty) for
	// execution: a running one whose lease has lapsed (a crashed executor's; no new
	// event) or else the oldest approved one (moved to running, with ev as its "started"
	// event). It returns nil, nil when there is none.
	Claim(ctx context.Context, owner string, now, leaseUntil time.Time, kinds []Kind, ev AuditEvent) (*Request, error)
	// RenewLease extends the claim; ECONFLICT when owner no longer holds it.
	RenewLease(ctx context.Context, id, owner string, until time.Time) error
	// HandOver passes the lease of a running request from owner to another executor, to
	// until; ECONFLICT when owner no longer holds it (handover.go).
	HandOver(ctx context.Context, id, owner, to string, until time.Time) error
	// AddItems stores the items of a request unless it already has items (a resumed
	// request keeps the ones it had).
	AddItems(ctx context.Context, requestID string, items []Item) error
	// Items lists up to limit items of a request with Seq > afterSeq, in Seq order; state ""
	// lists items in any state.
	Items(ctx context.Context, requestID string, state ItemState, afterSeq, limit int) ([]Item, error)
	// StartItems records that pending items are begun (Attempts + 1) before a call that must
	// not be repeated (a message sent): a resumed request finds them begun and does not
	// repeat them. An item that is no longer pending is ECONFLICT.
	StartItems(ctx context.Context, items []Item) error
	// FinishItems records the outcome (State done or failed, Attempts, Error, Result) of pending
	// items, each with its audit event, in one transaction. An item that is no longer
	// pending is ECONFLICT: a finished item is never redone.
	FinishItems(ctx context.Context, items []Item, events []AuditEvent) error
}
