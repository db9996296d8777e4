package graph

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/mfabot/mfabot/approvals"
)

// Retry tuning. kiota's own RetryHandler retries 429/503/504 out of sight (so a 429 could
// not slow the other requests down) and cannot rewind a body once the compression handler
// has replaced it; this one replaces it in the pipeline.
const (
	maxRetries     = 4
	maxRetryWait   = 2 * time.Minute // total time one request may spend waiting to retry
	baseBackoff    = time.Second
	maxBackoff     = 30 * time.Second
	attemptTimeout = 2 * time.Minute
)

// pacingKey marks a request's context with the limiter it is paced by, its cost in Graph
// requests (a JSON batch of 20 costs 20) and whether it is a single-user write that goes
// ahead of bulk work.
type pacingKey struct{}

type pacing struct {
	lim  limiter
	cost int
	prio bool
	once bool // never repeated once Graph may have run it (withOnce)
}

// withPacing paces a bulk request (or a report read) of the given cost.
func withPacing(ctx context.Context, lim limiter, cost int) context.Context {
	return context.WithValue(ctx, pacingKey{}, pacing{lim: lim, cost: cost})
}

// withPriority paces a single-user write (a method deletion, a default-method or per-user
// MFA change, one user's revocation): it counts against the shared budget but does not
// queue behind bulk work, so a lost-phone reset does not wait for a 10,000-member
// revoke-group.
func withPriority(ctx context.Context, lim limiter) context.Context {
	if approvals.IsBulk(ctx) {
		// One user's write within bulk work (a bulk reset) queues with the bulk writes.
		return withPacing(ctx, lim, 1)
	}
	return context.WithValue(ctx, pacingKey{}, pacing{lim: lim, cost: 1, prio: true})
}

// withOnce marks a request whose effect cannot be undone or repeated safely (a mail sent):
// it is repeated only after the answers Graph documents as not run (429, 503), never after
// a timeout or a 504, after which it may have gone through.
func withOnce(ctx context.Context) context.Context {
	p, _ := ctx.Value(pacingKey{}).(pacing)
	p.once = true
	return context.WithValue(ctx, pacingKey{}, p)
}

// retryHandler is a kiota middleware: it waits for the request's limiter before every
// attempt and retries 429, 503 and 504 (and 500, 502 and transport errors for requests
// that are safe to repeat) after the server's Retry-After, or an exponential backoff
// with jitter when there is none. Only a 429 concerns the other requests: it tells the
// limiter, which holds every request of its class and slows the pace. A 503 or 504 holds
// only the request that got it; a 503 is repeated without paying for it again, because
// Graph never ran (or counted) the request it refused. Any other 4xx is Graph's final
// answer and is never repeated. Every response is counted for Stats.
type retryHandler struct {
	c          *Client
	maxRetries int
}

func (h *retryHandler) Intercept(pipeline khttp.Pipeline, index int, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	stats, log, clk := h.c.stats, h.c.log, h.c.clk
	p, _ := ctx.Value(pacingKey{}).(pacing)
	var waited time.Duration
	free := false // this attempt repeats one that Graph refused without running it
	for attempt := 0; ; attempt++ {
		if p.lim != nil {
			n := p.cost
			if free {
				n = 0
			}
			if err := p.lim.wait(ctx, n, p.prio); err != nil {
				return nil, err
			}
		}
		actx, cancel := context.WithTimeout(ctx, h.c.attemptTimeout)
		r := req.Clone(actx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		if attempt > 0 {
			r.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
		}
		resp, err := pipeline.Next(r, index)
		if err != nil {
			cancel()
			stats.transportErrors.Add(1)
			if ctx.Err() != nil || !idempotent(req.Method) || attempt >= h.maxRetries {
				return nil, err
			}
			delay := backoff(attempt)
			if waited+delay > maxRetryWait {
				return nil, err
			}
			waited += delay
			free = false // it may have reached Graph
			stats.retries.Add(1)
			log.DebugContext(ctx, "graph transport error, retrying", "method", req.Method, "path", req.URL.Path, "attempt", attempt+1, "delay", delay, approvals.LogErr, err)
			if err := clk.Sleep(ctx, delay); err != nil {
				return nil, err
			}
			continue
		}
		stats.response(resp.StatusCode)
		notRun := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !retriableFor(req.Method, resp.StatusCode) || attempt >= h.maxRetries || (p.once && !notRun) {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		delay := retryDelay(resp.Header.Get("Retry-After"), attempt, clk.Now())
		if waited+delay > maxRetryWait {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if p.lim != nil && resp.StatusCode == http.StatusTooManyRequests {
			p.lim.throttled(delay)
		}
		free = resp.StatusCode == http.StatusServiceUnavailable
		waited += delay
		stats.retries.Add(1)
		log.DebugContext(ctx, "graph asked to retry", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "attempt", attempt+1, "delay", delay)
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		if err := clk.Sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// retryDelay is how long to wait before repeating a request Graph answered with a
// Retry-After of v: that, plus a little jitter so that the callers it released do not all
// arrive in the same millisecond, or an exponential backoff when Graph named no delay.
func retryDelay(v string, attempt int, now time.Time) time.Duration {
	d := parseRetryAfter(v, now)
	if d <= 0 {
		return backoff(attempt)
	}
	return d + time.Duration(rand.Int64N(int64(d/10)+1))
}

func retriable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// retriableFor adds 500 and 502 for requests that are safe to repeat: a read, or a delete
// that counts "already gone" as done. No other 4xx than 429 is ever repeated: it is
// Graph's answer, not an accident.
func retriableFor(method string, status int) bool {
	return retriable(status) || (idempotent(method) && (status == http.StatusInternalServerError || status == http.StatusBadGateway))
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete
}

// backoff is exponential with full jitter: a random delay in [base·2^n / 2, base·2^n].
func backoff(attempt int) time.Duration {
	d := baseBackoff << attempt
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// cancelOnClose ends an attempt's context when the caller is done with the body, not
// before: the body is read after the middleware returns.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// counters back Stats.
type counters struct {
	requests        atomic.Int64
	throttled       atomic.Int64
	retries         atomic.Int64
	transportErrors atomic.Int64
	mu              sync.Mutex
	byStatus        map[int]int64
	batchItems      map[int]int64
}

func newCounters() *counters {
	return &counters{byStatus: map[int]int64{}, batchItems: map[int]int64{}}
}

func (c *counters) response(status int) {
	c.requests.Add(1)
	if status == http.StatusTooManyRequests {
		c.throttled.Add(1)
	}
	c.mu.Lock()
	c.byStatus[status]++
	c.mu.Unlock()
}

func (c *counters) batchItem(status int) {
	if status == http.StatusTooManyRequests {
		c.throttled.Add(1)
	}
	c.mu.Lock()
	c.batchItems[status]++
	c.mu.Unlock()
}

// Stats are the Client's request counters since New, for metrics.
type Stats struct {
	Requests        int64         // HTTP responses received, every attempt counted
	ByStatus        map[int]int64 // HTTP responses by status code
	BatchItems      map[int]int64 // responses inside JSON batches, by status code
	Throttled       int64         // 429s, HTTP responses and batch items together
	Retries         int64         // requests and batch items repeated after 429/5xx or a transport error
	TransportErrors int64         // attempts that got no HTTP response
	WriteRate       float64       // the pace bulk writes are allowed now, per second
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Requests:        c.requests.Load(),
		Throttled:       c.throttled.Load(),
		Retries:         c.retries.Load(),
		TransportErrors: c.transportErrors.Load(),
		ByStatus:        map[int]int64{},
		BatchItems:      map[int]int64{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.byStatus {
		s.ByStatus[k] = v
	}
	for k, v := range c.batchItems {
		s.BatchItems[k] = v
	}
	return s
}
