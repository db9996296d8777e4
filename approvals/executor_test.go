package approvals_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/storage"
)

// approved creates a request by Ann and has Ben approve it.
func approved(t *testing.T, f *fixture, in approvals.NewRequest) *approvals.Request {
	t.Helper()
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, in)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = f.svc.Approve(ctx, ben, r.ID); err != nil || r.State != approvals.StateApproved {
		t.Fatalf("approve: %+v %v", r, err)
	}
	return r
}

func runAll(t *testing.T, f *fixture, o approvals.ExecutorOptions) {
	t.Helper()
	o.Clock = f.clock
	o.Notifier = f.notes
	o.Sleep = approvalstest.NoSleep
	ex := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), o)
	for {
		ran, err := ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			return
		}
	}
}

func TestExecuteReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com", Reason: "lost phone"})
	runAll(t, f, approvals.ExecutorOptions{})
	got, err := f.svc.Request(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Two deletions, the revocation and the check that nothing is left.
	if got.State != approvals.StateSucceeded || got.Total != 4 || got.Done != 4 || got.Failed != 0 {
		t.Fatalf("request = %s %d/%d failed %d", got.State, got.Done, got.Total, got.Failed)
	}
	// Adele's default is Authenticator push: Graph refuses to delete it while the phone
	// remains, so the phone goes first and the Authenticator last.
	if d := f.dir.Deleted["u-adele"]; strings.Join(d, ",") != "ph1,auth1" {
		t.Fatalf("deleted %v", d)
	}
	if f.dir.RevokeCount("u-adele") != 1 {
		t.Fatal("sessions not revoked")
	}
	if f.notes.count(approvals.EventFinished) != 1 || f.notes.count(approvals.EventProgress) == 0 {
		t.Fatalf("notifications: %v", f.notes.events)
	}
}

func TestExecuteRevokeGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fail   func(op, userID string) error
		state  approvals.State
		failed int
	}{
		{"OK", nil, approvals.StateSucceeded, 0},
		{"PartlyFailed", func(op, id string) error {
			if id == "u-m007" || id == "u-m300" {
				return approvals.Errorf(approvals.ENOTFOUND, "no user %s in the directory", id)
			}
			return nil
		}, approvals.StatePartlyFailed, 2},
		{"TransientRetried", func() func(op, id string) error {
			seen := map[string]bool{}
			return func(op, id string) error {
				if id == "u-m010" && !seen[id] {
					seen[id] = true
					return approvalstest.TransientError("Microsoft Graph is unavailable (HTTP 503)")
				}
				return nil
			}
		}(), approvals.StateSucceeded, 0},
		{"Failed", func(op, id string) error {
			return approvals.Errorf(approvals.EUPSTREAM, "Graph denied access: mfabot needs User.RevokeSessions.All")
		}, approvals.StateFailed, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.dir.Fail = tt.fail
			target := "All Staff"
			confirm := 600
			if tt.name == "Failed" {
				target, confirm = "Finance", 0
			}
			r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: target, Confirm: confirm})
			runAll(t, f, approvals.ExecutorOptions{Concurrency: 3, BatchSize: 20, MaxAttempts: 2})
			got, err := f.svc.Request(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.state || got.Failed != tt.failed || got.Done+got.Failed != got.Total {
				t.Fatalf("request = %s done %d/%d failed %d; want %s with %d failed", got.State, got.Done, got.Total, got.Failed, tt.state, tt.failed)
			}
			if f.dir.RevokeCount("u-vip") != 0 {
				t.Fatal("a member of a protected group was revoked")
			}
			failed, err := f.svc.Items(context.Background(), r.ID, approvals.ItemFailed, 10)
			if err != nil || len(failed) != tt.failed {
				t.Fatalf("failed items = %v, %v", failed, err)
			}
			if tt.state == approvals.StatePartlyFailed && (failed[0].UserName != "u-m007@contoso.com" || !strings.Contains(failed[0].Error, "no user")) {
				t.Fatalf("failed item = %+v", failed[0])
			}
			if tt.name == "OK" {
				for _, id := range []string{"u-m000", "u-m599"} {
					if n := f.dir.RevokeCount(id); n != 1 {
						t.Fatalf("%s revoked %d times", id, n)
					}
				}
			}
		})
	}
}

func TestExecuteEnforce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindEnforce, Target: "adele.vance@contoso.com", MFAState: approvals.MFAEnforced})
	runAll(t, f, approvals.ExecutorOptions{})
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.State != approvals.StateSucceeded || f.dir.SetState["u-adele"] != approvals.MFAEnforced {
		t.Fatalf("state %s, set %v", got.State, f.dir.SetState)
	}
}

// TestResumeAfterLapsedLease: an executor that claimed a request and died is replaced by
// another once the lease lapses; finished items are not redone.
func TestResumeAfterLapsedLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 600})
	ctx := context.Background()

	// The first executor claims the request and finishes part of it, then "dies": its
	// context is cancelled after the first batches.
	crashCtx, crash := context.WithCancel(ctx)
	calls := 0
	f.dir.Fail = func(op, id string) error {
		calls++
		if calls == 100 {
			crash()
		}
		return nil
	}
	// A process killed mid-run neither renews nor releases its lease.
	first := approvals.NewExecutor(deadStore{f.db}, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "first", Clock: f.clock, Lease: time.Minute, Concurrency: 1})
	if _, err := first.RunOnce(crashCtx); err != nil {
		t.Fatal(err)
	}
	mid, _ := f.svc.Request(ctx, r.ID)
	if mid.State != approvals.StateRunning || mid.Done == 0 || mid.Done == mid.Total {
		t.Fatalf("after the crash: %s %d/%d", mid.State, mid.Done, mid.Total)
	}
	doneBefore := map[string]bool{}
	items, _ := f.db.Items(ctx, r.ID, approvals.ItemDone, 0, 1000)
	for _, it := range items {
		doneBefore[it.UserID] = true
	}

	second := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "second", Clock: f.clock, Lease: time.Minute})
	if ran, err := second.RunOnce(ctx); ran || err != nil {
		t.Fatalf("second executor took a request whose lease holds: %v %v", ran, err)
	}
	f.clock.Advance(2 * time.Minute)
	if ran, err := second.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("second executor did not resume: %v %v", ran, err)
	}
	got, _ := f.svc.Request(ctx, r.ID)
	if got.State != approvals.StateSucceeded || got.Done != 600 || got.Total != 600 {
		t.Fatalf("after resume: %s %d/%d", got.State, got.Done, got.Total)
	}
	for id := range doneBefore {
		if n := f.dir.RevokeCount(id); n != 1 {
			t.Fatalf("%s was finished before the crash but revoked %d times", id, n)
		}
	}
}

// deadStore is the store as a killed executor leaves it: its lease is never renewed or
// released.
type deadStore struct{ *storage.DB }

func (deadStore) RenewLease(context.Context, string, string, time.Time) error { return nil }

// TestShutdownReleasesLease: an executor stopped gracefully lets the next start resume at
// once.
func TestShutdownReleasesLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 600})
	ctx := context.Background()
	stopCtx, stop := context.WithCancel(ctx)
	calls := 0
	f.dir.Fail = func(op, id string) error {
		if calls++; calls == 50 {
			stop()
		}
		return nil
	}
	first := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "first", Clock: f.clock, Lease: time.Hour, Concurrency: 1})
	if _, err := first.RunOnce(stopCtx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	second := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "second", Clock: f.clock, Lease: time.Hour})
	if ran, err := second.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("second executor did not resume at once: %v %v", ran, err)
	}
	if got, _ := f.svc.Request(ctx, r.ID); got.State != approvals.StateSucceeded || got.Done != 600 {
		t.Fatalf("after resume: %s %d/%d", got.State, got.Done, got.Total)
	}
}
