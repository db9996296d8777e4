package slack

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Reasons a request is refused before it is parsed, as Config.OnReject is told them: a
// fixed, small set.
const (
	RejectNoSecret     = "no_secret"     // no signing secret configured: every request is refused
	RejectNoSignature  = "no_signature"  // the signature headers are missing
	RejectBadTimestamp = "bad_timestamp" // the timestamp is not a number of seconds
	RejectStale        = "stale"         // the timestamp is outside the 5-minute window
	RejectBadSignature = "bad_signature" // the signature does not match
	RejectTooLarge     = "too_large"     // the body is over the limit
	RejectUnreadable   = "unreadable"    // the body could not be read (cut off, too slow)
)

// signatureReason classifies an error of verifySignature.
func signatureReason(err error) string {
	switch {
	case errors.Is(err, errNoSecret):
		return RejectNoSecret
	case errors.Is(err, errNoSignature):
		return RejectNoSignature
	case errors.Is(err, errBadTimestamp):
		return RejectBadTimestamp
	case errors.Is(err, errStale):
		return RejectStale
	}
	return RejectBadSignature
}

// rejectLogEvery is the least time between two log lines about refused requests of one
// reason: forged traffic is counted (Config.OnReject), not logged line by line.
const rejectLogEvery = 10 * time.Second

// rejects reports refused requests: each to onReject, and to the log at most once per
// reason per rejectLogEvery, with how many of that reason went unlogged since.
type rejects struct {
	onReject func(reason string)
	log      *slog.Logger
	now      func() time.Time

	mu         sync.Mutex
	loggedAt   map[string]time.Time
	suppressed map[string]int
}

func newRejects(onReject func(string), log *slog.Logger, now func() time.Time) *rejects {
	return &rejects{onReject: onReject, log: log, now: now, loggedAt: map[string]time.Time{}, suppressed: map[string]int{}}
}

// reject reports one refused request; args are the attributes of its log line, if it
// gets one.
func (r *rejects) reject(ctx context.Context, reason string, args ...any) {
	if r.onReject != nil {
		r.onReject(reason)
	}
	r.mu.Lock()
	now := r.now()
	if at, ok := r.loggedAt[reason]; ok && now.Sub(at) < rejectLogEvery && now.Sub(at) >= 0 {
		r.suppressed[reason]++
		r.mu.Unlock()
		return
	}
	n := r.suppressed[reason]
	r.loggedAt[reason] = now
	delete(r.suppressed, reason)
	r.mu.Unlock()
	r.log.WarnContext(ctx, "slack request refused", append(args, "reason", reason, "suppressed", n)...)
}
