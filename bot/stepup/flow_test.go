package stepup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// env is the whole step-up, real everywhere but the chat: graphtest's authority (TLS,
// keys, sign-in page, token endpoint), a SQLite file, the approvals core, the dispatcher
// that words it, and the flow's handler behind an HTTP server.
type env struct {
	t      *testing.T
	clock  *approvalstest.Clock
	gs     *graphtest.Server
	db     *storage.DB
	svc    *approvals.Service
	disp   *commands.Dispatcher
	flow   *stepup.Flow
	srv    *httptest.Server
	logs   *syncBuffer
	ann    approvals.Actor // requester
	ben    approvals.Actor // approver
	cleo   approvals.Actor // another approver
	benUPN string
	cleoID string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type envOptions struct {
	context string // the authentication context step-up asks for
	cert    bool   // the app redeems codes with a certificate instead of its secret
	https   bool   // mfabot is reached on https, as it is anywhere but on loopback
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: approvalstest.NewClock(t0), logs: &syncBuffer{}}
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 3, Users: 30})
	add := func(upn, name string) graphtest.User {
		u, err := tenant.AddUser(graphtest.User{UserPrincipalName: upn, DisplayName: name, UserType: "Member", AccountEnabled: true, Admin: true})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	annU, benU, cleoU := add("ann.admin@contoso.com", "Ann Admin"), add("ben.approver@contoso.com", "Ben Approver"), add("cleo.approver@contoso.com", "Cleo Approver")
	e.benUPN, e.cleoID = benU.UserPrincipalName, cleoU.ID
	e.ann = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann Admin", EntraID: annU.ID}
	e.ben = approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben Approver", EntraID: benU.ID}
	e.cleo = approvals.Actor{Platform: "slack", ID: "UCLEO", Name: "Cleo Approver", EntraID: cleoU.ID}

	var handler http.Handler = http.NotFoundHandler()
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) })
	if o.https {
		e.srv = httptest.NewTLSServer(serve)
	} else {
		e.srv = httptest.NewServer(serve)
	}
	t.Cleanup(e.srv.Close)
	e.gs = graphtest.Start(t, tenant, graphtest.Options{Now: e.clock.Now, RedirectURIs: []string{e.srv.URL + stepup.CallbackPath}})

	dir := approvalstest.NewDirectory()
	adele, _ := tenant.User(graphtest.AdeleUPN)
	dir.AddUser(approvals.User{ID: adele.ID, UPN: adele.UserPrincipalName, Enabled: true},
		approvals.Method{ID: "pw", Type: "password"},
		approvals.Method{ID: "a1", ODataType: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", Type: "microsoftAuthenticator", Deletable: true})
	for _, u := range []graphtest.User{annU, benU, cleoU} {
		dir.AddUser(approvals.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Enabled: true})
	}
	e.db = storagetest.Open(t, storage.WithClock(e.clock))
	ps := func(s string) []approvals.Principal {
		p, err := approvals.ParsePrincipals(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pol := approvals.Policy{Requesters: ps("slack:UANN"), Approvers: ps("slack:UANN,slack:UBEN,slack:UCLEO"),
		StepUp: approvals.StepUp{Kinds: []approvals.Kind{approvals.KindReset}, Context: o.context}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = approvals.NewService(e.db, dir, pol, approvals.ServiceOptions{Clock: e.clock, Logger: log})
	cfg := stepup.Config{PublicURL: e.srv.URL, TenantID: tenant.ID(), ClientID: e.gs.ClientID(),
		ClientSecret: e.gs.ClientSecret(), AuthorityHost: e.gs.AuthorityURL(), Context: o.context, Store: e.db, Users: dir,
		HTTPClient: e.gs.HTTPClient(), Clock: e.clock, Logger: log}
	if o.cert {
		cfg.ClientSecret, cfg.CertificatePath = "", certificate(t, e.gs)
	}
	var err error
	e.flow, err = stepup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.disp = commands.NewDispatcher(commands.Options{Service: e.svc, Clock: e.clock, Logger: log, StepUp: e.flow})
	handler = e.flow.Handler(e.disp)
	return e
}

// request has Ann ask for a reset of Adele and returns its id.
func (e *env) request() string {
	e.t.Helper()
	resp := e.disp.Handle(context.Background(), bot.Event{Actor: e.ann, Text: "reset " + graphtest.AdeleUPN + " lost her phone"})
	if resp.Card == nil {
		e.t.Fatalf("request refused: %+v", resp.Reply)
	}
	return resp.Card.RequestID
}

// link has a press Approve and returns the link of the answer.
func (e *env) link(a approvals.Actor, id string) string {
	e.t.Helper()
	resp := e.disp.Handle(context.Background(), bot.Event{Actor: a, Text: "approve " + id, Button: true})
	if resp.Reply == nil || len(resp.Reply.Buttons) != 1 || resp.Reply.Buttons[0].URL == "" {
		e.t.Fatalf("Approve answered no link: %+v", resp.Reply)
	}
	return resp.Reply.Buttons[0].URL
}

// browser is a person's browser: cookies, and each redirect seen, not followed.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	transport := e.gs.HTTPClient().Transport
	if e.srv.TLS != nil {
		// A browser that trusts both mfabot's certificate and the authority's.
		roots := x509.NewCertPool()
		roots.AddCert(e.srv.Certificate())
		roots.AppendCertsFromPEM(e.gs.AuthorityCertPEM())
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: roots}
		transport = t
	}
	return &http.Client{Transport: transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// start opens the link, presses the page's button and returns the authorize URL it
// redirects to.
func (e *env) start(c *http.Client, link string) string {
	e.t.Helper()
	p := do(e.t, c, http.MethodGet, link, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="continue"`) {
		e.t.Fatalf("link page %d:\n%s", p.status, p.body)
	}
	p = do(e.t, c, http.MethodPost, link, url.Values{})
	if p.status != http.StatusSeeOther {
		e.t.Fatalf("start answered %d:\n%s", p.status, p.body)
	}
	return p.header.Get("Location")
}

// signIn signs in on graphtest's page as upn with method and returns where the browser
// posts the answer, and what.
func (e *env) signIn(c *http.Client, authorize, upn, method string) (string, url.Values) {
	e.t.Helper()
	p := do(e.t, c, http.MethodGet, authorize, nil)
	sp, err := graphtest.ReadSignInPage(strings.NewReader(p.body))
	if err != nil {
		e.t.Fatalf("sign-in page: %v", err)
	}
	p = do(e.t, c, http.MethodPost, authorize, url.Values{"request": {sp.Request}, "other": {upn}, "method": {method}})
	action, fields, err := graphtest.FormPost(strings.NewReader(p.body))
	if err != nil {
		e.t.Fatalf("sign-in answered %d: %v\n%s", p.status, err, p.body)
	}
	return action, fields
}

// state is where request id stands: its state and how many approvals it has.
func (e *env) state(id string) (approvals.State, int) {
	e.t.Helper()
	r, err := e.svc.Request(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.State, len(r.Approvals)
}

// audit returns the audit entries of request id, "type actor detail" each.
func (e *env) audit(id string) string {
	e.t.Helper()
	var out []string
	err := e.db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.RequestID == id {
			out = append(out, ev.Type+" "+ev.Actor.Key()+" "+ev.Detail)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Join(out, "\n")
}

// TestStepUpApproves: the whole step-up, as a browser does it, approves exactly once; the
// audit keeps the evidence and never the token; nothing secret reaches the log.
func TestStepUpApproves(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{context: "c1"})
	id := e.request()
	link := e.link(e.ben, id)
	if !strings.HasPrefix(link, e.srv.URL+"/stepup/") {
		t.Fatalf("link %s", link)
	}
	c := e.browser()
	authorize := e.start(c, link)
	q := mustQuery(t, authorize)
	for k, want := range map[string]string{"prompt": "login", "max_age": "300", "response_type": "code", "response_mode": "form_post",
		"code_challenge_method": "S256", "redirect_uri": e.srv.URL + stepup.CallbackPath, "login_hint": e.benUPN,
		"claims": `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`, "scope": "openid profile"} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("authorize %s = %q: not a fresh random value", k, q.Get(k))
		}
	}
	action, fields := e.signIn(c, authorize, e.benUPN, graphtest.SignInMFA)
	if action != e.srv.URL+stepup.CallbackPath {
		t.Fatalf("answer goes to %s", action)
	}
	p := do(t, c, http.MethodPost, action, fields)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Approved "+id) {
		t.Fatalf("callback %d:\n%s", p.status, p.body)
	}
	if st, n := e.state(id); st != approvals.StateApproved || n != 1 {
		t.Fatalf("request %s with %d approvals", st, n)
	}
	audit := e.audit(id)
	for _, want := range []string{approvals.EventStepUpRequired + " slack:UBEN", "approved slack:UBEN step-up: signed in as " + e.ben.EntraID,
		"MFA proven by acrs c1", "at " + t0.Format(time.RFC3339)} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	token := strings.TrimPrefix(link, e.srv.URL+"/stepup/")
	for name, secret := range map[string]string{"link token": token, "code": fields.Get("code"), "state": fields.Get("state"), "nonce": q.Get("nonce")} {
		if strings.Contains(audit, secret) || strings.Contains(e.logs.String(), secret) {
			t.Errorf("the %s reached the audit or the log", name)
		}
	}
	if strings.Contains(audit, "eyJ") || strings.Contains(e.logs.String(), "eyJ") {
		t.Error("a JWT reached the audit or the log")
	}
	if n := e.gs.IDTokensIssued(); n != 1 {
		t.Fatalf("%d ID tokens issued", n)
	}
}

// On https the cookie that binds a sign-in to its browser is Secure and SameSite=None:
// Entra's answer is a cross-site POST, which a Lax cookie would not come back with.
func TestStepUpOnHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{https: true})
	id := e.request()
	link := e.link(e.ben, id)
	if !strings.HasPrefix(link, "https://") {
		t.Fatalf("link %s", link)
	}
	c := e.browser()
	if p := do(t, c, http.MethodGet, link, nil); p.status != http.StatusOK {
		t.Fatalf("link page %d:\n%s", p.status, p.body)
	}
	p := do(t, c, http.MethodPost, link, url.Values{})
	cookies := (&http.Response{Header: p.header}).Cookies()
	if p.status != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("start answered %d with cookies %v", p.status, p.header.Values("Set-Cookie"))
	}
	if ck := cookies[0]; !ck.Secure || ck.SameSite != http.SameSiteNoneMode || !ck.HttpOnly || ck.Path != "/stepup/" {
		t.Errorf("binding cookie %q: want Secure, SameSite=None, HttpOnly, Path=/stepup/", p.header.Get("Set-Cookie"))
	}
	action, fields := e.signIn(c, p.header.Get("Location"), e.benUPN, graphtest.SignInMFA)
	if p := do(t, c, http.MethodPost, action, fields); p.status != http.StatusOK || !strings.Contains(p.body, "Approved "+id) {
		t.Fatalf("callback %d:\n%s", p.status, p.body)
	}
	if st, n := e.state(id); st != approvals.StateApproved || n != 1 {
		t.Fatalf("request %s with %d approvals", st, n)
	}
}

// certificate makes an RSA certificate, registers it with the app and returns the path of
// a PEM file with it and its key, as AZURE_CLIENT_CERTIFICATE_PATH names one.
func certificate(t *testing.T, gs *graphtest.Server) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mfabot"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	gs.AddClientCertificate(cert)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	path := filepath.Join(t.TempDir(), "mfabot.pem")
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// With a certificate instead of a secret, the code is redeemed with a signed client
// assertion.
func TestStepUpWithCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cert: true})
	id := e.request()
	c := e.browser()
	action, fields := e.signIn(c, e.start(c, e.link(e.ben, id)), e.benUPN, graphtest.SignInMFA)
	if p := do(t, c, http.MethodPost, action, fields); p.status != http.StatusOK || !strings.Contains(p.body, "Approved "+id) {
		t.Fatalf("callback %d:\n%s", p.status, p.body)
	}
	if !strings.Contains(e.audit(id), "MFA proven by amr mfa") {
		t.Fatalf("audit:\n%s", e.audit(id))
	}
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Query()
}

// Every refusal of the issue changes nothing: the request stays pending without an
// approval, the browser is told why, and the refusal is audited under the approver the
// link was made for.
func TestStepUpRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		context string
		who     func(*env) string                     // who signs in (default Ben)
		method  string                                // default with MFA
		hook    func(*env) graphtest.IDTokenHook      // tampers with the ID token
		before  func(*env, string)                    // after the link is made, before it is opened
		between func(*env, string)                    // after the sign-in, before the answer comes back
		post    func(*env, *http.Client) *http.Client // the browser the answer comes back to
		status  int
		says    string
		audited string // part of the audited refusal; "" when the refusal names no approver
	}{
		{name: "ErrWrongPerson", who: func(e *env) string { return "cleo.approver@contoso.com" },
			status: http.StatusForbidden, says: "as another user", audited: "as another user"},
		{name: "ErrNoMFA", method: graphtest.SignInPassword, context: "c1",
			status: http.StatusForbidden, says: "did not prove multifactor", audited: "did not prove multifactor"},
		{name: "ErrNoMFAWithoutContext", method: graphtest.SignInPassword,
			status: http.StatusForbidden, says: `no &#34;mfa&#34; in amr`, audited: "did not prove multifactor"},
		{name: "ErrStaleAuthTime", hook: func(e *env) graphtest.IDTokenHook {
			return func(c map[string]any) bool {
				c["auth_time"] = e.clock.Now().Add(-10 * time.Minute).Unix()
				return false
			}
		}, status: http.StatusForbidden, says: "10m0s ago", audited: "10m0s ago"},
		{name: "ErrNoAuthTime", before: func(e *env, _ string) { e.gs.SetIDTokenOptionalClaims() },
			status: http.StatusForbidden, says: "no auth_time claim", audited: "no auth_time"},
		{name: "ErrWrongNonce", hook: func(*env) graphtest.IDTokenHook {
			return func(c map[string]any) bool { c["nonce"] = "a-nonce-from-another-sign-in"; return false }
		}, status: http.StatusForbidden, says: "nonce is not this sign-in", audited: "nonce is not this sign-in"},
		{name: "ErrForgedSignature", hook: func(*env) graphtest.IDTokenHook {
			return func(map[string]any) bool { return true }
		}, status: http.StatusForbidden, says: "signature does not verify", audited: "signature does not verify"},
		{name: "ErrOtherTenant", hook: func(*env) graphtest.IDTokenHook {
			return func(c map[string]any) bool { c["tid"] = "0badf00d-0000-4000-8000-000000000000"; return false }
		}, status: http.StatusForbidden, says: "from tenant 0badf00d", audited: "from tenant 0badf00d"},
		{name: "ErrOtherIssuer", hook: func(*env) graphtest.IDTokenHook {
			return func(c map[string]any) bool {
				c["iss"] = "https://login.microsoftonline.com/0badf00d-0000-4000-8000-000000000000/v2.0"
				return false
			}
		}, status: http.StatusForbidden, says: "not by this tenant", audited: "not by this tenant"},
		{name: "ErrOtherAudience", hook: func(*env) graphtest.IDTokenHook {
			return func(c map[string]any) bool { c["aud"] = "00000000-1111-4222-8333-444444444444"; return false }
		}, status: http.StatusForbidden, says: "meant for another application", audited: "another application"},
		{name: "ErrSeveralAudiences", hook: func(e *env) graphtest.IDTokenHook {
			return func(c map[string]any) bool {
				c["aud"] = []string{e.gs.ClientID(), "00000000-1111-4222-8333-444444444444"}
				return false
			}
		}, status: http.StatusForbidden, says: "meant for several applications", audited: "several applications"},
		{name: "ErrExpiredToken", hook: func(e *env) graphtest.IDTokenHook {
			return func(c map[string]any) bool { c["exp"] = e.clock.Now().Add(-time.Hour).Unix(); return false }
		}, status: http.StatusForbidden, says: "has expired", audited: "has expired"},
		{name: "ErrNotPending", between: func(e *env, id string) {
			if _, err := e.svc.Deny(context.Background(), e.cleo, id, "not this one"); err != nil {
				e.t.Fatal(err)
			}
		}, status: http.StatusForbidden, says: "was denied by Cleo Approver", audited: ""},
		{name: "ErrSlowSignIn", between: func(e *env, _ string) { e.clock.Advance(stepup.SignInLifetime + time.Second) },
			status: http.StatusGone, says: "took longer than 5m0s", audited: "took longer than 5m0s"},
		{name: "ErrOtherBrowser", post: func(e *env, _ *http.Client) *http.Client { return e.browser() },
			status: http.StatusForbidden, says: "another browser", audited: "another browser"},
		{name: "ErrCancelled", method: "cancel",
			status: http.StatusForbidden, says: "did not sign you in (access_denied", audited: "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{context: tt.context})
			id := e.request()
			if tt.hook != nil {
				e.gs.SetIDTokenHook(tt.hook(e))
			}
			link := e.link(e.ben, id)
			if tt.before != nil {
				tt.before(e, id)
			}
			c := e.browser()
			authorize := e.start(c, link)
			who, method := e.benUPN, graphtest.SignInMFA
			if tt.who != nil {
				who = tt.who(e)
			}
			if tt.method != "" {
				method = tt.method
			}
			action, fields := e.signIn(c, authorize, who, method)
			if tt.between != nil {
				tt.between(e, id)
			}
			back := c
			if tt.post != nil {
				back = tt.post(e, c)
			}
			p := do(t, back, http.MethodPost, action, fields)
			if p.status != tt.status || !strings.Contains(p.body, tt.says) {
				t.Fatalf("callback %d, want %d saying %q:\n%s", p.status, tt.status, tt.says, p.body)
			}
			if !strings.Contains(p.body, "approved") && !strings.Contains(p.body, "Approve") {
				t.Fatalf("the page does not say nothing was approved:\n%s", p.body)
			}
			if _, n := e.state(id); n != 0 {
				t.Fatalf("%d approvals after a refused sign-in", n)
			}
			if tt.audited != "" && !strings.Contains(e.audit(id), "refused slack:UBEN step-up: ") {
				t.Fatalf("refusal not audited:\n%s", e.audit(id))
			}
			if tt.audited != "" && !strings.Contains(e.audit(id), tt.audited) {
				t.Fatalf("audited refusal does not say %q:\n%s", tt.audited, e.audit(id))
			}
		})
	}
}

// A link works once: opened again after its sign-in started, its page says so and it
// starts nothing; an answer posted twice approves once.
func TestStepUpReplays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id := e.request()
	link := e.link(e.ben, id)
	c := e.browser()
	authorize := e.start(c, link)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		p := do(t, c, method, link, url.Values{})
		if p.status != http.StatusGone || !strings.Contains(p.body, "already used at 09:00:00 UTC") {
			t.Fatalf("%s of a used link: %d\n%s", method, p.status, p.body)
		}
	}
	action, fields := e.signIn(c, authorize, e.benUPN, graphtest.SignInMFA)
	if p := do(t, c, http.MethodPost, action, fields); p.status != http.StatusOK {
		t.Fatalf("first answer %d\n%s", p.status, p.body)
	}
	p := do(t, c, http.MethodPost, action, fields)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "came back a second time") {
		t.Fatalf("replayed answer %d\n%s", p.status, p.body)
	}
	if st, n := e.state(id); st != approvals.StateApproved || n != 1 {
		t.Fatalf("request %s with %d approvals", st, n)
	}
	if n := strings.Count(e.audit(id), "\napproved "); n != 1 {
		t.Fatalf("%d approvals audited:\n%s", n, e.audit(id))
	}
}

// Links refused before any sign-in: unknown, expired, for a request decided meanwhile,
// started from another site. None changes anything.
func TestStepUpLinkRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id := e.request()
	c := e.browser()

	p := do(t, c, http.MethodGet, e.srv.URL+"/stepup/made-up-token", nil)
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "not valid") {
		t.Fatalf("unknown link %d\n%s", p.status, p.body)
	}

	old := e.link(e.ben, id)
	e.clock.Advance(stepup.LinkLifetime)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		p = do(t, c, method, old, url.Values{})
		if p.status != http.StatusGone || !strings.Contains(p.body, "expired at 09:05 UTC") {
			t.Fatalf("%s of an expired link %d\n%s", method, p.status, p.body)
		}
	}

	fresh := e.link(e.ben, id)
	req, _ := http.NewRequest(http.MethodPost, fresh, strings.NewReader(""))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site start answered %d", resp.StatusCode)
	}

	if _, err := e.svc.Deny(context.Background(), e.cleo, id, "wrong user"); err != nil {
		t.Fatal(err)
	}
	p = do(t, c, http.MethodGet, fresh, nil)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "was denied by Cleo Approver") || strings.Contains(p.body, `id="continue"`) {
		t.Fatalf("link of a denied request %d\n%s", p.status, p.body)
	}
	if st, n := e.state(id); st != approvals.StateDenied || n != 0 {
		t.Fatalf("request %s with %d approvals", st, n)
	}
	if n := e.gs.IDTokensIssued(); n != 0 {
		t.Fatalf("%d ID tokens issued", n)
	}
}

// Every answer of the endpoints is uncacheable, unframeable, script-free and sends no
// referrer; the endpoints are rate-limited per address.
func TestStepUpHeadersAndRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id := e.request()
	link := e.link(e.ben, id)
	c := e.browser()
	for _, u := range []string{link, e.srv.URL + "/stepup/", e.srv.URL + stepup.CallbackPath} {
		p := do(t, c, http.MethodGet, u, nil)
		for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := p.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", u, h, got, want)
			}
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q", u, csp)
		}
	}
	var last page
	for range stepup.DefaultPerClient {
		last = do(t, c, http.MethodGet, link, nil)
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("request over the limit answered %d", last.status)
	}
	e.clock.Advance(time.Minute)
	if p := do(t, c, http.MethodGet, link, nil); p.status != http.StatusOK {
		t.Fatalf("after a minute the link answered %d", p.status)
	}
}
