package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// The audit log is a hash chain. Entry n stores prev_hash = hash of entry n-1 ("" for
// entry 1) and
//
//	hash = lower-case hex of SHA-256(auditHashVersion || field(prev_hash) || field(seq) ||
//	       field(time) || field(request_id) || field(type) || field(actor_platform) ||
//	       field(actor_id) || field(actor_name) || field(actor_entra_id) || field(detail))
//
// where field(s) is the length of s in bytes as decimal ASCII, ':', the bytes of s, and
// '\n'; seq is decimal ASCII and time is the stored text (UTC, RFC 3339, nine fractional
// digits). The length prefixes make the encoding unambiguous whatever the fields
// contain. The hash covers seq, so renumbering entries shows as an edit. The newest
// entry's seq and hash are also kept in audit_head, updated in the same transaction, so
// that deleting the newest entries is detected too.
//
// The chain shows changes made behind mfabot's back; it does not stop someone who can
// write the file and recompute every hash. Export the log (mfabot audit export) to a
// place they cannot write to keep that evidence.
const auditHashVersion = "mfabot-audit-v1\n"

// auditRow is an audit entry as stored: the hash is computed over these strings.
type auditRow struct {
	seq                                   int64
	time, requestID, typ                  string
	platform, actorID, actorName, entraID string
	detail, prevHash, hash                string
}

func (r *auditRow) computeHash() string {
	h := sha256.New()
	h.Write([]byte(auditHashVersion))
	for _, f := range []string{r.prevHash, strconv.FormatInt(r.seq, 10), r.time, r.requestID, r.typ,
		r.platform, r.actorID, r.actorName, r.entraID, r.detail} {
		writeField(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, s string) {
	h.Write(strconv.AppendInt(nil, int64(len(s)), 10))
	h.Write([]byte{':'})
	h.Write([]byte(s))
	h.Write([]byte{'\n'})
}

func (r *auditRow) event() (approvals.AuditEvent, error) {
	t, err := parseTime(r.time)
	if err != nil {
		return approvals.AuditEvent{}, err
	}
	return approvals.AuditEvent{
		Seq:       r.seq,
		Time:      t,
		RequestID: r.requestID,
		Type:      r.typ,
		Actor:     approvals.Actor{Platform: r.platform, ID: r.actorID, Name: r.actorName, EntraID: r.entraID},
		Detail:    r.detail,
		PrevHash:  r.prevHash,
		Hash:      r.hash,
	}, nil
}

// Audit appends ev to the audit log on its own, for events that go with no request
// change (refusals). Time defaults to the clock's.
func (db *DB) Audit(ctx context.Context, ev approvals.AuditEvent) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := db.appendAudit(ctx, tx, &ev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit audit: %w", err)
	}
	return nil
}

// appendAudit appends evs, in order, in tx, filling in their Seq, PrevHash, Hash and (when
// zero) Time. What keeps the chain linear is that no other append can read the same
// head: on SQLite the write transaction holds the file; on PostgreSQL every append first
// takes a transaction-level advisory lock, held until commit, so the next one reads the
// head this one leaves (each statement of a READ COMMITTED transaction sees what was
// committed before it started).
func (db *DB) appendAudit(ctx context.Context, tx *writeTx, evs ...*approvals.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	for _, ev := range evs {
		if ev.Type == "" {
			return approvals.Errorf(approvals.EINVALID, "audit event has no type")
		}
	}
	if db.eng == postgresEngine {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, db.auditLock); err != nil {
			return fmt.Errorf("lock audit log: %w", err)
		}
	}
	var seq int64
	var prev string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	now := db.now()
	rows := make([]auditRow, len(evs))
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		seq++
		rows[i] = auditRow{
			seq: seq, time: fmtTime(ev.Time), requestID: ev.RequestID, typ: ev.Type,
			platform: ev.Actor.Platform, actorID: ev.Actor.ID, actorName: ev.Actor.Name, entraID: ev.Actor.EntraID,
			detail: ev.Detail, prevHash: prev,
		}
		rows[i].hash = rows[i].computeHash()
		ev.Seq, ev.Time, ev.PrevHash, ev.Hash = seq, ev.Time.UTC(), prev, rows[i].hash
		prev = rows[i].hash
	}
	// Many rows a statement: a batch of item outcomes costs a few round trips, not one
	// per entry.
	const chunk = 200
	const values = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	for len(rows) > 0 {
		part := rows[:min(chunk, len(rows))]
		rows = rows[len(part):]
		args := make([]any, 0, 11*len(part))
		for _, r := range part {
			args = append(args, r.seq, r.time, r.requestID, r.typ, r.platform, r.actorID, r.actorName, r.entraID, r.detail, r.prevHash, r.hash)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit (
			seq, time, request_id, type, actor_platform, actor_id, actor_name, actor_entra_id, detail, prev_hash, hash
		) VALUES `+values+strings.Repeat(", "+values, len(part)-1), args...); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, prev); err != nil {
		return fmt.Errorf("move audit head: %w", err)
	}
	return nil
}

// AuditProblem says how a broken audit chain was changed.
type AuditProblem string

// Audit problems.
const (
	AuditEdited   AuditProblem = "edited"   // an entry's content does not match its hash
	AuditDeleted  AuditProblem = "deleted"  // a gap in seq, or the newest entries are gone
	AuditInserted AuditProblem = "inserted" // an entry that does not link to its predecessor, or after the head
)

// VerifyResult is the outcome of VerifyAudit.
type VerifyResult struct {
	OK      bool
	Checked int64        // entries found intact, from the first, before any problem
	Head    int64        // seq of the newest entry, as recorded by mfabot
	BadSeq  int64        // the first entry that is wrong or missing; 0 when OK
	Problem AuditProblem // "" when OK
	Detail  string       // what is wrong, in words
}

func (v VerifyResult) String() string {
	if v.OK {
		return fmt.Sprintf("audit log intact: %d entries", v.Checked)
	}
	return fmt.Sprintf("audit log broken at entry %d (%s): %s; %d entries before it are intact",
		v.BadSeq, v.Problem, v.Detail, v.Checked)
}

// VerifyAudit walks the audit chain from the first entry and reports the first entry
// that was edited, deleted or inserted behind mfabot's back. A broken chain is a result
// (OK false), not an error; the error is for failing to read.
func (db *DB) VerifyAudit(ctx context.Context) (VerifyResult, error) {
	tx, err := db.readTx(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	defer tx.Rollback()

	var v VerifyResult
	var headHash string
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&v.Head, &headHash)
	if errors.Is(err, sql.ErrNoRows) {
		v.Problem, v.Detail = AuditDeleted, "the chain head record is missing"
		return v, nil
	} else if err != nil {
		return VerifyResult{}, fmt.Errorf("read audit head: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit ORDER BY seq`)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var prev string
	next := int64(1)
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return VerifyResult{}, err
		}
		switch {
		case r.seq < next:
			return v.broken(r.seq, AuditInserted, "entry has a sequence number below %d", next), nil
		case r.seq > next && next > v.Head:
			return v.broken(next, AuditInserted, "entries after %d were not written by mfabot", v.Head), nil
		case r.seq > next:
			return v.broken(next, AuditDeleted, "entries %d to %d are missing", next, r.seq-1), nil
		case next > v.Head:
			return v.broken(next, AuditInserted, "entries after %d were not written by mfabot", v.Head), nil
		case r.computeHash() != r.hash:
			return v.broken(r.seq, AuditEdited, "content does not match its hash"), nil
		case r.prevHash != prev:
			return v.broken(r.seq, AuditInserted, "does not link to entry %d", r.seq-1), nil
		case r.seq == v.Head && r.hash != headHash:
			return v.broken(r.seq, AuditInserted, "is not the entry mfabot wrote last"), nil
		}
		v.Checked++
		prev = r.hash
		next++
	}
	if err := rows.Err(); err != nil {
		return VerifyResult{}, fmt.Errorf("read audit: %w", err)
	}
	if next <= v.Head {
		if next == v.Head {
			return v.broken(next, AuditDeleted, "the newest entry, %d, is missing", next), nil
		}
		return v.broken(next, AuditDeleted, "the newest entries, %d to %d, are missing", next, v.Head), nil
	}
	v.OK = true
	return v, nil
}

func (v VerifyResult) broken(seq int64, p AuditProblem, format string, args ...any) VerifyResult {
	v.OK, v.BadSeq, v.Problem, v.Detail = false, seq, p, fmt.Sprintf(format, args...)
	return v
}

const auditColumns = `seq, time, request_id, type, actor_platform, actor_id, actor_name, actor_entra_id, detail, prev_hash, hash`

func scanAudit(s scanner) (auditRow, error) {
	var r auditRow
	err := s.Scan(&r.seq, &r.time, &r.requestID, &r.typ, &r.platform, &r.actorID, &r.actorName, &r.entraID,
		&r.detail, &r.prevHash, &r.hash)
	if err != nil {
		return auditRow{}, fmt.Errorf("read audit entry: %w", err)
	}
	return r, nil
}

// ExportAudit calls fn with every audit entry whose time is at or after since (all of
// them for the zero time), in seq order, reading them one at a time from a consistent
// snapshot: appends made meanwhile are not seen, and are not blocked. An error from fn
// stops the export and is returned as is.
func (db *DB) ExportAudit(ctx context.Context, since time.Time, fn func(approvals.AuditEvent) error) error {
	rows, err := db.rdb.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit WHERE time >= ? ORDER BY seq`, fmtTime(since))
	if err != nil {
		return fmt.Errorf("export audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return err
		}
		ev, err := r.event()
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export audit: %w", err)
	}
	return nil
}
