package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresMaxConns is how many connections one mfabot process opens to PostgreSQL at
// most: a replica's executor, sweeper, summary and chat requests share them.
const PostgresMaxConns = 10

// postgresMinVersion is the oldest server mfabot's PostgreSQL schema runs on:
// nondeterministic collations (case-insensitive request ids) came with PostgreSQL 12.
const postgresMinVersion = 120000

// IsPostgres reports whether dsn selects PostgreSQL: a URL with the scheme postgres or
// postgresql. Anything else is the path of a SQLite file.
func IsPostgres(dsn string) bool {
	s := strings.ToLower(dsn)
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns dsn fit for a log line or a message: a PostgreSQL URL with its password
// (in the user information or a password parameter) replaced by "xxxxx", a SQLite path
// as it is.
func Redact(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Which part is the password cannot be told: show none of it.
		return strings.SplitN(dsn, "://", 2)[0] + "://(a URL that does not parse)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// URLPassword returns the password a PostgreSQL URL carries, in its user information or
// a password parameter; "" when it has none, and for a SQLite path. The configuration
// treats it as a secret: never written in the YAML file, never logged.
func URLPassword(dsn string) string {
	if !IsPostgres(dsn) {
		return ""
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return p
	}
	return u.Query().Get("password")
}

// ValidateURL reports whether a PostgreSQL URL parses (host, port, parameters), without
// connecting. Its message never shows the password.
func ValidateURL(dsn string) error {
	_, err := parseURL(dsn)
	return err
}

// parseURL parses a PostgreSQL URL into pgx's configuration. Its error says what is
// wrong without the URL: pgx blanks the password it finds, but one in a URL that does
// not parse may not be found, and the cause (a url.Error) repeats the URL as it is.
func parseURL(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err == nil {
		return cfg, nil
	}
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return nil, errors.New("not a valid PostgreSQL URL")
	}
	msg := pe.Error()
	if _, after, ok := strings.Cut(msg, "`: "); ok {
		msg = after
	}
	if inner := pe.Unwrap(); inner != nil {
		msg = strings.TrimSuffix(msg, " ("+inner.Error()+")")
		if !strings.Contains(inner.Error(), "://") && !strings.Contains(inner.Error(), "@") {
			msg += " (" + inner.Error() + ")"
		}
	}
	return nil, errors.New("not a valid PostgreSQL URL: " + msg)
}

// openPostgres connects to the PostgreSQL database at the URL db.dsn. readOnly makes
// every transaction read-only (default_transaction_read_only), for doctor and the
// read-only checks.
//
// The URL's parameters are libpq's (sslmode, sslrootcert, connect_timeout, …); any other
// parameter is a run-time setting of the session: search_path=mfabot puts mfabot's
// tables in the schema mfabot, so that several deployments can share one database.
func (db *DB) openPostgres(ctx context.Context, readOnly bool) error {
	db.eng = postgresEngine
	cfg, err := parseURL(db.dsn)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "mfabot"
	}
	if readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(PostgresMaxConns)
	pool.SetMaxIdleConns(PostgresMaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	p := &sqlDB{DB: pool, eng: postgresEngine}
	if err := db.postgresSession(ctx, p); err != nil {
		pool.Close()
		return fmt.Errorf("open database %s: %w", Redact(db.dsn), err)
	}
	db.rdb = p
	if !readOnly {
		db.wdb = p
		// Writers take turns for their connections in order of arrival, as on SQLite:
		// database/sql hands a freed connection to a random waiter, which under load
		// leaves a few waiting far longer than the rest. Two connections stay for reads.
		db.wqueue = make(chan struct{}, PostgresMaxConns-2)
	}
	return nil
}

// postgresSession checks the server and learns the schema mfabot's tables live in.
func (db *DB) postgresSession(ctx context.Context, p *sqlDB) error {
	var version string
	var schema sql.NullString
	if err := p.QueryRowContext(ctx, `SELECT current_setting('server_version_num'), current_schema()`).Scan(&version, &schema); err != nil {
		return err
	}
	if v, _ := strconv.Atoi(version); v < postgresMinVersion {
		return fmt.Errorf("PostgreSQL %s is too old: mfabot needs PostgreSQL 12 or later", version)
	}
	if !schema.Valid || schema.String == "" {
		return errors.New("no schema to keep mfabot's tables in: the search_path of the URL's user names none that exists")
	}
	db.schema = schema.String
	db.auditLock = lockKey("mfabot audit", db.schema)
	db.migrateLock = lockKey("mfabot migrate", db.schema)
	return nil
}

// lockKey is the advisory lock key of a purpose in a schema: 64 bits of FNV-1a, so that
// mfabot's locks are unlikely to meet another application's in the same database.
func lockKey(purpose, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// Schema is the PostgreSQL schema mfabot's tables live in ("" on SQLite).
func (db *DB) Schema() string { return db.schema }
