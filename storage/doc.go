// Package storage keeps mfabot's state in one SQLite file (github.com/mattn/go-sqlite3):
// requests and their approvals, execution items, the cards posted for them, the
// hash-chained audit log, conversation references, daily enrollment snapshots and
// once-only job runs. DB implements approvals.Store.
//
// The schema lives in embedded migrations/*.sql, applied in order at Open, each in its
// own transaction and recorded in schema_migrations. The file runs in WAL mode with
// foreign keys on; every write transaction is BEGIN IMMEDIATE, so writers, also those of
// another process on the same file, queue for the lock (up to the busy timeout) instead
// of failing halfway. Every state change is one conditional UPDATE whose audit entry is
// written in the same transaction. Times are stored as UTC RFC 3339 text with nine
// fractional digits, so they sort as text.
//
// OpenReadOnly reads a file as it is, without migrating it, and Check (mfabot doctor's
// database and audit checks) uses it, so that a check before an upgrade changes nothing.
//
// storage imports approvals and the standard library, never the chat or Graph adapters.
package storage
