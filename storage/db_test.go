package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/storage"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, e engine) {
		t.Run("OK_Migrated", func(t *testing.T) {
			db := e.open(t)
			cur, latest, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if latest < 1 || cur != latest {
				t.Errorf("MigrationStatus = %d, %d; want current = latest >= 1", cur, latest)
			}
			if err := db.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if db.Engine() != e.name {
				t.Errorf("Engine = %q; want %q", db.Engine(), e.name)
			}
		})

		t.Run("OK_ForeignKeysEnforced", func(t *testing.T) {
			db := e.open(t)
			err := db.AddMessageRef(ctx, "R-NOSUCH", bot.MessageRef{Platform: "slack"})
			wantErr(t, err, approvals.ENOTFOUND, "")
		})

		t.Run("OK_ReopenIdempotent", func(t *testing.T) {
			path := e.dsn(t)
			db, err := storage.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			r := newRequest(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openPath(t, path)
			got, err := db.Request(ctx, r.ID)
			if err != nil || got.ID != r.ID {
				t.Fatalf("after reopen: Request = %v, %v", got, err)
			}
			cur, latest, err := db.MigrationStatus(ctx)
			if err != nil || cur != latest {
				t.Errorf("MigrationStatus = %d, %d, %v; want current = latest", cur, latest, err)
			}
			var rows int
			if err := e.raw(t, path).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != latest {
				t.Errorf("schema_migrations has %d rows, %v; want %d", rows, err, latest)
			}
			wantVerified(t, db)
		})

		t.Run("OK_ConcurrentFirstOpen", func(t *testing.T) {
			path := e.dsn(t)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					db, err := storage.Open(ctx, path)
					if err == nil {
						err = db.Close()
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Open %d: %v", i, err)
				}
			}
		})

		t.Run("OK_NewerSchema", func(t *testing.T) {
			path := e.dsn(t)
			openPath(t, path)
			if _, err := e.raw(t, path).Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '')`); err != nil {
				t.Fatal(err)
			}
			db := openPath(t, path)
			cur, latest, err := db.MigrationStatus(ctx)
			if err != nil || cur != 9999 || latest >= cur {
				t.Errorf("MigrationStatus = %d, %d, %v; want 9999 ahead of latest", cur, latest, err)
			}
		})
	})
}

// TestMigrationsBothEngines: every schema version exists for both engines, under the same
// name, so that a version number means the same schema whichever engine holds it.
func TestMigrationsBothEngines(t *testing.T) {
	t.Parallel()
	names := map[string][]string{}
	for _, e := range []string{storage.EngineSQLite, storage.EnginePostgres} {
		files, err := filepath.Glob(filepath.Join("migrations", e, "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s migrations: %v, %v", e, files, err)
		}
		for _, f := range files {
			names[e] = append(names[e], filepath.Base(f))
		}
	}
	if diff := cmp.Diff(names[storage.EngineSQLite], names[storage.EnginePostgres]); diff != "" {
		t.Errorf("migrations differ (-sqlite +postgres):\n%s", diff)
	}
}

// TestSQLiteFile covers what only a SQLite file has: its journal mode, a path that must
// name a file, and a file that is not a database.
func TestSQLiteFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK_WAL", func(t *testing.T) {
		path := tempPath(t)
		openPath(t, path)
		var mode string
		if err := engines[0].raw(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
	})

	t.Run("ErrMemory", func(t *testing.T) {
		if _, err := storage.Open(ctx, ":memory:"); err == nil {
			t.Error("Open(:memory:) succeeded; want an error")
		}
	})

	t.Run("ErrNotADatabase", func(t *testing.T) {
		path := tempPath(t)
		if err := os.WriteFile(path, []byte("this is not a database, just some text that is long enough"), 0o600); err != nil {
			t.Fatal(err)
		}
		if db, err := storage.Open(ctx, path); err == nil {
			db.Close()
			t.Error("Open succeeded on a text file")
		}
	})

	t.Run("OK_PathWithQuestionMark", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "odd?name#1.db")
		db := openPath(t, path)
		newRequest(t, db)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database not at %q: %v", path, err)
		}
	})
}

// TestTwoInstances runs two handles on one file, as two mfabot processes would: their
// writes queue for the lock and none fails with "database is locked".
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		path := e.dsn(t)
		dbs := []*storage.DB{openPath(t, path), openPath(t, path)}
		const perWorker = 15
		var wg sync.WaitGroup
		for w := range 6 {
			db := dbs[w%2]
			wg.Go(func() {
				for i := range perWorker {
					r := &approvals.Request{Kind: approvals.KindRevokeGroup, Requester: ann, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
						Target: approvals.Target{Type: "group", ID: fmt.Sprintf("g-%d-%d", w, i)}}
					if err := db.CreateRequest(ctx, r, approvals.AuditEvent{Type: approvals.EventRequested}); err != nil {
						t.Errorf("worker %d: CreateRequest: %v", w, err)
						return
					}
					a := approvals.Actor{Platform: "slack", ID: fmt.Sprintf("U%d-%d", w, i)}
					if _, err := db.Approve(ctx, r.ID, approvals.Decision{Actor: a, At: t0}, 1,
						approvals.AuditEvent{Type: approvals.EventApproved, Actor: a}); err != nil {
						t.Errorf("worker %d: Approve: %v", w, err)
						return
					}
					if _, err := db.Request(ctx, r.ID); err != nil {
						t.Errorf("worker %d: Request: %v", w, err)
					}
				}
			})
		}
		wg.Wait()
		rs, err := dbs[1].Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StateApproved}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 6*perWorker {
			t.Errorf("%d approved requests; want %d", len(rs), 6*perWorker)
		}
		if v := wantVerified(t, dbs[0]); v.Checked != 2*6*perWorker {
			t.Errorf("audit has %d entries; want %d", v.Checked, 2*6*perWorker)
		}
	})
}

func TestConversations(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		put := func(platform, id, data string) {
			t.Helper()
			if err := db.PutConversation(ctx, platform, id, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		put("teams", "a:1", `{"v":1}`)
		put("teams", "19:b", `{"v":2}`)
		put("slack", "C1", `{"v":3}`)
		put("teams", "a:1", `{"v":4}`) // replaces

		t.Run("OK_One", func(t *testing.T) {
			got, err := db.Conversation(ctx, "teams", "a:1")
			if err != nil || string(got) != `{"v":4}` {
				t.Errorf("Conversation = %s, %v; want the replacement", got, err)
			}
		})
		t.Run("OK_All", func(t *testing.T) {
			got, err := db.Conversations(ctx, "teams")
			if err != nil {
				t.Fatal(err)
			}
			want := [][]byte{[]byte(`{"v":2}`), []byte(`{"v":4}`)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Conversations (-want +got):\n%s", diff)
			}
		})
		t.Run("OK_NoneForPlatform", func(t *testing.T) {
			got, err := db.Conversations(ctx, "console")
			if err != nil || len(got) != 0 {
				t.Errorf("Conversations = %v, %v; want none", got, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.Conversation(ctx, "slack", "a:1")
			wantErr(t, err, approvals.ENOTFOUND, "")
		})
	})
}

func TestSnapshots(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		for day, data := range map[string]string{
			"2026-11-19": `{"registered":10}`,
			"2026-11-20": `{"registered":11}`,
			"2026-11-22": `{"registered":12}`,
			"2026-12-01": `{"registered":13}`,
		} {
			if err := db.PutSnapshot(ctx, day, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.PutSnapshot(ctx, "2026-11-22", []byte(`{"registered":14}`)); err != nil {
			t.Fatal(err)
		}

		t.Run("OK_Inclusive", func(t *testing.T) {
			got, err := db.Snapshots(ctx, "2026-11-20", "2026-11-22")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]byte{"2026-11-20": []byte(`{"registered":11}`), "2026-11-22": []byte(`{"registered":14}`)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Snapshots (-want +got):\n%s", diff)
			}
		})
		t.Run("OK_Empty", func(t *testing.T) {
			got, err := db.Snapshots(ctx, "2025-01-01", "2025-12-31")
			if err != nil || len(got) != 0 {
				t.Errorf("Snapshots = %v, %v; want none", got, err)
			}
		})
		t.Run("ErrBadDay", func(t *testing.T) {
			wantErr(t, db.PutSnapshot(ctx, "22/11/2026", nil), approvals.EINVALID, "")
			_, err := db.Snapshots(ctx, "2026-11-01", "tomorrow")
			wantErr(t, err, approvals.EINVALID, "")
		})
	})
}

func TestJobRuns(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()

		t.Run("OK_OnceAcrossInstances", func(t *testing.T) {
			path := e.dsn(t)
			dbs := []*storage.DB{openPath(t, path), openPath(t, path)}
			var wg sync.WaitGroup
			wins := make([]bool, 10)
			for i := range wins {
				wg.Go(func() {
					won, err := dbs[i%2].ClaimRun(ctx, "summary", "2026-11-22/C0APPROVALS", t0)
					if err != nil {
						t.Error(err)
					}
					wins[i] = won
				})
			}
			wg.Wait()
			var n int
			for _, w := range wins {
				if w {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d callers won; want 1", n)
			}
			if err := dbs[0].FinishRun(ctx, "summary", "2026-11-22/C0APPROVALS", "posted"); err != nil {
				t.Errorf("FinishRun: %v", err)
			}
			won, err := dbs[1].ClaimRun(ctx, "summary", "2026-11-22/C0APPROVALS", t0.Add(time.Hour))
			if err != nil || won {
				t.Errorf("ClaimRun after finish = %v, %v; want false", won, err)
			}
		})

		t.Run("OK_OtherKeysIndependent", func(t *testing.T) {
			db := e.open(t)
			for _, key := range []string{"2026-11-22/C1", "2026-11-22/C2", "2026-11-23/C1"} {
				if won, err := db.ClaimRun(ctx, "summary", key, t0); err != nil || !won {
					t.Errorf("ClaimRun(%s) = %v, %v; want true", key, won, err)
				}
			}
			if won, err := db.ClaimRun(ctx, "snapshot", "2026-11-22/C1", t0); err != nil || !won {
				t.Errorf("ClaimRun of another job = %v, %v; want true", won, err)
			}
		})

		t.Run("ErrFinishUnclaimed", func(t *testing.T) {
			db := e.open(t)
			wantErr(t, db.FinishRun(ctx, "summary", "never", "posted"), approvals.ENOTFOUND, "")
		})
	})
}
