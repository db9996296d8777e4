package slack_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// manualClock is fake time that moves only when the test says so: a Sleep waits until
// advance passes its deadline. Adapter (slack.SetClock) and fake Slack (SetClock) share
// one, so that Slack judges the adapter's pace in the time the adapter paces by, and a
// wait of a second takes none. When the test ends, sleepers give up.
type manualClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*sleeper
	changed  chan struct{} // closed and replaced whenever sleepers come or go
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
	var err error
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.done:
		err = errors.New("the test's clock stopped")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.sleepers, s); i >= 0 {
		c.sleepers = slices.Delete(c.sleepers, i, i+1)
		c.notifyLocked()
	}
	return err
}

// asleep waits until at least n goroutines sleep on the clock and returns when each will
// wake, or reports false if stop is closed first; after maxWait it fails t.
func (c *manualClock) asleep(t *testing.T, n int, stop <-chan struct{}) ([]time.Time, bool) {
	t.Helper()
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		var until []time.Time
		for _, s := range c.sleepers {
			until = append(until, s.until)
		}
		changed := c.changed
		c.mu.Unlock()
		if len(until) >= n {
			return until, true
		}
		select {
		case <-changed:
		case <-stop:
			return nil, false
		case <-deadline.C:
			t.Fatalf("waited %s for %d goroutines to sleep on the clock, %d do", maxWait, n, len(until))
		}
	}
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
