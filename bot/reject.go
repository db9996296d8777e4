package bot

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RejectLogEvery is the least time between two log lines about refused requests of one
// reason: forged traffic is counted, not logged line by line, so that a flood of it cannot
// drown the log (or fill the disk).
const RejectLogEvery = 10 * time.Second

// Rejects reports the requests an adapter refuses before they are parsed (a forged
// signature, a bad token): each to onReject (a metric), and to the log at most once per
// reason per RejectLogEvery, with how many of that reason went unlogged since.
type Rejects struct {
	onReject func(reason string)
	log      *slog.Logger
	now      func() time.Time

	mu         sync.Mutex
	loggedAt   map[string]time.Time
	suppressed map[string]int
}

// NewRejects returns a Rejects; onReject may be nil.
func NewRejects(onReject func(reason string), log *slog.Logger, now func() time.Time) *Rejects {
	if now == nil {
		now = time.Now
	}
	return &Rejects{onReject: onReject, log: log, now: now, loggedAt: map[string]time.Time{}, suppressed: map[string]int{}}
}

// Reject reports one refused request; msg and attrs make its log line, if it gets one.
func (r *Rejects) Reject(ctx context.Context, level slog.Level, reason, msg string, attrs ...slog.Attr) {
	if r.onReject != nil {
		r.onReject(reason)
	}
	r.mu.Lock()
	now := r.now()
	if at, ok := r.loggedAt[reason]; ok && now.Sub(at) < RejectLogEvery && now.Sub(at) >= 0 {
		r.suppressed[reason]++
		r.mu.Unlock()
		return
	}
	n := r.suppressed[reason]
	r.loggedAt[reason] = now
	delete(r.suppressed, reason)
	r.mu.Unlock()
	attrs = append(attrs, slog.String("reason", reason), slog.Int("suppressed", n))
	r.log.LogAttrs(ctx, level, msg, attrs...)
}
