package main

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults of httpConfig: what the public HTTP endpoint allows a client.
const (
	// defaultReadHeaderTimeout bounds the request line and headers.
	defaultReadHeaderTimeout = 10 * time.Second
	// defaultBodyTimeout bounds a whole request, headers and body: a client that trickles
	// its body is cut off after it, with whatever it sent dropped. Slack and the Bot
	// Connector send their few kilobytes at once.
	defaultBodyTimeout = 30 * time.Second
	// defaultWriteTimeout runs from the end of the headers to the end of the answer: the
	// body (defaultBodyTimeout), the handler (a Teams key fetch of up to 10 s and a card
	// action of up to teams.DefaultInvokeTimeout; Slack is acknowledged at once) and the
	// write.
	defaultWriteTimeout = 60 * time.Second
	// defaultIdleTimeout closes kept-alive connections that send nothing more.
	defaultIdleTimeout = 60 * time.Second
	// defaultMaxHeaderBytes leaves room for a Bot Framework JWT many times over.
	defaultMaxHeaderBytes = 64 << 10
	// defaultMaxInbound is how many requests to the platform endpoints may be in their
	// handlers at once. Each may hold up to 1 MiB of body; beyond it the answer is 503.
	defaultMaxInbound = 64
	// shedLogEvery spaces the log lines about refused (shed) requests.
	shedLogEvery = 10 * time.Second
)

// inboundPaths are the endpoints Slack and the Bot Connector post to, by platform. Their
// requests are unauthenticated until the adapter has checked them, so they are capped;
// health and metrics are not.
var inboundPaths = []struct{ prefix, platform string }{
	{"/slack/", "slack"},
	{"/api/messages", "teams"},
}

// httpConfig is what newHTTPServer builds a server from: its defaults, changed by options.
type httpConfig struct {
	ReadHeaderTimeout time.Duration
	BodyTimeout       time.Duration // http.Server.ReadTimeout: headers and body
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	MaxInbound        int
	// OnShed is told of every request refused because MaxInbound requests were in flight.
	OnShed func(platform string)
	// Now tells the time for spacing log lines; time.Now when nil.
	Now func() time.Time
}

// httpOption changes an httpConfig.
type httpOption func(*httpConfig)

// withShedCounter reports refused inbound requests to count as the platform's rejections
// with reason "overloaded".
func withShedCounter(count func(platform, reason string)) httpOption {
	return func(c *httpConfig) {
		c.OnShed = func(platform string) { count(platform, "overloaded") }
	}
}

// newHTTPServer is the server of mfabot's public endpoint: handler behind timeouts for
// slow clients and a cap on concurrent requests to the platform endpoints.
func newHTTPServer(handler http.Handler, log *slog.Logger, opts ...httpOption) *http.Server {
	c := httpConfig{
		ReadHeaderTimeout: defaultReadHeaderTimeout,
		BodyTimeout:       defaultBodyTimeout,
		WriteTimeout:      defaultWriteTimeout,
		IdleTimeout:       defaultIdleTimeout,
		MaxHeaderBytes:    defaultMaxHeaderBytes,
		MaxInbound:        defaultMaxInbound,
		Now:               time.Now,
	}
	for _, o := range opts {
		o(&c)
	}
	// The header deadline may not outlast the deadline of the whole request.
	c.ReadHeaderTimeout = min(c.ReadHeaderTimeout, c.BodyTimeout)
	return &http.Server{
		Handler:           newInboundLimiter(handler, c, log),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.BodyTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// inboundLimiter lets at most cap(slots) requests to the platform endpoints run at once
// and answers the others 503 at once, closing their connections so that no unread body
// is waited for.
type inboundLimiter struct {
	next   http.Handler
	slots  chan struct{}
	onShed func(platform string)
	log    *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	loggedAt   time.Time
	suppressed int
}

func newInboundLimiter(next http.Handler, c httpConfig, log *slog.Logger) *inboundLimiter {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &inboundLimiter{next: next, slots: make(chan struct{}, max(c.MaxInbound, 1)), onShed: c.OnShed, log: log, now: c.Now}
}

func (l *inboundLimiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	platform := inboundPlatform(r.URL.Path)
	if platform == "" {
		l.next.ServeHTTP(w, r)
		return
	}
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
		l.next.ServeHTTP(w, r)
	default:
		l.shed(platform)
		// The answer is the connection's last, and it closes once that is sent rather
		// than wait for the body.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy, try again", http.StatusServiceUnavailable)
	}
}

// inFlight is how many requests to the platform endpoints are in their handlers.
func (l *inboundLimiter) inFlight() int { return len(l.slots) }

// shed counts a refused request and logs it, at most once per shedLogEvery with the
// number of refusals not logged since.
func (l *inboundLimiter) shed(platform string) {
	if l.onShed != nil {
		l.onShed(platform)
	}
	l.mu.Lock()
	now := l.now()
	if !l.loggedAt.IsZero() && now.Sub(l.loggedAt) < shedLogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.loggedAt, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("inbound requests refused: too many in flight", "platform", platform,
		"max_in_flight", cap(l.slots), "suppressed", suppressed)
}

func inboundPlatform(path string) string {
	for _, p := range inboundPaths {
		if strings.HasPrefix(path, p.prefix) {
			return p.platform
		}
	}
	return ""
}
