package storage_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/storage"
)

func TestCreateRequest(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()

		t.Run("OK_AssignsID", func(t *testing.T) {
			db := e.open(t)
			r := newRequest(t, db)
			if !regexp.MustCompile(`^R-[0-9A-HJKMNP-TV-Z]{6}$`).MatchString(r.ID) {
				t.Fatalf("ID = %q; want R- and six Crockford base32 characters", r.ID)
			}
			if r.State != approvals.StatePending {
				t.Errorf("State = %q; want pending", r.State)
			}
			got, err := db.Request(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r, got); diff != "" {
				t.Errorf("stored request differs (-created +loaded):\n%s", diff)
			}
			if diff := cmp.Diff([]string{approvals.EventRequested}, eventTypes(t, db, r.ID)); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
		})

		t.Run("OK_UniqueIDs", func(t *testing.T) {
			db := e.open(t)
			seen := map[string]bool{}
			for range 50 {
				id := newRequest(t, db).ID
				if seen[id] {
					t.Fatalf("id %s assigned twice", id)
				}
				seen[id] = true
			}
		})

		t.Run("OK_KeepsGivenID", func(t *testing.T) {
			db := e.open(t)
			r := newRequest(t, db, func(r *approvals.Request) { r.ID = "R-10ABCD" })
			if r.ID != "R-10ABCD" {
				t.Fatalf("ID = %q; want R-10ABCD", r.ID)
			}
		})

		t.Run("OK_RetriesOnCollision", func(t *testing.T) {
			db := e.open(t)
			ids := []string{"R-AAAAAA", "R-AAAAAA", "R-BBBBBB"}
			storage.SetIDSource(db, func() (string, error) {
				id := ids[0]
				ids = ids[1:]
				return id, nil
			})
			first := newRequest(t, db)
			second := newRequest(t, db)
			if first.ID != "R-AAAAAA" || second.ID != "R-BBBBBB" {
				t.Fatalf("ids = %s, %s; want R-AAAAAA, R-BBBBBB", first.ID, second.ID)
			}
		})

		t.Run("ErrIDsExhausted", func(t *testing.T) {
			db := e.open(t)
			storage.SetIDSource(db, func() (string, error) { return "R-AAAAAA", nil })
			newRequest(t, db)
			err := db.CreateRequest(ctx, &approvals.Request{Kind: approvals.KindReset, ExpiresAt: t0.Add(time.Hour)},
				approvals.AuditEvent{Type: approvals.EventRequested})
			wantErr(t, err, approvals.EINTERNAL, "")
			if got := auditEvents(t, db); len(got) != 1 {
				t.Errorf("audit has %d entries; want only the first request's", len(got))
			}
		})

		t.Run("ErrDuplicateID", func(t *testing.T) {
			db := e.open(t)
			newRequest(t, db, func(r *approvals.Request) { r.ID = "R-10ABCD" })
			r := &approvals.Request{ID: "r-1oabcd", Kind: approvals.KindReset, ExpiresAt: t0.Add(time.Hour)}
			err := db.CreateRequest(ctx, r, approvals.AuditEvent{Type: approvals.EventRequested})
			wantErr(t, err, approvals.ECONFLICT, "request R-10ABCD already exists")
		})

		t.Run("ErrNoExpiry", func(t *testing.T) {
			db := e.open(t)
			r := &approvals.Request{Kind: approvals.KindReset}
			wantErr(t, db.CreateRequest(ctx, r, approvals.AuditEvent{Type: approvals.EventRequested}), approvals.EINVALID, "expiry")
		})

		t.Run("ErrNotPending", func(t *testing.T) {
			db := e.open(t)
			r := &approvals.Request{Kind: approvals.KindReset, State: approvals.StateApproved, ExpiresAt: t0.Add(time.Hour)}
			wantErr(t, db.CreateRequest(ctx, r, approvals.AuditEvent{Type: approvals.EventRequested}), approvals.EINVALID, "")
		})

		t.Run("ErrEventWithoutType", func(t *testing.T) {
			db := e.open(t)
			r := &approvals.Request{Kind: approvals.KindReset, ExpiresAt: t0.Add(time.Hour)}
			wantErr(t, db.CreateRequest(ctx, r, approvals.AuditEvent{}), approvals.EINVALID, "")
			if rs, _ := db.Requests(ctx, approvals.RequestFilter{}); len(rs) != 0 {
				t.Errorf("request stored without its audit event")
			}
		})
	})
}

func TestRequest(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		r := newRequest(t, db, func(r *approvals.Request) { r.ID = "R-10ABCD" })

		for _, typed := range []string{"R-10ABCD", "r-10abcd", " R-10ABCD\n", "R10ABCD", "r-1oabcd", "R-L0ABCD", "r-iOaBcD"} {
			t.Run("OK_"+typed, func(t *testing.T) {
				got, err := db.Request(ctx, typed)
				if err != nil {
					t.Fatalf("Request(%q): %v", typed, err)
				}
				if got.ID != r.ID {
					t.Fatalf("Request(%q).ID = %q; want %q", typed, got.ID, r.ID)
				}
			})
		}

		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.Request(ctx, "r-zzzzzz")
			wantErr(t, err, approvals.ENOTFOUND, "no request R-ZZZZZZ")
		})

		t.Run("OK_Progress", func(t *testing.T) {
			c := running(t, db, "exec-1", t0.Add(time.Hour))
			items := []approvals.Item{
				{Op: approvals.OpRevoke, UserID: "u1"}, {Op: approvals.OpRevoke, UserID: "u2"},
				{Op: approvals.OpRevoke, UserID: "u3"}, {Op: approvals.OpRevoke, UserID: "u4"},
			}
			if err := db.AddItems(ctx, c.ID, items); err != nil {
				t.Fatal(err)
			}
			err := db.FinishItems(ctx, []approvals.Item{
				{RequestID: c.ID, Seq: 1, State: approvals.ItemDone, Attempts: 1},
				{RequestID: c.ID, Seq: 3, State: approvals.ItemFailed, Attempts: 3, Error: "throttled"},
				{RequestID: c.ID, Seq: 4, State: approvals.ItemDone, Attempts: 2},
			}, []approvals.AuditEvent{{Type: approvals.EventItem}, {Type: approvals.EventItem}, {Type: approvals.EventItem}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := db.Request(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != 4 || got.Done != 2 || got.Failed != 1 {
				t.Fatalf("Total, Done, Failed = %d, %d, %d; want 4, 2, 1", got.Total, got.Done, got.Failed)
			}
		})
	})
}

func TestRequests(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		var ids []string // oldest first
		for i := range 5 {
			r := newRequest(t, db, func(r *approvals.Request) {
				r.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
				r.ExpiresAt = r.CreatedAt.Add(time.Hour)
			})
			ids = append(ids, r.ID)
		}
		approve(t, db, ids[1], bob, t0.Add(10*time.Minute))
		approve(t, db, ids[3], bob, t0.Add(10*time.Minute))

		tests := []struct {
			name   string
			filter approvals.RequestFilter
			want   []string
		}{
			{"OK_AllNewestFirst", approvals.RequestFilter{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
			{"OK_Pending", approvals.RequestFilter{States: []approvals.State{approvals.StatePending}}, []string{ids[4], ids[2], ids[0]}},
			{"OK_TwoStates", approvals.RequestFilter{States: []approvals.State{approvals.StateApproved, approvals.StateDenied}}, []string{ids[3], ids[1]}},
			{"OK_Limit", approvals.RequestFilter{Limit: 2}, []string{ids[4], ids[3]}},
			{"OK_None", approvals.RequestFilter{States: []approvals.State{approvals.StateRunning}}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rs, err := db.Requests(ctx, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range rs {
					got = append(got, r.ID)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			})
		}

		t.Run("OK_Filled", func(t *testing.T) {
			rs, err := db.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StateApproved}, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || len(rs[0].Approvals) != 1 || rs[0].Approvals[0].Actor != bob {
				t.Fatalf("Requests = %+v; want one approved by Bob", rs)
			}
		})
	})
}

func TestApprove(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		at := t0.Add(14 * time.Minute) // 09:14
		dec := func(a approvals.Actor, at time.Time) approvals.Decision {
			return approvals.Decision{Actor: a, At: at, Reason: "ok"}
		}
		type step struct {
			d        approvals.Decision
			required int
		}
		tests := []struct {
			name      string
			setup     func(t *testing.T, db *storage.DB, id string)
			steps     []step // all but the last must succeed
			id        string // overrides the request's id
			wantState approvals.State
			wantCode  string
			wantMsg   string
		}{
			{name: "OK_Approved", steps: []step{{dec(bob, at), 1}}, wantState: approvals.StateApproved},
			{name: "OK_NeedsMore", steps: []step{{dec(bob, at), 2}}, wantState: approvals.StatePending},
			{name: "OK_SecondOfTwo", steps: []step{{dec(bob, at), 2}, {dec(cat, at), 2}}, wantState: approvals.StateApproved},
			{name: "OK_JustBeforeExpiry", steps: []step{{dec(bob, t0.Add(time.Hour-time.Nanosecond)), 1}}, wantState: approvals.StateApproved},
			{
				name:     "ErrSamePerson",
				steps:    []step{{dec(bob, at), 2}, {dec(bob, at.Add(time.Minute)), 2}},
				wantCode: approvals.ECONFLICT, wantMsg: "you already approved this request",
			},
			{
				name: "ErrSamePersonOtherPlatform",
				steps: []step{{dec(cat, at), 2}, {dec(approvals.Actor{Platform: "slack", ID: "U0CAT", Name: "Cat",
					EntraID: "0f8fad5b-d9cb-469f-a165-70867728950e"}, at), 2}},
				wantCode: approvals.ECONFLICT, wantMsg: "you already approved this request",
			},
			{
				name:     "ErrExpiredAtBoundary",
				steps:    []step{{dec(bob, t0.Add(time.Hour)), 1}},
				wantCode: approvals.ECONFLICT, wantMsg: "is pending",
			},
			{
				name:     "ErrAlreadyApproved",
				steps:    []step{{dec(bob, at), 1}, {dec(cat, at.Add(time.Minute)), 1}},
				wantCode: approvals.ECONFLICT, wantMsg: "is approved",
			},
			{
				name: "ErrDenied",
				setup: func(t *testing.T, db *storage.DB, id string) {
					_, err := db.Transition(ctx, id, approvals.Transition{From: approvals.StatePending, To: approvals.StateDenied,
						Denial: &approvals.Decision{Actor: bob, At: t0.Add(20 * time.Minute), Reason: "not needed"}},
						approvals.AuditEvent{Type: approvals.EventDenied, Actor: bob})
					if err != nil {
						t.Fatal(err)
					}
				},
				steps:    []step{{dec(cat, at.Add(10*time.Minute)), 1}},
				wantCode: approvals.ECONFLICT, wantMsg: "is denied",
			},
			{
				name: "ErrExpired",
				setup: func(t *testing.T, db *storage.DB, id string) {
					if _, err := db.ExpireDue(ctx, t0.Add(2*time.Hour)); err != nil {
						t.Fatal(err)
					}
				},
				steps:    []step{{dec(bob, at), 1}},
				wantCode: approvals.ECONFLICT, wantMsg: "is expired",
			},
			{name: "ErrNotFound", id: "R-ZZZZZZ", steps: []step{{dec(bob, at), 1}}, wantCode: approvals.ENOTFOUND, wantMsg: "no request R-ZZZZZZ"},
			{name: "ErrRequiredZero", steps: []step{{dec(bob, at), 0}}, wantCode: approvals.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db := e.open(t)
				r := newRequest(t, db)
				id := r.ID
				if tt.setup != nil {
					tt.setup(t, db, id)
				}
				if tt.id != "" {
					id = tt.id
				}
				var got *approvals.Request
				var err error
				for i, s := range tt.steps {
					before := len(auditEvents(t, db))
					got, err = db.Approve(ctx, id, s.d, s.required, approvals.AuditEvent{Type: approvals.EventApproved, Actor: s.d.Actor})
					if i < len(tt.steps)-1 && err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					after := len(auditEvents(t, db))
					if err != nil && after != before {
						t.Errorf("failed approval left %d audit entries", after-before)
					}
					if err == nil && after != before+1 {
						t.Errorf("approval left %d audit entries; want 1", after-before)
					}
				}
				if tt.wantCode != "" {
					wantErr(t, err, tt.wantCode, tt.wantMsg)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.State != tt.wantState {
					t.Errorf("State = %q; want %q", got.State, tt.wantState)
				}
				if len(got.Approvals) != len(tt.steps) {
					t.Errorf("%d approvals; want %d", len(got.Approvals), len(tt.steps))
				}
				for i, s := range tt.steps {
					if diff := cmp.Diff(s.d, got.Approvals[i]); diff != "" {
						t.Errorf("approval %d (-want +got):\n%s", i, diff)
					}
				}
				loaded, err := db.Request(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, loaded); diff != "" {
					t.Errorf("returned and stored request differ (-returned +stored):\n%s", diff)
				}
			})
		}
	})
}

// TestApproveConcurrent has many approvers click at once: the request gets exactly the
// approvals it needs and moves to approved once.
func TestApproveConcurrent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, required := range []int{1, 3} {
			t.Run(fmt.Sprintf("OK_Required%d", required), func(t *testing.T) {
				ctx := context.Background()
				db := e.open(t)
				r := newRequest(t, db)
				const n = 50
				var wg sync.WaitGroup
				errs := make([]error, n)
				states := make([]approvals.State, n)
				for i := range n {
					wg.Go(func() {
						a := approvals.Actor{Platform: "slack", ID: fmt.Sprintf("U%03d", i), Name: fmt.Sprintf("Approver %d", i)}
						got, err := db.Approve(ctx, r.ID, approvals.Decision{Actor: a, At: t0.Add(time.Minute)}, required,
							approvals.AuditEvent{Type: approvals.EventApproved, Actor: a})
						errs[i] = err
						if got != nil {
							states[i] = got.State
						}
					})
				}
				wg.Wait()
				var ok, approved int
				for i, err := range errs {
					switch approvals.ErrorCode(err) {
					case "":
						ok++
						if states[i] == approvals.StateApproved {
							approved++
						}
					case approvals.ECONFLICT:
					default:
						t.Errorf("approver %d: %v", i, err)
					}
				}
				if ok != required || approved != 1 {
					t.Errorf("%d approvals succeeded, %d saw the request approved; want %d and 1", ok, approved, required)
				}
				got, err := db.Request(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != approvals.StateApproved || len(got.Approvals) != required {
					t.Errorf("stored: %s with %d approvals; want approved with %d", got.State, len(got.Approvals), required)
				}
				var events int
				for _, typ := range eventTypes(t, db, r.ID) {
					if typ == approvals.EventApproved {
						events++
					}
				}
				if events != required {
					t.Errorf("%d approved events; want %d", events, required)
				}
				wantVerified(t, db)
			})
		}
	})
}

func TestTransition(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		deny := approvals.Transition{From: approvals.StatePending, To: approvals.StateDenied,
			Denial: &approvals.Decision{Actor: bob, At: t0.Add(20 * time.Minute), Reason: "not needed"}, At: t0.Add(20 * time.Minute)}
		cancel := approvals.Transition{From: approvals.StatePending, To: approvals.StateCancelled,
			Denial: &approvals.Decision{Actor: ann, Reason: "typo"}, At: t0.Add(5 * time.Minute)}
		fail := approvals.Transition{From: approvals.StateRunning, To: approvals.StateFailed, Error: "Graph refused", At: t0.Add(30 * time.Minute)}
		succeed := approvals.Transition{From: approvals.StateRunning, To: approvals.StateSucceeded, At: t0.Add(30 * time.Minute)}

		tests := []struct {
			name     string
			prepare  func(t *testing.T, db *storage.DB) string // returns the request id
			tr       approvals.Transition
			want     func(t *testing.T, r *approvals.Request)
			wantCode string
			wantMsg  string
		}{
			{
				name:    "OK_Denied",
				prepare: func(t *testing.T, db *storage.DB) string { return newRequest(t, db).ID },
				tr:      deny,
				want: func(t *testing.T, r *approvals.Request) {
					if diff := cmp.Diff(deny.Denial, r.Denial); diff != "" {
						t.Errorf("Denial (-want +got):\n%s", diff)
					}
					if !r.ClosedAt.Equal(deny.At) {
						t.Errorf("ClosedAt = %v; want %v", r.ClosedAt, deny.At)
					}
				},
			},
			{
				name:    "OK_CancelledDenialAtDefaultsToTransition",
				prepare: func(t *testing.T, db *storage.DB) string { return newRequest(t, db).ID },
				tr:      cancel,
				want: func(t *testing.T, r *approvals.Request) {
					if r.Denial == nil || !r.Denial.At.Equal(cancel.At) || r.Denial.Actor != ann {
						t.Errorf("Denial = %+v; want Ann at %v", r.Denial, cancel.At)
					}
				},
			},
			{
				name:    "OK_Failed",
				prepare: func(t *testing.T, db *storage.DB) string { return running(t, db, "exec", t0.Add(time.Hour)).ID },
				tr:      fail,
				want: func(t *testing.T, r *approvals.Request) {
					if r.Error != "Graph refused" || !r.ClosedAt.Equal(fail.At) {
						t.Errorf("Error, ClosedAt = %q, %v; want %q, %v", r.Error, r.ClosedAt, fail.Error, fail.At)
					}
				},
			},
			{
				name: "ErrAlreadyDenied",
				prepare: func(t *testing.T, db *storage.DB) string {
					id := newRequest(t, db).ID
					if _, err := db.Transition(ctx, id, deny, approvals.AuditEvent{Type: approvals.EventDenied}); err != nil {
						t.Fatal(err)
					}
					return id
				},
				tr:       cancel,
				wantCode: approvals.ECONFLICT, wantMsg: "is denied",
			},
			{
				name: "ErrAlreadyCancelled",
				prepare: func(t *testing.T, db *storage.DB) string {
					id := newRequest(t, db).ID
					if _, err := db.Transition(ctx, id, cancel, approvals.AuditEvent{Type: approvals.EventCancelled}); err != nil {
						t.Fatal(err)
					}
					return id
				},
				tr:       deny,
				wantCode: approvals.ECONFLICT, wantMsg: "is cancelled",
			},
			{
				name: "ErrRunning",
				prepare: func(t *testing.T, db *storage.DB) string {
					return running(t, db, "exec", t0.Add(time.Hour)).ID
				},
				tr:       deny,
				wantCode: approvals.ECONFLICT, wantMsg: "is running",
			},
			{
				name: "ErrSucceeded",
				prepare: func(t *testing.T, db *storage.DB) string {
					id := running(t, db, "exec", t0.Add(time.Hour)).ID
					if _, err := db.Transition(ctx, id, succeed, approvals.AuditEvent{Type: approvals.EventFinished}); err != nil {
						t.Fatal(err)
					}
					return id
				},
				tr:       fail,
				wantCode: approvals.ECONFLICT, wantMsg: "is succeeded",
			},
			{
				name: "ErrStillPending",
				prepare: func(t *testing.T, db *storage.DB) string {
					return newRequest(t, db).ID
				},
				tr:       succeed,
				wantCode: approvals.ECONFLICT, wantMsg: "is pending",
			},
			{
				name: "ErrExpiredOtherDay",
				prepare: func(t *testing.T, db *storage.DB) string {
					r := newRequest(t, db, func(r *approvals.Request) {
						r.CreatedAt = t0.AddDate(0, 0, -2)
						r.ExpiresAt = r.CreatedAt.Add(time.Hour)
					})
					if _, err := db.ExpireDue(ctx, t0); err != nil {
						t.Fatal(err)
					}
					return r.ID
				},
				tr:       cancel,
				wantCode: approvals.ECONFLICT, wantMsg: "is expired",
			},
			{
				name:     "ErrApproveThroughTransition",
				prepare:  func(t *testing.T, db *storage.DB) string { return newRequest(t, db).ID },
				tr:       approvals.Transition{From: approvals.StatePending, To: approvals.StateApproved},
				wantCode: approvals.EINVALID,
			},
			{
				name: "ErrRunThroughTransition",
				prepare: func(t *testing.T, db *storage.DB) string {
					id := newRequest(t, db).ID
					approve(t, db, id, bob, t0.Add(time.Minute))
					return id
				},
				tr:       approvals.Transition{From: approvals.StateApproved, To: approvals.StateRunning},
				wantCode: approvals.EINVALID,
			},
			{
				name:     "ErrNotAnEdge",
				prepare:  func(t *testing.T, db *storage.DB) string { return newRequest(t, db).ID },
				tr:       approvals.Transition{From: approvals.StatePending, To: approvals.StateSucceeded},
				wantCode: approvals.EINVALID,
			},
			{
				name:     "ErrNotFound",
				prepare:  func(t *testing.T, db *storage.DB) string { return "R-ZZZZZZ" },
				tr:       deny,
				wantCode: approvals.ENOTFOUND, wantMsg: "no request R-ZZZZZZ",
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db := e.open(t)
				id := tt.prepare(t, db)
				before := len(auditEvents(t, db))
				r, err := db.Transition(ctx, id, tt.tr, approvals.AuditEvent{Type: "test-transition", Actor: bob})
				after := len(auditEvents(t, db))
				if tt.wantCode != "" {
					wantErr(t, err, tt.wantCode, tt.wantMsg)
					if after != before {
						t.Errorf("failed transition left %d audit entries", after-before)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.State != tt.tr.To {
					t.Errorf("State = %q; want %q", r.State, tt.tr.To)
				}
				if after != before+1 {
					t.Errorf("transition left %d audit entries; want 1", after-before)
				}
				tt.want(t, r)
				loaded, err := db.Request(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(r, loaded); diff != "" {
					t.Errorf("returned and stored request differ (-returned +stored):\n%s", diff)
				}
			})
		}
	})
}

func TestExpireDue(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		expiring := func(at time.Time) func(*approvals.Request) {
			return func(r *approvals.Request) { r.ExpiresAt = at }
		}
		early := newRequest(t, db, expiring(t0.Add(30*time.Minute)))
		boundary := newRequest(t, db, expiring(t0.Add(time.Hour)))
		later := newRequest(t, db, expiring(t0.Add(time.Hour+time.Nanosecond)))
		approved := newRequest(t, db, expiring(t0.Add(20*time.Minute)))
		approve(t, db, approved.ID, bob, t0.Add(10*time.Minute))

		now := t0.Add(time.Hour)
		got, err := db.ExpireDue(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
			if r.State != approvals.StateExpired || !r.ClosedAt.Equal(r.ExpiresAt) {
				t.Errorf("%s: State, ClosedAt = %s, %v; want expired at %v", r.ID, r.State, r.ClosedAt, r.ExpiresAt)
			}
			if diff := cmp.Diff([]string{approvals.EventRequested, approvals.EventExpired}, eventTypes(t, db, r.ID)); diff != "" {
				t.Errorf("%s audit (-want +got):\n%s", r.ID, diff)
			}
		}
		if diff := cmp.Diff([]string{early.ID, boundary.ID}, ids); diff != "" {
			t.Errorf("expired (-want +got):\n%s", diff)
		}
		for _, r := range []*approvals.Request{later, approved} {
			loaded, err := db.Request(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.State.Final() {
				t.Errorf("%s: %s; want it left alone", r.ID, loaded.State)
			}
		}

		again, err := db.ExpireDue(ctx, now)
		if err != nil || len(again) != 0 {
			t.Errorf("second sweep = %v, %v; want nothing", again, err)
		}
		wantVerified(t, db)
	})
}

func TestClaim(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		started := approvals.AuditEvent{Type: approvals.EventStarted, Detail: "executor exec-1"}

		t.Run("OK_NothingToDo", func(t *testing.T) {
			db := e.open(t)
			newRequest(t, db) // pending: not claimable
			r, err := db.Claim(ctx, "exec-1", t0, t0.Add(time.Minute), nil, started)
			if r != nil || err != nil {
				t.Fatalf("Claim = %v, %v; want nil, nil", r, err)
			}
		})

		t.Run("OK_OldestApprovedFirst", func(t *testing.T) {
			db := e.open(t)
			newer := newRequest(t, db, func(r *approvals.Request) { r.CreatedAt = t0.Add(5 * time.Minute) })
			older := newRequest(t, db)
			approve(t, db, newer.ID, bob, t0.Add(10*time.Minute))
			approve(t, db, older.ID, bob, t0.Add(11*time.Minute))

			for _, want := range []string{older.ID, newer.ID} {
				r, err := db.Claim(ctx, "exec-1", t0.Add(12*time.Minute), t0.Add(13*time.Minute), nil, started)
				if err != nil {
					t.Fatal(err)
				}
				if r == nil || r.ID != want || r.State != approvals.StateRunning {
					t.Fatalf("Claim = %+v; want %s running", r, want)
				}
				if diff := cmp.Diff([]string{approvals.EventRequested, approvals.EventApproved, approvals.EventStarted}, eventTypes(t, db, want)); diff != "" {
					t.Errorf("audit (-want +got):\n%s", diff)
				}
			}
			if r, err := db.Claim(ctx, "exec-1", t0.Add(12*time.Minute), t0.Add(13*time.Minute), nil, started); r != nil || err != nil {
				t.Fatalf("third Claim = %v, %v; want nil, nil", r, err)
			}
		})

		t.Run("OK_LiveLeaseKept", func(t *testing.T) {
			db := e.open(t)
			running(t, db, "exec-1", t0.Add(time.Hour))
			r, err := db.Claim(ctx, "exec-2", t0.Add(time.Hour), t0.Add(2*time.Hour), nil, started)
			if r != nil || err != nil {
				t.Fatalf("Claim at lease end = %v, %v; want nil, nil", r, err)
			}
		})

		t.Run("OK_LapsedLeaseResumed", func(t *testing.T) {
			db := e.open(t)
			c := running(t, db, "exec-1", t0.Add(time.Hour))
			before := len(auditEvents(t, db))
			r, err := db.Claim(ctx, "exec-2", t0.Add(time.Hour+time.Nanosecond), t0.Add(2*time.Hour), nil, started)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil || r.ID != c.ID || r.State != approvals.StateRunning {
				t.Fatalf("Claim = %+v; want %s resumed", r, c.ID)
			}
			if after := len(auditEvents(t, db)); after != before {
				t.Errorf("resuming wrote %d audit entries; want none", after-before)
			}
			err = db.RenewLease(ctx, c.ID, "exec-1", t0.Add(3*time.Hour))
			wantErr(t, err, approvals.ECONFLICT, "is now being run by exec-2")
			if err := db.RenewLease(ctx, c.ID, "exec-2", t0.Add(3*time.Hour)); err != nil {
				t.Fatalf("RenewLease by the new owner: %v", err)
			}
			if r, _ := db.Claim(ctx, "exec-3", t0.Add(2*time.Hour+time.Minute), t0.Add(4*time.Hour), nil, started); r != nil {
				t.Fatalf("Claim took a renewed lease")
			}
		})

		t.Run("ErrNoOwner", func(t *testing.T) {
			db := e.open(t)
			_, err := db.Claim(ctx, "", t0, t0.Add(time.Minute), nil, started)
			wantErr(t, err, approvals.EINVALID, "")
		})
	})
}

// TestClaimConcurrent runs two executors, each on its own handle as two instances
// would, until the work runs out: every request is claimed exactly once.
func TestClaimConcurrent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		path := e.dsn(t)
		dbs := []*storage.DB{openPath(t, path), openPath(t, path)}
		const n = 40
		want := map[string]bool{}
		for range n {
			r := newRequest(t, dbs[0])
			approve(t, dbs[0], r.ID, bob, t0.Add(time.Minute))
			want[r.ID] = true
		}
		var mu sync.Mutex
		claims := map[string][]string{}
		var wg sync.WaitGroup
		for i, db := range dbs {
			owner := fmt.Sprintf("exec-%d", i)
			wg.Go(func() {
				for {
					r, err := db.Claim(ctx, owner, t0.Add(2*time.Minute), t0.Add(time.Hour), nil, approvals.AuditEvent{Type: approvals.EventStarted})
					if err != nil {
						t.Errorf("%s: %v", owner, err)
						return
					}
					if r == nil {
						return
					}
					mu.Lock()
					claims[r.ID] = append(claims[r.ID], owner)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claims) != n {
			t.Errorf("%d requests claimed; want %d", len(claims), n)
		}
		for id, owners := range claims {
			if !want[id] || len(owners) != 1 {
				t.Errorf("%s claimed by %v; want exactly one owner", id, owners)
			}
		}
		wantVerified(t, dbs[1])
	})
}

func TestRenewLease(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		tests := []struct {
			name     string
			prepare  func(t *testing.T, db *storage.DB) string
			owner    string
			wantCode string
			wantMsg  string
		}{
			{name: "OK", prepare: func(t *testing.T, db *storage.DB) string { return running(t, db, "exec-1", t0.Add(time.Hour)).ID }, owner: "exec-1"},
			{name: "OK_LapsedButNotTaken", prepare: func(t *testing.T, db *storage.DB) string { return running(t, db, "exec-1", t0).ID }, owner: "exec-1"},
			{
				name:     "ErrOtherOwner",
				prepare:  func(t *testing.T, db *storage.DB) string { return running(t, db, "exec-1", t0.Add(time.Hour)).ID },
				owner:    "exec-2",
				wantCode: approvals.ECONFLICT, wantMsg: "is now being run by exec-1",
			},
			{
				name: "ErrFinished",
				prepare: func(t *testing.T, db *storage.DB) string {
					id := running(t, db, "exec-1", t0.Add(time.Hour)).ID
					_, err := db.Transition(ctx, id, approvals.Transition{From: approvals.StateRunning, To: approvals.StatePartlyFailed,
						At: t0.Add(40 * time.Minute)}, approvals.AuditEvent{Type: approvals.EventFinished})
					if err != nil {
						t.Fatal(err)
					}
					return id
				},
				owner:    "exec-1",
				wantCode: approvals.ECONFLICT, wantMsg: "is partly failed",
			},
			{name: "ErrNotFound", prepare: func(t *testing.T, db *storage.DB) string { return "R-ZZZZZZ" }, owner: "exec-1", wantCode: approvals.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db := e.open(t)
				id := tt.prepare(t, db)
				err := db.RenewLease(ctx, id, tt.owner, t0.Add(2*time.Hour))
				if tt.wantCode != "" {
					wantErr(t, err, tt.wantCode, tt.wantMsg)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				// The lease now runs to 11:00: a claim at 10:30 must not take it.
				r, err := db.Claim(ctx, "exec-9", t0.Add(90*time.Minute), t0.Add(3*time.Hour), nil, approvals.AuditEvent{Type: approvals.EventStarted})
				if r != nil || err != nil {
					t.Fatalf("Claim after renewal = %v, %v; want nil, nil", r, err)
				}
			})
		}
	})
}

// One open request per kind and target is the database's rule: a second one, from any
// instance, is ECONFLICT naming the first; a closed one is no obstacle, nor another kind.
func TestOneOpenRequestPerTarget(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		target := approvals.Target{Type: "user", ID: "5f1c0e2a-0000-4000-8000-00000000abcd", Name: "erin@contoso.com"}
		first := newRequest(t, db, func(r *approvals.Request) { r.Target = target })
		second := &approvals.Request{Kind: approvals.KindReset, Requester: bob, Target: target, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		err := db.CreateRequest(ctx, second, approvals.AuditEvent{Type: approvals.EventRequested})
		var open *approvals.OpenRequestError
		if approvals.ErrorCode(err) != approvals.ECONFLICT || !errors.As(err, &open) || open.Open.ID != first.ID {
			t.Fatalf("second open request: %v", err)
		}
		other := &approvals.Request{Kind: approvals.KindRevoke, Requester: bob, Target: target, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateRequest(ctx, other, approvals.AuditEvent{Type: approvals.EventRequested}); err != nil {
			t.Fatalf("another kind for the same target: %v", err)
		}
		if _, err := db.Transition(ctx, first.ID, approvals.Transition{From: approvals.StatePending, To: approvals.StateCancelled,
			Denial: &approvals.Decision{Actor: ann}}, approvals.AuditEvent{Type: approvals.EventCancelled}); err != nil {
			t.Fatal(err)
		}
		second.ID = ""
		if err := db.CreateRequest(ctx, second, approvals.AuditEvent{Type: approvals.EventRequested}); err != nil {
			t.Fatalf("after the first closed: %v", err)
		}
		// A conflict carries the request as it stands, for the chat side to word.
		_, err = db.Approve(ctx, first.ID, approvals.Decision{Actor: bob, At: t0.Add(time.Minute)}, 1, approvals.AuditEvent{Type: approvals.EventApproved})
		var se *approvals.StateError
		if !errors.As(err, &se) || se.Request.State != approvals.StateCancelled || se.Request.Denial.Actor.ID != ann.ID {
			t.Fatalf("approving a cancelled request: %v", err)
		}
	})
}

// TestReplicasRace has two handles on one database, as two replicas would, race for the
// same work: every sweep, expansion and open request happens once, whoever wins.
func TestReplicasRace(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		path := e.dsn(t)
		dbs := []*storage.DB{openPath(t, path), openPath(t, path)}
		race := func(f func(db *storage.DB) error) []error {
			errs := make([]error, 2*len(dbs))
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { errs[i] = f(dbs[i%len(dbs)]) })
			}
			wg.Wait()
			return errs
		}

		t.Run("OK_ExpireOnce", func(t *testing.T) {
			var ids []string
			for range 20 {
				ids = append(ids, newRequest(t, dbs[0], func(r *approvals.Request) { r.ExpiresAt = t0.Add(time.Minute) }).ID)
			}
			var mu sync.Mutex
			expired := map[string]int{}
			for _, err := range race(func(db *storage.DB) error {
				rs, err := db.ExpireDue(ctx, t0.Add(time.Hour))
				mu.Lock()
				defer mu.Unlock()
				for _, r := range rs {
					expired[r.ID]++
				}
				return err
			}) {
				if err != nil {
					t.Errorf("ExpireDue: %v", err)
				}
			}
			for _, id := range ids {
				if expired[id] != 1 {
					t.Errorf("%s expired %d times; want once", id, expired[id])
				}
				if diff := cmp.Diff([]string{approvals.EventRequested, approvals.EventExpired}, eventTypes(t, dbs[1], id)); diff != "" {
					t.Errorf("%s audit (-want +got):\n%s", id, diff)
				}
			}
		})

		t.Run("OK_ExpandOnce", func(t *testing.T) {
			r := running(t, dbs[0], "exec-1", t0.Add(time.Hour))
			for i, err := range race(func(db *storage.DB) error { return db.AddItems(ctx, r.ID, revokeItems(50)) }) {
				if err != nil {
					t.Errorf("AddItems %d: %v", i, err)
				}
			}
			if got, err := dbs[1].Request(ctx, r.ID); err != nil || got.Total != 50 {
				t.Errorf("Total = %v, %v; want 50", got, err)
			}
		})

		t.Run("OK_OneOpenRequest", func(t *testing.T) {
			target := approvals.Target{Type: "user", ID: "5f1c0e2a-0000-4000-8000-0000000race1", Name: "rae@contoso.com"}
			var mu sync.Mutex
			var created []string
			errs := race(func(db *storage.DB) error {
				r := &approvals.Request{Kind: approvals.KindReset, Requester: ann, Target: target, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				err := db.CreateRequest(ctx, r, approvals.AuditEvent{Type: approvals.EventRequested})
				if err == nil {
					mu.Lock()
					created = append(created, r.ID)
					mu.Unlock()
				}
				return err
			})
			if len(created) != 1 {
				t.Fatalf("%d requests created; want 1 (%v)", len(created), errs)
			}
			for _, err := range errs {
				var open *approvals.OpenRequestError
				if err != nil && (!errors.As(err, &open) || open.Open.ID != created[0]) {
					t.Errorf("the losers' error = %v; want ECONFLICT naming %s", err, created[0])
				}
			}
		})
		wantVerified(t, dbs[0])
	})
}
