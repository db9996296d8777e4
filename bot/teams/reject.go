package teams

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

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

// reject reports one refused request; msg and attrs make its log line, if it gets one.
func (r *rejects) reject(ctx context.Context, level slog.Level, reason, msg string, attrs ...slog.Attr) {
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
	attrs = append(attrs, slog.String("reason", reason), slog.Int("suppressed", n))
	r.log.LogAttrs(ctx, level, msg, attrs...)
}
