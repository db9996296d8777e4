package approvals

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// KindNudge asks every enabled member of a group (or of the tenant) who has not registered
// for MFA to do so, in a private message: a change to nobody's account, but one that writes
// to many people in the name of IT, so it is approved like any other request (see
// Campaign for whom it reaches).
const KindNudge Kind = "nudge"

// OpNudge is one private message of a nudge. Item.Arg holds the person's mail address;
// Item.Result the channel that reached them ("slack", "teams", "mail").
const OpNudge ItemOp = "nudge"

// ErrUnreachable is in the chain of a Messenger's error when no channel reached the person.
var ErrUnreachable = errors.New("not reachable on any channel")

// Messenger delivers nudges; bot.Courier implements it.
type Messenger interface {
	// Nudge sends request r's message to u on the first channel that reaches them and
	// returns the channel's name ("slack", "teams", "mail"). An error holding
	// ErrUnreachable means none did, its message saying why for each.
	Nudge(ctx context.Context, r *Request, u User) (channel string, err error)
}

// DefaultNudgeConcurrency is how many messages of one nudge are on their way at once: each
// platform paces its own, so a slow channel (mail: 30 a minute) does not hold a fast one
// (a Slack direct message a second) back.
const DefaultNudgeConcurrency = 8

// deliveryTimeout bounds one delivery once begun. Shutting down does not cut a delivery
// short: a message half sent would have to be counted as possibly sent, and never sent
// again.
const deliveryTimeout = 2 * time.Minute

// uncertain is the error of a nudge item a previous executor began and never finished.
const uncertain = "mfabot stopped while this message was on its way: it may have arrived, so it was not sent again"

// runNudges sends the pending messages of a nudge, several at once, each item marked begun
// in the store before its message goes (Store.StartItems). A resumed request never sends a
// begun item again: whether it arrived is unknown, so it fails with that said, and the
// card and the audit log list it. Everyone is messaged at most once.
func (e *Executor) runNudges(ctx context.Context, r *Request) error {
	if e.o.Messenger == nil {
		return Errorf(EINVALID, "nobody can be nudged: no chat platform or mailbox is configured to deliver messages")
	}
	if err := e.settleBegun(ctx, r); err != nil {
		return err
	}
	n := e.o.NudgeConcurrency
	if n <= 0 {
		n = DefaultNudgeConcurrency
	}
	work := make(chan Item)
	results := make(chan Item)
	var workers sync.WaitGroup
	var mu sync.Mutex
	var beginErr error
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return beginErr != nil }
	for range n {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for it := range work {
				if ctx.Err() != nil {
					continue // not begun: it stays pending for the next start
				}
				// Begun in the store before the message goes, so that a crash from here on
				// leaves it marked and it is never sent twice.
				if err := e.store.StartItems(ctx, []Item{it}); err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						beginErr = errors.Join(beginErr, fmt.Errorf("begin item %d: %w", it.Seq, err))
						mu.Unlock()
					}
					continue
				}
				it.Attempts++
				results <- e.nudgeOne(ctx, r, it)
			}
		}()
	}
	recorded := make(chan error, 1)
	go func() { recorded <- e.recordAll(ctx, r, results) }()

	feedErr := e.feedNudges(ctx, r, work, failed)
	close(work)
	workers.Wait()
	close(results)
	feedErr = errors.Join(feedErr, beginErr, <-recorded)
	if feedErr != nil {
		return feedErr
	}
	return ctx.Err()
}

// feedNudges hands the pending items to the workers in order until there are none, ctx
// ends or stop says so.
func (e *Executor) feedNudges(ctx context.Context, r *Request, work chan<- Item, stop func() bool) error {
	after := 0
	for ctx.Err() == nil {
		items, err := e.store.Items(ctx, r.ID, ItemPending, after, 256)
		if err != nil {
			return fmt.Errorf("load pending items: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		after = items[len(items)-1].Seq
		for _, it := range items {
			select {
			case work <- it:
			case <-ctx.Done():
				return nil
			}
			if stop() {
				return nil
			}
		}
	}
	return nil
}

// nudgeOne delivers one message. A delivery once begun runs to its end even while mfabot
// shuts down, within deliveryTimeout.
func (e *Executor) nudgeOne(ctx context.Context, r *Request, it Item) Item {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout)
	defer cancel()
	channel, err := e.o.Messenger.Nudge(dctx, r, User{ID: it.UserID, UPN: it.UserName, Mail: it.Arg})
	if err != nil {
		it.State, it.Error = ItemFailed, ErrorMessage(err)
		if !errors.Is(err, ErrUnreachable) {
			e.o.Logger.WarnContext(ctx, "nudge failed", LogRequestID, r.ID, LogUser, it.UserName, LogErr, err)
		}
		return it
	}
	it.State, it.Error, it.Result = ItemDone, "", channel
	return it
}

// recordAll stores the outcomes as they come, in batches, so that a large nudge writes a
// transaction per batch rather than per message.
func (e *Executor) recordAll(ctx context.Context, r *Request, results <-chan Item) error {
	const batch = 50
	var pending []Item
	var errs []error
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if err := e.record(context.WithoutCancel(ctx), r, pending); err != nil {
			errs = append(errs, err)
		}
		pending = pending[:0]
	}
	for {
		var it Item
		var ok bool
		select {
		case it, ok = <-results:
		default:
			flush() // nothing waiting: what came so far is stored now
			it, ok = <-results
		}
		if !ok {
			flush()
			return errors.Join(errs...)
		}
		pending = append(pending, it)
		if len(pending) >= batch {
			flush()
		}
	}
}

// settleBegun fails the items a previous executor began and never finished.
func (e *Executor) settleBegun(ctx context.Context, r *Request) error {
	after := 0
	for {
		items, err := e.store.Items(ctx, r.ID, ItemPending, after, 1000)
		if err != nil {
			return fmt.Errorf("load pending items: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		after = items[len(items)-1].Seq
		var begun []Item
		for _, it := range items {
			if it.Attempts > 0 {
				it.State, it.Error = ItemFailed, uncertain
				begun = append(begun, it)
			}
		}
		if len(begun) > 0 {
			e.o.Logger.WarnContext(ctx, "nudge resumed: messages of unknown fate not sent again", LogRequestID, r.ID, "items", len(begun))
			if err := e.record(ctx, r, begun); err != nil {
				return err
			}
		}
	}
}

// SetMessenger sets who delivers nudges, after construction (the bot's courier needs the
// dispatcher, which needs the service).
func (e *Executor) SetMessenger(m Messenger) { e.o.Messenger = m }
