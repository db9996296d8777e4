package teamstest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BotConnectorIssuer is the issuer of the tokens the Bot Connector sends to bots.
const BotConnectorIssuer = "https://api.botframework.com"

// Key is a signing key of the Authority.
type Key struct {
	ID           string
	Private      *rsa.PrivateKey
	Endorsements []string // nil: the published key has no endorsements property
}

// Authority is a local stand-in for https://login.botframework.com: the OpenID metadata
// document and the JWKS it points at, both on 127.0.0.1, with test RSA keys that carry
// Bot Framework endorsements, and the means to sign Bot Framework-shaped tokens — good
// ones and every kind of bad one.
type Authority struct {
	srv *httptest.Server

	mu          sync.Mutex
	published   []*Key
	signing     *Key
	keyFetches  int
	metaFetches int
	nextKey     int
	hold        *hold // JWKS requests wait while set
	abandoned   int   // held JWKS requests whose client went away
}

// hold is a gate for requests: the Authority's JWKS requests, or any of the Connector's.
type hold struct {
	arrived  chan struct{}
	released chan struct{}
	once     sync.Once
}

// wait announces a request and holds it until the release; false means its client went
// away first.
func (h *hold) wait(ctx context.Context) bool {
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	select {
	case <-h.released:
		return true
	case <-ctx.Done():
		return false
	}
}

// newHold puts a fresh hold in *slot, which mu guards, and returns its arrivals and its
// release; release takes it out again, may be called more than once, and is called when
// the test ends.
func newHold(tb testing.TB, mu *sync.Mutex, slot **hold) (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}, 64), released: make(chan struct{})}
	mu.Lock()
	*slot = h
	mu.Unlock()
	release = func() {
		h.once.Do(func() {
			mu.Lock()
			if *slot == h {
				*slot = nil
			}
			mu.Unlock()
			close(h.released)
		})
	}
	tb.Cleanup(release)
	return h.arrived, release
}

// NewAuthority starts an Authority with one published signing key, endorsed for
// "msteams". It stops when the test ends.
func NewAuthority(tb testing.TB) *Authority {
	tb.Helper()
	a := &Authority{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", a.serveMetadata)
	mux.HandleFunc("GET /v1/.well-known/keys", a.serveKeys)
	a.srv = httptest.NewServer(mux)
	tb.Cleanup(a.srv.Close)
	k := a.NewKey(tb, "msteams")
	a.Publish(k)
	a.UseKey(k)
	return a
}

// OpenIDURL is the metadata URL to configure (MFABOT_TEAMS_OPENID_URL).
func (a *Authority) OpenIDURL() string { return a.srv.URL + "/v1/.well-known/openidconfiguration" }

// NewKey makes a fresh 2048-bit key with the given endorsements (pass none for a key
// without the endorsements property). It is neither published nor used until told so.
func (a *Authority) NewKey(tb testing.TB, endorsements ...string) *Key {
	tb.Helper()
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	a.mu.Lock()
	a.nextKey++
	id := fmt.Sprintf("test-key-%d", a.nextKey)
	a.mu.Unlock()
	k := &Key{ID: id, Private: pk}
	if len(endorsements) > 0 {
		k.Endorsements = append([]string{}, endorsements...)
	}
	return k
}

// Publish makes keys the published key set (replacing the previous one).
func (a *Authority) Publish(keys ...*Key) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.published = append([]*Key{}, keys...)
}

// UseKey makes k the key Token signs with.
func (a *Authority) UseKey(k *Key) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.signing = k
}

// Rotate publishes a new msteams-endorsed key in place of the old ones and signs with it
// from now on, as the Bot Connector does when it rolls its keys.
func (a *Authority) Rotate(tb testing.TB) *Key {
	tb.Helper()
	k := a.NewKey(tb, "msteams")
	a.Publish(k)
	a.UseKey(k)
	return k
}

// SigningKey is the key Token signs with.
func (a *Authority) SigningKey() *Key {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.signing
}

// KeyFetches is how many times the JWKS was fetched.
func (a *Authority) KeyFetches() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keyFetches
}

// MetadataFetches is how many times the OpenID metadata was fetched.
func (a *Authority) MetadataFetches() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.metaFetches
}

// HoldKeys makes JWKS requests wait until release is called, as a slow key endpoint
// would; each one that arrives is announced on arrived. release is also called when the
// test ends.
func (a *Authority) HoldKeys(tb testing.TB) (arrived <-chan struct{}, release func()) {
	return newHold(tb, &a.mu, &a.hold)
}

// AbandonedKeyFetches is how many held JWKS requests were given up by their client
// before they were released.
func (a *Authority) AbandonedKeyFetches() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.abandoned
}

func (a *Authority) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	a.metaFetches++
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                BotConnectorIssuer,
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              a.srv.URL + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

func (a *Authority) serveKeys(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.keyFetches++
	h := a.hold
	a.mu.Unlock()
	if h != nil && !h.wait(r.Context()) {
		a.mu.Lock()
		a.abandoned++
		a.mu.Unlock()
		return
	}
	a.mu.Lock()
	keys := make([]any, 0, len(a.published))
	for _, k := range a.published {
		pub := &k.Private.PublicKey
		der, _ := x509.MarshalPKIXPublicKey(pub)
		sum := sha256.Sum256(der)
		jk := map[string]any{
			"kty": "RSA",
			"use": "sig",
			"kid": k.ID,
			"x5t": base64.RawURLEncoding.EncodeToString(sum[:20]),
			"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}
		if k.Endorsements != nil {
			jk["endorsements"] = k.Endorsements
		}
		keys = append(keys, jk)
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// Claims returns the claims of a good Bot Connector token for a bot and a service URL:
// issuer, audience, a validity period around now, and the serviceurl claim.
func Claims(appID, serviceURL string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":        BotConnectorIssuer,
		"aud":        appID,
		"serviceurl": serviceURL,
		"nbf":        now.Add(-5 * time.Minute).Unix(),
		"iat":        now.Add(-5 * time.Minute).Unix(),
		"exp":        now.Add(time.Hour).Unix(),
	}
}

// Token signs claims with the signing key (RS256, kid in the header).
func (a *Authority) Token(claims jwt.MapClaims) string {
	return Sign(a.SigningKey(), claims)
}

// ChannelToken is a good token for a request to appID's endpoint about serviceURL.
func (a *Authority) ChannelToken(appID, serviceURL string) string {
	return a.Token(Claims(appID, serviceURL))
}

// Sign signs claims with k, naming k in the header as the Bot Connector does.
func Sign(k *Key, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.ID
	t.Header["x5t"] = k.ID
	s, err := t.SignedString(k.Private)
	if err != nil {
		panic(fmt.Sprintf("sign test token: %v", err))
	}
	return s
}

// BadToken is a kind of token a bot must refuse.
type BadToken int

// Kinds of bad tokens.
const (
	Unsigned             BadToken = iota // alg "none", no signature
	UnknownKey                           // signed with a key that is not published
	ForgedSignature                      // names the published key, signed with another one
	HMACConfusion                        // HS256 keyed with the published public key
	Expired                              // exp an hour ago
	NotYetValid                          // nbf in ten minutes (beyond the skew)
	NoExpiry                             // no exp claim
	WrongAudience                        // aud another app
	WrongIssuer                          // iss not the Bot Connector
	OtherTenantIssuer                    // iss a tenant other than the bot's
	MismatchedServiceURL                 // serviceurl claim differs from the activity's
	NoServiceURL                         // no serviceurl claim
)

// BadTokens lists every kind, for table tests.
var BadTokens = []BadToken{
	Unsigned, UnknownKey, ForgedSignature, HMACConfusion, Expired, NotYetValid, NoExpiry,
	WrongAudience, WrongIssuer, OtherTenantIssuer, MismatchedServiceURL, NoServiceURL,
}

func (b BadToken) String() string {
	return [...]string{
		"Unsigned", "UnknownKey", "ForgedSignature", "HMACConfusion", "Expired", "NotYetValid", "NoExpiry",
		"WrongAudience", "WrongIssuer", "OtherTenantIssuer", "MismatchedServiceURL", "NoServiceURL",
	}[b]
}

// Bad returns a token of the given bad kind for a request to appID's endpoint about
// serviceURL; apart from its defect it is a good token.
func (a *Authority) Bad(tb testing.TB, kind BadToken, appID, serviceURL string) string {
	tb.Helper()
	c := Claims(appID, serviceURL)
	now := time.Now()
	switch kind {
	case Unsigned:
		h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": a.SigningKey().ID})
		p, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	case UnknownKey:
		return Sign(a.NewKey(tb, "msteams"), c)
	case ForgedSignature:
		other := a.NewKey(tb, "msteams")
		other.ID = a.SigningKey().ID
		return Sign(other, c)
	case HMACConfusion:
		der, _ := x509.MarshalPKIXPublicKey(&a.SigningKey().Private.PublicKey)
		t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		t.Header["kid"] = a.SigningKey().ID
		s, err := t.SignedString(der)
		if err != nil {
			tb.Fatalf("sign: %v", err)
		}
		return s
	case Expired:
		c["nbf"], c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case NotYetValid:
		c["nbf"] = now.Add(10 * time.Minute).Unix()
	case NoExpiry:
		delete(c, "exp")
	case WrongAudience:
		c["aud"] = "00000000-0000-0000-0000-00000000beef"
	case WrongIssuer:
		c["iss"] = "https://evil.example.com"
	case OtherTenantIssuer:
		c["iss"] = "https://sts.windows.net/99999999-9999-9999-9999-999999999999/"
	case MismatchedServiceURL:
		c["serviceurl"] = "https://evil.example.com/amer/"
	case NoServiceURL:
		delete(c, "serviceurl")
	default:
		tb.Fatalf("unknown bad token kind %d", kind)
	}
	return a.Token(c)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// trimBearer returns the token of an Authorization header.
func trimBearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return h[7:]
	}
	return ""
}
