package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// TestNotifierReplicasCatchUp has two replicas' notifiers on one database and one chat:
// replica A's update for the approval is held up at the platform while replica B runs the
// request and shows it succeeded. When A's late update lands, A reads the request again
// and shows where it stands: the card ends up succeeded, not approved.
func TestNotifierReplicasCatchUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storagetest.Open(t)
	p := newPlatform("slack")
	held, release := make(chan struct{}), make(chan struct{})
	p.update = func(ctx context.Context, _ bot.MessageRef, m bot.Message) error {
		if m.Title == string(approvals.StateApproved) {
			close(held)
			<-release
		}
		return nil
	}
	a := bot.NewNotifier(db, []bot.Platform{p}, words(render), bot.NotifierOptions{})
	b := bot.NewNotifier(db, []bot.Platform{p}, words(render), bot.NotifierOptions{})

	r := newRequest(t, db, approvals.KindRevoke)
	a.Notify(ctx, r, approvals.EventRequested)
	flush(t, a)

	now := time.Now().UTC()
	approved, err := db.Approve(ctx, r.ID, approvals.Decision{Actor: ben, At: now}, 1, approvals.AuditEvent{Type: approvals.EventApproved, Actor: ben})
	if err != nil {
		t.Fatal(err)
	}
	a.Notify(ctx, approved, approvals.EventApproved)
	<-held

	if _, err := db.Claim(ctx, "replica-b", now, now.Add(time.Minute), nil, approvals.AuditEvent{Type: approvals.EventStarted}); err != nil {
		t.Fatal(err)
	}
	done, err := db.Transition(ctx, r.ID, approvals.Transition{From: approvals.StateRunning, To: approvals.StateSucceeded},
		approvals.AuditEvent{Type: approvals.EventFinished})
	if err != nil {
		t.Fatal(err)
	}
	b.Notify(ctx, done, approvals.EventFinished)
	flush(t, b)
	if got := p.card("slack-m1").Title; got != string(approvals.StateSucceeded) {
		t.Fatalf("after B: card %q", got)
	}

	close(release)
	flush(t, a)
	if got := p.card("slack-m1").Title; got != string(approvals.StateSucceeded) {
		t.Errorf("card %q after A's late update; want it caught up to succeeded", got)
	}
}
