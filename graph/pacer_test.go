package graph

import (
	"math"
	"testing"
	"time"
)

// TestPacerSlowsDownAndRecovers: the pace starts just under the ceiling, halves once per
// throttling episode (twenty 429s of one batch cut it once), holds everyone for
// Retry-After, and climbs back to the ceiling while Graph stays quiet.
func TestPacerSlowsDownAndRecovers(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	p := newPacer(20, func() time.Time { return now })
	ceiling := 20 * headroom
	if r := p.currentRate(); math.Abs(r-ceiling) > 1e-9 {
		t.Fatalf("start rate %.2f, want %.2f", r, ceiling)
	}
	// One batch goes at once; the next waits for its tokens at the pace.
	if d := p.reserve(20); d != 0 {
		t.Fatalf("first batch waits %s", d)
	}
	if d := p.reserve(20); math.Abs(d.Seconds()-20/ceiling) > 0.01 {
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
	now = now.Add(2 * time.Second)
	if d := p.held(); d != 0 {
		t.Fatalf("still held after Retry-After: %s", d)
	}
	now = now.Add(5 * time.Second)
	r := p.currentRate()
	if r <= ceiling/2 || r >= ceiling {
		t.Fatalf("rate after 5 quiet seconds %.2f: should be climbing", r)
	}
	now = now.Add(30 * time.Second)
	if r := p.currentRate(); math.Abs(r-ceiling) > 1e-9 {
		t.Fatalf("rate after recovery %.2f, want the ceiling %.2f", r, ceiling)
	}
}

// TestWindowReportsLimit: at most n requests in any window, the first n at once.
func TestWindowReportsLimit(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	w := newWindow(5, 10*time.Second, func() time.Time { return now })
	for i := range 5 {
		if d := w.next(); d != 0 {
			t.Fatalf("request %d waits %s", i, d)
		}
	}
	d := w.next()
	if d < 10*time.Second || d > 11*time.Second {
		t.Fatalf("sixth request waits %s, want about the window", d)
	}
	now = now.Add(d)
	if d := w.next(); d != 0 {
		t.Fatalf("after the window: %s", d)
	}
}
