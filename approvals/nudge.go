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

// deliveryTimeout bounds the send of one message once begun (BeginSend).
const deliveryTimeout = time.Minute

// uncertain is the error of a nudge item a previous executor began and never finished.
const uncertain = "mfabot stopped while this message was on its way: it may have arrived, so it was not sent again"

type beginKey struct{}

// beginning marks one nudge item begun in the store, once.
type beginning struct {
	start func() error

	mu    sync.Mutex
	done  bool
	err   error
	begun bool
}

func (b *beginning) begin() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.done = true
		b.err = b.start()
		b.begun = b.err == nil
	}
	return b.err
}

func (b *beginning) wasBegun() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.begun
}

// BeginSend is called by whoever delivers a nudge (a chat adapter, the mailer) after every
// wait (a lookup, its platform's pace) and right before the one call that sends the
// message. Within a nudge it records in the store that the message is on its way
// (Store.StartItems), so that from then on a crash leaves it begun and a resumed nudge does
// not send it again; until then, shutting down leaves it to be sent after the restart. It
// returns the context the send must use: no longer cancelled by shutting down, because a
// message cut off mid-send would be of unknown fate, and bounded by a timeout. Outside a
// nudge it returns ctx as it is. When the record fails, nothing may be sent.
func BeginSend(ctx context.Context) (context.Context, context.CancelFunc, error) {
	b, ok := ctx.Value(beginKey{}).(*beginning)
	if !ok {
		return ctx, func() {}, nil
	}
	if err := b.begin(); err != nil {
		return ctx, func() {}, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout)
	return sctx, cancel, nil
}

// runNudges sends the pending messages of a nudge, several at once. Each message is marked
// begun in the store right before it is sent (BeginSend); a resumed request never sends a
// begun item again: whether it arrived is unknown, so it fails with that said, and the card
// and the audit log list it. Everyone is messaged at most once. Shutting down stops the
// messages still waiting for their turn; they go after the restart.
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
	results := make(chan Item)
	recorded := make(chan error, 1)
	go func() { recorded <- e.recordAll(ctx, r, results) }()
	feedErr := e.fanOut(ctx, r, n, 1, 256, func(b []Item) error {
		if it, ok := e.nudgeOne(ctx, r, b[0]); ok {
			results <- it
		}
		return nil
	})
	close(results)
	if err := errors.Join(feedErr, <-recorded); err != nil {
		return err
	}
	return ctx.Err()
}

// nudgeOne delivers one message and reports whether its outcome is to be recorded: not
// when shutting down stopped it before it was begun, so that it stays pending.
func (e *Executor) nudgeOne(ctx context.Context, r *Request, it Item) (Item, bool) {
	if ctx.Err() != nil {
		return it, false
	}
	b := &beginning{start: func() error { return e.store.StartItems(ctx, []Item{it}) }}
	channel, err := e.o.Messenger.Nudge(context.WithValue(ctx, beginKey{}, b), r, User{ID: it.UserID, UPN: it.UserName, Mail: it.Arg})
	begun := b.wasBegun()
	if begun {
		it.Attempts++
	}
	switch {
	case err == nil && !begun:
		// A Messenger that never said when it sent: the message went, unrecorded as begun.
		it.Attempts++
		fallthrough
	case err == nil:
		it.State, it.Error, it.Result = ItemDone, "", channel
	case !begun && ctx.Err() != nil:
		return it, false
	default:
		it.State, it.Error = ItemFailed, ErrorMessage(err)
		if !errors.Is(err, ErrUnreachable) {
			e.o.Logger.WarnContext(ctx, "nudge failed", LogRequestID, r.ID, LogUser, it.UserName, LogErr, err)
		}
	}
	return it, true
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
