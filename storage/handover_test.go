package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// TestHandOver: a running request's lease passes from its holder to another executor in
// one conditional update; the old holder no longer holds it, the new one does, and a
// hand-over by anyone but the holder, or of a request that is not running, is ECONFLICT.
func TestHandOver(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		id := running(t, db, "serve-1", t0.Add(time.Minute)).ID
		if err := db.HandOver(ctx, id, "serve-1", "cli-1", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, db.RenewLease(ctx, id, "serve-1", t0.Add(time.Hour)), approvals.ECONFLICT, "is now being run by cli-1")
		if err := db.RenewLease(ctx, id, "cli-1", t0.Add(2*time.Hour)); err != nil {
			t.Fatalf("the new holder cannot renew: %v", err)
		}
		// Held until 11:00: nobody claims it at 10:30.
		if r, err := db.Claim(ctx, "serve-2", t0.Add(90*time.Minute), t0.Add(3*time.Hour), nil, approvals.AuditEvent{Type: approvals.EventStarted}); r != nil || err != nil {
			t.Fatalf("Claim = %v, %v; want nil, nil", r, err)
		}
		wantErr(t, db.HandOver(ctx, id, "serve-1", "cli-2", t0.Add(time.Hour)), approvals.ECONFLICT, "is not held by serve-1")
		if err := db.HandOver(ctx, id, "cli-1", "", t0.Add(time.Hour)); approvals.ErrorCode(err) != approvals.EINVALID {
			t.Fatalf("hand-over to nobody: %v", err)
		}
		pending := newRequest(t, db)
		wantErr(t, db.HandOver(ctx, pending.ID, "serve-1", "cli-1", t0.Add(time.Hour)), approvals.ECONFLICT, "is pending")
	})
}
