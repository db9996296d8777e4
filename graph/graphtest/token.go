package graphtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as the SHA-1 thumbprint of the certificate
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenLifetime is how long an issued access token is valid, as Entra's default for
// client credentials (expires_in 3599).
const TokenLifetime = 3599 * time.Second

// GraphResource is Microsoft Graph's resource identifier, one of the audiences the
// simulated Graph accepts besides its own URL.
const GraphResource = "https://graph.microsoft.com"

// signer signs access tokens the way Entra does (RS256, kid and x5t in the header) and
// verifies them for the Graph endpoints. The key is made on first use: a 2048-bit key
// costs tens of milliseconds, which tests that never ask for a token need not pay.
type signer struct {
	once sync.Once
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string
	err  error
}

func (sg *signer) init() error {
	sg.once.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			sg.err = fmt.Errorf("token signing key: %w", err)
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * 365 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			sg.err = fmt.Errorf("token signing certificate: %w", err)
			return
		}
		sg.cert, _ = x509.ParseCertificate(der)
		sum := sha1.Sum(der) //nolint:gosec // see import
		sg.key, sg.kid = key, base64.RawURLEncoding.EncodeToString(sum[:])
	})
	return sg.err
}

// tokenClaims are the claims of an app-only Entra access token (v1.0 format, which Graph
// tokens use).
type tokenClaims struct {
	jwt.RegisteredClaims
	AppID    string   `json:"appid"`
	AppIDACR string   `json:"appidacr"`
	IDType   string   `json:"idtyp"`
	OID      string   `json:"oid"`
	Roles    []string `json:"roles,omitempty"`
	TID      string   `json:"tid"`
	Ver      string   `json:"ver"`
}

// sign issues an access token for audience.
func (sg *signer) sign(audience, tenantID, clientID string, roles []string, now time.Time) (string, error) {
	if err := sg.init(); err != nil {
		return "", err
	}
	c := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://sts.windows.net/" + tenantID + "/", Subject: appSPID, Audience: jwt.ClaimStrings{audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(TokenLifetime)),
			ID: newRequestID(),
		},
		AppID: clientID, AppIDACR: "1", IDType: "app", OID: appSPID, Roles: roles, TID: tenantID, Ver: "1.0",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"], tok.Header["x5t"] = sg.kid, sg.kid
	s, err := tok.SignedString(sg.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// verify checks a bearer token's signature, lifetime, tenant and audience; a refusal says
// what is wrong in the words Graph uses.
func (sg *signer) verify(tok, tenantID string, audiences []string, now time.Time) (c *tokenClaims, refusal string) {
	if err := sg.init(); err != nil {
		return nil, "Access token validation failure."
	}
	c = &tokenClaims{}
	_, err := jwt.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return &sg.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithExpirationRequired())
	switch {
	case tok == "":
		return nil, "Access token is empty."
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, "Lifetime validation failed, the token is expired."
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, "Access token validation failure. Invalid signature."
	case strings.Count(tok, ".") != 2:
		return nil, "IDX14100: JWT is not well formed, there are no dots (.)."
	case err != nil:
		return nil, "Access token validation failure."
	case !strings.EqualFold(c.TID, tenantID):
		return nil, "Access token validation failure. Invalid tenant."
	case !slices.ContainsFunc(audiences, func(a string) bool { return slices.Contains(c.Audience, a) }):
		return nil, "Access token validation failure. Invalid audience."
	}
	return c, ""
}

// jwks is the authority's key set, as served at jwks_uri.
func (sg *signer) jwks() (map[string]any, error) {
	if err := sg.init(); err != nil {
		return nil, err
	}
	pub := sg.key.PublicKey
	return map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "use": "sig", "kid": sg.kid, "x5t": sg.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c": []string{base64.StdEncoding.EncodeToString(sg.cert.Raw)},
	}}}, nil
}

// resourceOf returns the resource of a client-credentials scope parameter ("<resource>/.default"),
// leaving out the OpenID scopes MSAL adds to every request; ok is false unless exactly one
// /.default scope is asked for, as Entra requires for this flow.
func resourceOf(scope string) (resource string, ok bool) {
	n := 0
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "offline_access", "profile":
			continue
		}
		r, found := strings.CutSuffix(s, "/.default")
		if !found {
			return "", false
		}
		resource, n = r, n+1
	}
	return resource, n == 1
}

// clientCredentials reads the client id and secret from the form (client_secret_post) or
// the Authorization header (client_secret_basic).
func clientCredentials(r *http.Request) (id, secret string) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}
