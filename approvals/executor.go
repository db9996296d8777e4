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
	Owner string // lease owner name; default random per process
	// MaxRequests is how many requests run at once; default 4. Bulk requests (revoke-group)
	// never take the last slot, so a single-user request approved during a bulk run
	// starts at once instead of waiting for it.
	MaxRequests int
	Concurrency int           // revoke batches in flight per bulk request; default 4
	BatchSize   int           // users per RevokeSessions call; default 20 (a Graph $batch)
	Lease       time.Duration // how long a claim lasts without renewal; default 30 s
	Poll        time.Duration // how often to look for work without a wake-up; default 5 s
	MaxAttempts int           // attempts per item on transient errors; default 3
	Clock       Clock
	// Sleep waits between attempts; default a timer. Tests pass one that returns at once.
	Sleep    func(ctx context.Context, d time.Duration) error
	Notifier Notifier
	Logger   *slog.Logger
	// Passes hands Temporary Access Passes to requesters (tap.go); without it a reset
	// with --tap ends without a pass, saying why.
	Passes PassHandler

	// NudgeConcurrency is how many messages of a nudge are on their way at once; default
	// DefaultNudgeConcurrency.
	NudgeConcurrency int
	// Report tells who is not registered for MFA, to expand nudges and revoke-group
	// --unregistered when they run; Messenger delivers nudges.
	Report    Report
	Messenger Messenger
}

// Executor carries approved requests out against the directory: it claims requests,
// expands each into items, runs them, records every outcome, and reports progress.
// Several requests run at once, each under its own lease. A request whose executor died is
// resumed by the next one once its lease lapses, from its first unfinished item; finished
// items are never redone.
//
// What runs is what was approved: protected accounts are checked again when a request is
// expanded, and a group that has grown by more than a tenth since approval is not revoked.
type Executor struct {
	store  Store
	dir    Directory
	o      ExecutorOptions
	policy Policy
	wake   chan struct{}

	mu       sync.Mutex
	running  map[string]bool // request ids this executor runs now
	bulk     int             // how many of them are bulk
	finished chan struct{}   // a request ended: a slot is free
	handed   map[string]bool // requests handed to the CLI that holds their passes (handover.go)
}

// NewExecutor returns an Executor.
func NewExecutor(store Store, dir Directory, policy Policy, o ExecutorOptions) *Executor {
	if o.Owner == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.Owner = "executor-" + hex.EncodeToString(b[:])
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 4
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
	if o.Sleep == nil {
		o.Sleep = Sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{store: store, dir: dir, o: o, policy: policy, wake: make(chan struct{}, 1),
		running: map[string]bool{}, finished: make(chan struct{}, 1), handed: map[string]bool{}}
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

// Run executes requests until ctx ends, several at a time. On cancellation it stops
// starting new items, lets the ones in flight finish, leaves the requests running for the
// next start and returns when all of them have stopped.
func (e *Executor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		for ctx.Err() == nil {
			r, err := e.claimNext(ctx)
			if err != nil {
				if ctx.Err() == nil {
					e.o.Logger.ErrorContext(ctx, "executor", LogErr, err)
				}
				break
			}
			if r == nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer e.release(r)
				if err := e.run(ctx, r); err != nil && ctx.Err() == nil {
					e.o.Logger.ErrorContext(ctx, "executor", LogRequestID, r.ID, LogErr, err)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-e.finished:
		case <-time.After(e.o.Poll):
		}
	}
}

// claimNext claims a request if a slot is free: single-user work first, bulk work only
// while it leaves a slot for single-user work.
func (e *Executor) claimNext(ctx context.Context) (*Request, error) {
	e.mu.Lock()
	free, bulkFree := e.o.MaxRequests-len(e.running), e.bulk < e.o.MaxRequests-1
	e.mu.Unlock()
	if free <= 0 {
		return nil, nil
	}
	r, err := e.claim(ctx, singleKinds)
	if r != nil || err != nil || !bulkFree || free < 1 {
		return r, err
	}
	return e.claim(ctx, bulkKinds)
}

var (
	singleKinds = kindsWhere(false)
	bulkKinds   = kindsWhere(true)
)

func (e *Executor) claim(ctx context.Context, kinds []Kind) (*Request, error) {
	now := e.o.Clock.Now()
	ev := AuditEvent{Time: now, Type: EventStarted, Detail: "executor " + e.o.Owner}
	r, err := e.store.Claim(ctx, e.o.Owner, now, now.Add(e.o.Lease), kinds, ev)
	if err != nil {
		return nil, fmt.Errorf("claim request: %w", err)
	}
	if r == nil {
		return nil, nil
	}
	e.mu.Lock()
	e.running[r.ID] = true
	if r.Kind.Bulk() {
		e.bulk++
	}
	e.mu.Unlock()
	return r, nil
}

func (e *Executor) release(r *Request) {
	e.mu.Lock()
	delete(e.running, r.ID)
	if r.Kind.Bulk() {
		e.bulk--
	}
	e.mu.Unlock()
	select {
	case e.finished <- struct{}{}:
	default:
	}
}

// RunOnce claims one request of any kind and runs it to its end. It reports whether there
// was one.
func (e *Executor) RunOnce(ctx context.Context) (bool, error) {
	r, err := e.claim(ctx, nil)
	if err != nil || r == nil {
		return false, err
	}
	defer e.release(r)
	return true, e.run(ctx, r)
}

func (e *Executor) run(ctx context.Context, r *Request) error {
	log := e.o.Logger.With(LogRequestID, r.ID)
	if e.handOver(ctx, r, log) {
		return nil
	}
	log.InfoContext(ctx, "executing request", "kind", r.Kind, "target", r.Target.Name)
	e.notify(ctx, r, EventStarted)
	return e.execute(ctx, r, log)
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
						log.WarnContext(ctx, "lease lost; stopping", LogErr, err)
						stop()
						return
					}
					log.WarnContext(ctx, "renew lease", LogErr, err)
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
			log.WarnContext(release, "release lease", LogErr, err)
		}
		return nil
	}
	return e.finish(ctx, r, err)
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
	if cur, err := e.store.Request(ctx, r.ID); err == nil {
		r = cur
		e.notify(ctx, r, EventProgress)
	}
	switch r.Kind {
	case KindRevokeGroup:
		return e.runRevokes(ctx, r)
	case KindNudge:
		return e.runNudges(ctx, r)
	}
	if r.Kind == KindResetBulk {
		return e.runBulkResets(ctx, r)
	}
	return e.runSequential(ctx, r)
}

// expand turns a request into items from the target's state now. It refuses, with nothing
// done, a target that became protected after the request was made and a group that grew
// past what was approved.
func (e *Executor) expand(ctx context.Context, r *Request) ([]Item, error) {
	var items []Item
	add := func(op ItemOp, userID, userName, arg string) {
		items = append(items, Item{RequestID: r.ID, Seq: len(items) + 1, Op: op, UserID: userID, UserName: userName, Arg: arg, State: ItemPending})
	}
	prot, err := resolveProtected(ctx, e.dir, e.policy)
	if err != nil {
		return nil, err
	}
	if r.Preview.Campaign != nil {
		return e.expandCampaign(ctx, r, prot)
	}
	if r.Target.Type == "user" {
		u, err := e.dir.ResolveUser(ctx, r.Target.ID)
		if err != nil {
			return nil, err
		}
		if err := prot.check(u); err != nil {
			return nil, WrapError(EFORBIDDEN, err, "%s; nothing was changed", ErrorMessage(err))
		}
	}
	switch r.Kind {
	case KindReset:
		ms, err := e.dir.Methods(ctx, r.Target.ID)
		if err != nil {
			return nil, fmt.Errorf("list methods of %s: %w", r.Target.Name, err)
		}
		def, err := e.dir.DefaultMethod(ctx, r.Target.ID)
		if err != nil {
			e.o.Logger.WarnContext(ctx, "read default method; Graph's answers will order the deletions", LogRequestID, r.ID, LogErr, err)
			def = ""
		}
		plan := planReset(ms, def, r.Preview.Only)
		if plan.setDefault != "" {
			add(OpSetDefault, r.Target.ID, r.Target.Name, plan.setDefault)
		}
		for _, m := range plan.del {
			add(OpDeleteMethod, r.Target.ID, r.Target.Name, EncodeMethodArg(m))
		}
		add(OpRevoke, r.Target.ID, r.Target.Name, "")
		add(OpVerify, r.Target.ID, r.Target.Name, strings.Join(r.Preview.Only, ","))
		if r.Preview.TAP != nil {
			add(OpTAP, r.Target.ID, r.Target.Name, "")
		}
	case KindRevoke:
		add(OpRevoke, r.Target.ID, r.Target.Name, "")
	case KindEnforce:
		add(OpSetMFAState, r.Target.ID, r.Target.Name, r.Preview.ToState)
	case KindResetBulk:
		items = expandBulk(r)
	case KindRevokeGroup:
		if prot.groups[r.Target.ID] {
			return nil, Errorf(EFORBIDDEN, "%s became a protected group after the request was made; nothing was revoked", r.Target.Name)
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
		if groupChanged(r.Preview.MemberCount, len(items), e.policy.ConfirmAbove) {
			return nil, Errorf(ECONFLICT, "the group changed: %s has %d members now, %d when it was approved; nothing was revoked, request again",
				r.Target.Name, len(items), r.Preview.MemberCount)
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

// DecodeMethodArg reverses EncodeMethodArg: the method to delete (its type derived from the
// @odata.type) and the label it had when the request was expanded.
func DecodeMethodArg(arg string) (Method, string) {
	parts := strings.SplitN(arg, "|", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return Method{ODataType: parts[0], ID: parts[1], Type: MethodType(parts[0]), Deletable: true}, parts[2]
}

// MethodType is the type of a method (MethodPhone, …) from its @odata.type
// ("#microsoft.graph.phoneAuthenticationMethod").
func MethodType(odataType string) string {
	return strings.TrimSuffix(strings.TrimPrefix(odataType, "#microsoft.graph."), "AuthenticationMethod")
}

// runSequential runs the items of a single-user request one by one, in order. A deletion
// that Graph refuses because the method is the user's default (the order came from a
// stale default) is set aside and tried once more after the other deletions.
func (e *Executor) runSequential(ctx context.Context, r *Request) error {
	items, err := e.store.Items(ctx, r.ID, ItemPending, 0, 0)
	if err != nil {
		return fmt.Errorf("load pending items: %w", err)
	}
	var aside []Item
	retryAside := func() error {
		for _, it := range aside {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			it, _ = e.attempt(ctx, it, e.call(r, it))
			if ctx.Err() != nil && it.State != ItemDone {
				return ctx.Err()
			}
			if err := e.record(ctx, r, []Item{it}); err != nil {
				return err
			}
		}
		aside = nil
		return nil
	}
	for _, it := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if it.Op != OpDeleteMethod && len(aside) > 0 {
			if err := retryAside(); err != nil {
				return err
			}
		}
		it, err := e.attempt(ctx, it, e.call(r, it))
		if ctx.Err() != nil && it.State != ItemDone {
			return ctx.Err()
		}
		if it.State == ItemFailed && it.Op == OpDeleteMethod && errors.Is(err, ErrDefaultMethod) {
			aside = append(aside, it)
			continue
		}
		if err := e.record(ctx, r, []Item{it}); err != nil {
			return err
		}
	}
	return retryAside()
}

// call is the directory call of one single-user item. It may set it.Result.
func (e *Executor) call(r *Request, it Item) func(context.Context, *Item) error {
	return func(ctx context.Context, it *Item) error {
		switch it.Op {
		case OpDeleteMethod:
			m, _ := DecodeMethodArg(it.Arg)
			return e.dir.DeleteMethod(ctx, it.UserID, m)
		case OpSetDefault:
			return e.dir.SetDefaultMethod(ctx, it.UserID, it.Arg)
		case OpRevoke:
			return e.dir.RevokeSessions(ctx, []string{it.UserID})[0]
		case OpSetMFAState:
			if err := e.dir.SetMFAState(ctx, it.UserID, it.Arg); err != nil {
				return err
			}
			// Entra may show another state than the one set (enabled turns enforced for a
			// user with methods): record what it shows now.
			if got, err := e.dir.MFAState(ctx, it.UserID); err == nil {
				it.Result = got
			}
			return nil
		case OpVerify:
			return e.verify(ctx, r, it)
		case OpTAP:
			return e.passAfterReset(ctx, r, it)
		}
		return Errorf(EINVALID, "unknown item operation %q", it.Op)
	}
}

// verify lists the user's methods after a reset: anything the reset was to remove that is
// still registered fails the item, named with why, so the request never ends "succeeded"
// with methods left.
func (e *Executor) verify(ctx context.Context, r *Request, it *Item) error {
	ms, err := e.dir.Methods(ctx, it.UserID)
	if err != nil {
		return err
	}
	var only []string
	if it.Arg != "" {
		only = strings.Split(it.Arg, ",")
	}
	left := remaining(ms, only)
	if len(left) == 0 {
		it.Result = "no selected method left"
		return nil
	}
	var names []string
	for _, m := range left {
		n := m.Label()
		if !m.Deletable && m.Note != "" {
			n += " (" + m.Note + ")"
		}
		names = append(names, n)
	}
	return Errorf(EUPSTREAM, "still registered: %s", strings.Join(names, "; "))
}

// attempt runs one call, retrying transient errors (throttling, outages) a few times. A
// refusal is final at once. It returns the item with its outcome and the last error.
func (e *Executor) attempt(ctx context.Context, it Item, call func(context.Context, *Item) error) (Item, error) {
	for {
		it.Attempts++
		err := call(ctx, &it)
		if err == nil {
			it.State, it.Error = ItemDone, ""
			return it, nil
		}
		it.State, it.Error = ItemFailed, ErrorMessage(err)
		if !Transient(err) || it.Attempts >= e.o.MaxAttempts || ctx.Err() != nil {
			e.o.Logger.WarnContext(ctx, "item failed", LogRequestID, it.RequestID, "seq", it.Seq, "op", it.Op, "user", it.UserName, LogErr, err)
			return it, err
		}
		if e.o.Sleep(ctx, time.Duration(it.Attempts)*time.Second) != nil {
			return it, err
		}
	}
}

// runRevokes revokes the members of a group in batches, several batches at a time.
func (e *Executor) runRevokes(ctx context.Context, r *Request) error {
	err := e.fanOut(ctx, r, e.o.Concurrency, e.o.BatchSize, e.o.BatchSize*e.o.Concurrency*4, func(b []Item) error {
		return e.revokeBatch(ctx, r, b)
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// fanOut hands a request's pending items, in order and chunk at a time, to workers
// goroutines that run work on them, reading page items from the store at a time. It stops
// handing out at the first error a worker returns or when ctx ends, waits for the workers,
// and returns their errors joined with the store's (nil when every pending item was handed
// out and done; ctx ending is the caller's to report).
func (e *Executor) fanOut(ctx context.Context, r *Request, workers, chunk, page int, work func([]Item) error) error {
	jobs := make(chan []Item)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				if err := work(b); err != nil {
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
		items, err := e.store.Items(ctx, r.ID, ItemPending, after, page)
		if err != nil {
			if ctx.Err() == nil {
				feedErr = fmt.Errorf("load pending items: %w", err)
			}
			break
		}
		if len(items) == 0 {
			break
		}
		after = items[len(items)-1].Seq
		for len(items) > 0 {
			n := min(chunk, len(items))
			select {
			case jobs <- items[:n]:
			case <-ctx.Done():
				break feed
			case feedErr = <-errs:
				break feed
			}
			items = items[n:]
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		feedErr = errors.Join(feedErr, err)
	}
	return feedErr
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
			case Transient(err) && it.Attempts < e.o.MaxAttempts:
				retry = append(retry, it)
			default:
				it.State, it.Error = ItemFailed, ErrorMessage(err)
				finished = append(finished, it)
			}
		}
		pending = retry
		if len(pending) > 0 {
			_ = e.o.Sleep(ctx, time.Duration(attempt)*time.Second)
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
		if it.Result != "" {
			detail += " (" + it.Result + ")"
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
		_, label := DecodeMethodArg(it.Arg)
		return label
	case OpSetMFAState, OpSetDefault:
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
		e.o.Logger.ErrorContext(ctx, "request failed", LogRequestID, r.ID, "err", runErr)
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
	e.o.Logger.InfoContext(ctx, "request finished", LogRequestID, r.ID, "state", to, "done", cur.Done, "failed", cur.Failed)
	e.notify(ctx, done, EventFinished)
	return nil
}
