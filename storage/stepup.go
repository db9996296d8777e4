package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/stepup"
)

// Step-up challenges are the browser side's, not the core's: storage keeps them for
// bot/stepup, as it keeps message references for bot.
var _ stepup.Store = (*DB)(nil)

// challengeRetention is how long a challenge is kept after its link expired: the audit log
// is the record, this table only the moving parts.
const challengeRetention = 24 * time.Hour

// CreateChallenge stores a new step-up challenge, pruning those whose links expired more
// than a day ago.
func (db *DB) CreateChallenge(ctx context.Context, c stepup.Challenge) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM stepup_challenges WHERE expires_at < ?`,
		fmtTime(c.CreatedAt.Add(-challengeRetention))); err != nil {
		return fmt.Errorf("prune step-up challenges: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO stepup_challenges (id, request_id, decision, actor_platform, actor_id,
		actor_name, actor_entra_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, canonicalID(c.RequestID), c.Decision, c.Actor.Platform, c.Actor.ID, c.Actor.Name, c.Actor.EntraID,
		fmtTime(c.CreatedAt), fmtTime(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert step-up challenge: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit step-up challenge: %w", err)
	}
	return nil
}

// Challenge loads a step-up challenge by id (ENOTFOUND).
func (db *DB) Challenge(ctx context.Context, id string) (stepup.Challenge, error) {
	return findChallenge(ctx, db.rdb, `id = ?`, id)
}

// StartChallenge records the start of the sign-in on a challenge that has not started and
// whose link has not expired at s.At: one conditional UPDATE. Otherwise ECONFLICT (ENOTFOUND
// for no such challenge), changing nothing.
func (db *DB) StartChallenge(ctx context.Context, id string, s stepup.Start) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE stepup_challenges SET started_at = ?, state_hash = ?, binding_hash = ?,
		nonce = ?, verifier = ? WHERE id = ? AND started_at = '' AND expires_at > ?`,
		fmtTime(s.At), s.StateHash, s.BindingHash, s.Nonce, s.Verifier, id, fmtTime(s.At))
	if err != nil {
		return fmt.Errorf("start step-up challenge: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("start step-up challenge: %w", err)
	} else if n == 0 {
		if _, err := findChallenge(ctx, tx, `id = ?`, id); err != nil {
			return err
		}
		return approvals.Errorf(approvals.ECONFLICT, "the step-up link was already used or has expired")
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit step-up start: %w", err)
	}
	return nil
}

// FinishChallenge marks finished the started challenge whose state hashes to stateHash and
// returns it: one conditional UPDATE, so a sign-in's answer is taken once. ENOTFOUND for no
// such challenge; one finished already is returned as it stands, with ECONFLICT.
func (db *DB) FinishChallenge(ctx context.Context, stateHash string, at time.Time) (stepup.Challenge, error) {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return stepup.Challenge{}, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE stepup_challenges SET finished_at = ?
		WHERE state_hash = ? AND started_at <> '' AND finished_at = ''`, fmtTime(at), stateHash)
	if err != nil {
		return stepup.Challenge{}, fmt.Errorf("finish step-up challenge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return stepup.Challenge{}, fmt.Errorf("finish step-up challenge: %w", err)
	}
	c, err := findChallenge(ctx, tx, `state_hash = ?`, stateHash)
	if err != nil {
		return stepup.Challenge{}, err
	}
	if n == 0 {
		return c, approvals.Errorf(approvals.ECONFLICT, "the step-up sign-in was already finished")
	}
	if err := tx.Commit(); err != nil {
		return stepup.Challenge{}, fmt.Errorf("commit step-up finish: %w", err)
	}
	return c, nil
}

func findChallenge(ctx context.Context, q querier, where string, arg string) (stepup.Challenge, error) {
	var c stepup.Challenge
	var created, expires, started, finished string
	var state sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, request_id, decision, actor_platform, actor_id, actor_name, actor_entra_id,
		created_at, expires_at, started_at, state_hash, binding_hash, nonce, verifier, finished_at
		FROM stepup_challenges WHERE `+where, arg).Scan(&c.ID, &c.RequestID, &c.Decision, &c.Actor.Platform, &c.Actor.ID,
		&c.Actor.Name, &c.Actor.EntraID, &created, &expires, &started, &state, &c.BindingHash, &c.Nonce, &c.Verifier, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return c, approvals.Errorf(approvals.ENOTFOUND, "no such step-up sign-in")
	}
	if err != nil {
		return c, fmt.Errorf("load step-up challenge: %w", err)
	}
	c.StateHash = state.String
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{created, &c.CreatedAt}, {expires, &c.ExpiresAt}, {started, &c.StartedAt}, {finished, &c.FinishedAt}} {
		if *t.dst, err = parseTime(t.s); err != nil {
			return c, err
		}
	}
	return c, nil
}
