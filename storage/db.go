package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/mfabot/mfabot/approvals"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultBusyTimeout is how long a writer waits for another process's write transaction
// before giving up with "database is locked".
const DefaultBusyTimeout = 5 * time.Second

// DB is mfabot's SQLite database. It is safe for concurrent use, also by several
// processes on the same file.
//
// It keeps two pools on the file: one connection for writes, so that the writers of this
// process queue in Go instead of spinning in SQLite's busy handler, and a pool of
// read-only connections that, thanks to WAL, read a consistent snapshot while a write is
// in progress. Writers of other processes are serialised by SQLite itself: every write
// transaction starts with BEGIN IMMEDIATE and waits up to the busy timeout.
type DB struct {
	path        string
	clock       approvals.Clock
	busyTimeout time.Duration
	newID       func() (string, error)

	wdb    *sql.DB       // writes: one connection, BEGIN IMMEDIATE
	rdb    *sql.DB       // reads: query_only connections
	wqueue chan struct{} // holds a token while a write transaction is open
}

// Option configures Open.
type Option func(*DB)

// WithClock sets the clock for the times the store stamps itself (updated_at columns,
// audit events without a time, migrations). The default is approvals.SystemClock.
func WithClock(c approvals.Clock) Option { return func(db *DB) { db.clock = c } }

// Open opens the SQLite file at path, creating it if needed, and brings its schema up to
// date. path must name a file (not ":memory:"): the read and write pools share it.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if path == "" || strings.Contains(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("open database: path must name a file, not %q", path)
	}
	db := &DB{path: path, clock: approvals.SystemClock{}, busyTimeout: DefaultBusyTimeout, newID: newRequestID,
		wqueue: make(chan struct{}, 1)}
	for _, o := range opts {
		o(db)
	}

	base := url.Values{}
	base.Set("_busy_timeout", strconv.FormatInt(db.busyTimeout.Milliseconds(), 10))
	base.Set("_foreign_keys", "on")
	// A security audit trail is worth an fsync per commit.
	base.Set("_synchronous", "FULL")

	w := cloneValues(base)
	w.Set("_journal_mode", "WAL")
	w.Set("_txlock", "immediate")
	var err error
	if db.wdb, err = sql.Open("sqlite3", dsn(path, w)); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.wdb.SetMaxOpenConns(1)
	if err := db.wdb.PingContext(ctx); err != nil {
		db.wdb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.migrate(ctx); err != nil {
		db.wdb.Close()
		return nil, err
	}

	r := cloneValues(base)
	r.Set("_query_only", "on")
	if db.rdb, err = sql.Open("sqlite3", dsn(path, r)); err != nil {
		db.wdb.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.rdb.SetMaxOpenConns(8)
	return db, nil
}

// OpenReadOnly opens the SQLite file at path for reading, as it is: it neither creates
// the file nor applies migrations nor changes its journal mode, so that a check run
// before an upgrade (mfabot doctor) leaves the file as the running version expects it.
// Every write fails. MigrationStatus tells whether the schema is one this binary reads.
func OpenReadOnly(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if path == "" || strings.Contains(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("open database: path must name a file, not %q", path)
	}
	db := &DB{path: path, clock: approvals.SystemClock{}, busyTimeout: DefaultBusyTimeout, newID: newRequestID,
		wqueue: make(chan struct{}, 1)}
	for _, o := range opts {
		o(db)
	}
	v := url.Values{}
	v.Set("mode", "ro")
	v.Set("_busy_timeout", strconv.FormatInt(db.busyTimeout.Milliseconds(), 10))
	var err error
	if db.rdb, err = sql.Open("sqlite3", dsn(path, v)); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.rdb.PingContext(ctx); err != nil {
		db.rdb.Close()
		return nil, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	return db, nil
}

// errReadOnly is the error of a write to a database opened with OpenReadOnly.
var errReadOnly = errors.New("the database is open read-only")

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// dsn builds a go-sqlite3 URI; the path is escaped so that a '?' or '#' in it is part of
// the name, not the start of the options.
func dsn(path string, v url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + v.Encode()
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.rdb != nil {
		errs = append(errs, db.rdb.Close())
	}
	if db.wdb != nil {
		errs = append(errs, db.wdb.Close())
	}
	return errors.Join(errs...)
}

// Ping reports whether the database answers a query, for readiness checks.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.rdb.QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// migration is one embedded migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number", base)
		}
		if len(ms) > 0 && ms[len(ms)-1].version >= v {
			return nil, fmt.Errorf("migration %s: duplicate version %d", base, v)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// migrate applies the embedded migrations not yet recorded in schema_migrations, each in
// its own transaction. Two processes starting together are serialised by BEGIN
// IMMEDIATE; the second finds the migration recorded and skips it.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := db.applyMigration(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, m migration) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, fmtTime(db.now())); err != nil {
		return err
	}
	return tx.Commit()
}

// writeTx is a write transaction that holds this process's place as the writer until it
// commits or rolls back.
type writeTx struct {
	*sql.Tx
	release func()
}

// beginWrite starts a write transaction. The writers of this process wait in line in
// order of arrival (goroutines blocked sending on a channel are served first come, first
// served); waiting for the one write connection instead would hand it to a random
// waiter, and under load some would wait far longer than the rest.
func (db *DB) beginWrite(ctx context.Context) (*writeTx, error) {
	if db.wdb == nil {
		return nil, fmt.Errorf("begin: %w", errReadOnly)
	}
	select {
	case db.wqueue <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("begin: %w", ctx.Err())
	}
	var once sync.Once
	release := func() { once.Do(func() { <-db.wqueue }) }
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &writeTx{Tx: tx, release: release}, nil
}

// Commit commits the transaction and lets the next writer in.
func (t *writeTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

// Rollback rolls the transaction back, if it is still open, and lets the next writer in.
func (t *writeTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}

// MigrationStatus reports the schema version of the file (0 for an empty database) and
// the newest version this binary knows. current > latest means a newer mfabot has
// migrated the file. A file that is not SQLite, or not mfabot's, is an error.
func (db *DB) MigrationStatus(ctx context.Context) (current, latest int, err error) {
	if latest, err = LatestSchema(); err != nil {
		return 0, 0, err
	}
	var tables, recorded int
	if err := db.rdb.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(name = 'schema_migrations'), 0)
		FROM sqlite_master WHERE type = 'table'`).Scan(&tables, &recorded); err != nil {
		return 0, 0, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	switch {
	case tables == 0:
		return 0, latest, nil
	case recorded == 0:
		return 0, 0, errors.New("a SQLite database, but not mfabot's (no schema_migrations table)")
	}
	if err := db.rdb.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, latest, nil
}

// LatestSchema is the newest schema version this binary knows: the one Open migrates to.
func LatestSchema() (int, error) {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

func (db *DB) now() time.Time { return db.clock.Now().UTC() }

// timeLayout is RFC 3339 with a fixed nine fractional digits, so stored times sort as
// text (time.RFC3339Nano drops trailing zeros, which would put ".5Z" before "Z").
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// fmtTime formats t for storage; the zero time is "".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads a time written by fmtTime.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// isConstraint reports whether err is a SQLite constraint violation of the given kind
// (sqlite3.ErrConstraintUnique, …).
func isConstraint(err error, code sqlite3.ErrNoExtended) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == code
}

// Path is the database file's path, for diagnostics.
func (db *DB) Path() string { return db.path }
