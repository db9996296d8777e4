package summary

import (
	"context"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// Source streams the tenant; graph.Client implements it. Each call hands fn one page at a
// time and never holds the whole tenant; an error from fn stops the stream and is returned.
type Source interface {
	// Registrations streams reports/authenticationMethods/userRegistrationDetails.
	Registrations(ctx context.Context, fn func([]approvals.Registration) error) error
	// Users streams /users with accountEnabled and userType.
	Users(ctx context.Context, fn func([]approvals.User) error) error
}

// Store keeps daily snapshots and once-only runs; storage.DB implements it.
type Store interface {
	// PutSnapshot stores (or replaces) the snapshot of a day, "2026-11-22".
	PutSnapshot(ctx context.Context, day string, data []byte) error
	// Snapshots returns the snapshots from fromDay to toDay, both included, by day.
	Snapshots(ctx context.Context, fromDay, toDay string) (map[string][]byte, error)
	// ClaimRun records that job runs for key; it reports true only to the one caller that
	// recorded it first.
	ClaimRun(ctx context.Context, job, key string, at time.Time) (bool, error)
	// FinishRun records how a claimed run ended.
	FinishRun(ctx context.Context, job, key, outcome string) error
}
