package graph

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// clock tells the time and waits. The pacer, the reports window, the retry middleware and
// batch retries all wait on one, so that tests can replace the wall clock and never sleep.
type clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// limiter paces one class of Graph requests (writes, report reads). wait blocks until n
// more requests may go: prio marks a single-user write that must not queue behind bulk
// work, and n == 0 a repeat that Graph never counted, which waits only for a 429 hold.
// throttled tells the limiter Graph answered 429 and asked for a pause of retryAfter,
// which every request of the class then honours.
type limiter interface {
	wait(ctx context.Context, n int, prio bool) error
	throttled(retryAfter time.Duration)
}

// Pacer tuning. Graph counts each request of a JSON batch against its limits, so a batch
// of 20 revocations costs 20 tokens and the bucket must hold at least one full batch.
const (
	minBurst = batchSize
	// headroom keeps the steady pace just under the documented limit: Graph counts writes
	// over a sliding window, so a pace exactly at the limit plus any burst would cross it.
	headroom       = 0.97
	decreaseFactor = 0.5 // multiplicative decrease on a 429
	// recoverPerBatch is the additive increase: the fraction of the ceiling regained per
	// batch interval (the time one full batch takes at the ceiling; one second at Graph's
	// 20 writes/s, so 20 % of the ceiling per second there). Measuring it in batch
	// intervals rather than seconds makes recovery take the same number of requests at any
	// ceiling, so the scaled benchmarks recover like production does.
	recoverPerBatch  = 0.2
	floorFraction    = 0.05 // never slower than this fraction of the ceiling
	defaultThrottled = 2 * time.Second
	// prioBurst priority writes may go at once: one user's reset (its methods, a change of
	// default, the revocation) does not wait on itself.
	prioBurst = 10
)

// pacer is an adaptive token bucket shared by all writes of a Client: tokens accrue at
// rate per second, rate starts at the ceiling (the documented limit), halves when Graph
// answers 429 (at most once per throttling episode) and climbs back linearly while Graph
// stays quiet. A 429 also holds every caller until its Retry-After has passed, so no one
// retries into a throttled tenant. A 503 or 504 is none of the pacer's business: it
// holds only the request that got it (see retryHandler).
//
// Two lanes share the bucket. Bulk callers (batched revocations) take a ticket in a
// queue and sleep until the bucket has earned it, so the pace is smooth and nobody waits
// longer than the pace needs. Priority callers (single-user writes: a lost-phone reset)
// do not queue behind the bulk tickets: they take their tokens at once, which pushes every
// waiting bulk ticket back by as much, so the total stays within the budget and bulk
// slows down to pay for them. Priority calls are paced among themselves at the current
// rate (prioBurst of them may go at once) and still honour a 429 hold.
//
// Tokens are counted cumulatively: earned grows with time (never more than burst ahead of
// issued), issued grows with every bulk reservation, and a bulk ticket is the value of
// issued after its reservation; it may go once earned reaches it. A priority reservation
// subtracts from earned. Waiters recompute their wait whenever they wake, so a rate cut,
// a hold or a priority call while they sleep delays them too.
type pacer struct {
	mu        sync.Mutex
	clk       clock
	ceiling   float64
	floor     float64
	rate      float64
	burst     float64
	earned    float64
	issued    float64
	last      time.Time
	holdUntil time.Time
	lastCut   time.Time
	prioNext  time.Time // the priority lane's theoretical arrival time (GCRA)
}

func newPacer(ceiling float64, clk clock) *pacer {
	if clk == nil {
		clk = approvals.PaceClock{}
	}
	// One batch of burst: more would overshoot the limit's window at the start.
	burst := float64(minBurst)
	ceiling *= headroom
	return &pacer{
		clk:     clk,
		ceiling: ceiling,
		floor:   math.Max(ceiling*floorFraction, 0.05),
		rate:    ceiling,
		burst:   burst,
		earned:  burst,
		last:    clk.Now(),
	}
}

// batchInterval is how long one full batch of tokens takes to earn at the ceiling.
func (p *pacer) batchInterval() time.Duration {
	return time.Duration(p.burst / p.ceiling * float64(time.Second))
}

// recovery is the rate's additive increase per second.
func (p *pacer) recovery() float64 {
	return recoverPerBatch * p.ceiling * p.ceiling / p.burst
}

// refill adds the tokens earned since the last call, integrating the rate as it climbs;
// nothing accrues (and the rate does not recover) while held.
func (p *pacer) refill(now time.Time) {
	from := p.last
	if from.Before(p.holdUntil) {
		from = p.holdUntil
	}
	if now.After(from) {
		dt := now.Sub(from).Seconds()
		r0 := p.rate
		var gained float64
		switch up := (p.ceiling - r0) / p.recovery(); {
		case r0 >= p.ceiling:
			gained = r0 * dt
		case dt >= up:
			gained = (r0+p.ceiling)/2*up + p.ceiling*(dt-up)
			p.rate = p.ceiling
		default:
			p.rate = r0 + p.recovery()*dt
			gained = (r0 + p.rate) / 2 * dt
		}
		p.earned = math.Min(p.issued+p.burst, p.earned+gained)
	}
	if now.After(p.last) {
		p.last = now
	}
}

// reserve takes n tokens in the bulk or the priority lane and returns how long the caller
// must wait first; a bulk caller also gets the ticket to wait for (see until).
func (p *pacer) reserve(n int, prio bool) (ticket float64, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clk.Now()
	p.refill(now)
	if prio {
		p.earned -= float64(n)
		start := now
		if p.holdUntil.After(start) {
			start = p.holdUntil
		}
		// A generic cell rate: the lane's schedule may run up to prioBurst-1 requests
		// ahead of the clock before a caller waits.
		perToken := time.Duration(float64(time.Second) / p.rate)
		tat := p.prioNext
		if tat.Before(start) {
			tat = start
		}
		if allowed := tat.Add(-(prioBurst - 1) * perToken); allowed.After(start) {
			start = allowed
		}
		p.prioNext = tat.Add(time.Duration(n) * perToken)
		return 0, start.Sub(now)
	}
	p.issued += float64(n)
	return p.issued, p.delay(now, p.issued)
}

// until is how long a bulk ticket still waits: the hold, then the tokens it lacks.
func (p *pacer) until(ticket float64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clk.Now()
	p.refill(now)
	return p.delay(now, ticket)
}

func (p *pacer) delay(now time.Time, ticket float64) time.Duration {
	var d time.Duration
	if p.holdUntil.After(now) {
		d = p.holdUntil.Sub(now)
	}
	// Rounded up, so that a caller who sleeps d finds its tokens earned and need not
	// wake again for a rounding error.
	if lack := ticket - p.earned; lack > 1e-9 {
		d += time.Duration(math.Ceil(lack / p.rate * float64(time.Second)))
	}
	return d
}

// held returns how long the current hold still lasts.
func (p *pacer) held() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.holdUntil.Sub(p.clk.Now()); d > 0 {
		return d
	}
	return 0
}

func (p *pacer) wait(ctx context.Context, n int, prio bool) error {
	if n <= 0 {
		return waitHold(ctx, p.clk, p.held)
	}
	ticket, d := p.reserve(n, prio)
	for d > 0 {
		if err := p.clk.Sleep(ctx, d); err != nil {
			return err
		}
		// Whatever happened while we slept (a 429 seen by someone else, a cut, a priority
		// call) moves our turn.
		if prio {
			d = p.held()
		} else {
			d = p.until(ticket)
		}
	}
	return ctx.Err()
}

// waitHold waits until held reports no hold.
func waitHold(ctx context.Context, clk clock, held func() time.Duration) error {
	for d := held(); d > 0; d = held() {
		if err := clk.Sleep(ctx, d); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (p *pacer) throttled(retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = defaultThrottled
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clk.Now()
	p.refill(now)
	if until := now.Add(retryAfter); until.After(p.holdUntil) {
		p.holdUntil = until
	}
	// One episode of throttling (say the 20 items of one batch answered 429 together, or
	// the four batches in flight) cuts the rate once, not twenty times.
	episode := max(retryAfter, p.batchInterval())
	if now.Sub(p.lastCut) >= episode {
		p.rate = math.Max(p.floor, p.rate*decreaseFactor)
		p.lastCut = now
	}
	// No saved-up burst after a 429.
	if p.earned > p.issued {
		p.earned = p.issued
	}
}

// currentRate is the pace the pacer allows now, in requests per second.
func (p *pacer) currentRate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(p.clk.Now())
	return p.rate
}

// window allows at most n requests in any sliding window of the given length: the shape of
// Graph's reports limit (5 requests per 10 seconds per app per tenant). Unlike a token
// bucket with the same average rate, it never lets a burst straddle two windows, and it
// lets the first n requests of a quiet period go at once instead of spacing them out.
type window struct {
	mu        sync.Mutex
	clk       clock
	n         int
	length    time.Duration
	margin    time.Duration // slack for clock and latency jitter between us and Graph
	sent      []time.Time   // send times within the last window, oldest first
	holdUntil time.Time
}

func newWindow(n int, length time.Duration, clk clock) *window {
	if clk == nil {
		clk = approvals.PaceClock{}
	}
	return &window{n: n, length: length, margin: length / 50, clk: clk}
}

// next returns 0 and records a send if one may go now, or how long to wait otherwise.
func (w *window) next() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clk.Now()
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

func (w *window) held() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if d := w.holdUntil.Sub(w.clk.Now()); d > 0 {
		return d
	}
	return 0
}

// wait takes n places in the window; reads have no priority lane.
func (w *window) wait(ctx context.Context, n int, _ bool) error {
	if n <= 0 {
		return waitHold(ctx, w.clk, w.held)
	}
	for i := 0; i < n; i++ {
		for {
			d := w.next()
			if d <= 0 {
				break
			}
			if err := w.clk.Sleep(ctx, d); err != nil {
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
	if until := w.clk.Now().Add(retryAfter); until.After(w.holdUntil) {
		w.holdUntil = until
	}
}

// setClock replaces the pacer's clock before first use (tests), restarting its time.
func (p *pacer) setClock(clk clock) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clk, p.last = clk, clk.Now()
	p.holdUntil, p.lastCut, p.prioNext = time.Time{}, time.Time{}, time.Time{}
}

// setClock replaces the window's clock before first use (tests).
func (w *window) setClock(clk clock) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clk, w.sent, w.holdUntil = clk, nil, time.Time{}
}
