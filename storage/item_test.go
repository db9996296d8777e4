package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

func revokeItems(n int) []approvals.Item {
	items := make([]approvals.Item, n)
	for i := range items {
		items[i] = approvals.Item{Op: approvals.OpRevoke, UserID: fmt.Sprintf("u%05d", i+1), UserName: fmt.Sprintf("user%d@contoso.com", i+1)}
	}
	return items
}

func itemEvents(items []approvals.Item) []approvals.AuditEvent {
	evs := make([]approvals.AuditEvent, len(items))
	for i, it := range items {
		evs[i] = approvals.AuditEvent{Type: approvals.EventItem, Detail: fmt.Sprintf("%s %s: %s", it.Op, it.UserID, it.State)}
	}
	return evs
}

func TestAddItems(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()

		t.Run("OK_NumbersFromOne", func(t *testing.T) {
			db := e.open(t)
			r := running(t, db, "exec", t0.Add(time.Hour))
			methods := []approvals.Item{
				{Op: approvals.OpDeleteMethod, UserID: "u1", UserName: "dave@contoso.com", Arg: "#microsoft.graph.fido2AuthenticationMethod m2"},
				{Op: approvals.OpDeleteMethod, UserID: "u1", UserName: "dave@contoso.com", Arg: "#microsoft.graph.phoneAuthenticationMethod m1"},
				{Op: approvals.OpRevoke, UserID: "u1", UserName: "dave@contoso.com"},
			}
			if err := db.AddItems(ctx, r.ID, methods); err != nil {
				t.Fatal(err)
			}
			got, err := db.Items(ctx, r.ID, "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]approvals.Item, len(methods))
			for i, m := range methods {
				m.RequestID, m.Seq, m.State = r.ID, i+1, approvals.ItemPending
				want[i] = m
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})

		t.Run("OK_SecondCallKeepsFirstItems", func(t *testing.T) {
			db := e.open(t)
			r := running(t, db, "exec", t0.Add(time.Hour))
			if err := db.AddItems(ctx, r.ID, revokeItems(3)); err != nil {
				t.Fatal(err)
			}
			done := []approvals.Item{{RequestID: r.ID, Seq: 1, State: approvals.ItemDone, Attempts: 1}}
			if err := db.FinishItems(ctx, done, itemEvents(done)); err != nil {
				t.Fatal(err)
			}
			if err := db.AddItems(ctx, r.ID, revokeItems(5)); err != nil {
				t.Fatalf("AddItems again: %v", err)
			}
			got, err := db.Request(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != 3 || got.Done != 1 {
				t.Errorf("Total, Done = %d, %d; want the first 3 items with 1 done", got.Total, got.Done)
			}
		})

		t.Run("ErrDuplicateSeq", func(t *testing.T) {
			db := e.open(t)
			r := running(t, db, "exec", t0.Add(time.Hour))
			items := revokeItems(2)
			items[0].Seq, items[1].Seq = 7, 7
			wantErr(t, db.AddItems(ctx, r.ID, items), approvals.EINVALID, "item 7")
			if got, _ := db.Items(ctx, r.ID, "", 0, 0); len(got) != 0 {
				t.Errorf("%d items stored; want none", len(got))
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			db := e.open(t)
			wantErr(t, db.AddItems(ctx, "R-ZZZZZZ", revokeItems(1)), approvals.ENOTFOUND, "no request R-ZZZZZZ")
		})
	})
}

func TestItems(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		r := running(t, db, "exec", t0.Add(time.Hour))
		if err := db.AddItems(ctx, r.ID, revokeItems(10)); err != nil {
			t.Fatal(err)
		}
		var finished []approvals.Item
		for _, seq := range []int{2, 5, 6} {
			finished = append(finished, approvals.Item{RequestID: r.ID, Seq: seq, State: approvals.ItemDone, Attempts: 1})
		}
		finished = append(finished, approvals.Item{RequestID: r.ID, Seq: 9, State: approvals.ItemFailed, Attempts: 4, Error: "user not found"})
		if err := db.FinishItems(ctx, finished, itemEvents(finished)); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name     string
			state    approvals.ItemState
			after    int
			limit    int
			wantSeqs []int
		}{
			{"OK_AllPending", approvals.ItemPending, 0, 0, []int{1, 3, 4, 7, 8, 10}},
			{"OK_PendingAfter", approvals.ItemPending, 3, 0, []int{4, 7, 8, 10}},
			{"OK_PendingPage", approvals.ItemPending, 3, 2, []int{4, 7}},
			{"OK_Done", approvals.ItemDone, 0, 0, []int{2, 5, 6}},
			{"OK_Failed", approvals.ItemFailed, 0, 0, []int{9}},
			{"OK_AnyState", "", 8, 0, []int{9, 10}},
			{"OK_NoneLeft", approvals.ItemPending, 10, 0, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				items, err := db.Items(ctx, r.ID, tt.state, tt.after, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				var seqs []int
				for _, it := range items {
					seqs = append(seqs, it.Seq)
				}
				if diff := cmp.Diff(tt.wantSeqs, seqs); diff != "" {
					t.Errorf("seqs (-want +got):\n%s", diff)
				}
			})
		}

		t.Run("OK_FailedKeepsOutcome", func(t *testing.T) {
			items, err := db.Items(ctx, r.ID, approvals.ItemFailed, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := approvals.Item{RequestID: r.ID, Seq: 9, Op: approvals.OpRevoke, UserID: "u00009", UserName: "user9@contoso.com",
				State: approvals.ItemFailed, Attempts: 4, Error: "user not found"}
			if diff := cmp.Diff([]approvals.Item{want}, items); diff != "" {
				t.Errorf("failed items (-want +got):\n%s", diff)
			}
		})
	})
}

func TestFinishItems(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		setup := func(t *testing.T) (db interface {
			FinishItems(context.Context, []approvals.Item, []approvals.AuditEvent) error
		}, id string, count func() (done, failed, audit int)) {
			d := e.open(t)
			r := running(t, d, "exec", t0.Add(time.Hour))
			if err := d.AddItems(ctx, r.ID, revokeItems(3)); err != nil {
				t.Fatal(err)
			}
			return d, r.ID, func() (int, int, int) {
				got, err := d.Request(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got.Done, got.Failed, len(eventTypes(t, d, r.ID))
			}
		}

		t.Run("OK", func(t *testing.T) {
			db, id, count := setup(t)
			items := []approvals.Item{
				{RequestID: id, Seq: 1, State: approvals.ItemDone, Attempts: 1},
				{RequestID: id, Seq: 2, State: approvals.ItemFailed, Attempts: 2, Error: "403"},
			}
			_, _, before := count()
			if err := db.FinishItems(ctx, items, itemEvents(items)); err != nil {
				t.Fatal(err)
			}
			done, failed, after := count()
			if done != 1 || failed != 1 || after != before+2 {
				t.Errorf("done, failed, new audit entries = %d, %d, %d; want 1, 1, 2", done, failed, after-before)
			}
		})

		t.Run("ErrAlreadyFinished", func(t *testing.T) {
			db, id, count := setup(t)
			first := []approvals.Item{{RequestID: id, Seq: 1, State: approvals.ItemDone, Attempts: 1}}
			if err := db.FinishItems(ctx, first, itemEvents(first)); err != nil {
				t.Fatal(err)
			}
			_, _, before := count()
			// A resumed executor redoing item 1 with item 2 in the same batch.
			again := []approvals.Item{
				{RequestID: id, Seq: 2, State: approvals.ItemDone, Attempts: 1},
				{RequestID: id, Seq: 1, State: approvals.ItemFailed, Attempts: 2, Error: "gone"},
			}
			wantErr(t, db.FinishItems(ctx, again, itemEvents(again)), approvals.ECONFLICT, "item 1 of request "+id+" is already done")
			done, failed, after := count()
			if done != 1 || failed != 0 || after != before {
				t.Errorf("done, failed, new audit entries = %d, %d, %d; want the batch rolled back (1, 0, 0)", done, failed, after-before)
			}
		})

		t.Run("ErrNoSuchItem", func(t *testing.T) {
			db, id, _ := setup(t)
			items := []approvals.Item{{RequestID: id, Seq: 99, State: approvals.ItemDone}}
			wantErr(t, db.FinishItems(ctx, items, itemEvents(items)), approvals.ENOTFOUND, "has no item 99")
		})

		t.Run("ErrStillPending", func(t *testing.T) {
			db, id, _ := setup(t)
			items := []approvals.Item{{RequestID: id, Seq: 1, State: approvals.ItemPending}}
			wantErr(t, db.FinishItems(ctx, items, itemEvents(items)), approvals.EINVALID, "")
		})

		t.Run("ErrEventCount", func(t *testing.T) {
			db, id, _ := setup(t)
			items := []approvals.Item{{RequestID: id, Seq: 1, State: approvals.ItemDone}}
			wantErr(t, db.FinishItems(ctx, items, nil), approvals.EINVALID, "")
		})

		t.Run("OK_Thousands", func(t *testing.T) {
			db := e.open(t)
			r := running(t, db, "exec", t0.Add(time.Hour))
			const n = 5000
			if err := db.AddItems(ctx, r.ID, revokeItems(n)); err != nil {
				t.Fatal(err)
			}
			pending, err := db.Items(ctx, r.ID, approvals.ItemPending, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range pending {
				pending[i].State, pending[i].Attempts = approvals.ItemDone, 1
				if i%100 == 0 {
					pending[i].State, pending[i].Error = approvals.ItemFailed, "throttled"
				}
			}
			if err := db.FinishItems(ctx, pending, itemEvents(pending)); err != nil {
				t.Fatal(err)
			}
			got, err := db.Request(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != n || got.Done != n-n/100 || got.Failed != n/100 {
				t.Errorf("Total, Done, Failed = %d, %d, %d; want %d, %d, %d", got.Total, got.Done, got.Failed, n, n-n/100, n/100)
			}
			if v := wantVerified(t, db); v.Checked < n {
				t.Errorf("audit has %d entries; want at least %d", v.Checked, n)
			}
		})
	})
}

func TestMessageRefs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		r := newRequest(t, db)
		refs := []bot.MessageRef{
			{Platform: "slack", Channel: "C0APPROVALS", MessageID: "1700000000.000100"},
			{Platform: "teams", Channel: "19:abc@thread.tacv2", MessageID: "1700000000001", Data: `{"serviceUrl":"https://smba.trafficmanager.net/emea/"}`},
			{Platform: "slack", Channel: "D0ANN", MessageID: "1700000000.000200"},
		}
		for _, ref := range refs {
			if err := db.AddMessageRef(ctx, r.ID, ref); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("OK_InOrder", func(t *testing.T) {
			got, err := db.MessageRefs(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(refs, got); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		})

		t.Run("OK_SameCardReplacesData", func(t *testing.T) {
			ref := refs[1]
			ref.Data = `{"serviceUrl":"https://smba.trafficmanager.net/amer/"}`
			if err := db.AddMessageRef(ctx, r.ID, ref); err != nil {
				t.Fatal(err)
			}
			got, err := db.MessageRefs(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[1] != ref {
				t.Errorf("refs = %+v; want 3 with the second replaced", got)
			}
		})

		t.Run("OK_OtherRequestHasNone", func(t *testing.T) {
			other := newRequest(t, db)
			got, err := db.MessageRefs(ctx, other.ID)
			if err != nil || len(got) != 0 {
				t.Errorf("MessageRefs = %v, %v; want none", got, err)
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			wantErr(t, db.AddMessageRef(ctx, "R-ZZZZZZ", refs[0]), approvals.ENOTFOUND, "no request R-ZZZZZZ")
		})
	})
}
