package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// dayLayout is the form of a snapshot's day.
const dayLayout = "2006-01-02"

func checkDay(day string) error {
	if _, err := time.Parse(dayLayout, day); err != nil {
		return approvals.Errorf(approvals.EINVALID, "%q is not a day like 2026-11-22", day)
	}
	return nil
}

// PutSnapshot stores the enrollment snapshot of a day ("2026-11-22"), replacing any
// earlier one of the same day. data is opaque to the store.
func (db *DB) PutSnapshot(ctx context.Context, day string, data []byte) error {
	if err := checkDay(day); err != nil {
		return err
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if data == nil {
		data = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO snapshots (day, data, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		day, data, fmtTime(db.now())); err != nil {
		return fmt.Errorf("store snapshot: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit snapshot: %w", err)
	}
	return nil
}

// Snapshots returns the snapshots of the days from fromDay to toDay, both included, by
// day. Days without a snapshot are absent from the map.
func (db *DB) Snapshots(ctx context.Context, fromDay, toDay string) (map[string][]byte, error) {
	if err := checkDay(fromDay); err != nil {
		return nil, err
	}
	if err := checkDay(toDay); err != nil {
		return nil, err
	}
	rows, err := db.rdb.QueryContext(ctx, `SELECT day, data FROM snapshots WHERE day >= ? AND day <= ? ORDER BY day`, fromDay, toDay)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var day string
		var data []byte
		if err := rows.Scan(&day, &data); err != nil {
			return nil, fmt.Errorf("list snapshots: %w", err)
		}
		out[day] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return out, nil
}
