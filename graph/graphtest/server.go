package graphtest

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Default app registration of a Server whose Options name none.
const (
	DefaultClientID     = "5e8f2c1a-7b3d-4c9e-8f6a-1d2b3c4d5e6f"
	DefaultClientSecret = "graphtest-client-secret"
)

// Faults make the server misbehave, as Graph sometimes does. The shares add up: a request
// draws one number and is answered by the first fault whose share it falls in. A faulted
// request never reaches the throttling windows: it counts against no limit.
type Faults struct {
	ServerErrors float64 // share of requests answered 500, 503 (with Retry-After) or 504
	Unavailable  float64 // share of requests answered 503 serviceNotAvailable (with Retry-After)
	Timeouts     float64 // share of requests that hang until the client gives up
	// InBatches applies ServerErrors and Unavailable to each request inside a JSON batch
	// as well, as Graph answers batch items on their own; the batch itself is then still
	// subject to them as a whole. Timeouts never apply to batch items.
	InBatches bool
}

// Options configure a Server.
type Options struct {
	Latency                time.Duration // added to every request
	Limits                 Limits        // throttling; the zero Limits throttle nothing
	Scale                  float64       // windows divided by Scale: 20 writes/s become 20×Scale/s (default 1)
	Faults                 Faults
	ClientID, ClientSecret string // the app registration; defaults DefaultClientID/Secret
	TenantID               string // must match the tenant's id when set
	Addr                   string // Graph listener, default 127.0.0.1:0
	// NationalCloud answers like a national cloud's Graph: the APIs Microsoft documents as
	// global-only (beta hardwareOathMethods) do not exist there.
	NationalCloud bool
	// Now is the clock of the throttling windows and of ThrottleFor (default time.Now). A
	// test gives the server and its client one fake clock, so that a Retry-After is waited
	// out in fake time and nobody sleeps on the wall clock. Interactive sign-ins (auth_time,
	// codes, ID tokens) run on it too.
	Now func() time.Time
	// RedirectURIs are the app registration's web redirect URIs for interactive sign-in
	// (SetRedirectURIs changes them).
	RedirectURIs []string
}

// Call is one mutating call the server carried out (or refused), including those inside
// JSON batches.
type Call struct {
	Op     string // OpRevoke, OpDeleteMethod, OpSetRequirements, OpSetSignInPreferences
	UserID string // object id of the user
	Target string // deleteMethod: "<type>/<method id>" (type as MethodType); setRequirements: the state asked for
	Status int    // the HTTP status answered (204, 200, or the error's)
	Time   time.Time
}

// Operations recorded in Calls.
const (
	OpRevoke          = "revokeSignInSessions"
	OpDeleteMethod    = "deleteMethod"
	OpSetRequirements = "setRequirements"
	// OpSetSignInPreferences is a PATCH of signInPreferences; Target is the default asked
	// for ("" when the PATCH left it alone).
	OpSetSignInPreferences = "setSignInPreferences"
)

// Stats count what the server answered.
type Stats struct {
	Requests     int64            // HTTP requests to Graph, a batch counting once
	BatchItems   int64            // requests inside batches
	Throttled    int64            // 429s, HTTP responses and batch items
	ThrottledBy  map[string]int64 // 429s by reason: ThrottledResourceUnits, ThrottledAppWrites, …
	Injected5xx  int64            // Faults.ServerErrors answered
	TokensIssued int64            // by the authority and IssueToken
}

// Server serves a Tenant as Microsoft Graph (plain HTTP on loopback, which kiota accepts
// for localhost) and as a Microsoft identity platform authority (TLS, which MSAL insists
// on).
type Server struct {
	t        *Tenant
	o        Options
	graph    *http.Server
	ln       net.Listener
	url      string
	auth     *tlsServer
	throttle *throttler

	signer    signer
	in        *signIns      // interactive sign-in (signin.go)
	done      chan struct{} // closed by Close, ending injected timeouts
	closeOnce sync.Once

	mu             sync.Mutex
	calls          []Call
	mails          []Mail // sendMail, in the order received
	stats          Stats
	rng            *mrand.Rand
	throttledUntil time.Time // ThrottleFor: every request answers 429 until then
	hold           *hold     // HoldAfter
}

// hold is a HoldAfter in force: once left calls of op have been recorded, requests wait on
// release.
type hold struct {
	op      string
	left    int           // under Server.mu
	held    chan struct{} // closed when the first request is held
	heldOne sync.Once
	release chan struct{}
}

// NewServer starts a server for t. Close it when done.
func NewServer(t *Tenant, o Options) (*Server, error) {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.TenantID != "" && !strings.EqualFold(o.TenantID, t.ID()) {
		return nil, fmt.Errorf("graphtest: TenantID %s is not the tenant's id %s", o.TenantID, t.ID())
	}
	o.TenantID = t.ID()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("graphtest: listen: %w", err)
	}
	s := &Server{t: t, o: o, ln: ln, url: "http://" + ln.Addr().String(), done: make(chan struct{}),
		throttle: newThrottler(o.Limits, o.Scale), rng: mrand.New(mrand.NewPCG(1, 2)),
		stats: Stats{ThrottledBy: map[string]int64{}}, in: newSignIns(o)}
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.serveGraph)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", s.serveAuthorize)
	s.graph = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.graph.Serve(ln) }()
	amux := http.NewServeMux()
	amux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.serveDiscovery)
	amux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.serveToken)
	amux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.serveKeys)
	amux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", s.serveAuthorize)
	if s.auth, err = newTLSServer(amux); err != nil {
		_ = s.graph.Close()
		return nil, fmt.Errorf("graphtest: %w", err)
	}
	return s, nil
}

// TB is the part of testing.TB that Start needs; declared here so that the testing
// package stays out of the binaries that run graphtest (the demo).
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// Start starts a server for t and closes it when tb ends.
func Start(tb TB, t *Tenant, o Options) *Server {
	tb.Helper()
	s, err := NewServer(t, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// URL is Graph's root; the versions are URL()+"/v1.0" and URL()+"/beta".
func (s *Server) URL() string { return s.url }

// AuthorityURL is the identity authority host, for azidentity's AuthorityHost.
func (s *Server) AuthorityURL() string { return s.auth.URL + "/" }

// HTTPClient trusts the authority's certificate (and speaks plain HTTP to Graph).
func (s *Server) HTTPClient() *http.Client { return s.auth.Client() }

// AuthorityCertPEM is the authority's TLS certificate, for processes that must trust it
// through SSL_CERT_FILE (a child process running the mfabot binary).
func (s *Server) AuthorityCertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.auth.Certificate().Raw})
}

// ClientID and ClientSecret are the app registration the authority accepts.
func (s *Server) ClientID() string     { return s.o.ClientID }
func (s *Server) ClientSecret() string { return s.o.ClientSecret }

// Tenant is the simulated directory.
func (s *Server) Tenant() *Tenant { return s.t }

// Credential is a real azidentity client-secret credential against the fake authority.
func (s *Server) Credential() (azcore.TokenCredential, error) {
	return azidentity.NewClientSecretCredential(s.t.ID(), s.o.ClientID, s.o.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityURL()}, Transport: s.HTTPClient()},
		DisableInstanceDiscovery: true,
	})
}

// IssueToken hands out a valid access token for this Graph directly, for clients that do
// not run the OAuth flow (a child process in a test). It panics if no signing key can be
// made, which only a broken crypto/rand causes.
func (s *Server) IssueToken() string {
	tok, err := s.issue(s.url)
	if err != nil {
		panic(err)
	}
	return tok
}

func (s *Server) issue(audience string) (string, error) {
	tok, err := s.signer.sign(audience, s.t.ID(), s.o.ClientID, s.t.Granted(), time.Now())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.stats.TokensIssued++
	s.mu.Unlock()
	return tok, nil
}

// audiences are the token audiences this Graph accepts: its own URL (what a client asks
// for with scope URL()+"/.default") and Microsoft Graph's resource identifiers.
func (s *Server) audiences() []string {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	return []string{s.url, "http://localhost:" + port, GraphResource, GraphResource + "/", GraphAppID}
}

// ThrottleFor answers every Graph request, and every request inside a JSON batch, 429 for
// the next d (on the server's clock, Options.Now), as Graph does when the tenant's shared
// limits are spent by other apps or the service is busy: writes as over the tenant's write
// limit, reads as over its resource units, each with a Retry-After that ends with the
// window. The JSON batch itself still answers 200, its items 429.
func (s *Server) ThrottleFor(d time.Duration) {
	s.mu.Lock()
	s.throttledUntil = s.o.Now().Add(d)
	s.mu.Unlock()
}

// HoldAfter stops Graph once n more successful calls of op have been recorded: from then
// on every Graph request waits, with no effect, until release is called (or its client
// goes away, or the server closes). held is closed when the first request waits. A test
// uses it to catch a client in the middle of bulk work at a point of its choosing, without
// racing it: calls already under way finish, nothing new starts.
func (s *Server) HoldAfter(op string, n int) (held <-chan struct{}, release func()) {
	h := &hold{op: op, left: n, held: make(chan struct{}), release: make(chan struct{})}
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

// wait holds r while a HoldAfter has run out; false means the client went away or the
// server closed meanwhile, and the request is dropped.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	h := s.hold
	spent := h != nil && h.left <= 0
	s.mu.Unlock()
	if !spent {
		return true
	}
	h.heldOne.Do(func() { close(h.held) })
	select {
	case <-h.release:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

// SetLatency, SetFaults and SetLimits change the server's behaviour while it runs.
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.o.Latency = d; s.mu.Unlock() }
func (s *Server) SetFaults(f Faults)         { s.mu.Lock(); s.o.Faults = f; s.mu.Unlock() }
func (s *Server) SetLimits(l Limits, scale float64) {
	s.mu.Lock()
	s.throttle = newThrottler(l, scale)
	s.mu.Unlock()
}

// Close stops both listeners; requests hanging in an injected timeout end at once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.auth.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.graph.Shutdown(ctx); err != nil {
		return s.graph.Close()
	}
	return nil
}

// Calls returns the mutating calls so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count is how many successful calls of op were made for the user ("" for any user).
func (s *Server) Count(op, userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Op == op && c.Status < 300 && (userID == "" || strings.EqualFold(c.UserID, userID)) {
			n++
		}
	}
	return n
}

// Stats returns the request statistics so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ThrottledBy = map[string]int64{}
	for k, v := range s.stats.ThrottledBy {
		st.ThrottledBy[k] = v
	}
	return st
}

// --- identity authority ---

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	base := s.auth.URL + "/" + r.PathValue("tenant")
	writeJSON(w, 200, nil, map[string]any{
		"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
		"authorization_endpoint": s.authorizeURL(r.PathValue("tenant")), "jwks_uri": base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
			"name", "tid", "ver", "at_hash", "c_hash", "email"},
		"tenant_region_scope": "NA", "cloud_instance_name": "graphtest", "request_uri_parameter_supported": false,
	})
}

func (s *Server) serveKeys(w http.ResponseWriter, _ *http.Request) {
	keys, err := s.signer.jwks()
	if err != nil {
		writeJSON(w, 500, nil, map[string]any{"error": "temporarily_unavailable"})
		return
	}
	writeJSON(w, 200, nil, keys)
}

// serveToken is the client-credentials grant; the error bodies follow Entra's
// ({"error","error_description"} with the AADSTS code that names the problem).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, nil, map[string]any{"error": "invalid_request"})
		return
	}
	tenant := r.PathValue("tenant")
	id, secret := clientCredentials(r)
	resource, scopeOK := resourceOf(r.PostForm.Get("scope"))
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, nil, map[string]any{"error": code, "error_description": desc,
			"error_codes": []int{}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"),
			"trace_id": newRequestID(), "correlation_id": newRequestID()})
	}
	if r.PostForm.Get("grant_type") == "authorization_code" {
		s.serveCodeGrant(w, r, oauthErr)
		return
	}
	switch {
	case !strings.EqualFold(tenant, s.t.ID()):
		oauthErr(400, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found.")
	case r.PostForm.Get("grant_type") != "client_credentials":
		oauthErr(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
	case id != s.o.ClientID:
		oauthErr(400, "unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory '"+s.t.displayName+"'.")
	case secret != s.o.ClientSecret:
		oauthErr(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	case !scopeOK:
		oauthErr(400, "invalid_scope", "AADSTS1002012: The provided value for scope "+r.PostForm.Get("scope")+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
	default:
		tok, err := s.issue(resource)
		if err != nil {
			oauthErr(500, "temporarily_unavailable", "AADSTS90033: A transient error has occurred.")
			return
		}
		writeJSON(w, 200, nil, map[string]any{"token_type": "Bearer", "expires_in": int(TokenLifetime.Seconds()),
			"ext_expires_in": int(TokenLifetime.Seconds()), "access_token": tok})
	}
}

// --- Graph ---

// reply is a Graph response before it is written.
type reply struct {
	status int
	header http.Header
	body   any    // marshalled as JSON; nil means no body
	text   string // a text/plain body (raw $count) when body is nil
}

// graphError is Graph's error body. The innerError ids are filled in by stamp, which
// knows the request.
func graphError(status int, code, msg string) reply {
	return reply{status: status, body: map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05")},
	}}}
}

// stamp gives a response Graph's request-id and client-request-id headers (the latter
// echoing the client's) and copies them into an error's innerError.
func stamp(rep *reply, clientRequestID string) {
	id := newRequestID()
	if clientRequestID == "" {
		clientRequestID = id
	}
	if rep.header == nil {
		rep.header = http.Header{}
	}
	rep.header.Set("request-id", id)
	rep.header.Set("client-request-id", clientRequestID)
	if m, ok := rep.body.(map[string]any); ok {
		if e, ok := m["error"].(map[string]any); ok {
			if inner, ok := e["innerError"].(map[string]any); ok {
				inner["request-id"], inner["client-request-id"] = id, clientRequestID
			}
		}
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const jsonContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

func writeJSON(w http.ResponseWriter, status int, h http.Header, body any) {
	for k, v := range h {
		w.Header()[k] = v
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeReply(w http.ResponseWriter, rep reply) {
	if rep.body == nil && rep.text != "" {
		for k, v := range rep.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.text)
		return
	}
	writeJSON(w, rep.status, rep.header, rep.body)
}

// request is one Graph request, top-level or inside a batch.
type request struct {
	version string // "v1.0" or "beta"
	method  string
	path    string // after the version, without the leading slash
	query   url.Values
	header  http.Header
	body    []byte
	url     *url.URL // as received, for nextLinks
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r) {
		return
	}
	s.mu.Lock()
	latency, faults := s.o.Latency, s.o.Faults
	s.stats.Requests++
	roll := s.rng.Float64()
	s.mu.Unlock()
	clientID := r.Header.Get("client-request-id")
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if faults.Timeouts > 0 && roll < faults.Timeouts {
		// A request that never gets an answer; the client's own timeout ends it (or Close).
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if rep, ok := s.fault(faults, roll-faults.Timeouts); ok {
		stamp(&rep, clientID)
		writeReply(w, rep)
		return
	}
	// The escaped path, split before unescaping, so that an escaped "/" or "%" in a UPN
	// stays inside its segment.
	version, rest, ok := cutVersion(r.URL.EscapedPath())
	if !ok {
		rep := graphError(400, "BadRequest", "Invalid version: the path must start with /v1.0 or /beta.")
		stamp(&rep, clientID)
		writeReply(w, rep)
		return
	}
	if refusal := s.authenticate(r.Header.Get("Authorization")); refusal != "" {
		rep := graphError(401, "InvalidAuthenticationToken", refusal)
		stamp(&rep, clientID)
		rep.header.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.auth.URL+`/common/oauth2/authorize", client_id="`+GraphAppID+`"`)
		writeReply(w, rep)
		return
	}
	var in io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		// kiota's compression handler gzips request bodies; Graph accepts that.
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			rep := graphError(400, "BadRequest", "The request body is not valid gzip.")
			stamp(&rep, clientID)
			writeReply(w, rep)
			return
		}
		in = zr
	}
	body, _ := io.ReadAll(io.LimitReader(in, 4<<20))
	req := request{version: version, method: r.Method, path: rest, query: r.URL.Query(), header: r.Header, body: body, url: r.URL}
	var rep reply
	if rest == "$batch" && r.Method == http.MethodPost {
		rep = s.batch(req, faults)
	} else {
		rep = s.one(req)
	}
	stamp(&rep, clientID)
	writeReply(w, rep)
}

// fault answers the request with an injected 5xx if roll (uniform, shifted past the
// timeouts' share) falls in the share of ServerErrors or of Unavailable.
func (s *Server) fault(f Faults, roll float64) (reply, bool) {
	if roll < 0 || roll >= f.ServerErrors+f.Unavailable {
		return reply{}, false
	}
	s.mu.Lock()
	s.stats.Injected5xx++
	th := s.throttle
	s.mu.Unlock()
	if roll < f.ServerErrors {
		return s.injectedFault(int(roll*1e6), th.scale), true
	}
	return s.unavailable(th.scale), true
}

// injectedFault is a 500, 503 (with Retry-After, as Graph sends it) or 504 chosen by n.
func (s *Server) injectedFault(n int, scale float64) reply {
	switch n % 3 {
	case 0:
		return graphError(500, "generalException", "An unexpected error occurred.")
	case 1:
		return s.unavailable(scale)
	}
	return graphError(504, "UnknownError", "The gateway timed out.")
}

// unavailable is Graph's 503 with a Retry-After of one second, scaled like the limits.
func (s *Server) unavailable(scale float64) reply {
	rep := graphError(503, "serviceNotAvailable", "The service is temporarily unavailable. Please try again later.")
	rep.header = http.Header{"Retry-After": {retryAfterValue(time.Duration(float64(time.Second)/scale), scale)}}
	return rep
}

func cutVersion(p string) (version, rest string, ok bool) {
	for _, v := range []string{"v1.0", "beta"} {
		if r, found := strings.CutPrefix(p, "/"+v+"/"); found {
			return v, r, true
		}
	}
	return "", "", false
}

// authenticate checks the Authorization header; a refusal is the 401's message.
func (s *Server) authenticate(h string) (refusal string) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return "Access token is empty."
	}
	_, refusal = s.signer.verify(strings.TrimSpace(tok), s.t.ID(), s.audiences(), time.Now())
	return refusal
}

// maxBatch is Graph's limit on requests in one JSON batch.
const maxBatch = 20

// batch runs a JSON batch: each request is checked, throttled and answered on its own,
// and the batch itself answers 200.
func (s *Server) batch(outer request, faults Faults) reply {
	var in struct {
		Requests []struct {
			ID      string            `json:"id"`
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(outer.body, &in); err != nil || len(in.Requests) == 0 {
		return graphError(400, "BadRequest", "Invalid batch payload format.")
	}
	if len(in.Requests) > maxBatch {
		return graphError(400, "BadRequest", fmt.Sprintf("Limit of %d requests per batch exceeded.", maxBatch))
	}
	seen := map[string]bool{}
	out := make([]map[string]any, 0, len(in.Requests))
	for _, q := range in.Requests {
		s.mu.Lock()
		s.stats.BatchItems++
		s.mu.Unlock()
		h := http.Header{}
		for k, v := range q.Headers {
			h.Set(k, v)
		}
		var rep reply
		var injected bool
		if faults.InBatches {
			s.mu.Lock()
			roll := s.rng.Float64()
			s.mu.Unlock()
			rep, injected = s.fault(faults, roll)
		}
		u, err := url.Parse(q.URL)
		switch {
		case injected:
		case q.ID == "" || seen[q.ID]:
			rep = graphError(400, "BadRequest", "Each request in a batch must have a unique id.")
		case err != nil || u.IsAbs() || q.Method == "":
			rep = graphError(400, "BadRequest", "Invalid request URL: batch items use URLs relative to the version root.")
		default:
			// Item URLs are relative to the batch's version root: "/users/x" or "users/x".
			path := strings.TrimPrefix(u.EscapedPath(), "/")
			// nextLinks of an item point at the batch's version root.
			u.Path, u.RawPath = "/"+outer.version+"/"+strings.TrimPrefix(u.Path, "/"), ""
			rep = s.one(request{version: outer.version, method: strings.ToUpper(q.Method), path: path,
				query: u.Query(), header: h, body: q.Body, url: u})
		}
		seen[q.ID] = true
		stamp(&rep, h.Get("client-request-id"))
		item := map[string]any{"id": q.ID, "status": rep.status}
		hs := map[string]string{}
		for k := range rep.header {
			hs[graphHeaderName(k)] = rep.header.Get(k)
		}
		switch {
		case rep.body != nil:
			hs["Content-Type"] = jsonContentType
			item["body"] = rep.body
		case rep.text != "":
			hs["Content-Type"] = "text/plain"
			item["body"] = rep.text
		}
		item["headers"] = hs
		out = append(out, item)
	}
	return reply{status: 200, body: map[string]any{"responses": out}}
}

// graphHeaderName spells a header as Graph does in batch responses, where no HTTP
// library canonicalizes it: its own headers lower-case, standard ones canonical.
func graphHeaderName(k string) string {
	l := strings.ToLower(k)
	if strings.HasPrefix(l, "x-ms-") || l == "request-id" || l == "client-request-id" {
		return l
	}
	return k
}

// route is one Graph endpoint: what it costs and needs, and its handler.
type route struct {
	perms  []string // any of them grants access
	cost   int      // base resource units
	write  bool
	report bool
	handle func() reply
}

// cost is a request's resource units: the route's base cost adjusted for the query as
// Microsoft documents ($select −1, $expand +1, $top under 20 −1), never below 1.
func cost(base int, q url.Values) int {
	c := base
	if q.Get("$select") != "" {
		c--
	}
	if q.Get("$expand") != "" {
		c++
	}
	if n, err := strconv.Atoi(q.Get("$top")); err == nil && n < 20 {
		c--
	}
	return max(c, 1)
}

// one serves a single request: routed, licence- and permission-checked, throttled, then
// handled.
func (s *Server) one(r request) reply {
	rt, rep, ok := s.route(r)
	if !ok {
		return rep
	}
	if rt.report && !s.t.Licensed() {
		return graphError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
			"Calling principal does not have required MSGraph permissions AuditLog.Read.All or the tenant does not have a premium license.")
	}
	if !s.t.grantedAny(rt.perms) {
		return graphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	s.mu.Lock()
	th, until := s.throttle, s.throttledUntil
	s.mu.Unlock()
	now := s.o.Now()
	if until.After(now) {
		return s.injectedThrottle(th, until.Sub(now), cost(rt.cost, r.query), rt.write)
	}
	v := th.admit(now, cost(rt.cost, r.query), rt.write, rt.report)
	h := http.Header{}
	th.setHeaders(h, v, s.o.ClientID, s.t.ID())
	if v.wait > 0 {
		s.mu.Lock()
		s.stats.Throttled++
		s.stats.ThrottledBy[v.reason]++
		s.mu.Unlock()
		rep := graphError(429, "TooManyRequests", "Too many requests.")
		rep.header = h
		return rep
	}
	rep = rt.handle()
	if rep.header == nil {
		rep.header = h
	} else {
		for k, vs := range h {
			rep.header[k] = vs
		}
	}
	return rep
}

// injectedThrottle is the 429 of a ThrottleFor window with wait left: a write is over
// the tenant's write limit, a read over the resource units, as when other apps have spent
// the tenant's share.
func (s *Server) injectedThrottle(th *throttler, wait time.Duration, ru int, write bool) reply {
	v := verdict{wait: wait, ru: ru, reason: ThrottledResourceUnits, scope: "Tenant_Application/ReadWrite"}
	if write {
		v.reason, v.scope = ThrottledTenantWrites, "Tenant/Write"
	}
	h := http.Header{}
	th.setHeaders(h, v, s.o.ClientID, s.t.ID())
	s.mu.Lock()
	s.stats.Throttled++
	s.stats.ThrottledBy[v.reason]++
	s.mu.Unlock()
	rep := graphError(429, "TooManyRequests", "Too many requests.")
	rep.header = h
	return rep
}

var (
	permUsers    = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permMethodsR = []string{"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	permMethodsW = []string{"UserAuthenticationMethod.ReadWrite.All"}
	permRevoke   = []string{"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permReports  = []string{"AuditLog.Read.All"}
	permReqR     = []string{"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"}
	permReqW     = []string{"Policy.ReadWrite.AuthenticationMethod"}
	permGroups   = []string{"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"}
	permApps     = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"}
)

func notFound(what, id string) reply {
	return graphError(404, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

// countError is Graph's answer to $count on directory objects without the
// ConsistencyLevel: eventual header (an advanced query); nil when the request may count.
func countError(r request, raw bool) *reply {
	if !raw && r.query.Get("$count") != "true" || strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual") {
		return nil
	}
	rep := graphError(400, "Request_BadRequest", "$count is not currently supported.")
	if raw {
		rep = graphError(400, "Request_UnsupportedQuery", "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
	}
	return &rep
}

// route finds the endpoint for a request; ok is false with the error reply when there is
// none or the request is malformed before it reaches one.
func (s *Server) route(r request) (rt route, rep reply, ok bool) {
	q, u, body, method, version := r.query, r.url, r.body, r.method, r.version
	segs := strings.Split(strings.Trim(r.path, "/"), "/")
	for i, sg := range segs {
		if d, err := url.PathUnescape(sg); err == nil {
			segs[i] = d
		}
	}
	n := len(segs)
	base := s.url + "/" + version
	ctx := func(p string) string { return base + "/$metadata#" + p }
	bad := func() (route, reply, bool) {
		return route{}, graphError(400, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[n-1])), false
	}
	if e := countError(r, segs[n-1] == "$count"); e != nil && (segs[0] == "users" || segs[0] == "groups") {
		return route{}, *e, false
	}
	if rt, rep, ok, mine := s.routeTAP(r, segs, ctx); mine {
		return rt, rep, ok
	}
	switch {
	case segs[0] == "users" && n == 1 && method == "GET":
		return route{perms: permUsers, cost: 2, handle: func() reply { return s.listUsers(q, u, ctx("users")) }}, reply{}, true
	case segs[0] == "users" && n == 2 && segs[1] == "$count" && method == "GET":
		return route{perms: permUsers, cost: 2, handle: func() reply { return reply{status: 200, text: strconv.Itoa(s.t.UserCount())} }}, reply{}, true
	case segs[0] == "users" && n == 2 && method == "GET":
		return route{perms: permUsers, cost: 2, handle: func() reply {
			usr, ok := s.t.User(segs[1])
			if !ok {
				return notFound("user", segs[1])
			}
			m := selectFields(userJSON(usr), q.Get("$select"))
			m["@odata.context"] = ctx("users/$entity")
			return reply{status: 200, body: m}
		}}, reply{}, true
	case segs[0] == "users" && n == 4 && segs[2] == "authentication" && segs[3] == "methods" && method == "GET":
		return route{perms: permMethodsR, cost: 1, handle: func() reply {
			usr, ok := s.t.User(segs[1])
			if !ok {
				return notFound("user", segs[1])
			}
			var items []any
			for _, m := range s.t.Methods(usr.ID) {
				items = append(items, methodJSON(m))
			}
			return reply{status: 200, body: map[string]any{"@odata.context": ctx("users('" + usr.ID + "')/authentication/methods"), "value": orEmpty(items)}}
		}}, reply{}, true
	case segs[0] == "users" && n >= 4 && segs[2] == "authentication" && segs[3] == MethodHardwareOath.Segment() && (version != "beta" || s.o.NationalCloud):
		// Hardware OATH tokens are managed in beta only, in the global service only.
		return bad()
	case segs[0] == "users" && n == 4 && segs[2] == "authentication" && segs[3] == MethodHardwareOath.Segment() && method == "GET":
		return route{perms: permMethodsR, cost: 1, handle: func() reply { return s.listHardwareOath(segs[1], ctx) }}, reply{}, true
	case segs[0] == "users" && n == 5 && segs[2] == "authentication" && segs[3] == MethodHardwareOath.Segment() && method == "GET":
		return route{perms: permMethodsR, cost: 1, handle: func() reply { return s.getHardwareOath(segs[1], segs[4], ctx) }}, reply{}, true
	case segs[0] == "users" && n == 4 && segs[2] == "authentication" && segs[3] == "signInPreferences" && version == "beta":
		// The default second factor is served in beta only; v1.0 falls through to
		// "Resource not found for the segment".
		switch method {
		case "GET":
			return route{perms: permMethodsR, cost: 1, handle: func() reply { return s.getSignInPreferences(segs[1], ctx) }}, reply{}, true
		case "PATCH":
			return route{perms: permMethodsW, cost: 1, write: true, handle: func() reply { return s.setSignInPreferences(segs[1], body) }}, reply{}, true
		}
		return bad()
	case segs[0] == "users" && n == 5 && segs[2] == "authentication" && segs[3] == MethodPassword.Segment() && method == "DELETE":
		// Graph has no delete for the password method; the message is modeled.
		return route{}, graphError(405, "Request_BadRequest", "The password authentication method cannot be deleted."), false
	case segs[0] == "users" && n == 5 && segs[2] == "authentication" && method == "DELETE":
		return route{perms: permMethodsW, cost: 1, write: true, handle: func() reply { return s.deleteMethod(segs[1], segs[3], segs[4]) }}, reply{}, true
	case segs[0] == "users" && n == 4 && segs[2] == "authentication" && segs[3] == "requirements" && version == "beta":
		// Per-user MFA (strongAuthenticationRequirements) exists only in beta; v1.0 falls
		// through to "Resource not found for the segment".
		if method == "GET" {
			return route{perms: permReqR, cost: 1, handle: func() reply {
				st := s.t.MFAState(segs[1])
				if st == "" {
					return notFound("user", segs[1])
				}
				return reply{status: 200, body: map[string]any{"@odata.context": ctx("users('" + segs[1] + "')/authentication/requirements/$entity"), "perUserMfaState": st}}
			}}, reply{}, true
		}
		if method == "PATCH" {
			return route{perms: permReqW, cost: 1, write: true, handle: func() reply { return s.setRequirements(segs[1], body) }}, reply{}, true
		}
		return bad()
	case segs[0] == "users" && n == 3 && segs[2] == "revokeSignInSessions" && method == "POST":
		return route{perms: permRevoke, cost: 1, write: true, handle: func() reply { return s.revoke(segs[1], ctx("Edm.Boolean")) }}, reply{}, true
	case segs[0] == "users" && n == 3 && segs[2] == "sendMail" && method == "POST":
		return route{perms: permMail, cost: 1, handle: func() reply { return s.sendMail(segs[1], body) }}, reply{}, true
	case segs[0] == "users" && n == 3 && segs[2] == "checkMemberGroups" && method == "POST":
		return route{perms: permGroups, cost: 4, handle: func() reply { return s.checkMemberGroups(segs[1], body, ctx("Collection(Edm.String)")) }}, reply{}, true
	case segs[0] == "reports" && n >= 3 && segs[1] == "authenticationMethods" && segs[2] == "userRegistrationDetails" && method == "GET":
		if n == 3 {
			return route{perms: permReports, cost: 1, report: true, handle: func() reply {
				return s.listRegistrations(q, u, ctx("reports/authenticationMethods/userRegistrationDetails"))
			}}, reply{}, true
		}
		return route{perms: permReports, cost: 1, report: true, handle: func() reply {
			reg, ok := s.t.Registration(segs[3])
			if !ok {
				return notFound("userRegistrationDetails", segs[3])
			}
			m := registrationJSON(reg)
			m["@odata.context"] = ctx("reports/authenticationMethods/userRegistrationDetails/$entity")
			return reply{status: 200, body: m}
		}}, reply{}, true
	case segs[0] == "groups" && n == 1 && method == "GET":
		return route{perms: permGroups, cost: 1, handle: func() reply { return s.listGroups(q, ctx("groups")) }}, reply{}, true
	case segs[0] == "groups" && n == 2 && method == "GET":
		return route{perms: permGroups, cost: 1, handle: func() reply {
			g, ok := s.t.Group(segs[1])
			if !ok {
				return notFound("group", segs[1])
			}
			m := selectFields(groupJSON(g), q.Get("$select"))
			m["@odata.context"] = ctx("groups/$entity")
			return reply{status: 200, body: m}
		}}, reply{}, true
	case segs[0] == "groups" && n >= 4 && segs[2] == "transitiveMembers" && (segs[3] == "microsoft.graph.user" || segs[3] == "graph.user") && method == "GET":
		if n == 5 && segs[4] == "$count" {
			return route{perms: permGroups, cost: 5, handle: func() reply {
				if _, ok := s.t.Group(segs[1]); !ok {
					return notFound("group", segs[1])
				}
				return reply{status: 200, text: strconv.Itoa(len(s.t.TransitiveUsers(segs[1])))}
			}}, reply{}, true
		}
		return route{perms: permGroups, cost: 5, handle: func() reply { return s.listMembers(segs[1], q, u, ctx("users")) }}, reply{}, true
	case segs[0] == "applications" && n == 1 && method == "GET":
		return route{perms: permApps, cost: 1, handle: func() reply { return s.listApplications(q, ctx("applications")) }}, reply{}, true
	case segs[0] == "servicePrincipals" && n == 1 && method == "GET":
		return route{perms: permApps, cost: 1, handle: func() reply { return s.listServicePrincipals(q, ctx("servicePrincipals")) }}, reply{}, true
	case segs[0] == "servicePrincipals" && n == 3 && segs[2] == "appRoleAssignments" && method == "GET":
		return route{perms: permApps, cost: 2, handle: func() reply {
			return s.appRoleAssignments(segs[1], ctx("servicePrincipals('"+segs[1]+"')/appRoleAssignments"))
		}}, reply{}, true
	}
	return bad()
}

func orEmpty(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

// --- OData helpers ---

var eqFilter = regexp.MustCompile(`^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$`)

// parseEq parses "prop eq 'value'" (” is an escaped quote).
func parseEq(f string) (prop, value string, ok bool) {
	m := eqFilter.FindStringSubmatch(f)
	if m == nil {
		return "", "", false
	}
	return m[1], strings.ReplaceAll(m[2], "''", "'"), true
}

func selectFields(m map[string]any, sel string) map[string]any {
	if sel == "" {
		return m
	}
	out := map[string]any{}
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		if v, ok := m[f]; ok {
			out[f] = v
		}
	}
	if t, ok := m["@odata.type"]; ok {
		out["@odata.type"] = t
	}
	return out
}

// page cuts items at $skiptoken/$top and adds the nextLink.
func page(total int, q url.Values, u *url.URL, def, maxTop int) (from, to int, next string, err error) {
	top := def
	if v := q.Get("$top"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 {
			return 0, 0, "", errors.New("invalid $top")
		}
		top = min(n, maxTop)
	}
	if v := q.Get("$skiptoken"); v != "" {
		n, ok := parseSkipToken(v)
		if !ok {
			return 0, 0, "", errors.New("Skip token is invalid.")
		}
		from = n
	}
	to = min(from+top, total)
	if to < total && u != nil {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", skipToken(to))
		nq.Set("$top", strconv.Itoa(top))
		nu := *u
		nu.Scheme, nu.Host = "", ""
		nu.RawQuery = nq.Encode()
		next = nu.String()
	}
	return from, to, next, nil
}

// skipToken is the opaque $skiptoken of the page starting at offset; clients must pass it
// back unchanged, as with Graph's.
func skipToken(offset int) string {
	return "RFNwdAIA" + base64.RawURLEncoding.EncodeToString([]byte("graphtest:"+strconv.Itoa(offset)))
}

func parseSkipToken(tok string) (int, bool) {
	rest, ok := strings.CutPrefix(tok, "RFNwdAIA")
	if !ok {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "graphtest:")
	n, err := strconv.Atoi(v)
	return n, ok && err == nil && n >= 0
}

func (s *Server) abs(next, version string) string {
	if next == "" {
		return ""
	}
	if strings.HasPrefix(next, "/"+version+"/") {
		return s.url + next
	}
	return s.url + "/" + version + "/" + strings.TrimPrefix(next, "/")
}

// --- handlers ---

func (s *Server) listUsers(q url.Values, u *url.URL, odctx string) reply {
	// Unfiltered pages are cut from the tenant directly: a 100,000-user tenant must not be
	// copied for every page it serves.
	var users []User
	total := s.t.UserCount()
	filtered := q.Get("$filter") != ""
	if filtered {
		prop, val, ok := parseEq(q.Get("$filter"))
		if !ok || (prop != "mail" && prop != "userPrincipalName" && prop != "id") {
			return graphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '"+prop+"' of resource 'User'.")
		}
		for _, usr := range s.t.Users() {
			v := map[string]string{"mail": usr.Mail, "userPrincipalName": usr.UserPrincipalName, "id": usr.ID}[prop]
			if strings.EqualFold(v, val) {
				users = append(users, usr)
			}
		}
		total = len(users)
	}
	from, to, next, err := page(total, q, u, 100, 999)
	if err != nil {
		return graphError(400, "Request_BadRequest", err.Error())
	}
	if filtered {
		users = users[from:to]
	} else {
		users = s.t.usersRange(from, to)
	}
	items := make([]any, 0, len(users))
	for _, usr := range users {
		items = append(items, selectFields(userJSON(usr), q.Get("$select")))
	}
	body := map[string]any{"@odata.context": odctx, "value": items}
	if q.Get("$count") == "true" {
		body["@odata.count"] = total
	}
	if next != "" {
		body["@odata.nextLink"] = s.abs(next, versionOf(u))
	}
	return reply{status: 200, body: body}
}

func versionOf(u *url.URL) string {
	if u != nil && strings.HasPrefix(u.Path, "/beta/") {
		return "beta"
	}
	return "v1.0"
}

func (s *Server) listMembers(groupID string, q url.Values, u *url.URL, odctx string) reply {
	if _, ok := s.t.Group(groupID); !ok {
		return notFound("group", groupID)
	}
	ids := s.t.TransitiveUsers(groupID)
	from, to, next, err := page(len(ids), q, u, 100, 999)
	if err != nil {
		return graphError(400, "Request_BadRequest", err.Error())
	}
	items := make([]any, 0, to-from)
	for _, id := range ids[from:to] {
		usr, _ := s.t.User(id)
		m := selectFields(userJSON(usr), q.Get("$select"))
		m["@odata.type"] = "#microsoft.graph.user"
		items = append(items, m)
	}
	body := map[string]any{"@odata.context": odctx, "value": items}
	if q.Get("$count") == "true" {
		body["@odata.count"] = len(ids)
	}
	if next != "" {
		body["@odata.nextLink"] = s.abs(next, versionOf(u))
	}
	return reply{status: 200, body: body}
}

func (s *Server) listRegistrations(q url.Values, u *url.URL, odctx string) reply {
	if q.Get("$filter") != "" {
		return s.filterRegistrations(q, u, odctx)
	}
	n := s.t.UserCount()
	from, to, next, err := page(n, q, u, 1000, 1000)
	if err != nil {
		return graphError(400, "Request_BadRequest", err.Error())
	}
	items := make([]any, 0, to-from)
	for _, r := range s.t.registrations(from, to) {
		items = append(items, registrationJSON(r))
	}
	body := map[string]any{"@odata.context": odctx, "value": items}
	if next != "" {
		body["@odata.nextLink"] = s.abs(next, versionOf(u))
	}
	return reply{status: 200, body: body}
}

func (s *Server) listGroups(q url.Values, odctx string) reply {
	var items []any
	f := q.Get("$filter")
	prop, val, ok := parseEq(f)
	if f != "" && (!ok || (prop != "displayName" && prop != "mailNickname" && prop != "id")) {
		return graphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '"+prop+"' of resource 'Group'.")
	}
	for _, g := range s.t.Groups() {
		if f != "" {
			v := map[string]string{"displayName": g.DisplayName, "mailNickname": g.MailNickname, "id": g.ID}[prop]
			if !strings.EqualFold(v, val) {
				continue
			}
		}
		items = append(items, selectFields(groupJSON(g), q.Get("$select")))
	}
	return reply{status: 200, body: map[string]any{"@odata.context": odctx, "value": orEmpty(items)}}
}

func (s *Server) deleteMethod(userRef, segment, methodID string) reply {
	typ, ok := typeOfSegment(segment)
	if !ok {
		return graphError(400, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segment))
	}
	status, code, msg, userID := s.t.deleteMethod(userRef, typ, methodID)
	s.record(Call{Op: OpDeleteMethod, UserID: userID, Target: string(typ) + "/" + methodID, Status: status})
	if status != 204 {
		return graphError(status, code, msg)
	}
	return reply{status: 204}
}

func typeOfSegment(seg string) (MethodType, bool) {
	for _, t := range methodTypes {
		if t.Segment() == seg {
			return t, t != MethodPassword
		}
	}
	return "", false
}

func (s *Server) revoke(userRef, odctx string) reply {
	usr, ok := s.t.User(userRef)
	if !ok {
		s.record(Call{Op: OpRevoke, UserID: userRef, Status: 404})
		return notFound("user", userRef)
	}
	s.t.revoke(usr.ID)
	s.record(Call{Op: OpRevoke, UserID: usr.ID, Status: 200})
	// Graph answers 200 with a boolean, though its documentation says 204.
	return reply{status: 200, body: map[string]any{"@odata.context": odctx, "value": true}}
}

func (s *Server) setRequirements(userRef string, body []byte) reply {
	var in struct {
		PerUserMfaState string `json:"perUserMfaState"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return graphError(400, "BadRequest", "Invalid request body.")
	}
	usr, ok := s.t.User(userRef)
	if !ok {
		return notFound("user", userRef)
	}
	if err := s.t.SetMFAState(usr.ID, in.PerUserMfaState); err != nil {
		s.record(Call{Op: OpSetRequirements, UserID: usr.ID, Target: in.PerUserMfaState, Status: 400})
		return graphError(400, "badRequest", "Invalid value for perUserMfaState.")
	}
	s.record(Call{Op: OpSetRequirements, UserID: usr.ID, Target: in.PerUserMfaState, Status: 204})
	return reply{status: 204}
}

// listHardwareOath is the beta collection of a user's hardware OATH tokens, each with its
// device, in the shape of Microsoft's example.
func (s *Server) listHardwareOath(userRef string, ctx func(string) string) reply {
	usr, ok := s.t.User(userRef)
	if !ok {
		return notFound("user", userRef)
	}
	items := []any{}
	for _, m := range s.t.Methods(usr.ID) {
		if m.Type == MethodHardwareOath {
			items = append(items, hardwareOathJSON(m, usr))
		}
	}
	return reply{status: 200, body: map[string]any{"@odata.context": ctx("users('" + usr.ID + "')/authentication/hardwareOathMethods"), "value": items}}
}

// getHardwareOath is one hardware OATH token of a user. (Microsoft's example wraps the
// object in "value"; the text says the object is the body, which is what Graph's entity
// reads return and what this serves.)
func (s *Server) getHardwareOath(userRef, methodID string, ctx func(string) string) reply {
	usr, ok := s.t.User(userRef)
	if !ok {
		return notFound("user", userRef)
	}
	for _, m := range s.t.Methods(usr.ID) {
		if m.Type == MethodHardwareOath && strings.EqualFold(m.ID, methodID) {
			out := hardwareOathJSON(m, usr)
			out["@odata.context"] = ctx("users('" + usr.ID + "')/authentication/hardwareOathMethods/$entity")
			return reply{status: 200, body: out}
		}
	}
	return graphError(404, "itemNotFound", "The requested authentication method was not found.")
}

func (s *Server) getSignInPreferences(userRef string, ctx func(string) string) reply {
	sys, pref, ok := s.t.signInPreferences(userRef)
	if !ok {
		return notFound("user", userRef)
	}
	var preferred any = pref
	if pref == DefaultNone || pref == "" {
		preferred = nil // "none" is not among the documented values; Graph leaves it empty
	}
	return reply{status: 200, body: map[string]any{
		"@odata.context": ctx("users('" + userRef + "')/authentication/signInPreferences/$entity"),
		"isSystemPreferredAuthenticationMethodEnabled":  sys,
		"userPreferredMethodForSecondaryAuthentication": preferred,
	}}
}

// signInDefaults are the documented values of userPreferredMethodForSecondaryAuthentication
// a client may set.
var signInDefaults = []string{DefaultPush, DefaultOath, DefaultVoiceMobile, DefaultVoiceAlternateMobile, DefaultVoiceOffice, DefaultSMS}

// setSignInPreferences is the PATCH of a user's sign-in preferences. The error messages
// are modeled; Microsoft documents the rule (the default must be a method the user has
// registered) but not Graph's words for breaking it.
func (s *Server) setSignInPreferences(userRef string, body []byte) reply {
	var in struct {
		Preferred       *string `json:"userPreferredMethodForSecondaryAuthentication"`
		SystemPreferred *bool   `json:"isSystemPreferredAuthenticationMethodEnabled"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return graphError(400, "BadRequest", "Invalid request body: properties of signInPreferences are isSystemPreferredAuthenticationMethodEnabled and userPreferredMethodForSecondaryAuthentication.")
	}
	target := ""
	if in.Preferred != nil {
		target = *in.Preferred
		if !slices.Contains(signInDefaults, target) {
			s.record(Call{Op: OpSetSignInPreferences, UserID: userRef, Target: target, Status: 400})
			return graphError(400, "badRequest", fmt.Sprintf("Invalid value '%s' for userPreferredMethodForSecondaryAuthentication.", target))
		}
	}
	userID, err := s.t.setSignInPreferences(userRef, in.Preferred, in.SystemPreferred)
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound("user", userRef)
	case err != nil:
		s.record(Call{Op: OpSetSignInPreferences, UserID: userID, Target: target, Status: 400})
		return graphError(400, "badRequest", fmt.Sprintf("The user has no registered authentication method that can be the default '%s'. Register the method before making it the default.", target))
	}
	s.record(Call{Op: OpSetSignInPreferences, UserID: userID, Target: target, Status: 204})
	return reply{status: 204}
}

func (s *Server) checkMemberGroups(userRef string, body []byte, odctx string) reply {
	var in struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return graphError(400, "BadRequest", "Invalid request body.")
	}
	usr, ok := s.t.User(userRef)
	if !ok {
		return notFound("user", userRef)
	}
	var out []any
	for _, g := range in.GroupIDs {
		for _, id := range s.t.TransitiveUsers(g) {
			if id == usr.ID {
				out = append(out, g)
				break
			}
		}
	}
	return reply{status: 200, body: map[string]any{"@odata.context": odctx, "value": orEmpty(out)}}
}

// Graph's application permissions as app roles of its service principal (their real ids).
var graphAppRoles = map[string]string{
	"User.Read.All":                          "df021288-bdef-4463-88db-98f22de89214",
	"UserAuthenticationMethod.ReadWrite.All": "50483e42-d915-4231-9639-7fdb7fd190e5",
	"UserAuthenticationMethod.Read.All":      "38d9df27-64da-44fd-b7c5-a6fbac20248f",
	"User.RevokeSessions.All":                "77f3a031-c388-4f99-b373-dc68676a979e",
	"GroupMember.Read.All":                   "98830695-27a2-44f7-8c18-0c3ebc9698f6",
	"AuditLog.Read.All":                      "b0afded3-3588-46d8-8b3d-9842eff778da",
	"Policy.ReadWrite.AuthenticationMethod":  "29c18626-4985-4dcd-85c0-193eef327366",
	"Policy.Read.All":                        "246dd0d5-5bd0-4def-940b-0421030a5b68",
	"Application.Read.All":                   "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
	"Directory.Read.All":                     "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
	"User.ReadWrite.All":                     "741f803b-c850-494e-b5df-cde7c675a1ca",
	"Directory.ReadWrite.All":                "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
	"Group.Read.All":                         "5b567255-7703-4780-807c-7be8301ae99b",
	"Mail.Send":                              "b633e1c5-b582-4048-a93e-9f11b44c7e96",
}

func (s *Server) listServicePrincipals(q url.Values, odctx string) reply {
	prop, val, ok := parseEq(q.Get("$filter"))
	if !ok || prop != "appId" {
		return graphError(400, "Request_UnsupportedQuery", "Filter servicePrincipals by appId.")
	}
	var items []any
	switch {
	case strings.EqualFold(val, s.o.ClientID):
		items = append(items, selectFields(map[string]any{"id": appSPID, "appId": s.o.ClientID, "displayName": "mfabot"}, q.Get("$select")))
	case val == GraphAppID:
		var roles []any
		for name, id := range graphAppRoles {
			roles = append(roles, map[string]any{"id": id, "value": name, "displayName": name, "allowedMemberTypes": []string{"Application"}, "isEnabled": true, "origin": "Application", "description": name})
		}
		items = append(items, selectFields(map[string]any{"id": graphSPID, "appId": GraphAppID, "displayName": "Microsoft Graph", "appRoles": roles}, q.Get("$select")))
	}
	return reply{status: 200, body: map[string]any{"@odata.context": odctx, "value": orEmpty(items)}}
}

func (s *Server) appRoleAssignments(spID, odctx string) reply {
	if !strings.EqualFold(spID, appSPID) {
		return notFound("servicePrincipal", spID)
	}
	var items []any
	for _, p := range s.t.Granted() {
		if id, ok := graphAppRoles[p]; ok {
			items = append(items, map[string]any{"id": newRequestID(), "appRoleId": id, "principalId": appSPID,
				"principalType": "ServicePrincipal", "principalDisplayName": "mfabot", "resourceId": graphSPID,
				"resourceDisplayName": "Microsoft Graph", "createdDateTime": "2026-01-01T00:00:00Z"})
		}
	}
	return reply{status: 200, body: map[string]any{"@odata.context": odctx, "value": orEmpty(items)}}
}

func (s *Server) record(c Call) {
	c.Time = time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, c)
	if h := s.hold; h != nil && h.op == c.Op && c.Status < 300 {
		h.left--
	}
	s.mu.Unlock()
}

// --- JSON shapes ---

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func userJSON(u User) map[string]any {
	return map[string]any{
		"id": u.ID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName,
		"givenName": nilIfEmpty(u.GivenName), "surname": nilIfEmpty(u.Surname), "mail": nilIfEmpty(u.Mail),
		"jobTitle": nilIfEmpty(u.JobTitle), "department": nilIfEmpty(u.Department),
		"userType": u.UserType, "accountEnabled": u.AccountEnabled, "createdDateTime": ts(u.CreatedDateTime),
		"businessPhones": []string{}, "officeLocation": nil, "preferredLanguage": nil, "mobilePhone": nil,
	}
}

func groupJSON(g Group) map[string]any {
	return map[string]any{"id": g.ID, "displayName": g.DisplayName, "mailNickname": g.MailNickname,
		"description": nilIfEmpty(g.Description), "mailEnabled": g.MailEnabled, "securityEnabled": g.SecurityEnabled,
		"createdDateTime": ts(g.CreatedDateTime), "groupTypes": []string{}}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func methodJSON(m Method) map[string]any {
	out := map[string]any{"@odata.type": m.Type.ODataType(), "id": m.ID}
	switch m.Type {
	case MethodPassword:
		out["password"], out["createdDateTime"] = nil, ts(m.Created)
	case MethodPhone:
		out["phoneNumber"], out["phoneType"], out["smsSignInState"] = m.PhoneNumber, m.PhoneType, m.SMSSignInState
	case MethodAuthenticator:
		out["displayName"], out["deviceTag"], out["phoneAppVersion"], out["createdDateTime"] = m.DisplayName, m.DeviceTag, m.PhoneAppVersion, ts(m.Created)
	case MethodFido2:
		out["displayName"], out["model"], out["createdDateTime"] = m.DisplayName, m.Model, ts(m.Created)
		out["aaGuid"], out["attestationLevel"], out["attestationCertificates"] = "cb69481e-8ff7-4039-93ec-0a2729a154a8", "attested", []string{}
	case MethodWindowsHello:
		out["displayName"], out["createdDateTime"], out["keyStrength"] = m.DisplayName, ts(m.Created), "normal"
	case MethodSoftwareOath:
		out["secretKey"] = nil
	case MethodHardwareOath:
		// v1.0 lists the token without its device, which only the beta schema has.
		out["createdDateTime"] = ts(m.Created)
	case MethodEmail:
		out["emailAddress"] = m.EmailAddress
	case MethodTemporaryAccessPass:
		tapJSON(out, m, time.Now())
	case MethodPlatformCredential:
		out["displayName"], out["createdDateTime"], out["platform"], out["keyStrength"] = m.DisplayName, ts(m.Created), "macOS", "normal"
	}
	return out
}

// hardwareOathJSON is a hardware OATH token as beta hardwareOathMethods serves it: the
// method with its device (hardwareOathTokenAuthenticationMethodDevice), whose id is the
// method's, assigned to the user.
func hardwareOathJSON(m Method, u User) map[string]any {
	return map[string]any{
		"@odata.type":     m.Type.ODataType(),
		"id":              m.ID,
		"createdDateTime": ts(m.Created),
		"device": map[string]any{
			"id": m.ID, "displayName": nilIfEmpty(m.DisplayName), "serialNumber": m.SerialNumber,
			"manufacturer": m.Manufacturer, "model": m.Model, "secretKey": nil,
			"timeIntervalInSeconds": 30, "status": "activated", "hashFunction": "hmacsha1",
			"assignedTo": map[string]any{"id": u.ID, "displayName": u.DisplayName},
		},
	}
}

func registrationJSON(r Registration) map[string]any {
	return map[string]any{
		"id": r.ID, "userPrincipalName": r.UserPrincipalName, "userDisplayName": r.UserDisplayName,
		"userType": r.UserType, "isAdmin": r.IsAdmin, "isSsprRegistered": r.IsSsprRegistered,
		"isSsprEnabled": r.IsSsprEnabled, "isSsprCapable": r.IsSsprCapable, "isMfaRegistered": r.IsMfaRegistered,
		"isMfaCapable": r.IsMfaCapable, "isPasswordlessCapable": r.IsPasswordlessCapable,
		"isSystemPreferredAuthenticationMethodEnabled":  r.IsSystemPreferredAuthenticationMethodEnabled,
		"methodsRegistered":                             r.MethodsRegistered,
		"systemPreferredAuthenticationMethods":          r.SystemPreferredAuthenticationMethods,
		"userPreferredMethodForSecondaryAuthentication": r.UserPreferredMethodForSecondaryAuthentication,
		"lastUpdatedDateTime":                           ts(r.LastUpdatedDateTime),
	}
}
