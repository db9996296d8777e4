package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// HandOver passes the lease of a running request from owner to another executor, to
// until, in one conditional update: ECONFLICT when the request is no longer running or
// owner no longer holds it, as for RenewLease. The request's state does not change, so
// nothing is audited; the executor that takes it over writes the audit of what it does.
func (db *DB) HandOver(ctx context.Context, id, owner, to string, until time.Time) error {
	id = canonicalID(id)
	if to == "" {
		return approvals.Errorf(approvals.EINVALID, "a request is handed over to a named executor")
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE requests SET lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease_owner = ?`, to, fmtTime(until), fmtTime(db.now()), id, owner)
	if err != nil {
		return fmt.Errorf("hand over lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("hand over lease: %w", err)
	}
	if n == 0 {
		r, err := findRequest(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != approvals.StateRunning {
			return approvals.Conflict(r)
		}
		return approvals.Errorf(approvals.ECONFLICT, "request %s is not held by %s", r.ID, owner)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit hand-over: %w", err)
	}
	return nil
}
