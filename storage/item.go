package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mfabot/mfabot/approvals"
)

// AddItems stores the execution items of a request, unless it already has items: a
// resumed request keeps the ones it had, with their outcomes. Items without a Seq are
// numbered from 1 in the order given; items without a State are pending.
func (db *DB) AddItems(ctx context.Context, requestID string, items []approvals.Item) error {
	requestID = canonicalID(requestID)
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// Two executors expanding the same request (one taking over a lapsed lease) take
	// turns: the second finds the first one's items.
	if err := db.lockRequest(ctx, tx, requestID); err != nil {
		return err
	}
	r, err := findRequest(ctx, tx, requestID)
	if err != nil {
		return err
	}
	if r.Total > 0 {
		return nil
	}
	if err := db.insertItems(ctx, tx, r.ID, items); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit items: %w", err)
	}
	return nil
}

func (db *DB) insertItems(ctx context.Context, tx *writeTx, requestID string, items []approvals.Item) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO items (
		request_id, seq, op, user_id, user_name, arg, state, attempts, error, updated_at
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare item insert: %w", err)
	}
	defer stmt.Close()
	now := fmtTime(db.now())
	for i, it := range items {
		seq := it.Seq
		if seq == 0 {
			seq = i + 1
		}
		state := it.State
		if state == "" {
			state = approvals.ItemPending
		}
		_, err := stmt.ExecContext(ctx, requestID, seq, string(it.Op), it.UserID, it.UserName, it.Arg,
			string(state), it.Attempts, it.Error, now)
		switch {
		case isUniqueViolation(err):
			return approvals.Errorf(approvals.EINVALID, "item %d of request %s appears twice", seq, requestID)
		case isCheckViolation(err):
			return approvals.Errorf(approvals.EINVALID, "item %d of request %s has an invalid state %q", seq, requestID, state)
		case err != nil:
			return fmt.Errorf("insert item: %w", err)
		}
	}
	return nil
}

// Items lists a request's items in state (all states when state is ""), in Seq order,
// with Seq > afterSeq, at most limit of them (all when limit <= 0).
func (db *DB) Items(ctx context.Context, requestID string, state approvals.ItemState, afterSeq, limit int) ([]approvals.Item, error) {
	requestID = canonicalID(requestID)
	q := `SELECT request_id, seq, op, user_id, user_name, arg, state, attempts, error, result FROM items
		WHERE request_id = ? AND seq > ?`
	args := []any{requestID, afterSeq}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, string(state))
	}
	q += ` ORDER BY seq`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}

	rows, err := db.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	defer rows.Close()
	var items []approvals.Item
	for rows.Next() {
		var it approvals.Item
		var op, st string
		if err := rows.Scan(&it.RequestID, &it.Seq, &op, &it.UserID, &it.UserName, &it.Arg, &st, &it.Attempts, &it.Error, &it.Result); err != nil {
			return nil, fmt.Errorf("list items: %w", err)
		}
		it.Op, it.State = approvals.ItemOp(op), approvals.ItemState(st)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return items, nil
}

// FinishItems records the outcome (State done or failed, Attempts, Error) of pending
// items, with events[i] as the audit event of items[i], in one transaction. An item that
// is no longer pending is ECONFLICT and nothing of the batch is recorded: a finished
// item is never redone or rewritten.
func (db *DB) FinishItems(ctx context.Context, items []approvals.Item, events []approvals.AuditEvent) error {
	if len(events) != len(items) {
		return approvals.Errorf(approvals.EINVALID, "%d items need %d audit events, not %d", len(items), len(items), len(events))
	}
	for _, it := range items {
		if it.State != approvals.ItemDone && it.State != approvals.ItemFailed {
			return approvals.Errorf(approvals.EINVALID, "item %d of request %s cannot finish as %q", it.Seq, it.RequestID, it.State)
		}
	}
	if len(items) == 0 {
		return nil
	}

	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := db.finishItems(ctx, tx, items); err != nil {
		return err
	}
	evs := make([]*approvals.AuditEvent, len(events))
	for i := range events {
		evs[i] = &events[i]
		if evs[i].RequestID == "" {
			evs[i].RequestID = canonicalID(items[i].RequestID)
		}
	}
	if err := db.appendAudit(ctx, tx, evs...); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit items: %w", err)
	}
	return nil
}

// itemChunk is how many items one statement checks or updates: a few round trips for a
// batch of thousands (which counts on a server across the network), well within both
// engines' limits on bound parameters.
const itemChunk = 200

// finishItems records the outcomes of items. On SQLite, in the process, a prepared
// statement per item costs least. On PostgreSQL every statement is a round trip to the
// server, so a chunk of one request's items at a time: one statement reads and locks
// their states, so that the first item in the batch that is not pending is the one the
// conflict names, and one updates them all.
func (db *DB) finishItems(ctx context.Context, tx *writeTx, items []approvals.Item) error {
	if db.eng == sqliteEngine {
		return db.finishItemsOneByOne(ctx, tx, items)
	}
	var order []string
	byRequest := map[string][]approvals.Item{}
	for _, it := range items {
		id := canonicalID(it.RequestID)
		if _, ok := byRequest[id]; !ok {
			order = append(order, id)
		}
		byRequest[id] = append(byRequest[id], it)
	}
	now := fmtTime(db.now())
	for _, id := range order {
		its := byRequest[id]
		seen := map[int]approvals.ItemState{}
		for len(its) > 0 {
			chunk := its[:min(itemChunk, len(its))]
			its = its[len(chunk):]
			if err := db.checkPending(ctx, tx, id, chunk, seen); err != nil {
				return err
			}
			if err := db.updateItems(ctx, tx, id, chunk, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPending reports the first item of chunk that is not pending: missing
// (ENOTFOUND), finished before (ECONFLICT), or finished earlier in this batch, whose
// states seen holds.
func (db *DB) checkPending(ctx context.Context, tx *writeTx, id string, chunk []approvals.Item, seen map[int]approvals.ItemState) error {
	args := make([]any, 0, 1+len(chunk))
	args = append(args, id)
	for _, it := range chunk {
		args = append(args, it.Seq)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, state FROM items WHERE request_id = ? AND seq IN (?`+
		strings.Repeat(", ?", len(chunk)-1)+`)`+db.eng.forUpdate, args...)
	if err != nil {
		return fmt.Errorf("read items: %w", err)
	}
	states := map[int]string{}
	for rows.Next() {
		var seq int
		var st string
		if err := rows.Scan(&seq, &st); err != nil {
			rows.Close()
			return fmt.Errorf("read items: %w", err)
		}
		states[seq] = st
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read items: %w", err)
	}
	for _, it := range chunk {
		st, ok := states[it.Seq]
		if prev, dup := seen[it.Seq]; dup {
			st = string(prev)
		}
		switch {
		case !ok:
			return approvals.Errorf(approvals.ENOTFOUND, "request %s has no item %d", id, it.Seq)
		case st != string(approvals.ItemPending):
			return approvals.Errorf(approvals.ECONFLICT, "item %d of request %s is already %s", it.Seq, id, st)
		}
		seen[it.Seq] = it.State
	}
	return nil
}

// updateItems records the outcomes of chunk, items of request id checked pending, in one
// statement.
func (db *DB) updateItems(ctx context.Context, tx *writeTx, id string, chunk []approvals.Item, now string) error {
	args := make([]any, 0, 5*len(chunk)+2)
	for _, it := range chunk {
		args = append(args, it.Seq, string(it.State), it.Attempts, it.Error, it.Result)
	}
	args = append(args, now, id)
	row := `(CAST(? AS INTEGER), ?, CAST(? AS INTEGER), ?, ?)`
	res, err := tx.ExecContext(ctx, `WITH v (seq, state, attempts, error, result) AS (VALUES `+row+strings.Repeat(", "+row, len(chunk)-1)+`)
		UPDATE items SET state = v.state, attempts = v.attempts, error = v.error, result = v.result, updated_at = ?
		FROM v WHERE items.request_id = ? AND items.seq = v.seq AND items.state = 'pending'`, args...)
	if err != nil {
		return fmt.Errorf("finish items: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("finish items: %w", err)
	}
	if n != int64(len(chunk)) {
		// checkPending saw them pending, and the transaction holds them.
		return fmt.Errorf("finish items: %d of %d items of request %s changed", n, len(chunk), id)
	}
	return nil
}

func (db *DB) finishItemsOneByOne(ctx context.Context, tx *writeTx, items []approvals.Item) error {
	stmt, err := tx.PrepareContext(ctx, `UPDATE items SET state = ?, attempts = ?, error = ?, result = ?, updated_at = ?
		WHERE request_id = ? AND seq = ? AND state = 'pending'`)
	if err != nil {
		return fmt.Errorf("prepare item update: %w", err)
	}
	defer stmt.Close()
	now := fmtTime(db.now())
	for _, it := range items {
		id := canonicalID(it.RequestID)
		res, err := stmt.ExecContext(ctx, string(it.State), it.Attempts, it.Error, it.Result, now, id, it.Seq)
		if err != nil {
			return fmt.Errorf("finish item: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("finish item: %w", err)
		}
		if n == 0 {
			return itemConflict(ctx, tx, id, it.Seq)
		}
	}
	return nil
}

// itemConflict explains why item seq of request id could not be finished.
func itemConflict(ctx context.Context, tx *writeTx, id string, seq int) error {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM items WHERE request_id = ? AND seq = ?`, id, seq).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return approvals.Errorf(approvals.ENOTFOUND, "request %s has no item %d", id, seq)
	} else if err != nil {
		return fmt.Errorf("load item: %w", err)
	}
	return approvals.Errorf(approvals.ECONFLICT, "item %d of request %s is already %s", seq, id, state)
}
