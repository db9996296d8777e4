// Package storagetest opens real, throwaway mfabot databases for tests in one line: a
// SQLite file (Open), or a schema or database on a throwaway PostgreSQL server started
// from Debian's postgresql package (PostgresURL, SharedPostgres, StartPostgres). It is a
// package of its own so that the testing package stays out of the mfabot binary.
package storagetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mfabot/mfabot/storage"
)

// Open opens a fresh database file in tb.TempDir() and closes it when the test ends.
func Open(tb testing.TB, opts ...storage.Option) *storage.DB {
	tb.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(tb.TempDir(), "mfabot.db"), opts...)
	if err != nil {
		tb.Fatalf("open database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close database: %v", err)
		}
	})
	return db
}
