package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/graph"
)

// metrics is mfabot's Prometheus registry. It observes the core from the outside (as a
// Notifier, a Platform wrapper and a Graph stats reader), so no package below cmd
// depends on Prometheus.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	approvalWait prometheus.Histogram
	items        *prometheus.CounterVec
	platformErrs *prometheus.CounterVec
	platformOps  *prometheus.CounterVec
	summaryRuns  *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	rejected     *prometheus.CounterVec

	mu   sync.Mutex
	seen map[string][2]int // request id -> done, failed already counted
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_requests_total", Help: "Requests by kind and the state they reached (pending when made).",
		}, []string{"kind", "state"}),
		approvalWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mfabot_approval_latency_seconds", Help: "Time from a request to its approval.",
			Buckets: []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_executor_items_total", Help: "Executed items (method deletions, revocations, MFA state changes) by result.",
		}, []string{"result"}),
		platformErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_platform_api_errors_total", Help: "Slack/Teams/console API calls that failed, by platform and operation.",
		}, []string{"platform", "op"}),
		platformOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_platform_api_calls_total", Help: "Slack/Teams/console API calls, by platform and operation.",
		}, []string{"platform", "op"}),
		summaryRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_summary_posts_total", Help: "Enrollment summary posts by platform and outcome.",
		}, []string{"platform", "outcome"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_http_requests_total", Help: "Inbound HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfabot_inbound_rejected_total", Help: "Inbound Slack/Teams requests refused before reaching the bot (bad signature or token, another tenant, overloaded), by platform and reason.",
		}, []string{"platform", "reason"}),
		seen: map[string][2]int{},
	}
	m.reg.MustRegister(m.requests, m.approvalWait, m.items, m.platformErrs, m.platformOps, m.summaryRuns, m.httpRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.rejected)
	return m
}

// reject counts an inbound request refused before it reached the bot.
func (m *metrics) reject(platform, reason string) { m.rejected.WithLabelValues(platform, reason).Inc() }

// rejecter counts a platform's refused requests (slack.Config.OnReject, teams.Config.OnReject).
func (m *metrics) rejecter(platform string) func(reason string) {
	return func(reason string) { m.reject(platform, reason) }
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// watchGraph exports the Graph client's counters: calls by status, 429s, retries and the
// pace bulk writes are allowed.
func (m *metrics) watchGraph(g *graph.Client) {
	m.reg.MustRegister(&graphCollector{g: g,
		byStatus:  prometheus.NewDesc("mfabot_graph_responses_total", "Graph HTTP responses by status code (every attempt).", []string{"status"}, nil),
		batch:     prometheus.NewDesc("mfabot_graph_batch_item_responses_total", "Responses inside Graph JSON batches by status code.", []string{"status"}, nil),
		throttled: prometheus.NewDesc("mfabot_graph_throttled_total", "Graph 429 responses, HTTP and batch items.", nil, nil),
		retries:   prometheus.NewDesc("mfabot_graph_retries_total", "Graph attempts repeated after 429/503/504 or a transport error.", nil, nil),
		transport: prometheus.NewDesc("mfabot_graph_transport_errors_total", "Graph attempts that got no HTTP response.", nil, nil),
		rate:      prometheus.NewDesc("mfabot_graph_write_rate", "Writes per second bulk work is paced to now.", nil, nil),
	})
}

type graphCollector struct {
	g                                                    *graph.Client
	byStatus, batch, throttled, retries, transport, rate *prometheus.Desc
}

func (c *graphCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.byStatus, c.batch, c.throttled, c.retries, c.transport, c.rate} {
		ch <- d
	}
}

func (c *graphCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.g.Stats()
	for code, n := range s.ByStatus {
		ch <- prometheus.MustNewConstMetric(c.byStatus, prometheus.CounterValue, float64(n), strconv.Itoa(code))
	}
	for code, n := range s.BatchItems {
		ch <- prometheus.MustNewConstMetric(c.batch, prometheus.CounterValue, float64(n), strconv.Itoa(code))
	}
	ch <- prometheus.MustNewConstMetric(c.throttled, prometheus.CounterValue, float64(s.Throttled))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(c.transport, prometheus.CounterValue, float64(s.TransportErrors))
	ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, s.WriteRate)
}

// notifier returns a Notifier that counts what happens to requests, then passes it on.
func (m *metrics) notifier(next approvals.Notifier) approvals.Notifier {
	return notifierFunc(func(ctx context.Context, r *approvals.Request, event string) {
		m.observe(r, event)
		next.Notify(ctx, r, event)
	})
}

type notifierFunc func(ctx context.Context, r *approvals.Request, event string)

func (f notifierFunc) Notify(ctx context.Context, r *approvals.Request, event string) {
	f(ctx, r, event)
}

func (m *metrics) observe(r *approvals.Request, event string) {
	kind := string(r.Kind)
	switch event {
	case approvals.EventRequested:
		m.requests.WithLabelValues(kind, string(approvals.StatePending)).Inc()
	case approvals.EventApproved:
		if r.State == approvals.StateApproved {
			m.requests.WithLabelValues(kind, string(approvals.StateApproved)).Inc()
			if n := len(r.Approvals); n > 0 {
				m.approvalWait.Observe(r.Approvals[n-1].At.Sub(r.CreatedAt).Seconds())
			}
		}
	case approvals.EventDenied, approvals.EventExpired, approvals.EventCancelled, approvals.EventFinished:
		m.requests.WithLabelValues(kind, string(r.State)).Inc()
	}
	// Items are counted from the progress the executor reports, as deltas per request.
	m.mu.Lock()
	prev := m.seen[r.ID]
	if d := r.Done - prev[0]; d > 0 {
		m.items.WithLabelValues("done").Add(float64(d))
	}
	if d := r.Failed - prev[1]; d > 0 {
		m.items.WithLabelValues("failed").Add(float64(d))
	}
	if r.State.Final() {
		delete(m.seen, r.ID)
	} else if r.Done > prev[0] || r.Failed > prev[1] {
		m.seen[r.ID] = [2]int{max(r.Done, prev[0]), max(r.Failed, prev[1])}
	}
	m.mu.Unlock()
}

// platform wraps a chat platform to count its API calls and errors.
func (m *metrics) platform(p bot.Platform) bot.Platform { return &countedPlatform{Platform: p, m: m} }

// summaryPlatform wraps a platform the summary job posts to, to count summary posts.
func (m *metrics) summaryPlatform(p bot.Platform) bot.Platform {
	return &summaryCounted{Platform: m.platform(p), m: m}
}

type countedPlatform struct {
	bot.Platform
	m *metrics
}

func (c *countedPlatform) count(op string, err error) {
	c.m.platformOps.WithLabelValues(c.Name(), op).Inc()
	if err != nil && !errors.Is(err, bot.ErrUnreachable) {
		c.m.platformErrs.WithLabelValues(c.Name(), op).Inc()
	}
}

func (c *countedPlatform) Post(ctx context.Context, msg bot.Message) (bot.MessageRef, error) {
	ref, err := c.Platform.Post(ctx, msg)
	c.count("post", err)
	return ref, err
}

func (c *countedPlatform) Update(ctx context.Context, ref bot.MessageRef, msg bot.Message) error {
	err := c.Platform.Update(ctx, ref, msg)
	c.count("update", err)
	return err
}

func (c *countedPlatform) Tell(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	err := c.Platform.Tell(ctx, to, msg)
	c.count("tell", err)
	return err
}

type summaryCounted struct {
	bot.Platform
	m *metrics
}

func (s *summaryCounted) Post(ctx context.Context, msg bot.Message) (bot.MessageRef, error) {
	ref, err := s.Platform.Post(ctx, msg)
	outcome := "posted"
	if err != nil {
		outcome = "failed"
	}
	s.m.summaryRuns.WithLabelValues(s.Name(), outcome).Inc()
	return ref, err
}

// instrument counts inbound HTTP requests by route.
func (m *metrics) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		if pattern == "" {
			pattern = "unmatched"
		}
		m.httpRequests.WithLabelValues(pattern, strconv.Itoa(rec.code)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
