package graph

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// Retry tuning. kiota's own RetryHandler retries 429/503/504 out of sight (so nothing could
// slow the other requests down) and cannot rewind a body once the compression handler has
// replaced it; this one replaces it in the pipeline.
const (
	maxRetries     = 4
	maxRetryWait   = 2 * time.Minute // total time one request may spend waiting to retry
	baseBackoff    = time.Second
	maxBackoff     = 30 * time.Second
	attemptTimeout = 2 * time.Minute
)

// pacingKey marks a request's context with the limiter it is paced by and its cost in
// Graph requests (a JSON batch of 20 costs 20).
type pacingKey struct{}

type pacing struct {
	lim  limiter
	cost int
}

func withPacing(ctx context.Context, lim limiter, cost int) context.Context {
	return context.WithValue(ctx, pacingKey{}, pacing{lim: lim, cost: cost})
}

// retryHandler is a kiota middleware: it waits for the request's limiter before every
// attempt, retries 429, 503 and 504 after the server's Retry-After (or an exponential
// backoff with jitter when there is none), reports throttling to the limiter so every other
// request of its class pauses too, retries idempotent requests after transport errors, and
// counts every response for Stats.
type retryHandler struct {
	stats      *counters
	log        *slog.Logger
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
	p, _ := ctx.Value(pacingKey{}).(pacing)
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		if p.lim != nil {
			if err := p.lim.wait(ctx, p.cost); err != nil {
				return nil, err
			}
		}
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
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
			h.stats.transportErrors.Add(1)
			if ctx.Err() != nil || !idempotent(req.Method) || attempt >= h.maxRetries {
				return nil, err
			}
			delay := backoff(attempt)
			if waited+delay > maxRetryWait {
				return nil, err
			}
			waited += delay
			h.stats.retries.Add(1)
			h.log.DebugContext(ctx, "graph transport error, retrying", "method", req.Method, "path", req.URL.Path, "attempt", attempt+1, "delay", delay, "error", err)
			if err := sleep(ctx, delay); err != nil {
				return nil, err
			}
			continue
		}
		h.stats.response(resp.StatusCode)
		if !retriableFor(req.Method, resp.StatusCode) || attempt >= h.maxRetries {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		delay := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if delay <= 0 {
			delay = backoff(attempt)
		} else {
			// Honour Retry-After, plus a little jitter so that the callers it released do
			// not all arrive in the same millisecond.
			delay += time.Duration(rand.Int64N(int64(delay/10) + 1))
		}
		if waited+delay > maxRetryWait {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if p.lim != nil && resp.StatusCode != http.StatusGatewayTimeout {
			p.lim.throttled(delay)
		}
		waited += delay
		h.stats.retries.Add(1)
		h.log.DebugContext(ctx, "graph asked to retry", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "attempt", attempt+1, "delay", delay)
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

func retriable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// retriableFor adds 500 and 502 for requests that are safe to repeat: a read, or a delete
// that counts "already gone" as done.
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
	Retries         int64         // requests and batch items repeated after 429/503/504 or a transport error
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
