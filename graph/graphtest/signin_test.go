package graphtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mfabot/mfabot/graph/graphtest"
)

const redirect = "https://mfabot.contoso.com/stepup/callback"

// fakeClock is a settable clock for the server's Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// browser is an HTTP client with cookies that does not follow redirects, as a test needs
// to see each step of a sign-in.
func browser(t *testing.T, s *graphtest.Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: s.HTTPClient().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type authz struct {
	prompt, maxAge, claims, hint, mode string
	verifier, nonce, redirect          string
}

func (a authz) url(s *graphtest.Server) string {
	q := url.Values{"client_id": {s.ClientID()}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid profile"}, "state": {"st-1"}, "nonce": {"n-1"}, "response_mode": {"form_post"}}
	if a.redirect != "" {
		q.Set("redirect_uri", a.redirect)
	}
	if a.mode != "" {
		q.Set("response_mode", a.mode)
	}
	if a.nonce != "" {
		q.Set("nonce", a.nonce)
	}
	verifier := a.verifier
	if verifier == "" {
		verifier = "verifier-0123456789-0123456789-0123456789"
	}
	sum := sha256.Sum256([]byte(verifier))
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	for k, v := range map[string]string{"prompt": a.prompt, "max_age": a.maxAge, "claims": a.claims, "login_hint": a.hint} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return s.URL() + "/" + s.Tenant().ID() + "/oauth2/v2.0/authorize?" + q.Encode()
}

// signIn opens the authorize URL and, when the page shows, signs in as upn with method;
// it returns the fields posted back to the redirect URI and whether the page was shown.
func signIn(t *testing.T, c *http.Client, u, upn, method string) (url.Values, bool) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusFound {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query(), false
	}
	b, _ := readAll(resp)
	if _, fields, err := graphtest.FormPost(strings.NewReader(b)); err == nil {
		return fields, false
	}
	page, err := graphtest.ReadSignInPage(strings.NewReader(b))
	if err != nil {
		t.Fatalf("no sign-in page: %v", err)
	}
	form := url.Values{"request": {page.Request}, "other": {upn}, "method": {method}}
	resp2, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	action, fields, err := graphtest.FormPost(resp2.Body)
	if err != nil {
		t.Fatalf("sign-in answered no form_post: %v", err)
	}
	if action != redirect {
		t.Fatalf("form posts to %s", action)
	}
	return fields, true
}

func readAll(resp *http.Response) (string, error) {
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// redeem redeems a code at the token endpoint with the client secret (or form), returning
// the ID token's claims or the OAuth error description.
func redeem(t *testing.T, s *graphtest.Server, code, verifier string, edit func(url.Values)) (jwt.MapClaims, string) {
	t.Helper()
	if verifier == "" {
		verifier = "verifier-0123456789-0123456789-0123456789"
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}, "code_verifier": {verifier}, "scope": {"openid profile"}}
	if edit != nil {
		edit(form)
	}
	resp, err := s.HTTPClient().PostForm(s.AuthorityURL()+s.Tenant().ID()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
		Desc    string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.IDToken == "" {
		return nil, body.Error + " " + body.Desc
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(body.IDToken, claims); err != nil {
		t.Fatal(err)
	}
	return claims, ""
}

func signInServer(t *testing.T) (*graphtest.Server, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	s := graphtest.Start(t, graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 20}),
		graphtest.Options{RedirectURIs: []string{redirect}, Now: clock.Now})
	return s, clock
}

// TestSignInIDToken: an MFA sign-in asked for an authentication context yields a code that
// redeems once, with PKCE, into an ID token with the claims a relying party checks.
func TestSignInIDToken(t *testing.T) {
	t.Parallel()
	s, clock := signInServer(t)
	c := browser(t, s)
	adele, _ := s.Tenant().User(graphtest.AdeleUPN)
	fields, shown := signIn(t, c, authz{prompt: "login", maxAge: "300", claims: `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`}.url(s), graphtest.AdeleUPN, graphtest.SignInMFA)
	if !shown || fields.Get("state") != "st-1" || fields.Get("code") == "" {
		t.Fatalf("answer %v (page shown %v)", fields, shown)
	}
	claims, problem := redeem(t, s, fields.Get("code"), "", nil)
	if problem != "" {
		t.Fatal(problem)
	}
	want := map[string]any{"aud": s.ClientID(), "iss": s.AuthorityURL() + s.Tenant().ID() + "/v2.0", "oid": adele.ID,
		"tid": s.Tenant().ID(), "nonce": "n-1", "auth_time": float64(clock.Now().Unix()), "ver": "2.0"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	if got, _ := json.Marshal(claims["acrs"]); string(got) != `["c1"]` {
		t.Errorf("acrs = %s", got)
	}
	if got, _ := json.Marshal(claims["amr"]); string(got) != `["pwd","mfa"]` {
		t.Errorf("amr = %s", got)
	}
	if claims["uti"] == "" || claims["uti"] == nil {
		t.Error("no uti")
	}
	if _, problem := redeem(t, s, fields.Get("code"), "", nil); !strings.Contains(problem, "AADSTS54005") {
		t.Fatalf("second redemption: %q", problem)
	}
}

func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(url.Values)
		advice string
	}{
		{"ErrVerifier", func(f url.Values) { f.Set("code_verifier", "another-verifier-0123456789-0123456789") }, "AADSTS501481"},
		{"ErrNoVerifier", func(f url.Values) { f.Del("code_verifier") }, "AADSTS501481"},
		{"ErrSecret", func(f url.Values) { f.Set("client_secret", "wrong") }, "AADSTS7000215"},
		{"ErrRedirect", func(f url.Values) { f.Set("redirect_uri", "https://evil.example/cb") }, "AADSTS500112"},
		{"ErrCode", func(f url.Values) { f.Set("code", "made-up") }, "AADSTS70000"},
		{"ErrAssertionUnknownCert", func(f url.Values) {
			f.Del("client_secret")
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", "a.b.c")
		}, "AADSTS700027"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := signInServer(t)
			fields, _ := signIn(t, browser(t, s), authz{prompt: "login"}.url(s), graphtest.AdeleUPN, graphtest.SignInMFA)
			if _, problem := redeem(t, s, fields.Get("code"), "", tt.edit); !strings.Contains(problem, tt.advice) {
				t.Fatalf("problem %q, want %s", problem, tt.advice)
			}
		})
	}
	t.Run("ErrExpiredCode", func(t *testing.T) {
		t.Parallel()
		s, clock := signInServer(t)
		fields, _ := signIn(t, browser(t, s), authz{prompt: "login"}.url(s), graphtest.AdeleUPN, graphtest.SignInMFA)
		clock.Advance(11 * time.Minute)
		if _, problem := redeem(t, s, fields.Get("code"), "", nil); !strings.Contains(problem, "AADSTS70008") {
			t.Fatalf("problem %q", problem)
		}
	})
	t.Run("ErrRedirectNotRegistered", func(t *testing.T) {
		t.Parallel()
		s, _ := signInServer(t)
		resp, err := browser(t, s).Get(authz{redirect: "https://evil.example/cb"}.url(s))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := readAll(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "AADSTS50011") {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
}

// The authority keeps a session per browser and honours prompt and max_age against it, and
// an authentication context is met only by an MFA sign-in.
func TestSignInSession(t *testing.T) {
	t.Parallel()
	s, clock := signInServer(t)
	c := browser(t, s)
	acr := `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`

	fields, shown := signIn(t, c, authz{}.url(s), graphtest.AdeleUPN, graphtest.SignInPassword)
	if !shown {
		t.Fatal("no page for the first sign-in")
	}
	claims, _ := redeem(t, s, fields.Get("code"), "", nil)
	first := claims["auth_time"]
	if claims["acrs"] != nil {
		t.Fatalf("acrs without asking: %v", claims["acrs"])
	}

	clock.Advance(10 * time.Minute)
	if fields, shown = signIn(t, c, authz{}.url(s), "", ""); shown {
		t.Fatal("the session did not answer without prompt")
	}
	if claims, _ = redeem(t, s, fields.Get("code"), "", nil); claims["auth_time"] != first {
		t.Fatalf("auth_time from the session = %v, want %v", claims["auth_time"], first)
	}
	if fields, shown = signIn(t, c, authz{maxAge: "300"}.url(s), graphtest.AdeleUPN, graphtest.SignInPassword); !shown {
		t.Fatal("max_age exceeded, yet no page")
	}
	if _, shown = signIn(t, c, authz{maxAge: "300"}.url(s), "", ""); shown {
		t.Fatal("within max_age, yet a page")
	}
	if _, shown = signIn(t, c, authz{prompt: "login"}.url(s), graphtest.AdeleUPN, graphtest.SignInPassword); !shown {
		t.Fatal("prompt=login, yet no page")
	}
	if fields, shown = signIn(t, c, authz{claims: acr}.url(s), graphtest.AdeleUPN, graphtest.SignInPassword); !shown {
		t.Fatal("a password session met an authentication context")
	}
	if claims, _ = redeem(t, s, fields.Get("code"), "", nil); claims["acrs"] != nil {
		t.Fatalf("password only met c1: %v", claims["acrs"])
	}
	if fields, _ = signIn(t, c, authz{claims: acr}.url(s), graphtest.AdeleUPN, graphtest.SignInMFA); fields.Get("code") == "" {
		t.Fatal(fields)
	}
	if claims, _ = redeem(t, s, fields.Get("code"), "", nil); claims["acrs"] == nil {
		t.Fatal("MFA did not meet c1")
	}

	fresh := browser(t, s)
	if fields, shown = signIn(t, fresh, authz{prompt: "none"}.url(s), "", ""); shown || fields.Get("error") != "login_required" {
		t.Fatalf("prompt=none without a session: %v", fields)
	}
	if fields, _ = signIn(t, fresh, authz{}.url(s), graphtest.AdeleUPN, "cancel"); fields.Get("error") != "access_denied" || fields.Get("state") != "st-1" {
		t.Fatalf("cancel: %v", fields)
	}
}

// Without the optional claim auth_time, ID tokens do not say when the person signed in.
func TestSignInOptionalClaims(t *testing.T) {
	t.Parallel()
	s, _ := signInServer(t)
	s.SetIDTokenOptionalClaims()
	fields, _ := signIn(t, browser(t, s), authz{prompt: "login"}.url(s), graphtest.AdeleUPN, graphtest.SignInMFA)
	if claims, _ := redeem(t, s, fields.Get("code"), "", nil); claims["auth_time"] != nil {
		t.Fatalf("auth_time without the optional claim: %v", claims["auth_time"])
	}
}

// A certificate registered with the app signs client assertions the token endpoint accepts.
func TestSignInClientAssertion(t *testing.T) {
	t.Parallel()
	s, clock := signInServer(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "mfabot"},
		NotBefore: clock.Now().Add(-time.Hour), NotAfter: clock.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s.AddClientCertificate(cert)
	sum := sha256.Sum256(der)
	assertion := func(aud string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: s.ClientID(), Subject: s.ClientID(),
			Audience: jwt.ClaimStrings{aud}, ExpiresAt: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute)), ID: "j1"})
		tok.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
		signed, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	tokenURL := s.AuthorityURL() + s.Tenant().ID() + "/oauth2/v2.0/token"
	for _, tt := range []struct {
		name, aud, advice string
	}{{"OK", tokenURL, ""}, {"ErrAudience", "https://elsewhere.example/token", "AADSTS700027"}} {
		t.Run(tt.name, func(t *testing.T) {
			fields, _ := signIn(t, browser(t, s), authz{prompt: "login"}.url(s), graphtest.AdeleUPN, graphtest.SignInMFA)
			_, problem := redeem(t, s, fields.Get("code"), "", func(f url.Values) {
				f.Del("client_secret")
				f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
				f.Set("client_assertion", assertion(tt.aud))
			})
			if (tt.advice == "") != (problem == "") || !strings.Contains(problem, tt.advice) {
				t.Fatalf("problem %q, want %q", problem, tt.advice)
			}
		})
	}
}
