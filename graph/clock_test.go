package graph_test

import (
	"context"
	"sync"
	"time"
)

// skipClock is fake time in which every Sleep returns at once, moving the time forward by
// what it waited. Client and simulator share it (graph.SetClock, graphtest Options.Now),
// so Retry-After, backoff and pacing are honoured in fake time and a test of throttling
// takes no wall-clock time. Concurrent sleepers each move it forward, so fake time runs
// faster than the waits it served (up to Concurrency times): every wait is still at least
// as long as asked.
type skipClock struct {
	mu  sync.Mutex
	now time.Time
}

func newSkipClock() *skipClock {
	return &skipClock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
}

func (c *skipClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *skipClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.mu.Lock()
		c.now = c.now.Add(d)
		c.mu.Unlock()
	}
	return nil
}
