package approvals

import (
	"context"
	"log/slog"
)

// A bulk reset asked for with --tap by the mfabot CLI has its passes written to a file by
// that CLI run, which holds the file: no other process ever sees a pass. So whichever
// executor claims such a request first hands its lease to the CLI's executor (named by
// TAPPlan.Holder) and leaves it; the CLI, waiting for it, takes it up with RunHeld. If the
// CLI does not take it up within the lease (it was stopped), the request lapses back to
// any executor, which then runs it without passes: each user is reset, and the pass
// steps fail saying why, so that the failed rows can be asked for again. An executor
// hands a request over once; the bookkeeping is in memory, so a restart may hand it over
// once more, which only costs one lease of waiting.

// EventHandedOver records that an executor handed a running request over to the mfabot
// CLI run that holds its passes (audited, not a change of state).
const EventHandedOver = "handed-over"

// handOver hands r to the executor that holds its passes when that is another one and r
// was not handed over before by this executor. It reports whether it did (or tried):
// then this executor leaves r alone.
func (e *Executor) handOver(ctx context.Context, r *Request, log *slog.Logger) bool {
	t := r.Preview.TAP
	if t == nil || t.Holder == "" || t.Holder == e.o.Owner {
		return false
	}
	e.mu.Lock()
	again := e.handed[r.ID]
	e.handed[r.ID] = true
	e.mu.Unlock()
	if again {
		log.WarnContext(ctx, "the mfabot CLI that holds this request's passes did not take it up; running it without passes", "holder", t.Holder)
		return false
	}
	if err := e.store.HandOver(ctx, r.ID, e.o.Owner, t.Holder, e.o.Clock.Now().Add(e.o.Lease)); err != nil {
		// Our lease lapses on its own and the request comes back here, to run.
		log.WarnContext(ctx, "hand the request over to the mfabot CLI that holds its passes", "holder", t.Holder, LogErr, err)
		return true
	}
	log.InfoContext(ctx, "request handed over to the mfabot CLI that holds its passes", "holder", t.Holder)
	ev := AuditEvent{Time: e.o.Clock.Now(), RequestID: r.ID, Type: EventHandedOver,
		Detail: "executor " + e.o.Owner + " handed the request to " + t.Holder + ", the mfabot CLI run that writes its passes"}
	if err := e.store.Audit(context.WithoutCancel(ctx), ev); err != nil {
		log.ErrorContext(ctx, "audit the hand-over", LogErr, err)
	}
	return true
}

// RunHeld runs request id when this executor holds its lease (it was handed over to
// Owner) and reports whether it did; false with no error means it does not hold it (yet).
// The mfabot CLI calls it while it waits for its request.
func (e *Executor) RunHeld(ctx context.Context, id string) (bool, error) {
	if err := e.store.RenewLease(ctx, id, e.o.Owner, e.o.Clock.Now().Add(e.o.Lease)); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return false, nil
		}
		return false, err
	}
	r, err := e.store.Request(ctx, id)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	e.running[r.ID] = true
	if r.Kind.Bulk() {
		e.bulk++
	}
	e.mu.Unlock()
	defer e.release(r)
	return true, e.run(ctx, r)
}
