package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// RefStore keeps the references of posted cards; storage.DB implements it.
type RefStore interface {
	AddMessageRef(ctx context.Context, requestID string, ref MessageRef) error
	MessageRefs(ctx context.Context, requestID string) ([]MessageRef, error)
}

// NotifierOptions tune a Notifier. Zero values take the defaults.
type NotifierOptions struct {
	Logger *slog.Logger
	// Timeout bounds each platform call (post, update, tell), so one hung platform cannot
	// hold a request's card back for ever; default 30 s.
	Timeout time.Duration
	// ProgressEvery is the least time between two progress updates of one request's
	// cards; progress in between is coalesced, the latest winning. It keeps a 10,000-user
	// revoke within the platforms' rate limits (Slack's chat.update allows about one
	// call a second per channel). Default 1 s; a negative value means no wait.
	ProgressEvery time.Duration
	// Courier, when set, tells the affected user of a request on every channel that
	// reaches them, e-mail included; without it every platform is asked by their UPN.
	Courier *Courier
}

// Notifier keeps every posted card of a request current and tells the people concerned.
// It implements approvals.Notifier.
//
//   - On "requested" it posts the request's card to every platform's approvals channel
//     and stores each reference; on every later event it re-renders the card and updates
//     every stored reference. A platform that fails is logged and does not stop the others.
//   - The requester is told directly when their request is approved, denied (with the
//     reason), cancelled by someone else, expires, or finishes (with the failed items).
//   - The affected user of a reset, revoke or enforce is told what changed (Words.UserNotice)
//     on every channel that reaches them: the Courier's when set (chat and e-mail), else
//     every platform.
//
// Notify never waits for chat I/O: each request has its own worker that delivers its
// events in order. Progress events that pile up are coalesced, the latest winning, and
// at most one per ProgressEvery reaches the platforms; every other event, final states
// above all, is always delivered. Flush and Close wait for the queues to drain.
type Notifier struct {
	store     RefStore
	platforms []Platform
	words     Words
	o         NotifierOptions
	log       *slog.Logger

	base   context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc

	mu     sync.Mutex
	queues map[string]*queue // request id -> its pending events
	idle   chan struct{}     // closed, and replaced, whenever queues becomes empty
	closed bool
	// progressAt is when a request's last progress update went out; it outlives the
	// request's queue and goes when the request reaches a final state.
	progressAt map[string]time.Time
}

// queue is the work waiting for one request: events in order, with a run of progress
// events collapsed into the latest.
type queue struct {
	notes []note
}

type note struct {
	ctx   context.Context // the notifier's context with the caller's values
	r     *approvals.Request
	event string
}

// Words is everything the Notifier says: a request's card as it stands, and the notices
// to the requester and to the affected user (ok false: nobody is told). The words are
// composed in one place, commands.Dispatcher, which implements it.
type Words interface {
	Card(ctx context.Context, r *approvals.Request) Message
	RequesterNotice(r *approvals.Request, event string, card Message) (Message, bool)
	UserNotice(r *approvals.Request, event string) (Message, bool)
}

// NewNotifier returns a Notifier posting to platforms what words says.
// it stands (commands.Dispatcher.RenderCard).
func NewNotifier(store RefStore, platforms []Platform, words Words, o NotifierOptions) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = time.Second
	}
	base, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Notifier{store: store, platforms: platforms, words: words, o: o, log: o.Logger,
		base: base, cancel: cancel, queues: map[string]*queue{}, idle: idle, progressAt: map[string]time.Time{}}
}

// Notify implements approvals.Notifier. It queues the event and returns at once.
func (n *Notifier) Notify(ctx context.Context, r *approvals.Request, event string) {
	if r == nil {
		return
	}
	cp := *r
	// The caller's context may end as soon as Notify returns (an HTTP request's); its
	// values (loggers, traces) are kept, its cancellation is the notifier's own.
	nctx := context.WithoutCancel(ctx)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.WarnContext(ctx, "notifier closed; event not delivered", approvals.LogRequestID, r.ID, "event", event)
		return
	}
	q := n.queues[r.ID]
	if q == nil {
		q = &queue{}
		if len(n.queues) == 0 {
			n.idle = make(chan struct{})
		}
		n.queues[r.ID] = q
		go n.drain(r.ID, q)
	}
	if k := len(q.notes); k > 0 && event == approvals.EventProgress && q.notes[k-1].event == approvals.EventProgress {
		q.notes[k-1] = note{nctx, &cp, event}
		return
	}
	q.notes = append(q.notes, note{nctx, &cp, event})
}

// drain delivers a request's events until its queue is empty, then retires.
func (n *Notifier) drain(id string, q *queue) {
	for {
		n.mu.Lock()
		if len(q.notes) == 0 {
			delete(n.queues, id)
			if len(n.queues) == 0 {
				close(n.idle)
			}
			n.mu.Unlock()
			return
		}
		it := q.notes[0]
		if it.event == approvals.EventProgress {
			if len(q.notes) > 1 {
				// Stale: the next event re-renders the card with more.
				q.notes = q.notes[1:]
				n.mu.Unlock()
				continue
			}
			if wait := time.Until(n.progressAt[id].Add(n.o.ProgressEvery)); wait > 0 && n.base.Err() == nil {
				// Leave it queued so that newer progress replaces it while we wait.
				n.mu.Unlock()
				select {
				case <-time.After(wait):
				case <-n.base.Done():
				}
				continue
			}
			n.progressAt[id] = time.Now()
		} else if it.r.State.Final() {
			delete(n.progressAt, id)
		}
		q.notes = q.notes[1:]
		n.mu.Unlock()
		n.deliver(it.ctx, it.r, it.event)
	}
}

// deliver does the chat I/O of one event. A panic (in render or a platform) is logged and
// costs only this event: the worker goes on.
func (n *Notifier) deliver(ctx context.Context, r *approvals.Request, event string) {
	log := n.log.With(approvals.LogRequestID, r.ID, "event", event)
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "panic delivering notification", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	if n.base.Err() != nil {
		log.WarnContext(ctx, "notifier stopped; event not delivered")
		return
	}
	card := n.words.Card(ctx, r)
	if event == approvals.EventRequested {
		n.post(ctx, r, card, log)
		return
	}
	n.update(ctx, r, card, log)
	if event != approvals.EventProgress {
		n.catchUp(ctx, r, log)
	}
	n.tell(ctx, r, event, card, log)
}

// call runs one platform call under the timeout, cancelled also when Close gives up.
func (n *Notifier) call(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	stop := context.AfterFunc(n.base, cancel)
	defer stop()
	return f(ctx)
}

func (n *Notifier) post(ctx context.Context, r *approvals.Request, card Message, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, p := range n.platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ref MessageRef
			err := n.call(ctx, func(ctx context.Context) error {
				var err error
				ref, err = p.Post(ctx, card)
				return err
			})
			if err != nil {
				log.ErrorContext(ctx, "post approval card", "platform", p.Name(), approvals.LogErr, err)
				return
			}
			if ref.Platform == "" {
				ref.Platform = p.Name()
			}
			if err := n.store.AddMessageRef(ctx, r.ID, ref); err != nil {
				log.ErrorContext(ctx, "store card reference", "platform", p.Name(), approvals.LogErr, err)
			}
		}()
	}
	wg.Wait()
}

func (n *Notifier) update(ctx context.Context, r *approvals.Request, card Message, log *slog.Logger) {
	refs, err := n.store.MessageRefs(ctx, r.ID)
	if err != nil {
		log.ErrorContext(ctx, "load card references", approvals.LogErr, err)
		return
	}
	var wg sync.WaitGroup
	for _, ref := range refs {
		p := n.platform(ref.Platform)
		if p == nil {
			log.DebugContext(ctx, "card on a platform not configured now", "platform", ref.Platform)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.call(ctx, func(ctx context.Context) error { return p.Update(ctx, ref, card) }); err != nil {
				log.WarnContext(ctx, "update card", "platform", ref.Platform, "channel", ref.Channel, approvals.LogErr, err)
			}
		}()
	}
	wg.Wait()
}

func (n *Notifier) platform(name string) Platform {
	for _, p := range n.platforms {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// tell lets the requester know what became of their request and, after a reset, tells
// the affected user to register again.
func (n *Notifier) tell(ctx context.Context, r *approvals.Request, event string, card Message, log *slog.Logger) {
	if msg, ok := n.words.RequesterNotice(r, event, card); ok {
		if p := n.platform(r.Requester.Platform); p != nil {
			who := r.Requester
			err := n.call(ctx, func(ctx context.Context) error { return p.Tell(ctx, Recipient{Actor: &who}, msg) })
			switch {
			case errors.Is(err, ErrUnreachable):
				log.DebugContext(ctx, "requester not reachable", "platform", p.Name(), approvals.LogErr, err)
			case err != nil:
				log.WarnContext(ctx, "tell requester", "platform", p.Name(), approvals.LogErr, err)
			}
		} else {
			log.DebugContext(ctx, "requester's platform not configured", "platform", r.Requester.Platform)
		}
	}
	if msg, ok := n.words.UserNotice(r, event); ok {
		if n.o.Courier != nil {
			reached := n.o.Courier.Announce(ctx, r.Target, msg)
			log.InfoContext(ctx, "affected user told", approvals.LogUser, r.Target.Name, "channels", reached)
			return
		}
		var wg sync.WaitGroup
		for _, p := range n.platforms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := n.call(ctx, func(ctx context.Context) error { return p.Tell(ctx, Recipient{Email: r.Target.Name}, msg) })
				switch {
				case errors.Is(err, ErrUnreachable):
					log.DebugContext(ctx, "affected user not reachable", "platform", p.Name(), approvals.LogErr, err)
				case err != nil:
					log.WarnContext(ctx, "tell affected user", "platform", p.Name(), approvals.LogErr, err)
				}
			}()
		}
		wg.Wait()
	}
}

// Flush waits until every queued event has been delivered, or ctx ends.
func (n *Notifier) Flush(ctx context.Context) error {
	for {
		n.mu.Lock()
		if len(n.queues) == 0 {
			n.mu.Unlock()
			return nil
		}
		idle := n.idle
		n.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops taking events and waits for the queued ones until ctx ends; then it
// cancels the platform calls still in flight and drops what is left.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	err := n.Flush(ctx)
	n.cancel()
	if err != nil {
		n.log.WarnContext(ctx, "notifier closed before every event was delivered", approvals.LogErr, err)
	}
	return err
}

var _ approvals.Notifier = (*Notifier)(nil)
