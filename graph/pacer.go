package graph

import (
	"context"
	"math"
	"sync"
	"time"
)

// limiter paces one class of Graph requests (bulk writes, report reads). wait blocks until
// n more requests may go; throttled tells it Graph answered 429 (or 503) and asked for a
// pause of retryAfter, which every request of the class then honours.
type limiter interface {
	wait(ctx context.Context, n int) error
	throttled(retryAfter time.Duration)
}

// Pacer tuning. Graph counts each request of a JSON batch against its limits, so a batch
// of 20 revocations costs 20 tokens and the bucket must hold at least one full batch.
const (
	minBurst = batchSize
	// headroom keeps the steady pace just under the documented limit: Graph counts writes
	// over a sliding window, so a pace exactly at the limit plus any burst would cross it.
	headroom         = 0.97
	decreaseFactor   = 0.5  // multiplicative decrease on a 429
	increasePerSec   = 0.05 // additive increase: fraction of the ceiling regained per second
	floorFraction    = 0.05 // never slower than this fraction of the ceiling
	defaultThrottled = 2 * time.Second
)

// pacer is an adaptive token bucket shared by all bulk writes of a Client: it refills at
// rate tokens per second, rate starts at the ceiling (the documented limit), halves when
// Graph throttles (at most once per throttling episode) and climbs back linearly while
// Graph stays quiet. A 429 also holds every caller until its Retry-After has passed, so
// no one retries into a throttled tenant. Callers reserve tokens and sleep for the
// deficit, so the pace is smooth, not bursty, and nobody waits longer than the pace needs.
type pacer struct {
	mu        sync.Mutex
	ceiling   float64
	floor     float64
	rate      float64
	burst     float64
	tokens    float64
	last      time.Time
	holdUntil time.Time
	lastCut   time.Time
	now       func() time.Time
}

func newPacer(ceiling float64, now func() time.Time) *pacer {
	if now == nil {
		now = time.Now
	}
	// One batch of burst: more would overshoot the limit's window at the start.
	burst := float64(minBurst)
	ceiling *= headroom
	t := now()
	return &pacer{
		ceiling: ceiling,
		floor:   math.Max(ceiling*floorFraction, 0.05),
		rate:    ceiling,
		burst:   burst,
		tokens:  burst,
		last:    t,
		now:     now,
	}
}

// refill adds the tokens earned since the last call; nothing accrues while held.
func (p *pacer) refill(now time.Time) {
	from := p.last
	if from.Before(p.holdUntil) {
		from = p.holdUntil
	}
	if now.After(from) {
		dt := now.Sub(from).Seconds()
		if p.rate < p.ceiling {
			p.rate = math.Min(p.ceiling, p.rate+p.ceiling*increasePerSec*dt)
		}
		p.tokens = math.Min(p.burst, p.tokens+p.rate*dt)
	}
	if now.After(p.last) {
		p.last = now
	}
}

// reserve takes n tokens and returns how long the caller must wait before using them.
func (p *pacer) reserve(n int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now)
	p.tokens -= float64(n)
	var d time.Duration
	if p.holdUntil.After(now) {
		d = p.holdUntil.Sub(now)
	}
	if p.tokens < 0 {
		d += time.Duration(-p.tokens / p.rate * float64(time.Second))
	}
	return d
}

// held returns how long the current hold still lasts.
func (p *pacer) held() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.holdUntil.Sub(p.now()); d > 0 {
		return d
	}
	return 0
}

func (p *pacer) wait(ctx context.Context, n int) error {
	d := p.reserve(n)
	for d > 0 {
		if err := sleep(ctx, d); err != nil {
			return err
		}
		// A 429 seen by someone else while we slept holds us too.
		d = p.held()
	}
	return ctx.Err()
}

func (p *pacer) throttled(retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = defaultThrottled
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now)
	if until := now.Add(retryAfter); until.After(p.holdUntil) {
		p.holdUntil = until
	}
	// One episode of throttling (say the 20 items of one batch answered 429 together)
	// cuts the rate once, not twenty times.
	episode := retryAfter
	if episode < time.Second {
		episode = time.Second
	}
	if now.Sub(p.lastCut) >= episode {
		p.rate = math.Max(p.floor, p.rate*decreaseFactor)
		p.lastCut = now
	}
	if p.tokens > 0 {
		p.tokens = 0
	}
}

// currentRate is the pace the pacer allows now, in requests per second.
func (p *pacer) currentRate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(p.now())
	return p.rate
}

// window allows at most n requests in any sliding window of the given length: the shape of
// Graph's reports limit (5 requests per 10 seconds per app per tenant). Unlike a token
// bucket with the same average rate, it never lets a burst straddle two windows, and it
// lets the first n requests of a quiet period go at once instead of spacing them out.
type window struct {
	mu        sync.Mutex
	n         int
	length    time.Duration
	margin    time.Duration // slack for clock and latency jitter between us and Graph
	sent      []time.Time   // send times within the last window, oldest first
	holdUntil time.Time
	now       func() time.Time
}

func newWindow(n int, length time.Duration, now func() time.Time) *window {
	if now == nil {
		now = time.Now
	}
	return &window{n: n, length: length, margin: length / 50, now: now}
}

// next returns 0 and records a send if one may go now, or how long to wait otherwise.
func (w *window) next() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.holdUntil.After(now) {
		return w.holdUntil.Sub(now)
	}
	cut := 0
	for cut < len(w.sent) && !w.sent[cut].Add(w.length+w.margin).After(now) {
		cut++
	}
	w.sent = w.sent[cut:]
	if len(w.sent) < w.n {
		w.sent = append(w.sent, now)
		return 0
	}
	return w.sent[0].Add(w.length + w.margin).Sub(now)
}

func (w *window) wait(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		for {
			d := w.next()
			if d <= 0 {
				break
			}
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func (w *window) throttled(retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = defaultThrottled
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if until := w.now().Add(retryAfter); until.After(w.holdUntil) {
		w.holdUntil = until
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
