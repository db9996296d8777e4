package storage

import (
	"context"
	"fmt"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// The cards' references are the chat side's, not the core's: storage keeps them for bot.
var _ bot.RefStore = (*DB)(nil)

// AddMessageRef remembers a card posted for a request. Adding the same card (platform,
// channel, message id) again replaces its Data.
func (db *DB) AddMessageRef(ctx context.Context, requestID string, ref bot.MessageRef) error {
	requestID = canonicalID(requestID)
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	_, err = tx.ExecContext(ctx, `INSERT INTO message_refs (request_id, platform, channel, message_id, data)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (request_id, platform, channel, message_id) DO UPDATE SET data = excluded.data`,
		requestID, ref.Platform, ref.Channel, ref.MessageID, ref.Data)
	if isForeignKeyViolation(err) {
		return approvals.Errorf(approvals.ENOTFOUND, "no request %s", requestID)
	} else if err != nil {
		return fmt.Errorf("insert message ref: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit message ref: %w", err)
	}
	return nil
}

// MessageRefs lists the cards posted for a request, in the order they were added.
func (db *DB) MessageRefs(ctx context.Context, requestID string) ([]bot.MessageRef, error) {
	rows, err := db.rdb.QueryContext(ctx, `SELECT platform, channel, message_id, data FROM message_refs
		WHERE request_id = ? ORDER BY rowid`, canonicalID(requestID))
	if err != nil {
		return nil, fmt.Errorf("list message refs: %w", err)
	}
	defer rows.Close()
	var refs []bot.MessageRef
	for rows.Next() {
		var m bot.MessageRef
		if err := rows.Scan(&m.Platform, &m.Channel, &m.MessageID, &m.Data); err != nil {
			return nil, fmt.Errorf("list message refs: %w", err)
		}
		refs = append(refs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list message refs: %w", err)
	}
	return refs, nil
}
