package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// DefaultBusyTimeout is how long a writer waits for another process's write transaction
// before giving up with "database is locked".
const DefaultBusyTimeout = 5 * time.Second

// DB is mfabot's database: a SQLite file, or a PostgreSQL database that several mfabot
// processes share. It is safe for concurrent use, also by several processes on the same
// database, and behaves the same on both engines.
//
// On SQLite it keeps two pools on the file: one connection for writes, so that the
// writers of this process queue in Go instead of spinning in SQLite's busy handler, and a
// pool of read-only connections that, thanks to WAL, read a consistent snapshot while a
// write is in progress. Writers of other processes are serialised by SQLite itself:
// every write transaction starts with BEGIN IMMEDIATE and waits up to the busy timeout.
//
// On PostgreSQL writers run side by side and rows are what they contend for: a request
// being decided is locked (SELECT … FOR UPDATE), claims skip requests another process
// holds (FOR UPDATE SKIP LOCKED), and audit appends take a transaction-level advisory
// lock, so the hash chain stays one line whichever process appends.
type DB struct {
	dsn         string // the SQLite path or the PostgreSQL URL, as given to Open
	eng         *engine
	clock       approvals.Clock
	busyTimeout time.Duration
	newID       func() (string, error)

	wdb    *sqlDB        // writes; nil when opened read-only
	rdb    *sqlDB        // reads
	wqueue chan struct{} // holds a token while a write transaction is open

	// PostgreSQL: the schema mfabot's tables live in and the advisory lock keys derived
	// from it, so that deployments sharing a database in different schemas do not wait
	// for each other.
	schema      string
	auditLock   int64
	migrateLock int64
}

// engine is what differs between SQLite and PostgreSQL in the SQL the store sends. The
// statements themselves are shared: written with ? placeholders, rewritten to $1, $2, …
// for PostgreSQL.
type engine struct {
	name       string // "sqlite", "postgres": the directory of its migrations
	dollarArgs bool   // placeholders are $1, $2, …
	// forUpdate is appended to a SELECT whose rows the transaction goes on to change,
	// and skipLocked to one that picks any free row (a claim): PostgreSQL locks the rows;
	// on SQLite the write transaction already holds the whole file.
	forUpdate  string
	skipLocked string
	// readTx are the options of a read transaction: one consistent snapshot for every
	// statement in it (SQLite's WAL readers have it anyway).
	readTx *sql.TxOptions
}

var (
	sqliteEngine   = &engine{name: "sqlite"}
	postgresEngine = &engine{name: "postgres", dollarArgs: true, forUpdate: " FOR UPDATE", skipLocked: " FOR UPDATE SKIP LOCKED",
		readTx: &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}}
)

// Engines, as Engine reports them.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// rebind rewrites the ? placeholders of q for the engine. The store's statements never
// hold a ? inside a string literal.
func (e *engine) rebind(q string) string {
	if !e.dollarArgs || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Option configures Open.
type Option func(*DB)

// WithClock sets the clock for the times the store stamps itself (updated_at columns,
// audit events without a time, migrations). The default is approvals.SystemClock.
func WithClock(c approvals.Clock) Option { return func(db *DB) { db.clock = c } }

// Open opens mfabot's database and brings its schema up to date. dsn is a PostgreSQL URL
// (postgres://… or postgresql://…, see IsPostgres) or else the path of a SQLite file,
// created if needed; it must name a file (not ":memory:"): the read and write pools share
// it.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	db := newDB(dsn, opts)
	var err error
	if IsPostgres(dsn) {
		err = db.openPostgres(ctx, false)
	} else {
		err = db.openSQLite(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens mfabot's database for reading, as it is: it neither creates a SQLite
// file nor applies migrations nor changes its journal mode, so that a check run before
// an upgrade (mfabot doctor) leaves the database as the running version expects it.
// Every write fails. MigrationStatus tells whether the schema is one this binary reads.
func OpenReadOnly(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	db := newDB(dsn, opts)
	if IsPostgres(dsn) {
		if err := db.openPostgres(ctx, true); err != nil {
			return nil, err
		}
		return db, nil
	}
	if err := db.openSQLiteReadOnly(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

func newDB(dsn string, opts []Option) *DB {
	db := &DB{dsn: dsn, clock: approvals.SystemClock{}, busyTimeout: DefaultBusyTimeout, newID: newRequestID}
	for _, o := range opts {
		o(db)
	}
	return db
}

// errReadOnly is the error of a write to a database opened with OpenReadOnly.
var errReadOnly = errors.New("the database is open read-only")

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.rdb != nil && db.rdb != db.wdb {
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

// Engine is the database engine: EngineSQLite or EnginePostgres.
func (db *DB) Engine() string { return db.eng.name }

// Path names the database for messages and logs: the SQLite file's path, or the
// PostgreSQL URL without its password (Redact).
func (db *DB) Path() string { return Redact(db.dsn) }

// sqlDB is a database/sql pool that speaks its engine's placeholders.
type sqlDB struct {
	*sql.DB
	eng *engine
}

func (p *sqlDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.DB.ExecContext(ctx, p.eng.rebind(q), args...)
}

func (p *sqlDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.DB.QueryContext(ctx, p.eng.rebind(q), args...)
}

func (p *sqlDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.DB.QueryRowContext(ctx, p.eng.rebind(q), args...)
}

// BeginTx starts a transaction on the pool.
func (p *sqlDB) BeginTx(ctx context.Context, o *sql.TxOptions) (*sqlTx, error) {
	tx, err := p.DB.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return &sqlTx{Tx: tx, eng: p.eng}, nil
}

// sqlTx is a transaction that speaks its engine's placeholders.
type sqlTx struct {
	*sql.Tx
	eng *engine
}

func (t *sqlTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.eng.rebind(q), args...)
}

func (t *sqlTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.eng.rebind(q), args...)
}

func (t *sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.eng.rebind(q), args...)
}

func (t *sqlTx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, t.eng.rebind(q))
}

// savepoint runs f inside a savepoint of the transaction and rolls back to it when f
// fails, so that the transaction can go on: PostgreSQL refuses every statement after a
// failed one until then (a colliding request id, say, is retried in the same
// transaction).
func (t *sqlTx) savepoint(ctx context.Context, f func() error) error {
	if _, err := t.ExecContext(ctx, `SAVEPOINT attempt`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := f(); err != nil {
		if _, rerr := t.ExecContext(ctx, `ROLLBACK TO SAVEPOINT attempt`); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		return err
	}
	if _, err := t.ExecContext(ctx, `RELEASE SAVEPOINT attempt`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// readTx starts a read transaction: every statement in it sees the same snapshot.
func (db *DB) readTx(ctx context.Context) (*sqlTx, error) {
	tx, err := db.rdb.BeginTx(ctx, db.eng.readTx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return tx, nil
}

// migration is one embedded migrations/<engine>/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations of an engine, in order.
func migrations(engine string) ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/"+engine+"/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for _, n := range names {
		base := n[strings.LastIndexByte(n, '/')+1:]
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive number", engine, base)
		}
		if len(ms) > 0 && ms[len(ms)-1].version >= v {
			return nil, fmt.Errorf("migration %s/%s: duplicate version %d", engine, base, v)
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
// its own transaction. Two processes starting together are serialised (BEGIN IMMEDIATE
// on SQLite, an advisory lock on PostgreSQL); the second finds the migration recorded and
// skips it.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations(db.eng.name)
	if err != nil {
		return err
	}
	// Already current, as at most starts: no DDL at all, so that a PostgreSQL user that
	// may only read and write mfabot's tables (not create any) can serve.
	var current int
	if err := db.wdb.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err == nil &&
		len(ms) > 0 && current >= ms[len(ms)-1].version {
		return nil
	}
	if err := db.inMigrationTx(ctx, func(tx *writeTx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL
		)`)
		return err
	}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := db.inMigrationTx(ctx, func(tx *writeTx) error { return db.applyMigration(ctx, tx, m) }); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// inMigrationTx runs f in a write transaction that no other process migrating the same
// database runs at the same time.
func (db *DB) inMigrationTx(ctx context.Context, f func(tx *writeTx) error) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if db.eng == postgresEngine {
		// CREATE TABLE IF NOT EXISTS is not safe against a concurrent one on PostgreSQL.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, db.migrateLock); err != nil {
			return fmt.Errorf("lock for migration: %w", err)
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) applyMigration(ctx context.Context, tx *writeTx, m migration) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	// Without arguments the statement goes as it is, several of them in one call (the
	// PostgreSQL driver uses its simple protocol then).
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, fmtTime(db.now()))
	return err
}

// writeTx is a write transaction that holds this process's place as the writer (on
// SQLite) until it commits or rolls back.
type writeTx struct {
	*sqlTx
	release func()
}

// beginWrite starts a write transaction. On SQLite the writers of this process wait in
// line in order of arrival (goroutines blocked sending on a channel are served first
// come, first served); waiting for the one write connection instead would hand it to a
// random waiter, and under load some would wait far longer than the rest. On PostgreSQL
// as many as there are connections for writes start at once, and wait only for the rows
// (and the audit lock) they need.
func (db *DB) beginWrite(ctx context.Context) (*writeTx, error) {
	if db.wdb == nil {
		return nil, fmt.Errorf("begin: %w", errReadOnly)
	}
	release := func() {}
	if db.wqueue != nil {
		select {
		case db.wqueue <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("begin: %w", ctx.Err())
		}
		var once sync.Once
		release = func() { once.Do(func() { <-db.wqueue }) }
	}
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &writeTx{sqlTx: tx, release: release}, nil
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

// lockRequest locks request id's row for the rest of the transaction, so that the
// decisions or items read next stay as read until it commits. On SQLite the write
// transaction holds the whole file already.
func (db *DB) lockRequest(ctx context.Context, tx *writeTx, id string) error {
	if db.eng.forUpdate == "" {
		return nil
	}
	var locked string
	err := tx.QueryRowContext(ctx, `SELECT id FROM requests WHERE id = ?`+db.eng.forUpdate, id).Scan(&locked)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // a missing request is the caller's to report
		return fmt.Errorf("lock request: %w", err)
	}
	return nil
}

// MigrationStatus reports the schema version of the database (0 for an empty one) and
// the newest version this binary knows. current > latest means a newer mfabot has
// migrated it. A database that is not SQLite, or not mfabot's, is an error.
func (db *DB) MigrationStatus(ctx context.Context) (current, latest int, err error) {
	if latest, err = LatestSchema(); err != nil {
		return 0, 0, err
	}
	tables, recorded, err := db.countTables(ctx)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case tables == 0:
		return 0, latest, nil
	case recorded == 0:
		return 0, 0, fmt.Errorf("a %s database, but not mfabot's (no schema_migrations table)", db.engineTitle())
	}
	if err := db.rdb.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, latest, nil
}

// countTables counts the tables of the database (of mfabot's schema on PostgreSQL) and
// whether schema_migrations is among them.
func (db *DB) countTables(ctx context.Context) (tables, recorded int, err error) {
	q := `SELECT count(*), count(CASE WHEN name = 'schema_migrations' THEN 1 END) FROM sqlite_master WHERE type = 'table'`
	if db.eng == postgresEngine {
		q = `SELECT count(*), count(CASE WHEN c.relname = 'schema_migrations' THEN 1 END)
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = ? AND c.relkind IN ('r', 'p')`
		err = db.rdb.QueryRowContext(ctx, q, db.schema).Scan(&tables, &recorded)
	} else {
		err = db.rdb.QueryRowContext(ctx, q).Scan(&tables, &recorded)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("not a readable %s database: %w", db.engineTitle(), err)
	}
	return tables, recorded, nil
}

func (db *DB) engineTitle() string {
	if db.eng == postgresEngine {
		return "PostgreSQL"
	}
	return "SQLite"
}

// LatestSchema is the newest schema version this binary knows: the one Open migrates to.
// Both engines have every version (a test holds them to it).
func LatestSchema() (int, error) {
	ms, err := migrations(sqliteEngine.name)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

func (db *DB) now() time.Time { return db.clock.Now().UTC() }

// timeLayout is RFC 3339 with a fixed nine fractional digits, so stored times sort as
// text (time.RFC3339Nano drops trailing zeros, which would put ".5Z" before "Z"). Both
// engines store this text, compared byte by byte: the audit hash covers it, so the
// chain reads the same whichever engine holds it.
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
