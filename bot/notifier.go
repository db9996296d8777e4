package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/mfabot/mfabot/approvals"
)

// RefStore keeps the references of posted cards; storage.DB implements it.
type RefStore interface {
	AddMessageRef(ctx context.Context, requestID string, ref approvals.MessageRef) error
	MessageRefs(ctx context.Context, requestID string) ([]approvals.MessageRef, error)
}

// NotifierOptions tune a Notifier.
type NotifierOptions struct {
	Logger *slog.Logger
}

// Notifier keeps every posted card of a request current and tells the people concerned.
// It implements approvals.Notifier. Chat I/O runs on one worker per request, so the
// executor is never held up by a slow platform; progress events that pile up while an
// update is in flight are coalesced (the latest wins), and a request's final state is
// always delivered.
type Notifier struct {
	store     RefStore
	platforms []Platform
	render    func(ctx context.Context, r *approvals.Request) Message
	log       *slog.Logger

	mu     sync.Mutex
	queues map[string]*queue // request id -> pending work
	wg     sync.WaitGroup
	closed bool
}

// queue is the work waiting for one request: events in order, with consecutive
// progress events collapsed into the latest.
type queue struct {
	items   []note
	running bool
}

type note struct {
	r     *approvals.Request
	event string
}

// NewNotifier returns a Notifier posting to platforms. render builds a request's card.
func NewNotifier(store RefStore, platforms []Platform, render func(ctx context.Context, r *approvals.Request) Message, o NotifierOptions) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{store: store, platforms: platforms, render: render, log: o.Logger, queues: map[string]*queue{}}
}

// Notify implements approvals.Notifier; it returns at once.
func (n *Notifier) Notify(ctx context.Context, r *approvals.Request, event string) {
	cp := *r
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	q := n.queues[r.ID]
	if q == nil {
		q = &queue{}
		n.queues[r.ID] = q
	}
	if k := len(q.items); k > 0 && event == approvals.EventProgress && q.items[k-1].event == approvals.EventProgress {
		q.items[k-1] = note{&cp, event}
	} else {
		q.items = append(q.items, note{&cp, event})
	}
	if !q.running {
		q.running = true
		n.wg.Add(1)
		go n.drain(context.WithoutCancel(ctx), r.ID, q)
	}
}

func (n *Notifier) drain(ctx context.Context, id string, q *queue) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(q.items) == 0 {
			q.running = false
			delete(n.queues, id)
			n.mu.Unlock()
			return
		}
		it := q.items[0]
		q.items = q.items[1:]
		// A progress event followed by anything else is stale: the later card shows more.
		if it.event == approvals.EventProgress && len(q.items) > 0 {
			n.mu.Unlock()
			continue
		}
		n.mu.Unlock()
		n.deliver(ctx, it.r, it.event)
	}
}

func (n *Notifier) deliver(ctx context.Context, r *approvals.Request, event string) {
	log := n.log.With("request_id", r.ID, "event", event)
	card := n.render(ctx, r)
	if event == approvals.EventRequested {
		for _, p := range n.platforms {
			ref, err := p.Post(ctx, card)
			if err != nil {
				log.ErrorContext(ctx, "post approval card", "platform", p.Name(), "err", err)
				continue
			}
			if err := n.store.AddMessageRef(ctx, r.ID, ref); err != nil {
				log.ErrorContext(ctx, "store card reference", "platform", p.Name(), "err", err)
			}
		}
		return
	}
	refs, err := n.store.MessageRefs(ctx, r.ID)
	if err != nil {
		log.ErrorContext(ctx, "load card references", "err", err)
	}
	for _, ref := range refs {
		p := n.platform(ref.Platform)
		if p == nil {
			continue
		}
		if err := p.Update(ctx, ref, card); err != nil {
			log.WarnContext(ctx, "update card", "platform", ref.Platform, "err", err)
		}
	}
	n.tell(ctx, r, event, log)
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
func (n *Notifier) tell(ctx context.Context, r *approvals.Request, event string, log *slog.Logger) {
	var msg *Message
	switch {
	case event == approvals.EventApproved && r.State == approvals.StateApproved:
		last := r.Approvals[len(r.Approvals)-1]
		msg = &Message{Title: "Your request " + r.ID + " was approved", Tone: ToneGood,
			Text: fmt.Sprintf("%s approved it; it runs now.", last.Actor.Name)}
	case event == approvals.EventDenied && r.Denial != nil:
		msg = &Message{Title: "Your request " + r.ID + " was denied", Tone: ToneBad,
			Text: fmt.Sprintf("%s denied it: %s", r.Denial.Actor.Name, r.Denial.Reason)}
	case event == approvals.EventExpired:
		msg = &Message{Title: "Your request " + r.ID + " expired", Tone: ToneWarning,
			Text: "Nobody approved it in time; nothing was changed. Ask again if it is still needed."}
	case event == approvals.EventFinished:
		card := n.render(ctx, r)
		card.Buttons = nil
		card.Title = "Your request " + r.ID + " has " + finishedWord(r.State) + ": " + card.Title
		msg = &card
	}
	if msg != nil {
		if p := n.platform(r.Requester.Platform); p != nil {
			who := r.Requester
			if err := p.Tell(ctx, Recipient{Actor: &who}, *msg); err != nil && !errors.Is(err, ErrUnreachable) {
				log.WarnContext(ctx, "tell requester", "err", err)
			}
		}
	}
	if event == approvals.EventFinished && r.Kind == approvals.KindReset && r.State == approvals.StateSucceeded && r.Target.Type == "user" {
		m := Message{
			Title: "Your sign-in methods were reset",
			Text: "Your IT admins removed your multifactor authentication methods. At your next sign-in you will be asked to set them up again; " +
				"you can also do it now at https://aka.ms/mfasetup. If you did not expect this, contact your IT service desk.",
		}
		for _, p := range n.platforms {
			if err := p.Tell(ctx, Recipient{Email: r.Target.Name}, m); err != nil {
				if errors.Is(err, ErrUnreachable) {
					log.DebugContext(ctx, "affected user not reachable", "platform", p.Name())
				} else {
					log.WarnContext(ctx, "tell affected user", "platform", p.Name(), "err", err)
				}
			}
		}
	}
}

func finishedWord(s approvals.State) string {
	switch s {
	case approvals.StateSucceeded:
		return "succeeded"
	case approvals.StatePartlyFailed:
		return "partly failed"
	default:
		return "failed"
	}
}

// Close stops taking events and waits, until ctx ends, for the ones queued.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	return n.Flush(ctx)
}

// Flush waits until every queued event has been delivered, or ctx ends.
func (n *Notifier) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ approvals.Notifier = (*Notifier)(nil)
