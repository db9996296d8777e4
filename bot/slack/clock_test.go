package slack_test

import (
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals/approvalstest"
)

// newManualClock is fake time that moves only when the test says so. Adapter
// (slack.SetClock) and fake Slack (SetClock) share one, so that Slack judges the
// adapter's pace in the time the adapter paces by, and a wait of a second takes none.
func newManualClock(t *testing.T) *approvalstest.ManualClock {
	return approvalstest.NewManualClock(t, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
}

// asleep waits until at least n goroutines sleep on clk and returns when each will wake,
// or reports false if stop is closed first; after maxWait it fails t.
func asleep(t *testing.T, clk *approvalstest.ManualClock, n int, stop <-chan struct{}) ([]time.Time, bool) {
	t.Helper()
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		select {
		case <-clk.AtLeast(n):
			// A sleeper may give up in between (its context ended): look again.
			if until := clk.Sleepers(); len(until) >= n {
				return until, true
			}
		case <-stop:
			return nil, false
		case <-deadline.C:
			t.Fatalf("waited %s for %d goroutines to sleep on the clock, %d do", maxWait, n, len(clk.Sleepers()))
		}
	}
}
