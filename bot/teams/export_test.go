package teams

import (
	"context"
	"time"
)

// SetRetryBase shortens the connector's backoff so that tests of retries stay fast.
func SetRetryBase(a *Adapter, base time.Duration) {
	a.conn.retry.base = base
	a.conn.retry.max = 4 * base
}

// SetOutboundClock puts the Connector requests' pacing and retries on clk instead of the
// wall clock, so that a test sees in fake time what the limits and a Retry-After make the
// adapter wait, and need not wait for it. Call it before the adapter sends anything.
func SetOutboundClock(a *Adapter, clk interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}) {
	a.conn.limiter.clk, a.conn.app.clk = clk, clk
	a.conn.clock, a.conn.pace = clk.Now, clk
}

// KeyWaitersReach returns a channel closed once exactly n requests wait for the
// signing-key fetch in flight (at once when they already do). It watches the count as it
// changes, so a test acts at that moment without polling; one watch at a time, a later
// call replaces an earlier one still waiting.
func KeyWaitersReach(a *Adapter, n int) <-chan struct{} {
	k := a.auth.keys
	reached := make(chan struct{})
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.waiting == n {
		close(reached)
		k.waitersChanged = nil
		return reached
	}
	k.waitersChanged = func() {
		if k.waiting == n {
			close(reached)
			k.waitersChanged = nil
		}
	}
	return reached
}
