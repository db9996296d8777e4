package graph_test

import (
	"time"

	"github.com/mfabot/mfabot/approvals/approvalstest"
)

// t0 is where the tests' fake clocks start.
var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// newSkipClock is fake time in which every wait returns at once. Client and simulator
// share it (graph.SetClock, graphtest Options.Now), so that a test of throttling takes no
// wall-clock time.
func newSkipClock() *approvalstest.SkipClock { return approvalstest.NewSkipClock(t0) }
