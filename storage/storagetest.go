package storage

import (
	"context"
	"path/filepath"
	"testing"
)

// MustOpenDB opens a fresh database file in tb.TempDir() and closes it when the test
// ends. It lives outside _test files so that other packages' tests can use a real
// database.
func MustOpenDB(tb testing.TB, opts ...Option) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "mfabot.db"), opts...)
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
