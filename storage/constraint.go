package storage

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// The constraint violations the store turns into application errors, as either engine
// reports them: SQLite by extended result code, PostgreSQL by SQLSTATE.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
)

// violation reports which constraint err violates: the SQLite extended codes it may
// carry, the PostgreSQL SQLSTATE it may carry, and the PostgreSQL constraint name.
func violation(err error) (sqliteCode sqlite3.ErrNoExtended, pgCode, pgConstraint string) {
	if err == nil {
		return 0, "", ""
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode, "", ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return 0, pe.Code, pe.ConstraintName
	}
	return 0, "", ""
}

// isUniqueViolation reports a duplicate primary key or unique key.
func isUniqueViolation(err error) bool {
	sc, pc, _ := violation(err)
	return sc == sqlite3.ErrConstraintPrimaryKey || sc == sqlite3.ErrConstraintUnique || pc == pgUniqueViolation
}

// isForeignKeyViolation reports a reference to a row that does not exist.
func isForeignKeyViolation(err error) bool {
	sc, pc, _ := violation(err)
	return sc == sqlite3.ErrConstraintForeignKey || pc == pgForeignKeyViolation
}

// isCheckViolation reports a value a CHECK constraint refuses.
func isCheckViolation(err error) bool {
	sc, pc, _ := violation(err)
	return sc == sqlite3.ErrConstraintCheck || pc == pgCheckViolation
}

// isOpenTargetConflict reports whether err is the requests_open_target index refusing a
// second open request for the same kind and target. SQLite names the columns in its
// message ("UNIQUE constraint failed: requests.kind, requests.target_id"), PostgreSQL
// the index.
func isOpenTargetConflict(err error) bool {
	sc, pc, name := violation(err)
	switch {
	case sc == sqlite3.ErrConstraintUnique:
		return strings.Contains(err.Error(), "target_id")
	case pc == pgUniqueViolation:
		return name == "requests_open_target"
	}
	return false
}
