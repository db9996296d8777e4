package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// openSQLite opens the SQLite file db.dsn, creating it if needed: one write connection
// (WAL, BEGIN IMMEDIATE) and a pool of query-only readers.
func (db *DB) openSQLite(ctx context.Context) error {
	path := db.dsn
	if err := checkSQLitePath(path); err != nil {
		return err
	}
	db.eng, db.wqueue = sqliteEngine, make(chan struct{}, 1)
	base := url.Values{}
	base.Set("_busy_timeout", strconv.FormatInt(db.busyTimeout.Milliseconds(), 10))
	base.Set("_foreign_keys", "on")
	// A security audit trail is worth an fsync per commit.
	base.Set("_synchronous", "FULL")

	w := cloneValues(base)
	w.Set("_journal_mode", "WAL")
	w.Set("_txlock", "immediate")
	wdb, err := sql.Open("sqlite3", sqliteDSN(path, w))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return fmt.Errorf("open database %s: %w", path, err)
	}
	db.wdb = &sqlDB{DB: wdb, eng: sqliteEngine}

	r := cloneValues(base)
	r.Set("_query_only", "on")
	rdb, err := sql.Open("sqlite3", sqliteDSN(path, r))
	if err != nil {
		wdb.Close()
		return fmt.Errorf("open database: %w", err)
	}
	rdb.SetMaxOpenConns(8)
	db.rdb = &sqlDB{DB: rdb, eng: sqliteEngine}
	return nil
}

// openSQLiteReadOnly opens the file for reading only (mode=ro): never created, never
// migrated, its journal mode left alone.
func (db *DB) openSQLiteReadOnly(ctx context.Context) error {
	if err := checkSQLitePath(db.dsn); err != nil {
		return err
	}
	db.eng = sqliteEngine
	v := url.Values{}
	v.Set("mode", "ro")
	v.Set("_busy_timeout", strconv.FormatInt(db.busyTimeout.Milliseconds(), 10))
	rdb, err := sql.Open("sqlite3", sqliteDSN(db.dsn, v))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := rdb.PingContext(ctx); err != nil {
		rdb.Close()
		return fmt.Errorf("not a readable SQLite database: %w", err)
	}
	db.rdb = &sqlDB{DB: rdb, eng: sqliteEngine}
	return nil
}

func checkSQLitePath(path string) error {
	if path == "" || strings.Contains(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return fmt.Errorf("open database: path must name a file, not %q", path)
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// sqliteDSN builds a go-sqlite3 URI; the path is escaped so that a '?' or '#' in it is
// part of the name, not the start of the options.
func sqliteDSN(path string, v url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + v.Encode()
}
