package storage_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/storage"
)

// TestOpenReadOnly: the database is read as it is, never created, migrated or written.
func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	latest, err := storage.LatestSchema()
	if err != nil || latest < 1 {
		t.Fatalf("LatestSchema = %d, %v", latest, err)
	}
	openRO := func(t *testing.T, path string) *storage.DB {
		t.Helper()
		db, err := storage.OpenReadOnly(ctx, path)
		if err != nil {
			t.Fatalf("OpenReadOnly: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	forEachEngine(t, func(t *testing.T, e engine) {
		t.Run("OK_CurrentAndReadable", func(t *testing.T) {
			path := e.dsn(t)
			r := newRequest(t, openPath(t, path))
			db := openRO(t, path)
			if cur, l, err := db.MigrationStatus(ctx); err != nil || cur != latest || l != latest {
				t.Errorf("MigrationStatus = %d, %d, %v; want %d, %d", cur, l, err, latest, latest)
			}
			if got, err := db.Request(ctx, r.ID); err != nil || got.ID != r.ID {
				t.Errorf("Request = %v, %v", got, err)
			}
			wantVerified(t, db)
			err := db.Audit(ctx, approvals.AuditEvent{Type: approvals.EventRequested, Detail: "x"})
			if err == nil || !strings.Contains(err.Error(), "read-only") {
				t.Errorf("a write to a read-only database: %v", err)
			}
		})

		t.Run("OK_OlderSchemaNotMigrated", func(t *testing.T) {
			path := e.dsn(t)
			openPath(t, path).Close()
			raw := e.raw(t, path)
			if _, err := raw.Exec("DELETE FROM schema_migrations"); err != nil {
				t.Fatal(err)
			}
			if cur, _, err := openRO(t, path).MigrationStatus(ctx); err != nil || cur != 0 {
				t.Errorf("MigrationStatus = %d, %v; want 0", cur, err)
			}
			var n int
			if err := raw.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 0 {
				t.Errorf("schema_migrations has %d rows, %v: the read-only open migrated", n, err)
			}
		})

		t.Run("OK_EmptyIsVersion0", func(t *testing.T) {
			path := e.dsn(t)
			e.raw(t, path).Ping() // a SQLite file comes into being, empty
			if cur, _, err := openRO(t, path).MigrationStatus(ctx); err != nil || cur != 0 {
				t.Errorf("MigrationStatus = %d, %v; want 0", cur, err)
			}
		})

		t.Run("ErrNotMfabots", func(t *testing.T) {
			path := e.dsn(t)
			if _, err := e.raw(t, path).Exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := openRO(t, path).MigrationStatus(ctx); err == nil || !strings.Contains(err.Error(), "not mfabot's") {
				t.Errorf("MigrationStatus = %v", err)
			}
		})
	})

	t.Run("ErrMissingSQLiteFileNotCreated", func(t *testing.T) {
		path := tempPath(t)
		if db, err := storage.OpenReadOnly(ctx, path); err == nil {
			db.Close()
			t.Error("OpenReadOnly of a missing file succeeded")
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("OpenReadOnly created the file: %v", err)
		}
	})
}

// findings records what Check reports, one "status check: message" line each.
type findings struct{ lines []string }

func (f *findings) OK(check, msg, _ string)   { f.lines = append(f.lines, "ok "+check+": "+msg) }
func (f *findings) Warn(check, msg, _ string) { f.lines = append(f.lines, "warn "+check+": "+msg) }
func (f *findings) Fail(check, msg, _ string) { f.lines = append(f.lines, "fail "+check+": "+msg) }

func TestCheck(t *testing.T) {
	ctx := context.Background()
	t.Run("OK_CurrentKeptOpenReadOnly", func(t *testing.T) {
		path := tempPath(t)
		newRequest(t, openPath(t, path))
		var f findings
		db := storage.Check(ctx, path, &f)
		if db == nil {
			t.Fatalf("no database returned: %q", f.lines)
		}
		defer db.Close()
		want := []string{"ok database: " + path + " opens; schema version", "ok audit: audit log intact: 1 entries, hash chain verified"}
		if len(f.lines) != 2 || !strings.HasPrefix(f.lines[0], want[0]) || f.lines[1] != want[1] {
			t.Errorf("reported %q, want %q", f.lines, want)
		}
		if _, err := db.Conversations(ctx, "teams"); err != nil {
			t.Errorf("the returned database does not read: %v", err)
		}
	})
	t.Run("OK_MissingFileLeftAlone", func(t *testing.T) {
		path := tempPath(t)
		var f findings
		if db := storage.Check(ctx, path, &f); db != nil {
			db.Close()
			t.Error("a database was returned for a missing file")
		}
		if len(f.lines) != 1 || !strings.Contains(f.lines[0], "does not exist yet") {
			t.Errorf("reported %q", f.lines)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("Check created the file: %v", err)
		}
	})
}
