package approvals

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ExecutorOptions tune an Executor. Zero values take the defaults.
type ExecutorOptions struct {
	Owner       string        // lease owner name; default random per process
	Concurrency int           // revoke batches in flight; default 4
	BatchSize   int           // users per RevokeSessions call; default 20 (a Graph $batch)
	Lease       time.Duration // how long a claim lasts without renewal; default 30 s
	Poll        time.Duration // how often to look for work without a wake-up; default 5 s
	MaxAttempts int           // attempts per item on upstream errors; default 3
	Clock       Clock
	Notifier    Notifier
	Logger      *slog.Logger
}

// Executor carries approved requests out against the directory: it claims a request,
// expands it into items, runs them with bounded concurrency, records every outcome, and
// reports progress. A request whose executor died is resumed by the next one once its
// lease lapses, from its first unfinished item; finished items are never redone.
type Executor struct {
	store  Store
	dir    Directory
	o      ExecutorOptions
	policy Policy
	wake   chan struct{}
}

// NewExecutor returns an Executor.
// The policy's protected accounts are resolved again when a request is expanded, so an
// account protected after the request was made is still spared.
func NewExecutor(store Store, dir Directory, policy Policy, o ExecutorOptions) *Executor {
	if o.Owner == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.Owner = "executor-" + hex.EncodeToString(b[:])
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 20
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{store: store, dir: dir, o: o, policy: policy, wake: make(chan struct{}, 1)}
}

// SetNotifier sets the notifier after construction.
func (e *Executor) SetNotifier(n Notifier) { e.o.Notifier = n }

// Wake makes Run look for work now.
func (e *Executor) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run executes requests until ctx ends. On cancellation it stops starting new items,
// lets the ones in flight finish and leaves the request running for the next start.
func (e *Executor) Run(ctx context.Context) error {
	for {
		ran, err := e.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			e.o.Logger.ErrorContext(ctx, "executor", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if ran {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-time.After(e.o.Poll):
		}
	}
}

// RunOnce claims one request and runs it to its end. It reports whether there was one.
func (e *Executor) RunOnce(ctx context.Context) (bool, error) {
	now := e.o.Clock.Now()
	ev := AuditEvent{Time: now, Type: EventStarted, Detail: "executor " + e.o.Owner}
	r, err := e.store.Claim(ctx, e.o.Owner, now, now.Add(e.o.Lease), ev)
	if err != nil {
		return false, fmt.Errorf("claim request: %w", err)
	}
	if r == nil {
		return false, nil
	}
	log := e.o.Logger.With("request_id", r.ID)
	log.InfoContext(ctx, "executing request", "kind", r.Kind, "target", r.Target.Name)
	e.notify(ctx, r, EventStarted)
	return true, e.execute(ctx, r, log)
}

func (e *Executor) notify(ctx context.Context, r *Request, event string) {
	if e.o.Notifier != nil {
		e.o.Notifier.Notify(ctx, r, event)
	}
}

func (e *Executor) execute(ctx context.Context, r *Request, log *slog.Logger) error {
	// The lease is renewed while work goes on; losing it means another executor took
	// the request over, so this one stops at once.
	work, stop := context.WithCancel(ctx)
	defer stop()
	var leaseLost bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(e.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-work.Done():
				return
			case <-t.C:
				if err := e.store.RenewLease(work, r.ID, e.o.Owner, e.o.Clock.Now().Add(e.o.Lease)); err != nil {
					if ErrorCode(err) == ECONFLICT {
						leaseLost = true
						log.WarnContext(ctx, "lease lost; stopping", "err", err)
						stop()
						return
					}
					log.WarnContext(ctx, "renew lease", "err", err)
				}
			}
		}
	}()
	err := e.executeItems(work, r, log)
	stop()
	wg.Wait()
	if leaseLost {
		return nil
	}
	if ctx.Err() != nil {
		// Shutting down: left running, with the lease released so that the next start
		// resumes it at once instead of waiting for the lease to lapse.
		release := context.WithoutCancel(ctx)
		if err := e.store.RenewLease(release, r.ID, e.o.Owner, e.o.Clock.Now().Add(-time.Second)); err != nil {
			log.WarnContext(release, "release lease", "err", err)
		}
		return nil
	}
	if err != nil {
		return e.finish(ctx, r, err)
	}
	return e.finish(ctx, r, nil)
}

func (e *Executor) executeItems(ctx context.Context, r *Request, log *slog.Logger) error {
	items, err := e.store.Items(ctx, r.ID, "", 0, 1)
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	if len(items) == 0 {
		all, err := e.expand(ctx, r)
		if err != nil {
			return err
		}
		if err := e.store.AddItems(ctx, r.ID, all); err != nil {
			return fmt.Errorf("store items: %w", err)
		}
		log.InfoContext(ctx, "request expanded", "items", len(all))
	}
	if r, err = e.store.Request(ctx, r.ID); err == nil {
		e.notify(ctx, r, EventProgress)
	}
	switch r.Kind {
	case KindRevokeGroup:
		return e.runRevokes(ctx, r)
	default:
		return e.runSequential(ctx, r)
	}
}

// expand turns a request into items, resolving the target's current state: a method
// registered after the request was made goes too.
func (e *Executor) expand(ctx context.Context, r *Request) ([]Item, error) {
	var items []Item
	add := func(op ItemOp, userID, userName, arg string) {
		items = append(items, Item{RequestID: r.ID, Seq: len(items) + 1, Op: op, UserID: userID, UserName: userName, Arg: arg, State: ItemPending})
	}
	switch r.Kind {
	case KindReset:
		ms, err := e.dir.Methods(ctx, r.Target.ID)
		if err != nil {
			return nil, fmt.Errorf("list methods of %s: %w", r.Target.Name, err)
		}
		for _, m := range ms {
			if m.Deletable {
				add(OpDeleteMethod, r.Target.ID, r.Target.Name, EncodeMethodArg(m))
			}
		}
		add(OpRevoke, r.Target.ID, r.Target.Name, "")
	case KindEnforce:
		add(OpSetMFAState, r.Target.ID, r.Target.Name, r.Preview.ToState)
	case KindRevokeGroup:
		prot, err := resolveProtected(ctx, e.dir, e.policy)
		if err != nil {
			return nil, err
		}
		// Items are stored in one transaction, so a crash during expansion leaves none
		// and the next executor expands again from scratch.
		err = e.dir.GroupMembers(ctx, r.Target.ID, func(us []User) error {
			for _, u := range us {
				if !prot.has(u) {
					add(OpRevoke, u.ID, firstNonEmpty(u.UPN, u.ID), "")
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list members of %s: %w", r.Target.Name, err)
		}
	default:
		return nil, Errorf(EINVALID, "unknown request kind %q", r.Kind)
	}
	return items, nil
}

// EncodeMethodArg stores a method in an item's Arg: "<odata type>|<id>|<label>".
func EncodeMethodArg(m Method) string {
	return m.ODataType + "|" + m.ID + "|" + m.Label()
}

// DecodeMethodArg reverses EncodeMethodArg.
func DecodeMethodArg(arg string) Method {
	parts := strings.SplitN(arg, "|", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return Method{ODataType: parts[0], ID: parts[1], Type: parts[2], Deletable: true}
}

// runSequential runs the items of a reset or enforce one by one, in order: phones last.
func (e *Executor) runSequential(ctx context.Context, r *Request) error {
	for {
		items, err := e.store.Items(ctx, r.ID, ItemPending, 0, 100)
		if err != nil {
			return fmt.Errorf("load pending items: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		for _, it := range items {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			it = e.attempt(ctx, it, func(ctx context.Context) error {
				switch it.Op {
				case OpDeleteMethod:
					return e.dir.DeleteMethod(ctx, it.UserID, DecodeMethodArg(it.Arg))
				case OpRevoke:
					return e.dir.RevokeSessions(ctx, []string{it.UserID})[0]
				case OpSetMFAState:
					return e.dir.SetMFAState(ctx, it.UserID, it.Arg)
				}
				return Errorf(EINVALID, "unknown item operation %q", it.Op)
			})
			if ctx.Err() != nil && it.State != ItemDone {
				return ctx.Err()
			}
			if err := e.record(ctx, r, []Item{it}); err != nil {
				return err
			}
		}
	}
}

// attempt runs one call, retrying upstream errors (throttling, outages) a few times.
func (e *Executor) attempt(ctx context.Context, it Item, call func(context.Context) error) Item {
	for {
		it.Attempts++
		err := call(ctx)
		if err == nil {
			it.State, it.Error = ItemDone, ""
			return it
		}
		it.State, it.Error = ItemFailed, ErrorMessage(err)
		if ErrorCode(err) != EUPSTREAM || it.Attempts >= e.o.MaxAttempts || ctx.Err() != nil {
			e.o.Logger.WarnContext(ctx, "item failed", "request_id", it.RequestID, "seq", it.Seq, "op", it.Op, "user", it.UserName, "err", err)
			return it
		}
		select {
		case <-ctx.Done():
			return it
		case <-time.After(time.Duration(it.Attempts) * time.Second):
		}
	}
}

// runRevokes revokes the members of a group in batches, several batches at a time.
func (e *Executor) runRevokes(ctx context.Context, r *Request) error {
	batches := make(chan []Item)
	errs := make(chan error, e.o.Concurrency)
	var wg sync.WaitGroup
	for range e.o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := e.revokeBatch(ctx, r, b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	after := 0
	var feedErr error
feed:
	for {
		items, err := e.store.Items(ctx, r.ID, ItemPending, after, e.o.BatchSize*e.o.Concurrency*4)
		if err != nil {
			feedErr = fmt.Errorf("load pending items: %w", err)
			break
		}
		if len(items) == 0 {
			break
		}
		after = items[len(items)-1].Seq
		for len(items) > 0 {
			n := min(e.o.BatchSize, len(items))
			select {
			case batches <- items[:n]:
			case <-ctx.Done():
				break feed
			case feedErr = <-errs:
				break feed
			}
			items = items[n:]
		}
	}
	close(batches)
	wg.Wait()
	close(errs)
	for err := range errs {
		feedErr = errors.Join(feedErr, err)
	}
	if feedErr != nil {
		return feedErr
	}
	return ctx.Err()
}

func (e *Executor) revokeBatch(ctx context.Context, r *Request, items []Item) error {
	pending := items
	var finished []Item
	for attempt := 1; len(pending) > 0; attempt++ {
		if ctx.Err() != nil {
			break
		}
		ids := make([]string, len(pending))
		for i, it := range pending {
			ids[i] = it.UserID
		}
		errs := e.dir.RevokeSessions(ctx, ids)
		var retry []Item
		for i, it := range pending {
			it.Attempts++
			var err error
			if i < len(errs) {
				err = errs[i]
			} else {
				err = Errorf(EINTERNAL, "no result for %s", it.UserName)
			}
			switch {
			case err == nil:
				it.State, it.Error = ItemDone, ""
				finished = append(finished, it)
			case ctx.Err() != nil:
				// Shutting down: leave it pending for the next executor.
			case ErrorCode(err) == EUPSTREAM && it.Attempts < e.o.MaxAttempts:
				retry = append(retry, it)
			default:
				it.State, it.Error = ItemFailed, ErrorMessage(err)
				finished = append(finished, it)
			}
		}
		pending = retry
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
	}
	if len(finished) == 0 {
		return nil
	}
	return e.record(context.WithoutCancel(ctx), r, finished)
}

// record stores item outcomes with their audit events and reports progress.
func (e *Executor) record(ctx context.Context, r *Request, items []Item) error {
	now := e.o.Clock.Now()
	evs := make([]AuditEvent, len(items))
	for i, it := range items {
		detail := fmt.Sprintf("%s %s %s: %s", it.Op, it.UserName, itemArgLabel(it), it.State)
		if it.Error != "" {
			detail += ": " + it.Error
		}
		evs[i] = AuditEvent{Time: now, RequestID: r.ID, Type: EventItem, Detail: detail}
	}
	if err := e.store.FinishItems(ctx, items, evs); err != nil {
		return fmt.Errorf("record items: %w", err)
	}
	if cur, err := e.store.Request(ctx, r.ID); err == nil {
		e.notify(ctx, cur, EventProgress)
	}
	return nil
}

func itemArgLabel(it Item) string {
	switch it.Op {
	case OpDeleteMethod:
		return DecodeMethodArg(it.Arg).Type
	case OpSetMFAState:
		return it.Arg
	}
	return ""
}

// finish moves a running request to its final state from its items' outcomes.
func (e *Executor) finish(ctx context.Context, r *Request, runErr error) error {
	cur, err := e.store.Request(ctx, r.ID)
	if err != nil {
		return fmt.Errorf("reload request: %w", err)
	}
	to := StateSucceeded
	msg := ""
	switch {
	case runErr != nil && cur.Done == 0 && cur.Failed == 0:
		to, msg = StateFailed, ErrorMessage(runErr)
	case runErr != nil:
		to, msg = StatePartlyFailed, ErrorMessage(runErr)
	case cur.Failed > 0 && cur.Failed == cur.Total:
		to = StateFailed
		msg = fmt.Sprintf("all %d items failed", cur.Total)
	case cur.Failed > 0:
		to = StatePartlyFailed
	}
	if runErr != nil {
		e.o.Logger.ErrorContext(ctx, "request failed", "request_id", r.ID, "err", runErr)
	}
	now := e.o.Clock.Now()
	detail := fmt.Sprintf("%s: %d of %d done, %d failed", to, cur.Done, cur.Total, cur.Failed)
	if msg != "" {
		detail += "; " + msg
	}
	ev := AuditEvent{Time: now, RequestID: r.ID, Type: EventFinished, Detail: detail}
	done, err := e.store.Transition(ctx, r.ID, Transition{From: StateRunning, To: to, Error: msg, At: now}, ev)
	if err != nil {
		return fmt.Errorf("finish request: %w", err)
	}
	e.o.Logger.InfoContext(ctx, "request finished", "request_id", r.ID, "state", to, "done", cur.Done, "failed", cur.Failed)
	e.notify(ctx, done, EventFinished)
	return nil
}
