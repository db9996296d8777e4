package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// ClaimRun claims the run of job for key (the daily summary for "2026-11-22/C0123",
// say) and reports whether this caller won. Exactly one caller wins, across every
// process sharing the database; the others must not run the job. A claimed run is never
// released, so a run that crashed after claiming is not retried: the job must prefer
// missing a run to doing it twice.
func (db *DB) ClaimRun(ctx context.Context, job, key string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = db.now()
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO job_runs (job, key, claimed_at) VALUES (?, ?, ?)
		ON CONFLICT (job, key) DO NOTHING`, job, key, fmtTime(at))
	if err != nil {
		return false, fmt.Errorf("claim run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit run: %w", err)
	}
	return n == 1, nil
}

// FinishRun records the outcome of a claimed run ("posted", or an error text) and when
// it finished. ENOTFOUND when the run was never claimed.
func (db *DB) FinishRun(ctx context.Context, job, key, outcome string) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE job_runs SET outcome = ?, finished_at = ? WHERE job = ? AND key = ?`,
		outcome, fmtTime(db.now()), job, key)
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish run: %w", err)
	} else if n == 0 {
		return approvals.Errorf(approvals.ENOTFOUND, "no run of %s for %s", job, key)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit run: %w", err)
	}
	return nil
}
