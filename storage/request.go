package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

var _ approvals.Store = (*DB)(nil)

// DefaultRequestsLimit is how many requests Requests returns when the filter sets no limit.
const DefaultRequestsLimit = 100

// idAttempts bounds the retries on a request id collision; with 2^30 ids a second
// collision in a row means the random source is broken.
const idAttempts = 8

// querier is what both *sql.Tx and *sql.DB offer for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CreateRequest stores r as a new pending request, with ev as its "requested" event. It
// assigns r.ID ("R-" and six Crockford base32 characters) when r.ID is empty, and
// CreatedAt from the clock when zero.
func (db *DB) CreateRequest(ctx context.Context, r *approvals.Request, ev approvals.AuditEvent) error {
	if r.State != "" && r.State != approvals.StatePending {
		return approvals.Errorf(approvals.EINVALID, "a new request must be pending, not %s", r.State)
	}
	if r.Kind == "" {
		return approvals.Errorf(approvals.EINVALID, "a request needs a kind")
	}
	if r.ExpiresAt.IsZero() {
		return approvals.Errorf(approvals.EINVALID, "a request needs an expiry time")
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = db.now()
	}

	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	id, err := db.insertRequest(ctx, tx, r, created)
	if err != nil {
		return err
	}
	if ev.RequestID == "" {
		ev.RequestID = id
	}
	if err := db.appendAudit(ctx, tx, &ev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit request: %w", err)
	}
	r.ID, r.State, r.CreatedAt = id, approvals.StatePending, created.UTC()
	return nil
}

// insertRequest inserts r and returns its id, generating one when r.ID is empty.
func (db *DB) insertRequest(ctx context.Context, tx *writeTx, r *approvals.Request, created time.Time) (string, error) {
	preview, err := json.Marshal(r.Preview)
	if err != nil {
		return "", fmt.Errorf("encode preview: %w", err)
	}
	insert := func(id string) error {
		// In a savepoint: after a collision the transaction goes on (a new id, or the
		// open request looked up).
		return tx.savepoint(ctx, func() error {
			_, err := tx.ExecContext(ctx, `INSERT INTO requests (
			id, kind, state, requester_platform, requester_id, requester_name, requester_entra_id,
			target_type, target_id, target_name, preview, reason, created_at, expires_at, updated_at
		) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, string(r.Kind), r.Requester.Platform, r.Requester.ID, r.Requester.Name, r.Requester.EntraID,
				r.Target.Type, r.Target.ID, r.Target.Name, string(preview), r.Reason,
				fmtTime(created), fmtTime(r.ExpiresAt), fmtTime(db.now()))
			return err
		})
	}
	if r.ID != "" {
		id := canonicalID(r.ID)
		if err := insert(id); err != nil {
			if isOpenTargetConflict(err) {
				return "", db.openConflict(ctx, tx, r)
			}
			if isUniqueViolation(err) {
				return "", approvals.Errorf(approvals.ECONFLICT, "request %s already exists", id)
			}
			return "", fmt.Errorf("insert request: %w", err)
		}
		return id, nil
	}
	for range idAttempts {
		id, err := db.newID()
		if err != nil {
			return "", err
		}
		err = insert(id)
		if err == nil {
			return id, nil
		}
		if isOpenTargetConflict(err) {
			return "", db.openConflict(ctx, tx, r)
		}
		if !isUniqueViolation(err) {
			return "", fmt.Errorf("insert request: %w", err)
		}
	}
	return "", fmt.Errorf("insert request: no free id after %d attempts", idAttempts)
}

// openConflict is ECONFLICT naming the open request of r's kind for r's target.
func (db *DB) openConflict(ctx context.Context, tx *writeTx, r *approvals.Request) error {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM requests WHERE kind = ? AND target_id = ?
		AND state IN ('pending', 'approved', 'running')`, string(r.Kind), r.Target.ID).Scan(&id)
	if err != nil {
		return approvals.Errorf(approvals.ECONFLICT, "another %s request for %s is open", r.Kind, r.Target.Name)
	}
	dup, err := findRequest(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("load open request %s: %w", id, err)
	}
	return &approvals.Error{Code: approvals.ECONFLICT, Message: fmt.Sprintf("%s for %s is already open", dup.ID, dup.Target.Name),
		Err: &approvals.OpenRequestError{Open: dup}}
}

// Request loads a request with its approvals and progress counts. The id is matched
// case-insensitively, and the Crockford look-alikes O, I and L count as 0, 1 and 1.
func (db *DB) Request(ctx context.Context, id string) (*approvals.Request, error) {
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findRequest(ctx, tx, canonicalID(id))
}

// Requests lists requests, newest first.
func (db *DB) Requests(ctx context.Context, f approvals.RequestFilter) ([]*approvals.Request, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultRequestsLimit
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	q := `SELECT ` + requestColumns + ` FROM requests`
	var args []any
	if len(f.States) > 0 {
		q += ` WHERE state IN (?` + strings.Repeat(`, ?`, len(f.States)-1) + `)`
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)

	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	var rs []*approvals.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	for _, r := range rs {
		if err := fillRequest(ctx, tx, r); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// Approve records d as an approval of a pending, unexpired request (expires_at > d.At)
// and, when it then has required approvals, moves it to approved, all in one
// transaction. A second approval by the same person (Actor.PersonKey, so the same
// Entra user on another platform too) is ECONFLICT, as is an approval of a request that
// is no longer pending or has expired.
func (db *DB) Approve(ctx context.Context, id string, d approvals.Decision, required int, ev approvals.AuditEvent) (*approvals.Request, error) {
	id = canonicalID(id)
	if required < 1 {
		return nil, approvals.Errorf(approvals.EINVALID, "required approvals must be at least 1, not %d", required)
	}
	if d.At.IsZero() {
		d.At = db.now()
	}

	tx, err := db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// Concurrent approvals of one request take turns: each counts the approvals the one
	// before it committed.
	if err := db.lockRequest(ctx, tx, id); err != nil {
		return nil, err
	}
	r, err := findRequest(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	id = r.ID
	if r.State != approvals.StatePending || !r.ExpiresAt.After(d.At) {
		return nil, approvals.Conflict(r)
	}
	if err := insertDecision(ctx, tx, id, d); err != nil {
		return nil, err
	}

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM decisions WHERE request_id = ?`, id).Scan(&n); err != nil {
		return nil, fmt.Errorf("count approvals: %w", err)
	}
	if n >= required {
		res, err := tx.ExecContext(ctx, `UPDATE requests SET state = 'approved', updated_at = ?
			WHERE id = ? AND state = 'pending'`, fmtTime(db.now()), id)
		if err != nil {
			return nil, fmt.Errorf("approve request: %w", err)
		}
		if err := db.changedOne(ctx, tx, res, id); err != nil {
			return nil, err
		}
	}

	if r, err = findRequest(ctx, tx, id); err != nil {
		return nil, err
	}
	// The audit entry last: on PostgreSQL the audit lock is then held only from here to
	// the commit, and concurrent decisions queue for it that much less.
	if ev.RequestID == "" {
		ev.RequestID = id
	}
	if err := db.appendAudit(ctx, tx, &ev); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit approval: %w", err)
	}
	return r, nil
}

func insertDecision(ctx context.Context, tx *writeTx, id string, d approvals.Decision) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO decisions (
		request_id, person_key, actor_platform, actor_id, actor_name, actor_entra_id, at, reason
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, d.Actor.PersonKey(), d.Actor.Platform, d.Actor.ID, d.Actor.Name, d.Actor.EntraID, fmtTime(d.At), d.Reason)
	switch {
	case isUniqueViolation(err):
		return approvals.Errorf(approvals.ECONFLICT, "you already approved this request")
	case err != nil:
		return fmt.Errorf("insert approval: %w", err)
	}
	return nil
}

// transitions are the edges of the state machine that Transition may take. Two are
// missing on purpose: pending → approved is Approve's, which records the decisions that
// justify it, and approved → running is Claim's, which sets the lease (a running request
// without one would look abandoned and be taken over at once).
var transitions = map[approvals.State][]approvals.State{
	approvals.StatePending: {approvals.StateDenied, approvals.StateExpired, approvals.StateCancelled},
	approvals.StateRunning: {approvals.StateSucceeded, approvals.StatePartlyFailed, approvals.StateFailed},
}

func allowed(from, to approvals.State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transition moves a request from t.From to t.To, recording t.Denial (denied, cancelled)
// and t.Error, and setting ClosedAt to t.At when t.To is final. Only the edges of the
// state machine are accepted, EINVALID otherwise; pending → approved goes through
// Approve and approved → running through Claim. A request no longer in t.From is ECONFLICT with a message saying what it is
// now.
func (db *DB) Transition(ctx context.Context, id string, t approvals.Transition, ev approvals.AuditEvent) (*approvals.Request, error) {
	id = canonicalID(id)
	if !allowed(t.From, t.To) {
		return nil, approvals.Errorf(approvals.EINVALID, "a request cannot go from %s to %s", t.From, t.To)
	}
	if t.At.IsZero() {
		t.At = db.now()
	}

	set := []string{`state = ?`, `updated_at = ?`}
	args := []any{string(t.To), fmtTime(db.now())}
	if t.To.Final() {
		// The lease is cleared so that nothing can mistake a finished request for a
		// crashed executor's.
		set = append(set, `closed_at = ?`, `lease_until = ''`)
		args = append(args, fmtTime(t.At))
	}
	if t.Denial != nil {
		dn := t.Denial
		if dn.At.IsZero() {
			dn = &approvals.Decision{Actor: dn.Actor, At: t.At, Reason: dn.Reason}
		}
		set = append(set, `denial_platform = ?`, `denial_id = ?`, `denial_name = ?`, `denial_entra_id = ?`,
			`denial_at = ?`, `denial_reason = ?`)
		args = append(args, dn.Actor.Platform, dn.Actor.ID, dn.Actor.Name, dn.Actor.EntraID, fmtTime(dn.At), dn.Reason)
	}
	if t.Error != "" {
		set = append(set, `error = ?`)
		args = append(args, t.Error)
	}
	args = append(args, id, string(t.From))
	return db.changeRequest(ctx, id, "request state", `UPDATE requests SET `+strings.Join(set, ", ")+` WHERE id = ? AND state = ?`, args, ev)
}

// changeRequest runs one conditional UPDATE of request id (what names it in errors), and,
// when it changed the row, appends ev in the same transaction and returns the request as
// it stands; when it changed nothing, the request's ECONFLICT (or ENOTFOUND). Transition
// and UpdatePreview are this with their own UPDATE.
func (db *DB) changeRequest(ctx context.Context, id, what, update string, args []any, ev approvals.AuditEvent) (*approvals.Request, error) {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, update, args...)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", what, err)
	}
	if err := db.changedOne(ctx, tx, res, id); err != nil {
		return nil, err
	}
	r, err := findRequest(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if ev.RequestID == "" {
		ev.RequestID = r.ID
	}
	if err := db.appendAudit(ctx, tx, &ev); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit %s: %w", what, err)
	}
	return r, nil
}

// ExpireDue moves every pending request whose expires_at <= now to expired, with an
// "expired" audit event each (system actor), and returns them. ClosedAt is the expiry
// time, not the time the sweep noticed.
func (db *DB) ExpireDue(ctx context.Context, now time.Time) ([]*approvals.Request, error) {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// Requests another replica's sweep (or a decision) holds are left to it.
	ids, err := queryStrings(ctx, tx, `SELECT id FROM requests WHERE state = 'pending' AND expires_at <= ?
		ORDER BY expires_at, id`+db.eng.skipLocked, fmtTime(now))
	if err != nil {
		return nil, fmt.Errorf("find due requests: %w", err)
	}
	var out []*approvals.Request
	evs := make([]*approvals.AuditEvent, 0, len(ids))
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `UPDATE requests SET state = 'expired', closed_at = expires_at, updated_at = ?
			WHERE id = ? AND state = 'pending'`, fmtTime(db.now()), id)
		if err != nil {
			return nil, fmt.Errorf("expire request: %w", err)
		}
		if err := db.changedOne(ctx, tx, res, id); err != nil {
			return nil, err
		}
		r, err := findRequest(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		evs = append(evs, &approvals.AuditEvent{
			Time:      now.UTC(),
			RequestID: id,
			Type:      approvals.EventExpired,
			Detail:    "not approved by " + r.ExpiresAt.Format(time.RFC3339),
		})
	}
	if err := db.appendAudit(ctx, tx, evs...); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit expiry: %w", err)
	}
	return out, nil
}

// Claim takes one request for execution and leases it to owner until leaseUntil. A
// running request whose lease lapsed before now (its executor crashed) is resumed first,
// without a new event; otherwise the oldest approved request moves to running with ev as
// its "started" event. It returns nil, nil when there is nothing to do. Two executors,
// in this process or another, never claim the same request: on PostgreSQL a replica
// skips the requests another one is claiming (FOR UPDATE SKIP LOCKED) and takes the next.
func (db *DB) Claim(ctx context.Context, owner string, now, leaseUntil time.Time, kinds []approvals.Kind, ev approvals.AuditEvent) (*approvals.Request, error) {
	if owner == "" {
		return nil, approvals.Errorf(approvals.EINVALID, "a claim needs an owner")
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	kindSQL, kindArgs := kindFilter(kinds)
	id, err := db.claimLapsed(ctx, tx, owner, now, leaseUntil, kindSQL, kindArgs)
	if err != nil {
		return nil, err
	}
	started := false // a resumed request gets no new event
	if id == "" {
		if id, err = db.claimApproved(ctx, tx, owner, leaseUntil, kindSQL, kindArgs); err != nil {
			return nil, err
		}
		if id == "" {
			return nil, nil
		}
		started = true
	}

	r, err := findRequest(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if started {
		if ev.RequestID == "" {
			ev.RequestID = id
		}
		if ev.Type == "" {
			ev.Type = approvals.EventStarted
		}
		if err := db.appendAudit(ctx, tx, &ev); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit claim: %w", err)
	}
	return r, nil
}

// claimLapsed takes over a running request whose lease ran out, returning its id or "".
func (db *DB) claimLapsed(ctx context.Context, tx *writeTx, owner string, now, leaseUntil time.Time, kindSQL string, kindArgs []any) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM requests WHERE state = 'running' AND lease_until < ?`+kindSQL+`
		ORDER BY created_at, id LIMIT 1`+db.eng.skipLocked, append([]any{fmtTime(now)}, kindArgs...)...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("find lapsed request: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE requests SET lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease_until < ?`,
		owner, fmtTime(leaseUntil), fmtTime(db.now()), id, fmtTime(now))
	if err != nil {
		return "", fmt.Errorf("resume request: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", fmt.Errorf("resume request %s: lost the race (%d rows, %v)", id, n, err)
	}
	return id, nil
}

// claimApproved moves the oldest approved request to running, returning its id or "".
func (db *DB) claimApproved(ctx context.Context, tx *writeTx, owner string, leaseUntil time.Time, kindSQL string, kindArgs []any) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM requests WHERE state = 'approved'`+kindSQL+`
		ORDER BY created_at, id LIMIT 1`+db.eng.skipLocked, kindArgs...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("find approved request: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE requests SET state = 'running', lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE id = ? AND state = 'approved'`, owner, fmtTime(leaseUntil), fmtTime(db.now()), id)
	if err != nil {
		return "", fmt.Errorf("start request: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", fmt.Errorf("start request %s: lost the race (%d rows, %v)", id, n, err)
	}
	return id, nil
}

// kindFilter is the SQL condition for Claim's kinds, "" for any kind.
func kindFilter(kinds []approvals.Kind) (string, []any) {
	if len(kinds) == 0 {
		return "", nil
	}
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = string(k)
	}
	return ` AND kind IN (?` + strings.Repeat(", ?", len(kinds)-1) + `)`, args
}

// UpdatePreview replaces the preview of a pending request, with ev as its audit event.
func (db *DB) UpdatePreview(ctx context.Context, id string, p approvals.Preview, ev approvals.AuditEvent) (*approvals.Request, error) {
	id = canonicalID(id)
	preview, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode preview: %w", err)
	}
	return db.changeRequest(ctx, id, "preview", `UPDATE requests SET preview = ?, updated_at = ? WHERE id = ? AND state = 'pending'`,
		[]any{string(preview), fmtTime(db.now()), id}, ev)
}

// RenewLease extends owner's lease of a running request to until. ECONFLICT when the
// request is no longer running or another executor has taken it over.
func (db *DB) RenewLease(ctx context.Context, id, owner string, until time.Time) error {
	id = canonicalID(id)
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	res, err := tx.ExecContext(ctx, `UPDATE requests SET lease_until = ?, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease_owner = ?`, fmtTime(until), fmtTime(db.now()), id, owner)
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	} else if n == 0 {
		r, err := findRequest(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != approvals.StateRunning {
			return approvals.Conflict(r)
		}
		var holder string
		if err := tx.QueryRowContext(ctx, `SELECT lease_owner FROM requests WHERE id = ?`, id).Scan(&holder); err != nil {
			return fmt.Errorf("read lease: %w", err)
		}
		return approvals.Errorf(approvals.ECONFLICT, "request %s is now being run by %s", r.ID, holder)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit lease: %w", err)
	}
	return nil
}

// changedOne turns a conditional update that changed nothing into ENOTFOUND or into
// ECONFLICT describing what the request is now.
func (db *DB) changedOne(ctx context.Context, tx *writeTx, res sql.Result, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update request: %w", err)
	}
	if n == 1 {
		return nil
	}
	r, err := findRequest(ctx, tx, id)
	if err != nil {
		return err
	}
	return approvals.Conflict(r)
}

const requestColumns = `id, kind, state, requester_platform, requester_id, requester_name, requester_entra_id,
	target_type, target_id, target_name, preview, reason, created_at, expires_at,
	denial_platform, denial_id, denial_name, denial_entra_id, denial_at, denial_reason,
	closed_at, error`

type scanner interface{ Scan(dest ...any) error }

func scanRequest(s scanner) (*approvals.Request, error) {
	var (
		r                                      approvals.Request
		kind, state, preview                   string
		created, expires, closed, denialReason string
		denialAt                               sql.NullString
		dn                                     approvals.Actor
	)
	err := s.Scan(&r.ID, &kind, &state, &r.Requester.Platform, &r.Requester.ID, &r.Requester.Name, &r.Requester.EntraID,
		&r.Target.Type, &r.Target.ID, &r.Target.Name, &preview, &r.Reason, &created, &expires,
		&dn.Platform, &dn.ID, &dn.Name, &dn.EntraID, &denialAt, &denialReason,
		&closed, &r.Error)
	if err != nil {
		return nil, err
	}
	r.Kind, r.State = approvals.Kind(kind), approvals.State(state)
	if err := json.Unmarshal([]byte(preview), &r.Preview); err != nil {
		return nil, fmt.Errorf("decode preview of %s: %w", r.ID, err)
	}
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if r.ExpiresAt, err = parseTime(expires); err != nil {
		return nil, err
	}
	if r.ClosedAt, err = parseTime(closed); err != nil {
		return nil, err
	}
	if denialAt.Valid {
		at, err := parseTime(denialAt.String)
		if err != nil {
			return nil, err
		}
		r.Denial = &approvals.Decision{Actor: dn, At: at, Reason: denialReason}
	}
	return &r, nil
}

// findRequest loads request id with its approvals and progress (ENOTFOUND).
func findRequest(ctx context.Context, q querier, id string) (*approvals.Request, error) {
	r, err := scanRequest(q.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, approvals.Errorf(approvals.ENOTFOUND, "no request %s", id)
	} else if err != nil {
		return nil, fmt.Errorf("load request: %w", err)
	}
	if err := fillRequest(ctx, q, r); err != nil {
		return nil, err
	}
	return r, nil
}

// fillRequest adds r's approvals and progress counts.
func fillRequest(ctx context.Context, q querier, r *approvals.Request) error {
	rows, err := q.QueryContext(ctx, `SELECT actor_platform, actor_id, actor_name, actor_entra_id, at, reason
		FROM decisions WHERE request_id = ? ORDER BY at, rowid`, r.ID)
	if err != nil {
		return fmt.Errorf("load approvals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d approvals.Decision
		var at string
		if err := rows.Scan(&d.Actor.Platform, &d.Actor.ID, &d.Actor.Name, &d.Actor.EntraID, &at, &d.Reason); err != nil {
			return fmt.Errorf("load approvals: %w", err)
		}
		if d.At, err = parseTime(at); err != nil {
			return err
		}
		r.Approvals = append(r.Approvals, d)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load approvals: %w", err)
	}

	err = q.QueryRowContext(ctx, `SELECT count(*),
			count(CASE WHEN state = 'done' THEN 1 END),
			count(CASE WHEN state = 'failed' THEN 1 END)
		FROM items WHERE request_id = ?`, r.ID).Scan(&r.Total, &r.Done, &r.Failed)
	if err != nil {
		return fmt.Errorf("count items: %w", err)
	}
	return nil
}

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
