package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/stepup"
)

func newChallenge(t *testing.T, id string, created time.Time) stepup.Challenge {
	t.Helper()
	return stepup.Challenge{ID: id, RequestID: "R-7K2QXA", Decision: stepup.DecisionApprove, Actor: cat,
		CreatedAt: created, ExpiresAt: created.Add(stepup.LinkLifetime)}
}

func TestChallengeLifecycle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		c := newChallenge(t, "c1hash", t0)
		if err := db.CreateChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := db.Challenge(ctx, "c1hash")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("loaded challenge (-stored +loaded):\n%s", diff)
		}
		_, err = db.Challenge(ctx, "nope")
		wantErr(t, err, approvals.ENOTFOUND, "")

		start := stepup.Start{At: t0.Add(time.Minute), StateHash: "st", BindingHash: "bd", Nonce: "n", Verifier: "v"}
		if err := db.StartChallenge(ctx, "c1hash", start); err != nil {
			t.Fatal(err)
		}
		wantErr(t, db.StartChallenge(ctx, "c1hash", stepup.Start{At: t0.Add(2 * time.Minute), StateHash: "st2"}), approvals.ECONFLICT, "already used")
		wantErr(t, db.StartChallenge(ctx, "nope", start), approvals.ENOTFOUND, "")

		_, err = db.FinishChallenge(ctx, "unknown", t0.Add(3*time.Minute))
		wantErr(t, err, approvals.ENOTFOUND, "")
		done, err := db.FinishChallenge(ctx, "st", t0.Add(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want := c
		want.StartedAt, want.StateHash, want.BindingHash, want.Nonce, want.Verifier = start.At, "st", "bd", "n", "v"
		want.FinishedAt = t0.Add(3 * time.Minute)
		if diff := cmp.Diff(want, done); diff != "" {
			t.Fatalf("finished challenge (-want +got):\n%s", diff)
		}
		again, err := db.FinishChallenge(ctx, "st", t0.Add(4*time.Minute))
		wantErr(t, err, approvals.ECONFLICT, "already finished")
		if !again.FinishedAt.Equal(t0.Add(3 * time.Minute)) {
			t.Fatalf("the second finish moved FinishedAt to %v", again.FinishedAt)
		}
	})
}

// A link whose five minutes are over cannot start a sign-in, however it is raced.
func TestChallengeExpired(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		if err := db.CreateChallenge(ctx, newChallenge(t, "old", t0)); err != nil {
			t.Fatal(err)
		}
		err := db.StartChallenge(ctx, "old", stepup.Start{At: t0.Add(stepup.LinkLifetime), StateHash: "s"})
		wantErr(t, err, approvals.ECONFLICT, "expired")
		if c, _ := db.Challenge(ctx, "old"); !c.StartedAt.IsZero() {
			t.Fatal("an expired link started")
		}
	})
}

// Many browsers racing one link, or one answer posted many times: exactly one wins each.
func TestChallengeRace(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		if err := db.CreateChallenge(ctx, newChallenge(t, "race", t0)); err != nil {
			t.Fatal(err)
		}
		count := func(f func(i int) error) int {
			var wg sync.WaitGroup
			var mu sync.Mutex
			won := 0
			for i := range 20 {
				wg.Go(func() {
					if f(i) == nil {
						mu.Lock()
						won++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			return won
		}
		if n := count(func(i int) error {
			return db.StartChallenge(ctx, "race", stepup.Start{At: t0.Add(time.Second), StateHash: "state-" + string(rune('a'+i))})
		}); n != 1 {
			t.Fatalf("%d starts won, want 1", n)
		}
		c, _ := db.Challenge(ctx, "race")
		if n := count(func(int) error { _, err := db.FinishChallenge(ctx, c.StateHash, t0.Add(time.Minute)); return err }); n != 1 {
			t.Fatalf("%d finishes won, want 1", n)
		}
	})
}

// Challenges are pruned a day after their link expired; the audit log is the record.
func TestChallengePruned(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		if err := db.CreateChallenge(ctx, newChallenge(t, "yesterday", t0)); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateChallenge(ctx, newChallenge(t, "today", t0.Add(24*time.Hour))); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Challenge(ctx, "yesterday"); err != nil {
			t.Fatalf("pruned before its day was over: %v", err)
		}
		if err := db.CreateChallenge(ctx, newChallenge(t, "later", t0.Add(25*time.Hour))); err != nil {
			t.Fatal(err)
		}
		_, err := db.Challenge(ctx, "yesterday")
		wantErr(t, err, approvals.ENOTFOUND, "")
	})
}
