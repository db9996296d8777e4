package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identity of the fake workspace and app. Tests configure the adapter with these.
const (
	BotToken     = "xoxb-1111-2222-slacktestbottoken"
	AppToken     = "xapp-1-A0MFABOT01-3333-slacktestapptoken"
	TeamID       = "T0MFABOT01"
	AppID        = "A0MFABOT01"
	BotID        = "B0MFABOT01"
	BotUserID    = "U0MFABOT01"
	Channel      = "C0APPROVALS"
	TeamDomain   = "mfabot-test"
	maxCallWait  = 10 * time.Second
	triggerTTL   = 3 * time.Second
	responseUses = 5 // a response_url takes at most five messages
)

// DefaultScopes are the bot token's scopes unless Server.Scopes says otherwise.
var DefaultScopes = []string{"commands", "chat:write", "im:write", "users:read", "users:read.email", "files:write"}

// Server is a fake Slack Web API. Create it with Start (closed by the test's cleanup) or
// New (close it yourself).
type Server struct {
	// URL is the server's base, http://127.0.0.1:port; the Web API is under /api/.
	URL string
	// EnterpriseID, when set before the first call, is reported by auth.test.
	EnterpriseID string
	// Scopes, when set before the first call, replace DefaultScopes in the X-OAuth-Scopes
	// header of every response.
	Scopes []string

	srv       *httptest.Server
	closed    chan struct{} // closed by Close: held requests give up
	closeOnce sync.Once

	mu        sync.Mutex
	clock     func() time.Time // SetClock's; time.Now when nil
	changed   chan struct{}    // closed and replaced on every recorded call
	calls     []Call
	seq       int
	users     map[string]User
	channels  map[string]bool
	messages  map[string]*Message // by channel + "/" + ts
	order     []string            // message keys in posting order
	views     map[string]*View
	triggers  map[string]time.Time
	files     map[string]*File
	responses map[string]int // response URL path → uses left
	limits    map[string]*rateLimit
	socket    *socketState
	enforced  *enforced // Slack's documented rate limits, when EnforceLimits turned them on
	hold      *hold     // HoldAfter's, while in force
}

// hold is a HoldAfter in force: once left successful calls of method have been recorded,
// Web API requests wait on release.
type hold struct {
	method  string
	where   []func(args map[string]string) bool // every one accepts the calls it counts and holds
	left    int                                 // under Server.mu
	held    chan struct{}
	heldOne sync.Once
	release chan struct{}
}

type rateLimit struct {
	times      int
	retryAfter time.Duration
}

// Call is one request the fake received.
type Call struct {
	// Method is the Web API method ("chat.update"), or "response_url", "upload" for the
	// response and upload URLs.
	Method string
	// Args are the form values, or the top-level fields of a JSON body with non-string
	// values kept as JSON ("blocks" holds the blocks' JSON).
	Args map[string]string
	// Token is the token the call carried.
	Token string
	// Error is the Slack error code answered, "" when ok; RateLimited is set for a 429.
	Error       string
	RateLimited bool
	// At is when the fake received the call, on its clock (SetClock).
	At time.Time
}

// User is a member of the fake workspace.
type User struct {
	ID       string
	TeamID   string // TeamID when empty
	Name     string
	RealName string
	Email    string
	// EmailUnconfirmed reports is_email_confirmed false.
	EmailUnconfirmed bool
	Bot, Deleted     bool
}

// Message is a message the bot posted, as it stands now.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	Updates  int // chat.update calls applied
}

// View is a modal opened with views.open.
type View struct {
	ID              string
	TriggerID       string
	CallbackID      string
	PrivateMetadata string
	JSON            json.RawMessage // the view as sent
}

// File is a file shared through the upload v2 flow.
type File struct {
	ID       string
	Name     string
	Title    string
	AltText  string
	Data     []byte
	Length   int // declared to files.getUploadURLExternal
	Channel  string
	ThreadTS string
	Shared   bool
}

// Start starts a fake Slack and closes it when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := New()
	tb.Cleanup(s.Close)
	return s
}

// New starts a fake Slack on 127.0.0.1 with the approvals channel Channel and no users.
func New() *Server {
	s := &Server{
		closed:    make(chan struct{}),
		changed:   make(chan struct{}),
		users:     map[string]User{},
		channels:  map[string]bool{Channel: true},
		messages:  map[string]*Message{},
		views:     map[string]*View{},
		triggers:  map[string]time.Time{},
		files:     map[string]*File{},
		responses: map[string]int{},
		limits:    map[string]*rateLimit{},
		socket:    newSocketState(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.serveAPI)
	mux.HandleFunc("POST /upload/{id}", s.serveUpload)
	mux.HandleFunc("POST /response/{id}", s.serveResponse)
	mux.HandleFunc("GET /socket", s.serveSocket)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down. Requests HoldAfter holds are dropped.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.socket.close()
	s.srv.Close()
}

// SetClock makes now the fake's clock (time.Now until then): the windows of the limits
// EnforceLimits turns on, the three seconds a trigger_id lasts, and Call.At. A test
// gives the fake and the adapter one fake clock, so that the adapter's pace is judged in
// the time it paces by, whatever the scheduler does to requests on their way. Set it
// before EnforceLimits and NewTriggerID.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// now is the time on the fake's clock. s.mu must be held.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// HoldAfter stops method (a Web API method such as "chat.postMessage") once n more
// successful calls of it have been recorded: from then on every call of it waits, with no
// effect and nothing recorded, until release is called, its client goes away or the
// server closes; other methods go on being answered (a client looks users up before it
// posts). With where, only the calls of method whose arguments every where accepts count
// and are held (the direct messages to some users, not the other posts). held is closed
// when the first call waits; release may be called more than once. A test uses it to catch
// bulk work in the middle at a point of its choosing, without racing it: calls already
// under way finish, no new one of method does.
func (s *Server) HoldAfter(method string, n int, where ...func(args map[string]string) bool) (held <-chan struct{}, release func()) {
	h := &hold{method: method, where: where, left: n, held: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
	var once sync.Once
	return h.held, func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == h {
				s.hold = nil
			}
			s.mu.Unlock()
			close(h.release)
		})
	}
}

// applies reports whether h counts and holds a call of method with args.
func (h *hold) applies(method string, args map[string]string) bool {
	if h == nil || h.method != method {
		return false
	}
	for _, ok := range h.where {
		if !ok(args) {
			return false
		}
	}
	return true
}

// wait holds a call while a HoldAfter that applies to it has run out. It reports false
// when the client went away or the server is closing meanwhile: the request is then
// dropped.
func (s *Server) wait(r *http.Request, method string, args map[string]string) bool {
	s.mu.Lock()
	h := s.hold
	spent := h.applies(method, args) && h.left <= 0
	s.mu.Unlock()
	if !spent {
		return true
	}
	h.heldOne.Do(func() { close(h.held) })
	select {
	case <-h.release:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}

// APIURL is the Web API base to configure the adapter with (slack.OptionAPIURL).
func (s *Server) APIURL() string { return s.URL + "/api/" }

// AddUser adds or replaces a workspace member.
func (s *Server) AddUser(u User) {
	if u.TeamID == "" {
		u.TeamID = TeamID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// RateLimit makes the next times calls of method answer HTTP 429 with Retry-After (whole
// seconds, at least one).
func (s *Server) RateLimit(method string, times int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[method] = &rateLimit{times: times, retryAfter: retryAfter}
}

// NewResponseURL returns a fresh response_url, as Slack puts in a command or interaction.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID("R")
	s.responses[id] = responseUses
	return s.URL + "/response/" + id
}

// NewTriggerID returns a trigger_id valid for three seconds, as Slack's are.
func (s *Server) NewTriggerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("%d.%d.%s", time.Now().Unix(), s.seq, s.nextID("trg"))
	s.triggers[id] = s.now().Add(triggerTTL)
	return id
}

// Calls returns the calls received so far, of the given methods or of all.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until at least n calls of method have been received and returns them
// all; after ten seconds it fails tb.
func (s *Server) WaitCalls(tb testing.TB, method string, n int) []Call {
	tb.Helper()
	deadline := time.NewTimer(maxCallWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var got []Call
		for _, c := range s.calls {
			if c.Method == method {
				got = append(got, c)
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("slacktest: waited %s for %d %s calls, got %d", maxCallWait, n, method, len(got))
			return nil
		}
	}
}

// Message returns a posted message as it stands now.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel+"/"+ts]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Messages returns the messages posted in channel, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.order {
		if m := s.messages[k]; m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Views returns the modals opened so far.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for i := 1; i <= s.seq; i++ {
		if v, ok := s.views["V"+strconv.Itoa(i)]; ok {
			out = append(out, *v)
		}
	}
	return out
}

// Files returns the files shared so far.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for i := 1; i <= s.seq; i++ {
		if f, ok := s.files["F"+strconv.Itoa(i)]; ok && f.Shared {
			out = append(out, *f)
		}
	}
	return out
}

// nextID returns prefix followed by a new sequence number. s.mu must be held.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return prefix + strconv.Itoa(s.seq)
}

// record appends a call, counts it against a HoldAfter and wakes waiters. s.mu must be
// held.
func (s *Server) record(c Call) {
	c.At = s.now()
	s.calls = append(s.calls, c)
	if s.hold.applies(c.Method, c.Args) && c.Error == "" && !c.RateLimited {
		s.hold.left--
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// limited reports, consuming one, whether method is rate limited now. s.mu must be held.
func (s *Server) limited(method string) (time.Duration, bool) {
	l := s.limits[method]
	if l == nil || l.times <= 0 {
		return 0, false
	}
	l.times--
	return l.retryAfter, true
}

// apiError is a Slack error answer; it travels from a method handler to serveAPI.
type apiError struct {
	code     string
	messages []string
}

func fail(code string, messages ...string) *apiError {
	return &apiError{code: code, messages: messages}
}

// serveAPI decodes a Web API call, checks its token, records it and answers it.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	args, token, err := decodeArgs(r)
	if !s.wait(r, method, args) {
		// Nobody to answer, or a server going away: the connection just ends.
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Slack reports the token's scopes on every Web API response.
	if s.Scopes != nil {
		w.Header().Set("X-OAuth-Scopes", strings.Join(s.Scopes, ","))
	} else {
		w.Header().Set("X-OAuth-Scopes", strings.Join(DefaultScopes, ","))
	}
	call := Call{Method: method, Args: args, Token: token}
	if err != nil {
		call.Error = "invalid_form_data"
		s.record(call)
		writeJSON(w, map[string]any{"ok": false, "error": call.Error})
		return
	}
	if d, ok := s.limited(method); ok {
		call.RateLimited = true
		s.record(call)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	if d, ok := s.overLimit(method, args); ok {
		call.RateLimited = true
		s.record(call)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	h, ok := s.methods()[method]
	if !ok {
		call.Error = "unknown_method"
		s.record(call)
		writeJSON(w, map[string]any{"ok": false, "error": call.Error})
		return
	}
	want := BotToken
	if method == "apps.connections.open" {
		want = AppToken
	}
	switch token {
	case want:
	case "":
		call.Error = "not_authed"
	default:
		call.Error = "invalid_auth"
	}
	if call.Error != "" {
		s.record(call)
		writeJSON(w, map[string]any{"ok": false, "error": call.Error})
		return
	}
	res, aerr := h(args)
	if aerr != nil {
		call.Error = aerr.code
		s.record(call)
		body := map[string]any{"ok": false, "error": aerr.code}
		if len(aerr.messages) > 0 {
			body["response_metadata"] = map[string]any{"messages": aerr.messages}
		}
		writeJSON(w, body)
		return
	}
	s.record(call)
	if res == nil {
		res = map[string]any{}
	}
	res["ok"] = true
	writeJSON(w, res)
}

// decodeArgs reads a form or JSON body and the token from the Authorization header or the
// token field.
func decodeArgs(r *http.Request) (map[string]string, string, error) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	args := map[string]string{}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return args, token, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		if len(strings.TrimSpace(string(body))) > 0 {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				return args, token, err
			}
			for k, v := range m {
				var str string
				if json.Unmarshal(v, &str) == nil {
					args[k] = str
				} else {
					args[k] = string(v)
				}
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return args, token, err
		}
		for k := range form {
			args[k] = form.Get(k)
		}
	}
	if t, ok := args["token"]; ok {
		if token == "" {
			token = t
		}
		delete(args, "token")
	}
	return args, token, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
