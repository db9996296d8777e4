package bot_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/storage"
)

// platform is a func-field-free recording fake: it remembers posts, updates and tells,
// and fails every call when broken.
type platform struct {
	name   string
	broken bool
	mu     sync.Mutex
	posts  int
	cards  map[string]bot.Message // message id -> latest card
	told   []bot.Recipient
}

func newPlatform(name string, broken bool) *platform {
	return &platform{name: name, broken: broken, cards: map[string]bot.Message{}}
}

func (p *platform) Name() string { return p.name }

func (p *platform) Post(_ context.Context, m bot.Message) (approvals.MessageRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		return approvals.MessageRef{}, errors.New("platform down")
	}
	p.posts++
	id := fmt.Sprintf("m%d", p.posts)
	p.cards[id] = m
	return approvals.MessageRef{Platform: p.name, Channel: "C1", MessageID: id}, nil
}

func (p *platform) Update(_ context.Context, ref approvals.MessageRef, m bot.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		return errors.New("platform down")
	}
	p.cards[ref.MessageID] = m
	return nil
}

func (p *platform) Tell(_ context.Context, to bot.Recipient, _ bot.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if to.Actor == nil {
		return fmt.Errorf("by e-mail: %w", bot.ErrUnreachable)
	}
	p.told = append(p.told, to)
	return nil
}

func TestNotifier(t *testing.T) {
	db := storage.MustOpenDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	r := &approvals.Request{Kind: approvals.KindRevokeGroup, State: approvals.StatePending,
		Requester: approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"},
		Target:    approvals.Target{Type: "group", ID: "g", Name: "Sales"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateRequest(ctx, r, approvals.AuditEvent{Type: approvals.EventRequested}); err != nil {
		t.Fatal(err)
	}
	slack, teams, broken := newPlatform("slack", false), newPlatform("teams", false), newPlatform("console", true)
	render := func(_ context.Context, r *approvals.Request) bot.Message {
		return bot.Message{Title: string(r.State), Progress: &bot.Progress{Done: r.Done, Total: r.Total}}
	}
	n := bot.NewNotifier(db, []bot.Platform{broken, slack, teams}, render, bot.NotifierOptions{})
	n.Notify(ctx, r, approvals.EventRequested)
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	refs, _ := db.MessageRefs(ctx, r.ID)
	if len(refs) != 2 {
		t.Fatalf("refs = %+v; want one per working platform", refs)
	}
	// A burst of progress ends with the final state, which must win.
	for i := range 200 {
		cp := *r
		cp.State, cp.Total, cp.Done = approvals.StateRunning, 200, i
		n.Notify(ctx, &cp, approvals.EventProgress)
	}
	final := *r
	final.State, final.Total, final.Done = approvals.StateSucceeded, 200, 200
	n.Notify(ctx, &final, approvals.EventFinished)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*platform{slack, teams} {
		if got := p.cards["m1"].Title; got != "succeeded" {
			t.Errorf("%s card = %q, want succeeded", p.name, got)
		}
	}
	if len(slack.told) != 1 || slack.told[0].Actor.ID != "UANN" || len(teams.told) != 0 {
		t.Fatalf("requester told: slack %v teams %v", slack.told, teams.told)
	}
}
