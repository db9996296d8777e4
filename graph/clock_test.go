package graph_test

import (
	"context"
	"slices"
	"sync"
	"testing"
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

// manualClock is fake time that moves only when the test says so: a Sleep blocks until
// Advance passes its deadline. Tests use it to freeze paced work in place and look at
// what got through meanwhile, without any timing.
type manualClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*sleeper
	changed  chan struct{} // closed (and replaced) whenever sleepers come or go
	done     chan struct{} // closed when the test ends
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

func newManualClock(t *testing.T) *manualClock {
	c := &manualClock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), changed: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { close(c.done) })
	return c
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *manualClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.sleepers, s); i >= 0 {
			c.sleepers = slices.Delete(c.sleepers, i, i+1)
			c.notifyLocked()
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// atLeast is closed once n or more goroutines sleep on the clock.
func (c *manualClock) atLeast(n int) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		for {
			c.mu.Lock()
			k, ch := len(c.sleepers), c.changed
			c.mu.Unlock()
			if k >= n {
				close(out)
				return
			}
			select {
			case <-ch:
			case <-c.done:
				return
			}
		}
	}()
	return out
}

// advance moves the time to the earliest sleeper's deadline and wakes every sleeper due.
func (c *manualClock) advance() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sleepers) == 0 {
		return
	}
	next := c.sleepers[0].until
	for _, s := range c.sleepers {
		if s.until.Before(next) {
			next = s.until
		}
	}
	if next.After(c.now) {
		c.now = next
	}
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if s.until.After(c.now) {
			kept = append(kept, s)
		} else {
			close(s.wake)
		}
	}
	c.sleepers = kept
	c.notifyLocked()
}

// runUntil advances the clock whenever someone sleeps on it, until done is closed.
func (c *manualClock) runUntil(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-c.atLeast(1):
			c.advance()
		}
	}
}
