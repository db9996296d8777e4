package teams

import (
	"context"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// window is one of Teams' per-bot, per-thread limits: at most n operations in any period d.
type window struct {
	d time.Duration
	n int
}

// threadLimits are the documented "send to conversation" and "create conversation"
// limits per bot per thread (Teams: "Optimize your bot with rate limiting").
var threadLimits = []window{
	{time.Second, 7},
	{2 * time.Second, 8},
	{30 * time.Second, 60},
	{time.Hour, 1800},
}

// appLimits is the documented global limit per app per tenant, 50 requests a second, for
// every Connector call together: a nudge to thousands opens as many personal chats.
var appLimits = []window{{time.Second, 50}}

// limiter spaces the operations on each conversation so that none of the windows is
// exceeded. Slots are reserved in order, so concurrent senders queue fairly.
type limiter struct {
	windows []window
	// clk is approvals.PaceClock, not Config.Clock: that one is in UTC, which drops the
	// monotonic reading, so a step of the system clock would bunch or stall the slots.
	// Tests put it on a fake clock to check the pacing in fake time instead of waiting.
	clk clock

	mu    sync.Mutex
	convs map[string][]time.Time // reserved slots, ascending
}

func newLimiter(windows []window) *limiter {
	return &limiter{windows: windows, clk: approvals.PaceClock{}, convs: map[string][]time.Time{}}
}

// clock tells the time and waits: what pacing needs.
type clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// reserve books the earliest slot for key that keeps every window and returns how long
// to wait for it.
func (l *limiter) reserve(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	longest := l.windows[len(l.windows)-1].d
	ev := l.convs[key]
	cut := 0
	for cut < len(ev) && now.Sub(ev[cut]) >= longest {
		cut++
	}
	ev = ev[cut:]
	t := now
	if len(ev) > 0 && ev[len(ev)-1].After(t) {
		t = ev[len(ev)-1]
	}
	for _, w := range l.windows {
		// Among the last n slots and t, at most n may fall within any period d — d padded,
		// because requests reach Teams a little later than their slots, and not all equally.
		if len(ev) >= w.n {
			if at := ev[len(ev)-w.n].Add(w.d + max(100*time.Millisecond, w.d/10)); at.After(t) {
				t = at
			}
		}
	}
	l.convs[key] = append(ev, t)
	if len(l.convs) > 1024 {
		for k, e := range l.convs {
			if len(e) == 0 || now.Sub(e[len(e)-1]) >= longest {
				delete(l.convs, k)
			}
		}
	}
	return t.Sub(now)
}

// wait blocks until the next slot for key, or until ctx is done.
func (l *limiter) wait(ctx context.Context, key string) error {
	d := l.reserve(key)
	if d <= 0 {
		return ctx.Err()
	}
	return l.clk.Sleep(ctx, d)
}
