package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/storage"
)

// appendEvents appends n events, one a minute from t0, and returns them as appended.
func appendEvents(t testing.TB, db *storage.DB, n int) []approvals.AuditEvent {
	t.Helper()
	var evs []approvals.AuditEvent
	for i := range n {
		ev := approvals.AuditEvent{
			Time:      t0.Add(time.Duration(i) * time.Minute),
			RequestID: fmt.Sprintf("R-%06d", i),
			Type:      approvals.EventApproved,
			Actor:     cat,
			Detail:    fmt.Sprintf("event %d: ünïcode, quotes \" and a\nnewline", i),
		}
		if err := db.Audit(context.Background(), ev); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// shell opens the database the way someone with a SQL shell would, and takes the audit
// log's protections away (drops or disables its triggers).
func (e engine) shell(t testing.TB, path string) *rawDB {
	t.Helper()
	raw := e.raw(t, path)
	for _, q := range e.dropTriggers {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return raw
}

func TestAudit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		want := appendEvents(t, db, 5)
		got := auditEvents(t, db)
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(approvals.AuditEvent{}, "Seq", "PrevHash", "Hash")); diff != "" {
			t.Errorf("exported (-appended +exported):\n%s", diff)
		}
		prev := ""
		for i, ev := range got {
			if ev.Seq != int64(i+1) || ev.PrevHash != prev || len(ev.Hash) != 64 {
				t.Errorf("entry %d: Seq %d, PrevHash %q, Hash %q; want seq %d linked to %q", i, ev.Seq, ev.PrevHash, ev.Hash, i+1, prev)
			}
			prev = ev.Hash
		}
		if v := wantVerified(t, db); v.Checked != 5 || v.Head != 5 {
			t.Errorf("VerifyAudit = %+v; want 5 entries checked", v)
		}

		t.Run("OK_TimeDefaultsToClock", func(t *testing.T) {
			db := e.open(t)
			if err := db.Audit(context.Background(), approvals.AuditEvent{Type: "doctor"}); err != nil {
				t.Fatal(err)
			}
			if got := auditEvents(t, db); len(got) != 1 || !got[0].Time.Equal(t0) {
				t.Errorf("events = %+v; want one at %v", got, t0)
			}
		})

		t.Run("ErrNoType", func(t *testing.T) {
			wantErr(t, db.Audit(context.Background(), approvals.AuditEvent{}), approvals.EINVALID, "")
		})
	})
}

// TestAuditHashEncoding pins the documented encoding: a verifier written elsewhere must
// get the same hash.
func TestAuditHashEncoding(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 9, 14, 0, 5, time.UTC)
	got := storage.AuditHash(1, at, "R-7K2QXA", "approved", "slack", "U0BOB", "Bob", "", "ok", "")
	// printf 'mfabot-audit-v1\n0:\n1:1\n30:2026-11-22T09:14:00.000000005Z\n8:R-7K2QXA\n8:approved\n5:slack\n5:U0BOB\n3:Bob\n0:\n2:ok\n' | sha256sum
	const want = "9cc260b0490f106d4f4751f8462e6e130cf39e90ca54f506978b23058e064b1d"
	if got != want {
		t.Errorf("hash = %s; want %s", got, want)
	}
}

func TestAuditTriggers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		path := e.dsn(t)
		db := openPath(t, path)
		appendEvents(t, db, 3)
		raw := e.raw(t, path)
		for _, q := range []string{
			`UPDATE audit SET detail = 'nothing happened' WHERE seq = 2`,
			`DELETE FROM audit WHERE seq = 3`,
			`DELETE FROM audit_head`,
			`UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit WHERE seq = 2)`,
			`UPDATE audit_head SET seq = 4, hash = 'forged'`,
		} {
			if _, err := raw.Exec(q); err == nil {
				t.Errorf("%s: succeeded; want the trigger to refuse", q)
			}
		}
		wantVerified(t, db)
	})
}

// TestVerifyAudit tampers with the file after dropping the triggers, and checks that
// VerifyAudit finds the first bad entry.
func TestVerifyAudit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		const n = 6
		tests := []struct {
			name        string
			tamper      func(t *testing.T, raw *rawDB, evs []approvals.AuditEvent)
			wantSeq     int64
			wantProblem storage.AuditProblem
			wantChecked int64
		}{
			{
				name:    "ErrEdited",
				tamper:  exec(`UPDATE audit SET detail = 'nothing happened' WHERE seq = 3`),
				wantSeq: 3, wantProblem: storage.AuditEdited, wantChecked: 2,
			},
			{
				name:    "ErrEditedActor",
				tamper:  exec(`UPDATE audit SET actor_name = 'Ann' WHERE seq = 1`),
				wantSeq: 1, wantProblem: storage.AuditEdited, wantChecked: 0,
			},
			{
				name:    "ErrEditedTime",
				tamper:  exec(`UPDATE audit SET time = '2026-11-22T08:00:00.000000000Z' WHERE seq = 4`),
				wantSeq: 4, wantProblem: storage.AuditEdited, wantChecked: 3,
			},
			{
				name: "ErrEditedWithHashRecomputed",
				tamper: func(t *testing.T, raw *rawDB, evs []approvals.AuditEvent) {
					e := evs[2]
					h := storage.AuditHash(e.Seq, e.Time, e.RequestID, e.Type, e.Actor.Platform, e.Actor.ID, "Ann", e.Actor.EntraID, e.Detail, e.PrevHash)
					mustExec(t, raw, `UPDATE audit SET actor_name = 'Ann', hash = ? WHERE seq = 3`, h)
				},
				wantSeq: 4, wantProblem: storage.AuditInserted, wantChecked: 3,
			},
			{
				name:    "ErrDeletedMiddle",
				tamper:  exec(`DELETE FROM audit WHERE seq = 3`),
				wantSeq: 3, wantProblem: storage.AuditDeleted, wantChecked: 2,
			},
			{
				name:    "ErrDeletedFirst",
				tamper:  exec(`DELETE FROM audit WHERE seq = 1`),
				wantSeq: 1, wantProblem: storage.AuditDeleted, wantChecked: 0,
			},
			{
				name:    "ErrDeletedLast",
				tamper:  exec(`DELETE FROM audit WHERE seq = 6`),
				wantSeq: 6, wantProblem: storage.AuditDeleted, wantChecked: 5,
			},
			{
				name:    "ErrDeletedLastTwo",
				tamper:  exec(`DELETE FROM audit WHERE seq >= 5`),
				wantSeq: 5, wantProblem: storage.AuditDeleted, wantChecked: 4,
			},
			{
				name:    "ErrDeletedAll",
				tamper:  exec(`DELETE FROM audit`),
				wantSeq: 1, wantProblem: storage.AuditDeleted, wantChecked: 0,
			},
			{
				name: "ErrDeletedAndRenumbered",
				tamper: func(t *testing.T, raw *rawDB, _ []approvals.AuditEvent) {
					mustExec(t, raw, `DELETE FROM audit WHERE seq = 3`)
					mustExec(t, raw, `UPDATE audit SET seq = seq - 1 WHERE seq > 3`)
				},
				wantSeq: 3, wantProblem: storage.AuditEdited, wantChecked: 2,
			},
			{
				name: "ErrReplacedWithValidHash",
				tamper: func(t *testing.T, raw *rawDB, evs []approvals.AuditEvent) {
					e := evs[2]
					mustExec(t, raw, `DELETE FROM audit WHERE seq = 3`)
					forge(t, raw, 3, e.Time, e.PrevHash)
				},
				wantSeq: 4, wantProblem: storage.AuditInserted, wantChecked: 3,
			},
			{
				name: "ErrInsertedAtEnd",
				tamper: func(t *testing.T, raw *rawDB, evs []approvals.AuditEvent) {
					forge(t, raw, n+1, t0.Add(time.Hour), evs[n-1].Hash)
				},
				wantSeq: n + 1, wantProblem: storage.AuditInserted, wantChecked: n,
			},
			{
				name: "ErrInsertedAfterGap",
				tamper: func(t *testing.T, raw *rawDB, evs []approvals.AuditEvent) {
					forge(t, raw, n+5, t0.Add(time.Hour), evs[n-1].Hash)
				},
				wantSeq: n + 1, wantProblem: storage.AuditInserted, wantChecked: n,
			},
			{
				name: "ErrInsertedBeforeFirst",
				tamper: func(t *testing.T, raw *rawDB, _ []approvals.AuditEvent) {
					forge(t, raw, 0, t0, "")
				},
				wantSeq: 0, wantProblem: storage.AuditInserted, wantChecked: 0,
			},
			{
				name: "ErrLastReplacedWithValidHash",
				tamper: func(t *testing.T, raw *rawDB, evs []approvals.AuditEvent) {
					mustExec(t, raw, `DELETE FROM audit WHERE seq = ?`, n)
					forge(t, raw, n, evs[n-1].Time, evs[n-1].PrevHash)
				},
				wantSeq: n, wantProblem: storage.AuditInserted, wantChecked: n - 1,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := e.dsn(t)
				db := openPath(t, path)
				appendEvents(t, db, n)
				evs := auditEvents(t, db)
				tt.tamper(t, e.shell(t, path), evs)

				v, err := db.VerifyAudit(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if v.OK || v.BadSeq != tt.wantSeq || v.Problem != tt.wantProblem || v.Checked != tt.wantChecked {
					t.Errorf("VerifyAudit = %+v; want entry %d %s after %d intact", v, tt.wantSeq, tt.wantProblem, tt.wantChecked)
				}
				if s := v.String(); !strings.Contains(s, fmt.Sprintf("broken at entry %d", tt.wantSeq)) {
					t.Errorf("String() = %q", s)
				}
			})
		}

		t.Run("OK_Empty", func(t *testing.T) {
			db := e.open(t)
			if v := wantVerified(t, db); v.Checked != 0 {
				t.Errorf("VerifyAudit = %+v; want nothing checked", v)
			}
		})

		t.Run("OK_AppendAfterTamperStaysBroken", func(t *testing.T) {
			path := e.dsn(t)
			db := openPath(t, path)
			appendEvents(t, db, n)
			mustExec(t, e.shell(t, path), `DELETE FROM audit WHERE seq = ?`, n)
			appendEvents(t, db, 1)
			v, err := db.VerifyAudit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || v.BadSeq != n || v.Problem != storage.AuditDeleted {
				t.Errorf("VerifyAudit = %+v; want entry %d deleted", v, n)
			}
		})
	})
}

func exec(q string) func(*testing.T, *rawDB, []approvals.AuditEvent) {
	return func(t *testing.T, raw *rawDB, _ []approvals.AuditEvent) { mustExec(t, raw, q) }
}

func mustExec(t *testing.T, raw *rawDB, q string, args ...any) {
	t.Helper()
	res, err := raw.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s: changed nothing", q)
	}
}

// forge inserts an entry with a correct hash over its own content, as someone who read
// the encoding would.
func forge(t *testing.T, raw *rawDB, seq int64, at time.Time, prev string) {
	t.Helper()
	h := storage.AuditHash(seq, at, "R-FORGED", approvals.EventApproved, "slack", "U0EVE", "Eve", "", "forged", prev)
	mustExec(t, raw, `INSERT INTO audit (seq, time, request_id, type, actor_platform, actor_id, actor_name, actor_entra_id,
		detail, prev_hash, hash) VALUES (?, ?, 'R-FORGED', ?, 'slack', 'U0EVE', 'Eve', '', 'forged', ?, ?)`,
		seq, storage.FormatTime(at), approvals.EventApproved, prev, h)
}

func TestExportAudit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()

		t.Run("OK_Since", func(t *testing.T) {
			db := e.open(t)
			appendEvents(t, db, 10)
			var seqs []int64
			err := db.ExportAudit(ctx, t0.Add(7*time.Minute), func(ev approvals.AuditEvent) error {
				seqs = append(seqs, ev.Seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]int64{8, 9, 10}, seqs); diff != "" {
				t.Errorf("seqs (-want +got):\n%s", diff)
			}
		})

		t.Run("OK_StopsOnCallbackError", func(t *testing.T) {
			db := e.open(t)
			appendEvents(t, db, 10)
			stop := errors.New("disk full")
			calls := 0
			err := db.ExportAudit(ctx, time.Time{}, func(approvals.AuditEvent) error {
				calls++
				if calls == 3 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || calls != 3 {
				t.Errorf("ExportAudit = %v after %d calls; want the callback's error after 3", err, calls)
			}
		})

		// Rows are handed over one at a time while the export is still reading: an append
		// from inside the callback neither blocks nor shows up in the export.
		t.Run("OK_StreamsWhileWriting", func(t *testing.T) {
			db := e.open(t)
			appendEvents(t, db, 50)
			var seen int
			err := db.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
				seen++
				return db.Audit(ctx, approvals.AuditEvent{Type: "exported", Detail: fmt.Sprint(ev.Seq)})
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen != 50 {
				t.Errorf("exported %d entries; want the 50 that existed when it started", seen)
			}
			if v := wantVerified(t, db); v.Checked != 100 {
				t.Errorf("audit has %d entries; want 100", v.Checked)
			}
		})
	})
}
