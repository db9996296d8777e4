package graph

import (
	"context"
	"math"
	"testing"
	"time"
)

// fakeNow is a clock the test moves by hand; its Sleep must not be reached by the
// reserve/until calls these tests make.
type fakeNow struct {
	t   *testing.T
	now time.Time
}

func (c *fakeNow) Now() time.Time { return c.now }
func (c *fakeNow) Sleep(context.Context, time.Duration) error {
	c.t.Fatal("pacer unit tests must not sleep")
	return nil
}

func newFakeNow(t *testing.T) *fakeNow {
	return &fakeNow{t: t, now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
}

func near(d time.Duration, secs float64) bool { return math.Abs(d.Seconds()-secs) < 0.01 }

// TestPacerSlowsDownAndRecovers: the pace starts just under the ceiling, halves once per
// throttling episode (twenty 429s of one batch cut it once), holds everyone for
// Retry-After, and climbs back to the ceiling by recoverPerBatch of it per batch interval
// while Graph stays quiet.
func TestPacerSlowsDownAndRecovers(t *testing.T) {
	t.Parallel()
	clk := newFakeNow(t)
	p := newPacer(20, clk)
	ceiling := 20 * headroom
	if r := p.currentRate(); math.Abs(r-ceiling) > 1e-9 {
		t.Fatalf("start rate %.2f, want %.2f", r, ceiling)
	}
	// One batch goes at once; the next waits for its tokens at the pace.
	if _, d := p.reserve(20, false); d != 0 {
		t.Fatalf("first batch waits %s", d)
	}
	if _, d := p.reserve(20, false); !near(d, 20/ceiling) {
		t.Fatalf("second batch waits %s, want %.2fs", d, 20/ceiling)
	}
	for range 20 {
		p.throttled(2 * time.Second)
	}
	if r := p.currentRate(); math.Abs(r-ceiling/2) > 1e-9 {
		t.Fatalf("after one episode rate %.2f, want %.2f", r, ceiling/2)
	}
	if d := p.held(); d != 2*time.Second {
		t.Fatalf("hold %s, want the Retry-After", d)
	}
	// A second episode, once the first is over, cuts again.
	clk.now = clk.now.Add(2 * time.Second)
	if d := p.held(); d != 0 {
		t.Fatalf("still held after Retry-After: %s", d)
	}
	p.throttled(time.Second)
	if r := p.currentRate(); math.Abs(r-ceiling/4) > 1e-9 {
		t.Fatalf("after a second episode rate %.2f, want %.2f", r, ceiling/4)
	}
	clk.now = clk.now.Add(time.Second) // the hold ends
	// Recovery: recoverPerBatch of the ceiling per batch interval.
	interval := p.batchInterval()
	clk.now = clk.now.Add(interval)
	want := ceiling/4 + recoverPerBatch*ceiling
	if r := p.currentRate(); math.Abs(r-want) > 1e-6 {
		t.Fatalf("rate one quiet batch interval later %.3f, want %.3f", r, want)
	}
	// Faster than 5 % of the ceiling per second, the pace before this change.
	if perSec := p.recovery() / ceiling; perSec <= 0.05 {
		t.Fatalf("recovery %.3f of the ceiling per second", perSec)
	}
	clk.now = clk.now.Add(time.Duration(1/recoverPerBatch) * interval)
	if r := p.currentRate(); math.Abs(r-ceiling) > 1e-9 {
		t.Fatalf("rate after recovery %.2f, want the ceiling %.2f", r, ceiling)
	}
}

// TestPacerNoBurstAfterHold: tickets queued before a 429 do not all go when the hold
// ends; they resume at the cut pace, one after the other.
func TestPacerNoBurstAfterHold(t *testing.T) {
	t.Parallel()
	clk := newFakeNow(t)
	p := newPacer(20, clk)
	ceiling := 20 * headroom
	var tickets []float64
	for range 4 {
		tk, _ := p.reserve(20, false)
		tickets = append(tickets, tk)
	}
	p.throttled(3 * time.Second)
	for i, tk := range tickets {
		want := 3 + float64(i)*20/(ceiling/2)
		if d := p.until(tk); !near(d, want) {
			t.Errorf("ticket %d waits %s after the 429, want %.2fs", i, d, want)
		}
	}
}

// TestPacerPriority: a single-user write reserved while bulk callers hold a deficit of
// three batches goes at once, but counts: every bulk ticket already waiting, and every
// one reserved afterwards, waits longer by its cost. A 429 holds priority writes too.
func TestPacerPriority(t *testing.T) {
	t.Parallel()
	clk := newFakeNow(t)
	p := newPacer(20, clk)
	ceiling := 20 * headroom
	var last float64
	for range 4 {
		last, _ = p.reserve(20, false)
	}
	before := p.until(last)
	if !near(before, 60/ceiling) {
		t.Fatalf("fourth batch waits %s, want %.2fs", before, 60/ceiling)
	}
	if _, d := p.reserve(1, true); d != 0 {
		t.Fatalf("priority write waits %s behind bulk", d)
	}
	if after := p.until(last); !near(after-before, 1/ceiling) {
		t.Fatalf("bulk ticket waits %s after the priority write, %s before: want %.3fs more", after, before, 1/ceiling)
	}
	if _, d := p.reserve(20, false); !near(d, 81/ceiling) {
		t.Fatalf("next bulk batch waits %s, want %.2fs", d, 81/ceiling)
	}
	// Priority writes are paced among themselves at the current rate, prioBurst at once.
	for i := 2; i <= prioBurst; i++ {
		if _, d := p.reserve(1, true); d != 0 {
			t.Fatalf("priority write %d of a burst waits %s", i, d)
		}
	}
	if _, d := p.reserve(1, true); !near(d, 1/ceiling) {
		t.Fatalf("priority write past the burst waits %s, want %.3fs", d, 1/ceiling)
	}
	clk.now = clk.now.Add(time.Second)
	p.throttled(2 * time.Second)
	if _, d := p.reserve(1, true); d != 2*time.Second {
		t.Fatalf("priority write during a 429 hold waits %s, want the hold", d)
	}
}

// TestPacerRepeatWaitsOnlyForHold: a repeat Graph never counted (n == 0) takes no tokens
// and does not queue behind the bulk deficit; it does wait out a 429 hold.
func TestPacerRepeatWaitsOnlyForHold(t *testing.T) {
	t.Parallel()
	clk := newFakeNow(t)
	p := newPacer(20, clk)
	var last float64
	for range 3 {
		last, _ = p.reserve(20, false)
	}
	before := p.until(last)
	if err := p.wait(context.Background(), 0, false); err != nil { // would Sleep (and fail) if it queued
		t.Fatal(err)
	}
	if after := p.until(last); after != before {
		t.Fatalf("a free repeat moved the bulk queue from %s to %s", before, after)
	}
	slept := &sleepRecorder{now: clk.now}
	p.setClock(slept)
	p.throttled(time.Second)
	if err := p.wait(context.Background(), 0, false); err != nil || slept.total != time.Second {
		t.Fatalf("free repeat during a hold slept %s (%v), want the hold", slept.total, err)
	}
}

// sleepRecorder is a clock whose Sleep moves its time forward at once and adds it up.
type sleepRecorder struct {
	now   time.Time
	total time.Duration
}

func (c *sleepRecorder) Now() time.Time { return c.now }
func (c *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	c.total += d
	return ctx.Err()
}

// TestWindowReportsLimit: at most n requests in any window, the first n at once.
func TestWindowReportsLimit(t *testing.T) {
	t.Parallel()
	clk := newFakeNow(t)
	w := newWindow(5, 10*time.Second, clk)
	for i := range 5 {
		if d := w.next(); d != 0 {
			t.Fatalf("request %d waits %s", i, d)
		}
	}
	d := w.next()
	if d < 10*time.Second || d > 11*time.Second {
		t.Fatalf("sixth request waits %s, want about the window", d)
	}
	clk.now = clk.now.Add(d)
	if d := w.next(); d != 0 {
		t.Fatalf("after the window: %s", d)
	}
}
