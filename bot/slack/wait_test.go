package slack_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// maxWait bounds every wait of these tests. It only turns a hang into a failure, so it is
// far longer than anything takes on a loaded machine.
const maxWait = 10 * time.Second

// logWatch is a log sink that announces what the adapter logs. The adapter logs some of
// its state changes right after making them and offers no other way to learn of them:
// "slack socket mode connected" (Ready now passes), "slack rate limited" (the 429's hold
// on the method is in force), "slack member directory read" (the new directory serves).
// A test waits for the line instead of sleeping or polling.
type logWatch struct {
	mu      sync.Mutex
	seen    map[string]int // message -> times logged
	changed chan struct{}  // closed and replaced on every record
}

func newLogWatch() *logWatch {
	return &logWatch{seen: map[string]int{}, changed: make(chan struct{})}
}

// logger is a logger writing to w.
func (w *logWatch) logger() *slog.Logger { return slog.New(watchHandler{w}) }

// count returns how many times msg was logged so far.
func (w *logWatch) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[msg]
}

// wait waits until msg has been logged at least n times; after maxWait it fails t.
func (w *logWatch) wait(t *testing.T, msg string, n int) {
	t.Helper()
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		got, changed := w.seen[msg], w.changed
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waited %s for %q to be logged %d times, got %d", maxWait, msg, n, got)
		}
	}
}

// watchHandler feeds a logWatch. Attributes and groups do not matter to it, so the loggers
// the adapter derives with With share the one watch.
type watchHandler struct{ w *logWatch }

// Enabled leaves out Debug: slack-go logs every request there, and no signal is a Debug line.
func (h watchHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h watchHandler) Handle(_ context.Context, r slog.Record) error {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.w.seen[r.Message]++
	close(h.w.changed)
	h.w.changed = make(chan struct{})
	return nil
}

func (h watchHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h watchHandler) WithGroup(string) slog.Handler      { return h }

// waitUntil polls cond until it holds; after maxWait it fails t. Use it only for a state
// nothing announces, and say at the call why nothing does.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("waited %s for %s", maxWait, what)
		}
	}
}
