package bot

import (
	"context"
	"log/slog"

	"github.com/mfabot/mfabot/approvals"
)

// requestReader reads a request as it stands now; storage.DB, the RefStore mfabot runs
// with, has it. A RefStore without it gets no catch-up.
type requestReader interface {
	Request(ctx context.Context, id string) (*approvals.Request, error)
}

// maxCatchUps bounds the extra card updates of one event.
const maxCatchUps = 3

// catchUp brings the cards of a request up to the request as it stands, when it has moved
// to a later stage (or, pending, gained approvals) since shown was rendered.
//
// One Notifier delivers the events of a request in order. Several replicas on one
// database each have their own: the approval clicked on one replica and the execution
// claimed by another are shown by two processes, and an update one of them sends late
// would leave the card showing an older state than another already showed. So after
// updating the cards for a state change, the request is read again: whichever update
// lands last is followed by a read that sees what was committed before it, and anything
// committed after that read is shown by the replica that committed it. Progress is left
// out: the executor's next report shows more anyway. Nothing is read while this
// Notifier holds newer events of the request: they are shown next.
func (n *Notifier) catchUp(ctx context.Context, shown *approvals.Request, log *slog.Logger) {
	rr, ok := n.store.(requestReader)
	if !ok {
		return
	}
	for range maxCatchUps {
		n.mu.Lock()
		q := n.queues[shown.ID]
		queued := q != nil && len(q.notes) > 0
		n.mu.Unlock()
		if queued {
			return
		}
		cur, err := rr.Request(ctx, shown.ID)
		if err != nil || !further(cur, shown) {
			return
		}
		log.DebugContext(ctx, "the request moved on meanwhile; cards updated again", "state", cur.State)
		n.update(ctx, cur, n.words.Card(ctx, cur), log)
		shown = cur
	}
}

// stage orders a request's states along its life.
func stage(s approvals.State) int {
	switch {
	case s == approvals.StatePending:
		return 0
	case s == approvals.StateApproved:
		return 1
	case s == approvals.StateRunning:
		return 2
	case s.Final():
		return 3
	}
	return -1
}

// further reports whether a is further along its life than b: a later stage, or pending
// with more approvals.
func further(a, b *approvals.Request) bool {
	if sa, sb := stage(a.State), stage(b.State); sa != sb {
		return sa > sb
	}
	return a.State == approvals.StatePending && len(a.Approvals) > len(b.Approvals)
}
