package storage

import (
	"context"
	"fmt"

	"github.com/mfabot/mfabot/approvals"
)

// StartItems records that pending items are begun (attempts + 1), in one transaction,
// before a call that must not be repeated: a message sent. An item that is no longer
// pending is ECONFLICT and nothing of the batch is recorded.
func (db *DB) StartItems(ctx context.Context, items []approvals.Item) error {
	if len(items) == 0 {
		return nil
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE items SET attempts = attempts + 1, updated_at = ?
		WHERE request_id = ? AND seq = ? AND state = 'pending'`)
	if err != nil {
		return fmt.Errorf("prepare item start: %w", err)
	}
	defer stmt.Close()
	now := fmtTime(db.now())
	for _, it := range items {
		id := canonicalID(it.RequestID)
		res, err := stmt.ExecContext(ctx, now, id, it.Seq)
		if err != nil {
			return fmt.Errorf("start item: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("start item: %w", err)
		} else if n == 0 {
			return itemConflict(ctx, tx, id, it.Seq)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit item start: %w", err)
	}
	return nil
}
