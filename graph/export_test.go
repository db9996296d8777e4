package graph

import "time"

// TestClock is what SetClock takes: the time, and a Sleep that waits on it.
type TestClock = clock

// SetClock makes c wait on clk instead of the wall clock everywhere it waits: the write
// pacer, the reports window, the retry middleware and batch retries. Call it right after
// New, before any request.
func SetClock(c *Client, clk TestClock) {
	c.clk = clk
	c.writes.setClock(clk)
	c.reports.setClock(clk)
	c.mail.mu.Lock()
	c.mail.clk = clk
	c.mail.mu.Unlock()
}

// SetAttemptTimeout shortens the time one attempt may take (2 minutes in production).
func SetAttemptTimeout(c *Client, d time.Duration) { c.attemptTimeout = d }
