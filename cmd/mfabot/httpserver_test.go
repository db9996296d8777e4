package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
)

const edgeSecret = "edge-signing-secret-5d4c3b"

// connCount tracks the connections a server holds open, through its ConnState hook.
type connCount struct {
	mu   sync.Mutex
	open map[net.Conn]bool
}

func (c *connCount) track(conn net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.open[conn] = true
	case http.StateClosed, http.StateHijacked:
		delete(c.open, conn)
	}
}

func (c *connCount) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}

// edge is newHTTPServer serving an App's handler on 127.0.0.1.
type edge struct {
	URL     string
	addr    string
	srv     *http.Server
	limiter *inboundLimiter
	conns   *connCount
}

func serveEdge(t *testing.T, h http.Handler, opts ...httpOption) *edge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, slog.New(slog.DiscardHandler), opts...)
	e := &edge{URL: "http://" + ln.Addr().String(), addr: ln.Addr().String(), srv: srv,
		limiter: srv.Handler.(*inboundLimiter), conns: &connCount{open: map[net.Conn]bool{}}}
	srv.ConnState = e.conns.track
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return e
}

// slowClient posts a request whose body (a megabyte announced) it sends a byte at a time.
type slowClient struct {
	conn   net.Conn
	stop   chan struct{}
	closed chan struct{} // closed when the server has closed the connection
	mu     sync.Mutex
	answer string // what the server sent before closing
}

func startSlow(t *testing.T, addr, path string) *slowClient {
	t.Helper()
	return startSlowN(t, addr, path, 1<<20-1)
}

// startSlowN is startSlow announcing a body of n bytes.
func startSlowN(t *testing.T, addr, path string, n int) *slowClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &slowClient{conn: conn, stop: make(chan struct{}), closed: make(chan struct{})}
	t.Cleanup(c.hangUp)
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"X-Slack-Request-Timestamp: %d\r\nX-Slack-Signature: v0=00\r\nAuthorization: Bearer x.y.z\r\n"+
		"Content-Length: %d\r\n\r\n", path, addr, time.Now().Unix(), n)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	go func() {
		defer close(c.closed)
		b, _ := io.ReadAll(bufio.NewReader(conn))
		c.mu.Lock()
		c.answer = string(b)
		c.mu.Unlock()
	}()
	return c
}

// hangUp closes the connection from the client's side.
func (c *slowClient) hangUp() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.conn.Close()
}

func (c *slowClient) status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	line, _, _ := strings.Cut(c.answer, "\r\n")
	return line
}

// TestEdgeDropsSlowBodies: fifty clients trickling a body into the Slack endpoint are cut
// off by the server once the body deadline passes, and their connections and goroutines
// are released, while a genuine Slack request is served.
func TestEdgeDropsSlowBodies(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"}
	fake.AddUser(ann)
	app := startApp(t, map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": edgeSecret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_REQUESTERS":           "slack:UANN",
		"MFABOT_APPROVERS":            "slack:UANN",
	})
	waitFor(t, "slack connected", func() bool { return app.Slack.Ready() == nil })
	e := serveEdge(t, app.Handler(), func(c *httpConfig) { c.BodyTimeout = time.Second })
	send := slacktest.Sender{URL: e.URL, Secret: edgeSecret}
	ctx := context.Background()

	// A first genuine request opens the keep-alive connections replies use, so that the
	// goroutine baseline includes them.
	if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, "help")); err != nil || ans.Status != http.StatusOK {
		t.Fatalf("genuine command: %d %v", ans.Status, err)
	}
	fake.WaitCalls(t, "response_url", 1)
	http.DefaultClient.CloseIdleConnections()
	waitFor(t, "the edge to hold no connection", func() bool { return e.conns.n() == 0 })
	baseline := runtime.NumGoroutine()

	const n = 50
	slow := make([]*slowClient, n)
	for i := range slow {
		slow[i] = startSlow(t, e.addr, "/slack/commands")
	}
	// A genuine request is served while they trickle.
	if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, "help")); err != nil || ans.Status != http.StatusOK {
		t.Fatalf("genuine command among slow ones: %d %v", ans.Status, err)
	}
	fake.WaitCalls(t, "response_url", 2)
	http.DefaultClient.CloseIdleConnections()

	// Every slow client is cut off by the server; the bound only reports a failure.
	fail := time.After(time.Minute)
	for i, c := range slow {
		select {
		case <-c.closed:
		case <-fail:
			t.Fatalf("slow client %d still connected", i)
		}
		if st := c.status(); st != "" && !strings.Contains(st, " 400 ") && !strings.Contains(st, " 408 ") {
			t.Errorf("slow client %d was answered %q", i, st)
		}
	}
	waitFor(t, "the edge to hold no connection", func() bool { return e.conns.n() == 0 })
	waitFor(t, "no handler in flight", func() bool { return e.limiter.inFlight() == 0 })
	// Each slow connection had a server goroutine; they must all be gone. The app's own
	// background goroutines may come and go by a few.
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline+4 })
}

// TestEdgeCapsInbound: with MaxInbound requests to the platform endpoints in flight the
// next one gets 503 at once, while health and metrics still answer; a genuine request
// gets through as soon as a slot is free.
func TestEdgeCapsInbound(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"}
	fake.AddUser(ann)
	app := startApp(t, map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": edgeSecret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_REQUESTERS":           "slack:UANN",
		"MFABOT_APPROVERS":            "slack:UANN",
	})
	waitFor(t, "slack connected", func() bool { return app.Slack.Ready() == nil })
	const maxIn = 8
	// The body deadline is far away: the slow clients are held until the test lets go.
	e := serveEdge(t, app.Handler(), withShedCounter(app.Metrics.reject), func(c *httpConfig) {
		c.MaxInbound = maxIn
		c.BodyTimeout = 10 * time.Minute
	})
	send := slacktest.Sender{URL: e.URL, Secret: edgeSecret}
	ctx := context.Background()
	command := func() (int, http.Header) {
		t.Helper()
		ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, "help"))
		if err != nil {
			t.Fatal(err)
		}
		return ans.Status, ans.Header
	}

	var slow []*slowClient
	for range maxIn - 1 {
		slow = append(slow, startSlow(t, e.addr, "/slack/commands"))
	}
	waitFor(t, "the slow clients in their handlers", func() bool { return e.limiter.inFlight() == maxIn-1 })
	if st, _ := command(); st != http.StatusOK {
		t.Fatalf("genuine command with %d slow clients held: %d", maxIn-1, st)
	}

	slow = append(slow, startSlow(t, e.addr, "/slack/interactions"))
	waitFor(t, "the endpoint full", func() bool { return e.limiter.inFlight() == maxIn })
	st, h := command()
	if st != http.StatusServiceUnavailable {
		t.Fatalf("command beyond the cap: %d, want 503", st)
	}
	if h.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	// A slow client beyond the cap is answered and let go at once, not held until its
	// body deadline (ten minutes away here). Its body is small enough that net/http
	// would otherwise wait to read the rest of it.
	extra := startSlowN(t, e.addr, "/slack/commands", 100<<10)
	select {
	case <-extra.closed:
	case <-time.After(time.Minute):
		t.Fatal("a slow client beyond the cap is still connected")
	}
	if st := extra.status(); !strings.Contains(st, " 503 ") {
		t.Errorf("slow client beyond the cap answered %q", st)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/metrics": `mfabot_inbound_rejected_total{platform="slack",reason="overloaded"} 2`,
	} {
		resp, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s while full: %d, does not say %q", path, resp.StatusCode, want)
		}
	}

	// One slow client goes away: its slot is free again.
	slow[0].hangUp()
	waitFor(t, "a free slot", func() bool { return e.limiter.inFlight() == maxIn-1 })
	if st, _ := command(); st != http.StatusOK {
		t.Fatalf("genuine command after a slot freed: %d", st)
	}
}

// TestAppServesThroughEdge: App.Run's server is newHTTPServer's — the platform endpoints
// are capped (at the default) and health is not.
func TestAppServesThroughEdge(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	app := startApp(t, map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": edgeSecret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_REQUESTERS":           "slack:UANN",
		"MFABOT_APPROVERS":            "slack:UANN",
	})
	addr := strings.TrimPrefix(app.URL, "http://")
	probe := func() int {
		t.Helper()
		resp, err := http.Post(app.URL+"/slack/commands", "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := probe(); st != http.StatusUnauthorized {
		t.Fatalf("unsigned probe: %d, want 401", st)
	}
	var slow []*slowClient
	for range defaultMaxInbound {
		slow = append(slow, startSlow(t, addr, "/slack/commands"))
	}
	waitFor(t, "the endpoint to refuse with 503", func() bool { return probe() == http.StatusServiceUnavailable })
	resp, err := http.Get(app.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz while full: %d", resp.StatusCode)
	}
	for _, c := range slow {
		c.hangUp()
	}
	waitFor(t, "the endpoint to serve again", func() bool { return probe() == http.StatusUnauthorized })
}

func TestNewHTTPServerDefaults(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout != 10*time.Second || srv.ReadTimeout != 30*time.Second ||
		srv.WriteTimeout != 60*time.Second || srv.IdleTimeout != 60*time.Second || srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("timeouts %v/%v/%v/%v, max header %d", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	if got := cap(srv.Handler.(*inboundLimiter).slots); got != defaultMaxInbound {
		t.Errorf("max in flight %d", got)
	}
	// A body deadline shorter than the header deadline shortens it too.
	srv = newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler), func(c *httpConfig) { c.BodyTimeout = time.Second })
	if srv.ReadHeaderTimeout != time.Second {
		t.Errorf("header timeout %v with a 1 s body deadline", srv.ReadHeaderTimeout)
	}
}

// TestInboundLimiterLogsShedding: a flood of refused requests makes one log line per
// interval, naming how many it did not log.
func TestInboundLimiterLogsShedding(t *testing.T) {
	t.Parallel()
	logs := &recordCounter{}
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	release := make(chan struct{})
	entered := make(chan struct{})
	var shed []string
	l := newInboundLimiter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), httpConfig{MaxInbound: 1, Now: clock, OnShed: func(p string) { mu.Lock(); shed = append(shed, p); mu.Unlock() }}, slog.New(logs))
	srv := &http.Server{Handler: l}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()
	held := make(chan error, 1)
	go func() {
		resp, err := http.Post(url+"/api/messages", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
		held <- err
	}()
	<-entered
	post := func() int {
		resp, err := http.Post(url+"/api/messages", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 20 {
		if st := post(); st != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", st)
		}
	}
	if got := logs.count(); got != 1 {
		t.Fatalf("%d log lines for 20 refusals in one interval, want 1", got)
	}
	mu.Lock()
	now = now.Add(shedLogEvery)
	mu.Unlock()
	post()
	if got := logs.count(); got != 2 {
		t.Fatalf("%d log lines after the interval, want 2", got)
	}
	if s := logs.last("suppressed"); s != "19" {
		t.Errorf("suppressed = %s, want 19", s)
	}
	mu.Lock()
	if len(shed) != 21 || shed[0] != "teams" {
		t.Errorf("shed reported %d times: %v", len(shed), shed)
	}
	mu.Unlock()
	close(release)
	if err := <-held; err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
}

// recordCounter is a slog.Handler that counts records and keeps the attributes of the last.
type recordCounter struct {
	mu    sync.Mutex
	n     int
	attrs map[string]string
}

func (h *recordCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.attrs = map[string]string{}
	r.Attrs(func(a slog.Attr) bool { h.attrs[a.Key] = a.Value.String(); return true })
	return nil
}

func (h *recordCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordCounter) WithGroup(string) slog.Handler      { return h }

func (h *recordCounter) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *recordCounter) last(key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attrs[key]
}

// TestForgedTrafficCountedInMetrics: forged Slack requests and bad Teams tokens sent to
// the App show in mfabot_inbound_rejected_total one by one, and in the log once per reason.
func TestForgedTrafficCountedInMetrics(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	auth := teamstest.NewAuthority(t)
	conn := teamstest.NewConnector(t)
	// A clock that stands still: every refusal falls into one log interval.
	clock := approvalstest.NewClock(time.Now())
	app := startAppWith(t, map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": edgeSecret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_TEAMS_APP_ID":         teamsAppID,
		"MFABOT_TEAMS_APP_PASSWORD":   teamsSecret,
		"MFABOT_TEAMS_TENANT_ID":      teamsTenantID,
		"MFABOT_TEAMS_OPENID_URL":     auth.OpenIDURL(),
		"MFABOT_TEAMS_CHANNEL":        teamsChannel,
		"MFABOT_SLACK_USERS":          "UANN=" + annAADObject,
		"MFABOT_REQUESTERS":           "slack:UANN",
		"MFABOT_APPROVERS":            "slack:UANN",
	}, appDeps{Clock: clock})
	ann := slacktest.User{ID: "UANN", Name: "ann"}
	forged := slacktest.Sender{URL: app.URL, Secret: "guessed", Now: clock.Now}
	tc := &teamsClient{t: t, url: app.URL, auth: auth, conn: conn, tenant: teamsTenantID}
	msg := tc.activity("message", annAADObject, "ann")
	const n = 20
	for range n {
		if ans, err := forged.Command(context.Background(), fake.Command(ann, slacktest.Channel, "help")); err != nil || ans.Status != http.StatusUnauthorized {
			t.Fatalf("forged command: %d %v", ans.Status, err)
		}
		if st, _ := tc.post(auth.Bad(t, teamstest.WrongAudience, teamsAppID, conn.URL), msg); st != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", st)
		}
	}
	resp, err := http.Get(app.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`mfabot_inbound_rejected_total{platform="slack",reason="bad_signature"} %d`, n),
		fmt.Sprintf(`mfabot_inbound_rejected_total{platform="teams",reason="audience"} %d`, n),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := app.Logs.String()
	for _, msg := range []string{"slack request refused", "teams request refused"} {
		if got := strings.Count(logs, `"msg":"`+msg+`"`); got != 1 {
			t.Errorf("%d log lines %q for %d refusals, want 1", got, msg, n)
		}
	}
}
