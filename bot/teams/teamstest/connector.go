package teamstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits the fake Connector enforces.
const (
	// MaxMessageBytes is the message size the fake accepts, base64 images excluded (Teams
	// answers 413 MessageSizeTooBig beyond its limit; 28 KB is the long-standing figure).
	MaxMessageBytes = 28 * 1024
	// PerSecond is the number of operations per conversation per second before 429.
	PerSecond = 7
)

// Call is one request the fake Connector received.
type Call struct {
	Op             string // "send", "reply", "update", "create"
	Method         string
	RawPath        string // as sent, escapes included
	ConversationID string // unescaped
	ActivityID     string // the activity replied to or updated; for a send, the new id
	Bearer         string // the token the bot presented
	Body           []byte
	Status         int       // what the fake answered
	At             time.Time // when it was handled, by the fake's clock (UseClock)
}

// Activity decodes the request body.
func (c Call) Activity() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(c.Body, &m)
	return m
}

// Card returns the content of the activity's first Adaptive Card attachment, or nil.
func (c Call) Card() map[string]any {
	atts, _ := c.Activity()["attachments"].([]any)
	if len(atts) == 0 {
		return nil
	}
	att, _ := atts[0].(map[string]any)
	card, _ := att["content"].(map[string]any)
	return card
}

type fault struct {
	status     int
	retryAfter string
}

// Connector is a fake Bot Connector on 127.0.0.1: it serves the v3 conversations API,
// records every request with the bearer token it came with, enforces the limits a bot
// meets in Teams (a bearer token, the message size, 7 operations per second per
// conversation, updates only of existing activities, personal chats only with people who
// can be reached) and can be told to fail the next requests or to hold them.
type Connector struct {
	// URL is the serviceUrl to put in activities, with its trailing slash.
	URL string
	srv *httptest.Server

	mu          sync.Mutex
	calls       []Call
	recorded    chan struct{} // closed, and replaced, when a call is recorded
	hold        *hold         // requests wait while set
	faults      []fault
	nextID      int
	activities  map[string]bool // conversation + "|" + activity id
	unreachable map[string]bool // user ids a personal chat cannot be opened with
	rate        map[string][]time.Time
	checkToken  func(string) bool
	now         func() time.Time
}

// NewConnector starts a fake Connector that stops when the test ends.
func NewConnector(tb testing.TB) *Connector {
	tb.Helper()
	c := &Connector{recorded: make(chan struct{}), activities: map[string]bool{}, unreachable: map[string]bool{}, rate: map[string][]time.Time{}, now: time.Now}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	tb.Cleanup(c.srv.Close)
	c.URL = c.srv.URL + "/amer/"
	return c
}

// Fail makes the next n requests fail with status (and a Retry-After header when
// retryAfter is not empty).
func (c *Connector) Fail(status, n int, retryAfter string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		c.faults = append(c.faults, fault{status: status, retryAfter: retryAfter})
	}
}

// Hold makes requests wait, before they are handled, until release is called, as a slow
// Connector would; each one that arrives is announced on arrived. A test thus knows that
// an operation is in flight, and for as long as it likes. release is also called when the
// test ends.
func (c *Connector) Hold(tb testing.TB) (arrived <-chan struct{}, release func()) {
	return newHold(tb, &c.mu, &c.hold)
}

// RequireToken makes the fake answer 401 to requests whose bearer token ok refuses.
func (c *Connector) RequireToken(ok func(token string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkToken = ok
}

// UseClock makes the fake tell the time by now instead of the wall clock: it stamps
// Call.At and counts the operations of the last second by it. A test that runs the bot's
// pacing on the same fake clock thus finds it throttled or not in fake time, however long
// a loaded machine takes to deliver each request.
func (c *Connector) UseClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Unreachable makes creating a personal chat with userID fail with 403, as Teams does
// when the app is not installed for them.
func (c *Connector) Unreachable(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unreachable[userID] = true
}

// AddActivity declares an activity that exists in a conversation (a card posted before
// the test started), so that it can be replied to and updated.
func (c *Connector) AddActivity(conversationID, activityID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.activities[conversationID+"|"+activityID] = true
}

// Calls returns every request received so far.
func (c *Connector) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call{}, c.calls...)
}

// Succeeded returns the requests answered with a 2xx status.
func (c *Connector) Succeeded() []Call {
	var out []Call
	for _, call := range c.Calls() {
		if call.Status/100 == 2 {
			out = append(out, call)
		}
	}
	return out
}

// WaitSucceeded waits until at least n requests have succeeded and returns them; timeout
// only turns a hang into a failure.
func (c *Connector) WaitSucceeded(tb testing.TB, n int, timeout time.Duration) []Call {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		// Taken before the calls are read, so that a call recorded in between is not missed.
		c.mu.Lock()
		recorded := c.recorded
		c.mu.Unlock()
		got := c.Succeeded()
		if len(got) >= n {
			return got
		}
		select {
		case <-recorded:
		case <-timer.C:
			tb.Fatalf("fake connector: %d successful requests after %v, want %d; all: %s", len(got), timeout, n, c.describe())
		}
	}
}

func (c *Connector) describe() string {
	var b strings.Builder
	for _, call := range c.Calls() {
		fmt.Fprintf(&b, "\n  %s %s -> %d", call.Method, call.RawPath, call.Status)
	}
	return b.String()
}

var dataURIRE = regexp.MustCompile(`data:image/[a-z]+;base64,[A-Za-z0-9+/=]*`)

func (c *Connector) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	c.mu.Lock()
	h := c.hold
	c.mu.Unlock()
	if h != nil && !h.wait(r.Context()) {
		return // the client went away: nothing was handled, nothing is recorded
	}
	call := Call{Method: r.Method, RawPath: r.URL.EscapedPath(), Bearer: trimBearer(r.Header.Get("Authorization")), Body: body}
	status, resp, header := c.handle(&call, r)
	call.Status = status
	c.mu.Lock()
	c.calls = append(c.calls, call)
	close(c.recorded)
	c.recorded = make(chan struct{})
	c.mu.Unlock()
	for k, v := range header {
		w.Header().Set(k, v)
	}
	writeJSON(w, status, resp)
}

func connectorError(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message}}
}

func (c *Connector) handle(call *Call, r *http.Request) (int, any, map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call.At = c.now()
	if call.Bearer == "" || (c.checkToken != nil && !c.checkToken(call.Bearer)) {
		return http.StatusUnauthorized, connectorError("Unauthorized", "Authorization has been denied for this request."), nil
	}
	rest, ok := strings.CutPrefix(call.RawPath, "/amer/v3/conversations")
	if !ok {
		return http.StatusNotFound, connectorError("NotFound", "no such API"), nil
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return http.StatusBadRequest, connectorError("BadArgument", "bad escape"), nil
		}
		parts[i] = u
	}
	switch {
	case rest == "" && r.Method == http.MethodPost:
		call.Op = "create"
	case len(parts) == 2 && parts[1] == "activities" && r.Method == http.MethodPost:
		call.Op, call.ConversationID = "send", parts[0]
	case len(parts) == 3 && parts[1] == "activities" && r.Method == http.MethodPost:
		call.Op, call.ConversationID, call.ActivityID = "reply", parts[0], parts[2]
	case len(parts) == 3 && parts[1] == "activities" && r.Method == http.MethodPut:
		call.Op, call.ConversationID, call.ActivityID = "update", parts[0], parts[2]
	default:
		return http.StatusNotFound, connectorError("NotFound", "no such API"), nil
	}
	if len(c.faults) > 0 {
		f := c.faults[0]
		c.faults = c.faults[1:]
		var h map[string]string
		if f.retryAfter != "" {
			h = map[string]string{"Retry-After": f.retryAfter}
		}
		return f.status, connectorError(http.StatusText(f.status), "injected fault"), h
	}
	key := call.ConversationID
	if i := strings.Index(key, ";"); i >= 0 {
		key = key[:i]
	}
	if call.Op == "create" {
		key = "create"
	}
	recent := c.rate[key][:0]
	for _, t := range c.rate[key] {
		if call.At.Sub(t) < time.Second {
			recent = append(recent, t)
		}
	}
	if len(recent) >= PerSecond {
		c.rate[key] = recent
		return http.StatusTooManyRequests, connectorError("Throttled", "too many requests"), map[string]string{"Retry-After": "1"}
	}
	c.rate[key] = append(recent, call.At)

	if call.Op == "create" {
		var p struct {
			Members []struct {
				ID string `json:"id"`
			} `json:"members"`
			TenantID string `json:"tenantId"`
		}
		if json.Unmarshal(call.Body, &p) != nil || len(p.Members) != 1 || p.TenantID == "" {
			return http.StatusBadRequest, connectorError("BadArgument", "one member and a tenant are required"), nil
		}
		if c.unreachable[p.Members[0].ID] {
			return http.StatusForbidden, connectorError("Forbidden", "The bot is not part of the conversation roster."), nil
		}
		c.nextID++
		return http.StatusCreated, map[string]any{"id": fmt.Sprintf("a:personal-%d", c.nextID)}, nil
	}

	var act struct {
		Type        string            `json:"type"`
		Text        string            `json:"text"`
		Attachments []json.RawMessage `json:"attachments"`
	}
	if err := json.Unmarshal(call.Body, &act); err != nil || act.Type == "" {
		return http.StatusBadRequest, connectorError("BadArgument", "not an activity"), nil
	}
	if len(dataURIRE.ReplaceAll(call.Body, nil)) > MaxMessageBytes {
		return http.StatusRequestEntityTooLarge, connectorError("MessageSizeTooBig", "Message size too big"), nil
	}
	if act.Text != "" && len(act.Attachments) > 0 {
		// Not a Teams rule but an mfabot one, checked here so tests catch a breach.
		return http.StatusBadRequest, connectorError("BadArgument", "mfabot sends text and cards in separate activities"), nil
	}
	switch call.Op {
	case "update":
		if !c.activities[call.ConversationID+"|"+call.ActivityID] && !c.activities[key+"|"+call.ActivityID] {
			return http.StatusNotFound, connectorError("ActivityNotFoundInConversation", "unknown activity"), nil
		}
		return http.StatusOK, map[string]any{"id": call.ActivityID}, nil
	default:
		c.nextID++
		id := fmt.Sprintf("1700000000%03d", c.nextID)
		c.activities[key+"|"+id] = true
		c.activities[call.ConversationID+"|"+id] = true
		if call.Op == "send" {
			call.ActivityID = id
		}
		return http.StatusCreated, map[string]any{"id": id}, nil
	}
}
