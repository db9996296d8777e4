package graphtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as the SHA-1 thumbprint of the certificate
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Interactive sign-in, as the Microsoft identity platform's v2.0 authorize endpoint does it
// for a web app: the authorization code flow with PKCE, answered by form_post or query.
//
// The authorize endpoint is served on both listeners, and discovery names the one on the
// plain-HTTP loopback listener: a browser in the demo then reaches the sign-in page with no
// certificate warning, and the page and mfabot's callback are the same site, as
// login.microsoftonline.com and an https mfabot are not (see bot/stepup on cookies). The
// token endpoint stays on TLS, as MSAL and mfabot insist.
//
// The page lets the person pick a user and sign in "with MFA" or "password only". The
// authority keeps a session per browser (a cookie) and honours prompt=login, prompt=none
// and max_age against it; the claims parameter's request for an authentication context
// ({"id_token":{"acrs":{"essential":true,"value":"c1"}}}) is met by an MFA sign-in only,
// as a Conditional Access policy that demands MFA for that context would. ID tokens carry
// oid, tid, nonce, amr and uti, plus auth_time when the app registration lists it among its
// optional ID token claims (the default here, as docs/deployment.md tells admins to set
// it), and acrs when a context was requested and met. Unlike Entra's v2.0 tokens, which may
// leave amr out, amr is always present.

// Lifetimes of the sign-in's moving parts, as Entra's.
const (
	authCodeLifetime    = 10 * time.Minute // Entra's authorization codes last about 10 minutes
	authRequestLifetime = 30 * time.Minute // a sign-in page left open
	idTokenLifetime     = time.Hour
	sessionLifetime     = 24 * time.Hour
)

// Sign-in methods offered by the page.
const (
	SignInMFA      = "mfa"
	SignInPassword = "password"
	signInCancel   = "cancel"
)

// IDTokenHook changes the claims of each ID token the token endpoint issues before it is
// signed; returning forge true signs it with a key the authority never published. It lets
// a relying party's tests get tokens that are wrong in one way each (another tenant, a
// wrong nonce, a forged signature) out of the real flow.
type IDTokenHook func(claims map[string]any) (forge bool)

// signIns is the authority's interactive state: the app registration's web settings, sign-in
// pages in progress, issued codes and browser sessions.
type signIns struct {
	mu           sync.Mutex
	redirectURIs []string
	optional     []string            // optional ID token claims of the app registration
	certs        []*x509.Certificate // client certificates of the app registration
	requests     map[string]*authRequest
	codes        map[string]*authCode
	sessions     map[string]*signInSession
	hook         IDTokenHook
	forger       *rsa.PrivateKey
	issued       int // ID tokens issued
}

func newSignIns(o Options) *signIns {
	return &signIns{redirectURIs: slices.Clone(o.RedirectURIs), optional: []string{"auth_time"},
		requests: map[string]*authRequest{}, codes: map[string]*authCode{}, sessions: map[string]*signInSession{}}
}

// authRequest is one authorize request waiting for the person on the sign-in page.
type authRequest struct {
	id       string
	tenant   string
	params   url.Values
	acrs     []string // authentication contexts the claims parameter asks for
	hint     string
	at       time.Time
	problem  string // shown on the page after a failed attempt
	accounts []User
}

// authCode is an issued authorization code.
type authCode struct {
	clientID, redirectURI     string
	challenge, challengeMethd string
	nonce, scope              string
	userID                    string
	authTime                  time.Time
	mfa                       bool
	acrs                      []string
	expires                   time.Time
	redeemed                  bool
}

// signInSession is what the authority remembers of a browser: who signed in, when, how.
type signInSession struct {
	userID   string
	authTime time.Time
	mfa      bool
}

// SetRedirectURIs replaces the app registration's web redirect URIs: the only addresses
// the authorize endpoint sends a sign-in back to (AADSTS50011 otherwise).
func (s *Server) SetRedirectURIs(uris ...string) {
	s.in.mu.Lock()
	s.in.redirectURIs = slices.Clone(uris)
	s.in.mu.Unlock()
}

// RedirectURIs returns the app registration's web redirect URIs.
func (s *Server) RedirectURIs() []string {
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	return slices.Clone(s.in.redirectURIs)
}

// SetIDTokenOptionalClaims replaces the app registration's optional ID token claims
// (by default auth_time). Without auth_time, ID tokens do not say when the person signed in.
func (s *Server) SetIDTokenOptionalClaims(names ...string) {
	s.in.mu.Lock()
	s.in.optional = slices.Clone(names)
	s.in.mu.Unlock()
}

// AddClientCertificate registers a certificate with the app registration: the token
// endpoint then accepts client assertions signed by its key.
func (s *Server) AddClientCertificate(c *x509.Certificate) {
	s.in.mu.Lock()
	s.in.certs = append(s.in.certs, c)
	s.in.mu.Unlock()
}

// SetIDTokenHook sets (or, with nil, clears) the hook that tampers with issued ID tokens.
func (s *Server) SetIDTokenHook(h IDTokenHook) {
	s.in.mu.Lock()
	s.in.hook = h
	s.in.mu.Unlock()
}

// IDTokensIssued is how many ID tokens the token endpoint has issued.
func (s *Server) IDTokensIssued() int {
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	return s.in.issued
}

// authorizeURL is the authorize endpoint of tenant as discovery names it.
func (s *Server) authorizeURL(tenant string) string {
	return s.url + "/" + tenant + "/oauth2/v2.0/authorize"
}

// serveAuthorize answers GET (a new sign-in: the page, or at once from the session) and
// POST (the page's form) on the authorize endpoint.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		s.serveSignInForm(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	tenant := r.PathValue("tenant")
	q := r.URL.Query()
	if msg := s.checkClient(tenant, q); msg != "" {
		s.errorPage(w, msg) // Entra shows these itself: the redirect URI cannot be trusted
		return
	}
	fail := func(code, desc string) { s.answer(w, r, q, url.Values{"error": {code}, "error_description": {desc}}) }
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "AADSTS700054: response_type '"+q.Get("response_type")+"' is not enabled for the application.")
		return
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" && m != "plain" && m != "" {
		fail("invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter.")
		return
	}
	acrs, err := requestedContexts(q.Get("claims"))
	if err != nil {
		fail("invalid_request", "AADSTS90014: The claims parameter is not valid JSON: "+err.Error())
		return
	}
	maxAge := -1
	if v := q.Get("max_age"); v != "" {
		if maxAge, err = strconv.Atoi(v); err != nil || maxAge < 0 {
			fail("invalid_request", "AADSTS90015: The max_age parameter is not a number of seconds.")
			return
		}
	}
	prompt := q.Get("prompt")
	now := s.o.Now()
	// A session may answer without the page unless a fresh sign-in is asked for (prompt=login,
	// max_age exceeded) or it cannot meet the authentication context asked for.
	if sess := s.session(r, now); sess != nil && prompt != "login" && prompt != "select_account" &&
		(maxAge < 0 || now.Sub(sess.authTime) <= time.Duration(maxAge)*time.Second) &&
		(len(acrs) == 0 || sess.mfa) && s.hintMatches(q.Get("login_hint"), sess.userID) {
		s.answer(w, r, q, s.issueCode(q, sess.userID, sess.authTime, sess.mfa, acrs, now))
		return
	}
	if prompt == "none" {
		fail("login_required", "AADSTS50058: A silent sign-in request was sent but no user is signed in.")
		return
	}
	req := &authRequest{id: randomToken(), tenant: tenant, params: q, acrs: acrs, hint: q.Get("login_hint"), at: now}
	req.accounts = s.accounts(req.hint)
	s.in.mu.Lock()
	for id, old := range s.in.requests {
		if now.Sub(old.at) > authRequestLifetime {
			delete(s.in.requests, id)
		}
	}
	s.in.requests[req.id] = req
	s.in.mu.Unlock()
	s.signInPage(w, req)
}

// checkClient checks what Entra checks before it trusts the redirect URI: the tenant, the
// application and the redirect URI registered for it. A problem is shown, not redirected.
func (s *Server) checkClient(tenant string, q url.Values) string {
	switch {
	case !strings.EqualFold(tenant, s.t.ID()):
		return "AADSTS90002: Tenant '" + tenant + "' not found."
	case q.Get("client_id") != s.o.ClientID:
		return "AADSTS700016: Application with identifier '" + q.Get("client_id") + "' was not found in the directory '" + s.t.displayName + "'."
	case !slices.Contains(s.RedirectURIs(), q.Get("redirect_uri")):
		return "AADSTS50011: The redirect URI '" + q.Get("redirect_uri") + "' specified in the request does not match the redirect URIs configured for the application '" + s.o.ClientID + "'."
	}
	return ""
}

// requestedContexts reads the authentication contexts an essential acrs claim request asks
// for, in the ID token or the access token: {"id_token":{"acrs":{"essential":true,"value":"c1"}}}.
func requestedContexts(claims string) ([]string, error) {
	if claims == "" {
		return nil, nil
	}
	type claimReq struct {
		Essential bool     `json:"essential"`
		Value     string   `json:"value"`
		Values    []string `json:"values"`
	}
	var req map[string]map[string]*claimReq
	if err := json.Unmarshal([]byte(claims), &req); err != nil {
		return nil, err
	}
	var out []string
	for _, token := range []string{"id_token", "access_token"} {
		if c := req[token]["acrs"]; c != nil && c.Essential {
			for _, v := range append([]string{c.Value}, c.Values...) {
				if v != "" && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out, nil
}

// accounts are the users the page offers: the login_hint's first, then the tenant's
// admins, at most five in all (the page has a field for anyone else).
func (s *Server) accounts(hint string) []User {
	var out []User
	if u, ok := s.t.User(hint); ok && hint != "" {
		out = append(out, u)
	}
	for _, u := range s.t.Users() {
		if len(out) >= 5 {
			break
		}
		if u.Admin && u.AccountEnabled && !slices.ContainsFunc(out, func(o User) bool { return o.ID == u.ID }) {
			out = append(out, u)
		}
	}
	return out
}

func (s *Server) hintMatches(hint, userID string) bool {
	if hint == "" {
		return true
	}
	u, ok := s.t.User(hint)
	return ok && u.ID == userID
}

// serveSignInForm handles the page's form: the account and "with MFA", "password only" or
// cancel.
func (s *Server) serveSignInForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, "AADSTS900144: The request body must contain the sign-in form.")
		return
	}
	s.in.mu.Lock()
	req := s.in.requests[r.PostForm.Get("request")]
	s.in.mu.Unlock()
	now := s.o.Now()
	if req == nil || now.Sub(req.at) > authRequestLifetime {
		s.errorPage(w, "AADSTS50196: This sign-in page has expired or was already used. Go back to the application and start again.")
		return
	}
	q := req.params
	method := r.PostForm.Get("method")
	if method == signInCancel {
		s.forget(req.id)
		s.answer(w, r, q, url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent to access the app."}})
		return
	}
	ref := strings.TrimSpace(r.PostForm.Get("other"))
	if ref == "" {
		ref = r.PostForm.Get("account")
	}
	u, ok := s.t.User(ref)
	switch {
	case ref == "":
		req.problem = "Enter your account, or pick one."
	case !ok:
		req.problem = "AADSTS50034: The user account " + ref + " does not exist in the " + s.t.displayName + " directory."
	case !u.AccountEnabled:
		req.problem = "AADSTS50057: The user account " + u.UserPrincipalName + " is disabled."
	case method != SignInMFA && method != SignInPassword:
		req.problem = "Choose how to sign in."
	}
	if req.problem != "" {
		s.signInPage(w, req)
		return
	}
	s.forget(req.id)
	mfa := method == SignInMFA
	sid := randomToken()
	s.in.mu.Lock()
	s.in.sessions[sid] = &signInSession{userID: u.ID, authTime: now, mfa: mfa}
	s.in.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: sid, Path: "/" + req.tenant + "/oauth2/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: int(sessionLifetime.Seconds())})
	s.answer(w, r, q, s.issueCode(q, u.ID, now, mfa, req.acrs, now))
}

func (s *Server) forget(requestID string) {
	s.in.mu.Lock()
	delete(s.in.requests, requestID)
	s.in.mu.Unlock()
}

// sessionCookie names the authority's session cookie. Browsers share cookies between the
// ports of one host, so the name carries the tenant's.
func (s *Server) sessionCookie() string { return "graphtest-session-" + s.t.ID()[:8] }

func (s *Server) session(r *http.Request, now time.Time) *signInSession {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return nil
	}
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	sess := s.in.sessions[c.Value]
	if sess == nil || now.Sub(sess.authTime) > sessionLifetime {
		return nil
	}
	return sess
}

// issueCode issues an authorization code for a sign-in and returns the answer's fields.
func (s *Server) issueCode(q url.Values, userID string, authTime time.Time, mfa bool, acrs []string, now time.Time) url.Values {
	code := randomToken() + randomToken()
	met := acrs
	if !mfa {
		met = nil // the context's policy demands MFA, which a password alone does not meet
	}
	s.in.mu.Lock()
	for k, c := range s.in.codes {
		if now.After(c.expires.Add(time.Hour)) {
			delete(s.in.codes, k)
		}
	}
	s.in.codes[code] = &authCode{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), challengeMethd: q.Get("code_challenge_method"),
		nonce: q.Get("nonce"), scope: q.Get("scope"), userID: userID, authTime: authTime, mfa: mfa, acrs: met,
		expires: now.Add(authCodeLifetime)}
	s.in.mu.Unlock()
	return url.Values{"code": {code}, "session_state": {newRequestID()}}
}

// answer sends fields (a code or an error) back to the redirect URI, with the request's
// state, by form_post (an auto-submitted form) or in the query.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, q url.Values, fields url.Values) {
	if st := q.Get("state"); st != "" {
		fields.Set("state", st)
	}
	if q.Get("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = formPostPage.Execute(w, struct {
			Action string
			Fields url.Values
		}{q.Get("redirect_uri"), fields})
		return
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		s.errorPage(w, "AADSTS50011: The redirect URI is not valid.")
		return
	}
	u.RawQuery = fields.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// serveCodeGrant is the token endpoint's authorization_code grant.
func (s *Server) serveCodeGrant(w http.ResponseWriter, r *http.Request, oauthErr func(status int, code, desc string)) {
	tenant := r.PathValue("tenant")
	f := r.PostForm
	id, secret := clientCredentials(r)
	tokenURL := s.auth.URL + "/" + tenant + "/oauth2/v2.0/token"
	switch {
	case !strings.EqualFold(tenant, s.t.ID()):
		oauthErr(400, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found.")
		return
	case id != s.o.ClientID:
		oauthErr(400, "unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory '"+s.t.displayName+"'.")
		return
	}
	if a := f.Get("client_assertion"); a != "" {
		if msg := s.checkAssertion(a, f.Get("client_assertion_type"), tokenURL); msg != "" {
			oauthErr(401, "invalid_client", msg)
			return
		}
	} else if subtle.ConstantTimeCompare([]byte(secret), []byte(s.o.ClientSecret)) != 1 {
		oauthErr(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		return
	}
	now := s.o.Now()
	s.in.mu.Lock()
	c := s.in.codes[f.Get("code")]
	var problem string
	switch {
	case c == nil || c.clientID != id:
		problem = "AADSTS70000: The provided value for the 'code' parameter is not valid."
	case c.redeemed:
		problem = "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."
	case now.After(c.expires):
		problem = "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity."
	case f.Get("redirect_uri") != c.redirectURI:
		problem = "AADSTS500112: The reply address '" + f.Get("redirect_uri") + "' does not match the reply address '" + c.redirectURI + "' provided when requesting Authorization code."
	case !pkceMatches(c.challenge, c.challengeMethd, f.Get("code_verifier")):
		problem = "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."
	}
	if c != nil && problem == "" {
		c.redeemed = true
	}
	s.in.mu.Unlock()
	if problem != "" {
		oauthErr(400, "invalid_grant", problem)
		return
	}
	idToken, err := s.idToken(tenant, c, now)
	if err != nil {
		oauthErr(500, "temporarily_unavailable", "AADSTS90033: A transient error has occurred.")
		return
	}
	writeJSON(w, 200, nil, map[string]any{"token_type": "Bearer", "scope": c.scope, "expires_in": int(idTokenLifetime.Seconds()),
		"ext_expires_in": int(idTokenLifetime.Seconds()), "access_token": randomToken() + randomToken(), "id_token": idToken})
}

// idToken issues the v2.0 ID token of a redeemed code.
func (s *Server) idToken(tenant string, c *authCode, now time.Time) (string, error) {
	u, _ := s.t.User(c.userID)
	amr := []string{"pwd"}
	if c.mfa {
		amr = append(amr, "mfa")
	}
	sub := sha256.Sum256([]byte(c.userID + "|" + c.clientID))
	claims := map[string]any{
		"aud": c.clientID, "iss": s.auth.URL + "/" + tenant + "/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(),
		"sub": base64.RawURLEncoding.EncodeToString(sub[:]), "oid": u.ID, "tid": s.t.ID(),
		"name": u.DisplayName, "preferred_username": u.UserPrincipalName, "ver": "2.0",
		"uti": randomToken()[:22], "rh": "0.graphtest", "amr": amr,
	}
	if c.nonce != "" {
		claims["nonce"] = c.nonce
	}
	s.in.mu.Lock()
	optional, hook := slices.Clone(s.in.optional), s.in.hook
	s.in.mu.Unlock()
	if slices.Contains(optional, "auth_time") {
		claims["auth_time"] = c.authTime.Unix()
	}
	if len(c.acrs) > 0 {
		claims["acrs"] = c.acrs
	}
	forge := hook != nil && hook(claims)
	if err := s.signer.init(); err != nil {
		return "", err
	}
	key := s.signer.key
	if forge {
		s.in.mu.Lock()
		if s.in.forger == nil {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				s.in.mu.Unlock()
				return "", fmt.Errorf("forging key: %w", err)
			}
			s.in.forger = k
		}
		key = s.in.forger
		s.in.mu.Unlock()
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	tok.Header["kid"] = s.signer.kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	s.in.mu.Lock()
	s.in.issued++
	s.in.mu.Unlock()
	return signed, nil
}

// pkceMatches checks a code_verifier against the code's challenge (RFC 7636).
func pkceMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(challenge), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) == 1
}

// checkAssertion checks a certificate client assertion (private_key_jwt): a JWT signed by
// a registered certificate's key, named by x5t#S256 or x5t, for the token endpoint, issued
// by and about the app, and not expired.
func (s *Server) checkAssertion(assertion, typ, tokenURL string) string {
	if typ != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "AADSTS50027: JWT token is invalid or malformed."
	}
	s.in.mu.Lock()
	certs := slices.Clone(s.in.certs)
	s.in.mu.Unlock()
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(assertion, &c, func(t *jwt.Token) (any, error) {
		s256, _ := t.Header["x5t#S256"].(string)
		s1, _ := t.Header["x5t"].(string)
		for _, cert := range certs {
			sum := sha256.Sum256(cert.Raw)
			sum1 := sha1.Sum(cert.Raw) //nolint:gosec // see import
			if s256 == base64.RawURLEncoding.EncodeToString(sum[:]) || s1 == base64.RawURLEncoding.EncodeToString(sum1[:]) {
				return cert.PublicKey, nil
			}
		}
		return nil, errors.New("unknown certificate")
	}, jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithAudience(tokenURL), jwt.WithIssuer(s.o.ClientID),
		jwt.WithSubject(s.o.ClientID), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.o.Now))
	if err != nil {
		return "AADSTS700027: Client assertion failed signature validation or its claims are wrong (" + err.Error() + ")."
	}
	return ""
}

// listApplications answers GET /applications?$filter=appId eq '…': the app registration,
// with its web redirect URIs and optional claims.
func (s *Server) listApplications(q url.Values, odctx string) reply {
	prop, val, ok := parseEq(q.Get("$filter"))
	if !ok || prop != "appId" {
		return graphError(400, "Request_UnsupportedQuery", "Filter applications by appId.")
	}
	var items []any
	if strings.EqualFold(val, s.o.ClientID) {
		s.in.mu.Lock()
		uris := orEmptyStrings(s.in.redirectURIs)
		var idClaims []any
		for _, n := range s.in.optional {
			idClaims = append(idClaims, map[string]any{"name": n, "source": nil, "essential": false, "additionalProperties": []string{}})
		}
		s.in.mu.Unlock()
		items = append(items, selectFields(map[string]any{
			"id": appObjectID, "appId": s.o.ClientID, "displayName": "mfabot", "signInAudience": "AzureADMyOrg",
			"web": map[string]any{"redirectUris": uris, "homePageUrl": nil, "logoutUrl": nil,
				"implicitGrantSettings": map[string]any{"enableIdTokenIssuance": false, "enableAccessTokenIssuance": false}},
			"optionalClaims": map[string]any{"idToken": orEmpty(idClaims), "accessToken": []any{}, "saml2Token": []any{}},
		}, q.Get("$select")))
	}
	return reply{status: 200, body: map[string]any{"@odata.context": odctx, "value": orEmpty(items)}}
}

// appObjectID is the app registration's object id (not its appId).
const appObjectID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"

func orEmptyStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return slices.Clone(ss)
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) errorPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = errorPageTemplate.Execute(w, msg)
}

type signInView struct {
	Request  string
	Problem  string
	Tenant   string
	Domain   string
	App      string
	Accounts []User
	Selected string
	Prompt   string
	MaxAge   string
	Contexts string
}

func (s *Server) signInPage(w http.ResponseWriter, req *authRequest) {
	v := signInView{Request: req.id, Problem: req.problem, Tenant: s.t.displayName, Domain: s.t.domain, App: req.params.Get("client_id"), Accounts: req.accounts,
		Prompt: req.params.Get("prompt"), MaxAge: req.params.Get("max_age"), Contexts: strings.Join(req.acrs, ", ")}
	if len(req.accounts) > 0 {
		v.Selected = req.accounts[0].UserPrincipalName
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if req.problem != "" {
		w.WriteHeader(http.StatusBadRequest)
	}
	if err := signInTemplate.Execute(w, v); err != nil {
		fmt.Fprintf(w, "<p>graphtest: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

const pageStyle = `body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:48px auto;background:#fff;padding:36px 44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:8px 0 12px}.brand{color:#737373;font-size:15px}
.sim{background:#fff4ce;padding:6px 10px;font-size:13px;margin-bottom:12px}
label.acct{display:block;padding:8px;border:1px solid #ddd;margin:6px 0;cursor:pointer}
label.acct small{display:block;color:#666}input[type=text]{width:100%;padding:6px;box-sizing:border-box}
.buttons{margin-top:18px;display:flex;gap:8px;flex-wrap:wrap}button{padding:8px 14px;border:0;cursor:pointer}
button.primary{background:#0067b8;color:#fff}button.secondary{background:#ccc}button.link{background:none;color:#0067b8}
.problem{color:#e81123}.params{color:#666;font-size:12px;margin-top:16px}`

var signInTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>` + pageStyle + `</style></head>
<body><main>
<div class="brand">Microsoft Entra ID · {{.Tenant}}</div>
<div class="sim">Simulated sign-in (graphtest): no password is asked.</div>
<h1>Sign in</h1>
<p>to continue to <b>mfabot</b> <small>(app {{.App}})</small></p>
{{with .Problem}}<p class="problem" id="problem">{{.}}</p>{{end}}
<form method="post" id="signin">
<input type="hidden" name="request" value="{{.Request}}">
{{range .Accounts}}<label class="acct"><input type="radio" name="account" value="{{.UserPrincipalName}}"{{if eq .UserPrincipalName $.Selected}} checked{{end}}> {{.DisplayName}}<small>{{.UserPrincipalName}}</small></label>
{{end}}<p><label>Another account<br><input type="text" name="other" placeholder="someone@{{.Domain}}" autocomplete="off"></label></p>
<div class="buttons">
<button type="submit" name="method" value="mfa" class="primary" id="mfa">Sign in with MFA</button>
<button type="submit" name="method" value="password" class="secondary" id="password">Password only</button>
<button type="submit" name="method" value="cancel" class="link" id="cancel">Cancel</button>
</div>
</form>
<p class="params">prompt={{or .Prompt "(none)"}} · max_age={{or .MaxAge "(none)"}}{{with .Contexts}} · authentication context {{.}} requested{{end}}</p>
</main></body></html>
`))

var formPostPage = template.Must(template.New("formpost").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body><form method="post" name="hiddenform" action="{{.Action}}">
{{range $k, $vs := .Fields}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form><script>document.forms[0].submit();</script></body></html>
`))

var errorPageTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title><style>` + pageStyle + `</style></head>
<body><main><div class="brand">Microsoft Entra ID</div><h1>Sorry, but we're having trouble signing you in.</h1>
<p class="problem" id="problem">{{.}}</p></main></body></html>
`))

// FormPost reads the auto-submitted form of a form_post answer: where it posts and what.
// Tests that drive a sign-in without a browser post it themselves.
func FormPost(body io.Reader) (action string, fields url.Values, err error) {
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	m := formAction.FindSubmatch(b)
	if m == nil {
		return "", nil, errors.New("graphtest: no form_post form in the answer")
	}
	fields = url.Values{}
	for _, in := range hiddenInput.FindAllSubmatch(b, -1) {
		fields.Add(htmlUnescape(string(in[1])), htmlUnescape(string(in[2])))
	}
	return htmlUnescape(string(m[1])), fields, nil
}

var (
	formAction  = regexp.MustCompile(`<form method="post" name="hiddenform" action="([^"]*)">`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	htmlEntity  = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`)
)

func htmlUnescape(s string) string { return htmlEntity.Replace(s) }

// SignInPage holds the sign-in page's form, for tests that sign in without a browser: the
// pending request's id and the accounts offered.
type SignInPage struct {
	Request  string
	Accounts []string
	Problem  string
}

// ReadSignInPage reads a sign-in page.
func ReadSignInPage(body io.Reader) (SignInPage, error) {
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return SignInPage{}, err
	}
	var p SignInPage
	if m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(b); m != nil {
		p.Request = string(m[1])
	} else {
		m := regexp.MustCompile(`id="problem">([^<]*)<`).FindSubmatch(b)
		if m != nil {
			return SignInPage{}, fmt.Errorf("graphtest: %s", htmlUnescape(string(m[1])))
		}
		return SignInPage{}, errors.New("graphtest: not a sign-in page")
	}
	for _, m := range regexp.MustCompile(`name="account" value="([^"]+)"`).FindAllSubmatch(b, -1) {
		p.Accounts = append(p.Accounts, htmlUnescape(string(m[1])))
	}
	if m := regexp.MustCompile(`id="problem">([^<]*)<`).FindSubmatch(b); m != nil {
		p.Problem = htmlUnescape(string(m[1]))
	}
	return p, nil
}
