package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// StartItems marks pending items begun (attempts + 1) and refuses finished ones, changing
// nothing of the batch then.
func TestStartItems(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		r := running(t, db, "exec", t0.Add(time.Hour))
		items := []approvals.Item{
			{Op: approvals.OpNudge, UserID: "u1", UserName: "a@contoso.com", Arg: "a@contoso.com"},
			{Op: approvals.OpNudge, UserID: "u2", UserName: "b@contoso.com", Arg: "b@contoso.com"},
		}
		if err := db.AddItems(ctx, r.ID, items); err != nil {
			t.Fatal(err)
		}
		got, _ := db.Items(ctx, r.ID, "", 0, 0)
		if err := db.StartItems(ctx, got[:1]); err != nil {
			t.Fatal(err)
		}
		got, _ = db.Items(ctx, r.ID, "", 0, 0)
		if got[0].Attempts != 1 || got[1].Attempts != 0 || got[0].State != approvals.ItemPending {
			t.Fatalf("items %+v", got)
		}
		done := got[1]
		done.State, done.Result = approvals.ItemDone, "slack"
		if err := db.FinishItems(ctx, []approvals.Item{done}, []approvals.AuditEvent{{Type: approvals.EventItem, Detail: "nudge"}}); err != nil {
			t.Fatal(err)
		}
		err := db.StartItems(ctx, got)
		if approvals.ErrorCode(err) != approvals.ECONFLICT {
			t.Fatalf("starting a finished item: %v", err)
		}
		again, _ := db.Items(ctx, r.ID, "", 0, 0)
		if again[0].Attempts != 1 {
			t.Fatalf("a refused batch changed item 1: %+v", again[0])
		}
	})
}
