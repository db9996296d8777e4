package stepup

import (
	"context"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as the SHA-1 thumbprint of the certificate
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/jwks"
)

// The OpenID Connect side: the tenant's metadata and keys, the authorize URL, the code's
// redemption and the ID token's checks. Formats are the Microsoft identity platform's v2.0
// endpoints: /{tenant}/v2.0/.well-known/openid-configuration, issuer
// https://login.microsoftonline.com/{tenant id}/v2.0, ID tokens with oid, tid, nonce,
// auth_time (an optional claim), amr, acrs and uti.

const (
	metadataMaxAge = 24 * time.Hour
	keyMinRefresh  = time.Minute // unknown key ids refresh the keys at most this often
	fetchTimeout   = 10 * time.Second
	tokenLeeway    = 2 * time.Minute
)

// metadata is what the flow reads of the tenant's OpenID configuration.
type metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// authority caches the tenant's metadata and signing keys. Fetches are rare (a day, or an
// unknown key id at most once a minute) and the endpoints are rate-limited, so one mutex
// over the fetch is enough.
type authority struct {
	discovery string
	tenantID  string
	client    *http.Client
	clock     approvals.Clock
	log       *slog.Logger

	mu      sync.Mutex
	meta    *metadata
	metaAt  time.Time
	keys    map[string]*rsa.PublicKey
	keysAt  time.Time
	triedAt time.Time
}

func newAuthority(host, tenantID string, client *http.Client, clock approvals.Clock, log *slog.Logger) *authority {
	return &authority{discovery: strings.TrimRight(host, "/") + "/" + tenantID + "/v2.0/.well-known/openid-configuration",
		tenantID: tenantID, client: client, clock: clock, log: log}
}

// metadata returns the tenant's OpenID configuration, fetched at most once a day.
func (a *authority) metadata(ctx context.Context) (metadata, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.meta != nil && a.clock.Now().Sub(a.metaAt) < metadataMaxAge {
		return *a.meta, nil
	}
	var m metadata
	if err := a.getJSON(ctx, a.discovery, &m); err != nil {
		return metadata{}, fmt.Errorf("openid configuration: %w", err)
	}
	if err := m.check(a.tenantID); err != nil {
		return metadata{}, fmt.Errorf("openid configuration %s: %w", a.discovery, err)
	}
	m.Issuer = strings.ReplaceAll(m.Issuer, "{tenantid}", a.tenantID)
	a.meta, a.metaAt = &m, a.clock.Now()
	return m, nil
}

// check refuses metadata a sign-in could not safely use: endpoints that are not https
// (plain http only on this machine), an issuer that does not name the tenant.
func (m metadata) check(tenantID string) error {
	for _, e := range []struct{ name, u string }{
		{"authorization_endpoint", m.AuthorizationEndpoint}, {"token_endpoint", m.TokenEndpoint}, {"jwks_uri", m.JWKSURI}, {"issuer", m.Issuer},
	} {
		u, err := url.Parse(e.u)
		if e.u == "" || err != nil || u.Host == "" {
			return fmt.Errorf("%s %q is not a URL", e.name, e.u)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && approvals.IsLoopbackHost(u.Host)) {
			return fmt.Errorf("%s %q is not https", e.name, e.u)
		}
	}
	if !strings.Contains(strings.ToLower(m.Issuer), strings.ToLower(tenantID)) && !strings.Contains(m.Issuer, "{tenantid}") {
		return fmt.Errorf("issuer %q does not name tenant %s", m.Issuer, tenantID)
	}
	return nil
}

// key returns the signing key kid, fetching the keys when they are a day old or lack kid
// (at most once a minute, so tokens naming made-up keys cannot make us hammer Entra).
func (a *authority) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	m, err := a.metadata(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	if k, ok := a.keys[kid]; ok && now.Sub(a.keysAt) < metadataMaxAge {
		return k, nil
	}
	if a.keys == nil || now.Sub(a.triedAt) >= keyMinRefresh {
		a.triedAt = now
		keys, err := a.fetchKeys(ctx, m.JWKSURI)
		if err != nil {
			a.log.WarnContext(ctx, "fetch Entra signing keys", "url", m.JWKSURI, approvals.LogErr, err)
			if a.keys == nil {
				return nil, fmt.Errorf("signing keys: %w", err)
			}
		} else {
			a.keys, a.keysAt = keys, now
		}
	}
	if k, ok := a.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", errUnknownKey, kid)
}

var errUnknownKey = errors.New("no published signing key has the id")

func (a *authority) fetchKeys(ctx context.Context, uri string) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	got, err := jwks.Fetch(ctx, a.client, uri, a.log)
	if err != nil {
		return nil, err
	}
	if len(got) == 0 {
		return nil, errors.New("no usable RSA signing key")
	}
	keys := make(map[string]*rsa.PublicKey, len(got))
	for _, k := range got {
		keys[k.ID] = k.Public
	}
	return keys, nil
}

func (a *authority) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	return jwks.GetJSON(ctx, a.client, u, v)
}

// authorizeURL is where the browser signs in: the code flow with PKCE (S256), answered by
// form_post so that the code never sits in a URL, a fresh sign-in (prompt=login, max_age),
// the approver as login_hint, and the authentication context's claims request when one is
// configured.
func (f *Flow) authorizeURL(m metadata, state, nonce, verifier, loginHint string) string {
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id":             {f.cfg.ClientID},
		"response_type":         {"code"},
		"response_mode":         {"form_post"},
		"redirect_uri":          {f.RedirectURI()},
		"scope":                 {"openid profile"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"prompt":                {"login"},
		"max_age":               {fmt.Sprint(int(f.cfg.MaxAge.Seconds()))},
	}
	if loginHint != "" {
		q.Set("login_hint", loginHint)
	}
	if f.cfg.Context != "" {
		claims, _ := json.Marshal(map[string]any{"id_token": map[string]any{"acrs": map[string]any{"essential": true, "value": f.cfg.Context}}})
		q.Set("claims", string(claims))
	}
	sep := "?"
	if strings.Contains(m.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return m.AuthorizationEndpoint + sep + q.Encode()
}

// redeem trades the code for the ID token at the token endpoint, authenticating as the
// app. It asks for the OpenID scopes only: mfabot keeps no token of the approver's.
func (f *Flow) redeem(ctx context.Context, m metadata, code, verifier string) (string, error) {
	form := url.Values{
		"client_id":     {f.cfg.ClientID},
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {f.RedirectURI()},
		"code_verifier": {verifier},
		"scope":         {"openid profile"},
	}
	if err := f.cred.authenticate(form, m.TokenEndpoint, f.cfg.ClientID, f.cfg.Clock.Now()); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := f.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
		Desc    string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, jwks.MaxDocument)).Decode(&body); err != nil {
		return "", fmt.Errorf("token endpoint: HTTP %s, unreadable answer: %w", resp.Status, err)
	}
	if body.Error != "" || resp.StatusCode != http.StatusOK {
		desc, _, _ := strings.Cut(body.Desc, "\r\n")
		desc, _, _ = strings.Cut(desc, "\n")
		return "", &entraError{Code: body.Error, Desc: strings.TrimSpace(desc), Status: resp.StatusCode}
	}
	if body.IDToken == "" {
		return "", errors.New("token endpoint: the answer has no id_token")
	}
	return body.IDToken, nil
}

// entraError is an OAuth error answer of the token endpoint.
type entraError struct {
	Code, Desc string
	Status     int
}

func (e *entraError) Error() string {
	if e.Desc == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
	}
	return e.Code + ": " + e.Desc
}

// authenticate adds the client's credential to a token request.
func (c clientCredential) authenticate(form url.Values, tokenEndpoint, clientID string, now time.Time) error {
	switch {
	case c.secret != "":
		form.Set("client_secret", c.secret)
		return nil
	case c.key != nil:
		sum := sha256.Sum256(c.cert.Raw)
		sum1 := sha1.Sum(c.cert.Raw) //nolint:gosec // see import
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{tokenEndpoint},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
			ID: randomString(),
		})
		tok.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
		tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(sum1[:])
		signed, err := tok.SignedString(c.key)
		if err != nil {
			return fmt.Errorf("client assertion: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", signed)
		return nil
	case c.fedToken != "":
		b, err := os.ReadFile(c.fedToken)
		if err != nil {
			return fmt.Errorf("federated token: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", strings.TrimSpace(string(b)))
		return nil
	}
	return errors.New("no client credential")
}

// idClaims are the claims of a v2.0 ID token the flow reads.
type idClaims struct {
	jwt.RegisteredClaims
	OID      string           `json:"oid"`
	TID      string           `json:"tid"`
	Nonce    string           `json:"nonce"`
	AuthTime *jwt.NumericDate `json:"auth_time"`
	AMR      jwt.ClaimStrings `json:"amr"`
	ACRS     jwt.ClaimStrings `json:"acrs"`
	UTI      string           `json:"uti"`
}

// tokenProblem is why an ID token was refused, in words for the person and the audit.
type tokenProblem struct {
	why string
	err error
}

func (p *tokenProblem) Error() string { return p.why }
func (p *tokenProblem) Unwrap() error { return p.err }

// verify checks the ID token of a sign-in: signed (RS256) by one of the tenant's published
// keys, issued by the tenant's authority, for this app, within its lifetime, carrying this
// sign-in's nonce, for this tenant and a user object id. What the sign-in proves is left
// to the core (approvals.StepUp.Check).
func (f *Flow) verify(ctx context.Context, m metadata, raw, nonce string) (approvals.SignIn, error) {
	var keyErr error
	c := &idClaims{}
	_, err := jwt.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, err := f.authority.key(ctx, kid)
		keyErr = err
		return k, err
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(f.cfg.ClientID), jwt.WithIssuer(m.Issuer),
		jwt.WithTimeFunc(f.cfg.Clock.Now), jwt.WithLeeway(tokenLeeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	refuse := func(why string, err error) (approvals.SignIn, error) {
		return approvals.SignIn{}, &tokenProblem{why: why, err: err}
	}
	switch {
	case keyErr != nil && !errors.Is(keyErr, errUnknownKey):
		return approvals.SignIn{}, fmt.Errorf("ID token: %w", keyErr)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(keyErr, errUnknownKey):
		return refuse("the ID token's signature does not verify against Microsoft Entra ID's published keys", err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse("the ID token is not a well-formed JWT", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse(fmt.Sprintf("the ID token was issued by %s, not by this tenant's authority %s", orNone(c.Issuer), m.Issuer), err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(fmt.Sprintf("the ID token is meant for another application (%s), not mfabot's %s", strings.Join(c.Audience, ", "), f.cfg.ClientID), err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse("the ID token has expired", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse("the ID token is not valid yet", err)
	case err != nil:
		return refuse("the ID token does not verify", err)
	case len(c.Audience) != 1:
		// OpenID Connect: several audiences need an azp check; Entra's ID tokens have one.
		return refuse(fmt.Sprintf("the ID token is meant for several applications (%s)", strings.Join(c.Audience, ", ")), nil)
	case subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 || nonce == "":
		return refuse("the ID token's nonce is not this sign-in's: it was issued for another sign-in", nil)
	case !strings.EqualFold(c.TID, f.cfg.TenantID):
		return refuse(fmt.Sprintf("the ID token is from tenant %s, not this mfabot's tenant %s", orNone(c.TID), f.cfg.TenantID), nil)
	case !approvals.IsObjectID(c.OID):
		return refuse("the ID token names no user object id (oid)", nil)
	}
	in := approvals.SignIn{ObjectID: c.OID, TenantID: c.TID, AMR: slices.Clone(c.AMR), ACRS: slices.Clone(c.ACRS), TokenID: c.UTI}
	if in.TokenID == "" {
		in.TokenID = c.ID
	}
	if c.AuthTime != nil {
		in.AuthTime = c.AuthTime.UTC()
	}
	return in, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
