package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mfabot/mfabot/approvals"
)

// PutConversation stores the reference to a conversation (a Teams conversation
// reference, say), replacing any earlier one with the same platform and id. data is
// opaque to the store.
func (db *DB) PutConversation(ctx context.Context, platform, id string, data []byte) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if data == nil {
		data = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (platform, id, data, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (platform, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		platform, id, data, fmtTime(db.now())); err != nil {
		return fmt.Errorf("store conversation: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit conversation: %w", err)
	}
	return nil
}

// Conversation returns the stored reference of a conversation (ENOTFOUND).
func (db *DB) Conversation(ctx context.Context, platform, id string) ([]byte, error) {
	var data []byte
	err := db.rdb.QueryRowContext(ctx, `SELECT data FROM conversations WHERE platform = ? AND id = ?`, platform, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, approvals.Errorf(approvals.ENOTFOUND, "no %s conversation %s", platform, id)
	} else if err != nil {
		return nil, fmt.Errorf("load conversation: %w", err)
	}
	return data, nil
}

// Conversations returns every stored conversation reference of a platform, ordered by id.
func (db *DB) Conversations(ctx context.Context, platform string) ([][]byte, error) {
	rows, err := db.rdb.QueryContext(ctx, `SELECT data FROM conversations WHERE platform = ? ORDER BY id`, platform)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		out = append(out, data)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out, nil
}
