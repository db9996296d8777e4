// Package storage keeps mfabot's state: requests and their approvals, execution items,
// the cards posted for them, the hash-chained audit log, conversation references, daily
// enrollment snapshots and once-only job runs. DB implements approvals.Store.
//
// Two engines behave the same. SQLite (github.com/mattn/go-sqlite3), the default, is one
// file: WAL mode with foreign keys on; every write transaction is BEGIN IMMEDIATE, so
// writers, also those of another process on the same file, queue for the lock (up to
// the busy timeout) instead of failing halfway. PostgreSQL (github.com/jackc/pgx/v5),
// selected by a postgres:// or postgresql:// URL, is for several replicas: requests being
// decided or expanded are locked row by row, claims and sweeps skip the rows another
// replica holds (FOR UPDATE SKIP LOCKED), and audit appends take a transaction-level
// advisory lock, so the chain stays one line. The statements are shared; what differs is
// in the engine struct.
//
// The schema lives in embedded migrations/<engine>/*.sql, the same versions for both,
// applied in order at Open, each in its own transaction and recorded in
// schema_migrations. Every state change is one conditional UPDATE whose audit entry is
// written in the same transaction. Times are stored as UTC RFC 3339 text with nine
// fractional digits, so they sort as text, on both engines.
//
// OpenReadOnly reads a database as it is, without migrating it, and Check (mfabot
// doctor's database and audit checks) uses it, so that a check before an upgrade changes
// nothing. Redact and URLPassword keep a PostgreSQL URL's password out of what is shown.
//
// storage imports approvals and the standard library, never the chat or Graph adapters.
package storage
