package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mfabot/mfabot/approvals"
)

// Inbound authentication: every request to the messaging endpoint carries a JWT that the
// Bot Connector signed with a key published in the Bot Framework OpenID metadata. The
// checks are those of "Authenticate requests from the Bot Connector service to your bot":
// RS256 signature by a published key, issuer, audience = our app id, validity period with
// 5 minutes of clock skew, the serviceurl claim equal to the activity's serviceUrl, and the
// key's endorsements naming the activity's channel.

const (
	issuerBotConnector = "https://api.botframework.com"
	clockSkew          = 5 * time.Minute

	// keyMaxAge is how long published keys are trusted before they are fetched again.
	keyMaxAge = 24 * time.Hour
	// keyMinRefresh spaces refreshes caused by unknown key ids, so that tokens naming
	// made-up keys cannot make us hammer the metadata endpoint.
	keyMinRefresh = time.Minute
	// keyRetry spaces fetch attempts while no key set has been loaded at all.
	keyRetry = 5 * time.Second

	maxMetadataBytes = 1 << 20
	minRSABits       = 2048
)

var (
	errUnauthenticated = errors.New("unauthenticated")
	errKeysUnavailable = errors.New("signing keys unavailable")
)

// signingKey is one published key and its endorsements (nil when the key has none).
type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// keyCache holds the published signing keys. keyfunc/v3 drops the endorsements property,
// hence this small cache of our own.
type keyCache struct {
	metadataURL string
	client      *http.Client
	clock       approvals.Clock
	log         *slog.Logger

	mu        sync.Mutex
	keys      map[string]signingKey // nil until the first successful fetch
	fetchedAt time.Time
	attemptAt time.Time
}

// key returns the key with id kid, fetching the key set when it is missing, stale, or
// lacks kid — at most once per keyMinRefresh.
func (k *keyCache) key(ctx context.Context, kid string) (signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	key, ok := k.keys[kid]
	if ok && now.Sub(k.fetchedAt) < keyMaxAge {
		return key, nil
	}
	interval := keyMinRefresh
	if k.keys == nil {
		interval = keyRetry
	}
	if k.attemptAt.IsZero() || now.Sub(k.attemptAt) >= interval {
		k.attemptAt = now
		keys, err := k.fetch(ctx)
		if err != nil {
			k.log.Warn("fetch Bot Framework signing keys", slog.String("url", k.metadataURL), slog.Any("error", err))
		} else {
			k.keys, k.fetchedAt = keys, now
		}
		key, ok = k.keys[kid]
	}
	switch {
	case ok:
		return key, nil
	case k.keys == nil:
		return signingKey{}, errKeysUnavailable
	default:
		return signingKey{}, fmt.Errorf("%w: unknown signing key %q", errUnauthenticated, kid)
	}
}

func (k *keyCache) fetch(ctx context.Context) (map[string]signingKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var meta struct {
		Issuer      string   `json:"issuer"`
		JWKSURI     string   `json:"jwks_uri"`
		SigningAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := k.getJSON(ctx, k.metadataURL, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	if err := checkEndpointURL(meta.JWKSURI); err != nil {
		return nil, fmt.Errorf("openid metadata: jwks_uri: %w", err)
	}
	if len(meta.SigningAlgs) > 0 && !slices.Contains(meta.SigningAlgs, "RS256") {
		return nil, errors.New("openid metadata: RS256 not among the signing algorithms")
	}
	var set struct {
		Keys []struct {
			Kty          string    `json:"kty"`
			Use          string    `json:"use"`
			Kid          string    `json:"kid"`
			N            string    `json:"n"`
			E            string    `json:"e"`
			Endorsements *[]string `json:"endorsements"`
		} `json:"keys"`
	}
	if err := k.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	keys := make(map[string]signingKey, len(set.Keys))
	for _, jk := range set.Keys {
		if jk.Kty != "RSA" || jk.Kid == "" || (jk.Use != "" && jk.Use != "sig") {
			continue
		}
		pub, err := rsaKey(jk.N, jk.E)
		if err != nil {
			k.log.Warn("skip signing key", slog.String("kid", jk.Kid), slog.Any("error", err))
			continue
		}
		sk := signingKey{pub: pub}
		if jk.Endorsements != nil {
			sk.endorsements = append([]string{}, (*jk.Endorsements)...)
		}
		keys[jk.Kid] = sk
	}
	if len(keys) == 0 {
		return nil, errors.New("signing keys: no usable RSA key")
	}
	return keys, nil
}

func (k *keyCache) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(v)
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	n := new(big.Int).SetBytes(nb)
	e := new(big.Int).SetBytes(eb)
	if n.BitLen() < minRSABits {
		return nil, fmt.Errorf("modulus of %d bits", n.BitLen())
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, errors.New("bad exponent")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// validator checks the bearer tokens of inbound requests.
type validator struct {
	appID   string
	issuers []string
	keys    *keyCache
	clock   approvals.Clock
}

// tokenInfo is what a verified token says about the request it came with.
type tokenInfo struct {
	serviceURL   string
	issuer       string
	endorsements []string // nil: the signing key carries no endorsements
}

func newValidator(cfg Config) *validator {
	issuers := []string{issuerBotConnector}
	if !cfg.MultiTenant {
		// A single-tenant bot's tokens may also be issued by its home tenant, in the v1 or
		// v2 form (Bot Framework SDK: AuthenticationConfiguration.ValidTokenIssuers).
		t := strings.ToLower(cfg.TenantID)
		issuers = append(issuers,
			"https://sts.windows.net/"+t+"/",
			"https://login.microsoftonline.com/"+t+"/v2.0")
	}
	return &validator{
		appID:   cfg.AppID,
		issuers: issuers,
		clock:   cfg.Clock,
		keys: &keyCache{
			metadataURL: cfg.OpenIDURL,
			client:      cfg.HTTPClient,
			clock:       cfg.Clock,
			log:         cfg.Logger,
		},
	}
}

// validate verifies the Authorization header of a request, before its body is read.
func (v *validator) validate(ctx context.Context, header string) (tokenInfo, error) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || strings.Contains(raw, " ") {
		return tokenInfo{}, fmt.Errorf("%w: no bearer token", errUnauthenticated)
	}
	var key signingKey
	var keyErr error
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithAudience(v.appID),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(v.clock.Now),
		jwt.WithExpirationRequired(),
	)
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no key")
		}
		key, keyErr = v.keys.key(ctx, kid)
		if keyErr != nil {
			return nil, keyErr
		}
		return key.pub, nil
	})
	if errors.Is(keyErr, errKeysUnavailable) {
		return tokenInfo{}, keyErr
	}
	if err != nil {
		return tokenInfo{}, fmt.Errorf("%w: %v", errUnauthenticated, err)
	}
	iss, _ := claims["iss"].(string)
	if !slices.Contains(v.issuers, iss) {
		return tokenInfo{}, fmt.Errorf("%w: issuer %q not accepted", errUnauthenticated, iss)
	}
	su, _ := claims["serviceurl"].(string)
	if su == "" {
		return tokenInfo{}, fmt.Errorf("%w: no serviceurl claim", errUnauthenticated)
	}
	return tokenInfo{serviceURL: su, issuer: iss, endorsements: key.endorsements}, nil
}

// checkActivity binds a verified token to the activity it came with.
func (ti tokenInfo) checkActivity(a *activity) error {
	if !sameServiceURL(ti.serviceURL, a.ServiceURL) {
		return fmt.Errorf("%w: serviceurl claim does not match the activity", errUnauthenticated)
	}
	if a.ChannelID != channelMSTeams {
		return fmt.Errorf("%w: channel %q is not served", errUnauthenticated, a.ChannelID)
	}
	if ti.endorsements != nil && !slices.Contains(ti.endorsements, a.ChannelID) {
		return fmt.Errorf("%w: signing key not endorsed for %q", errUnauthenticated, a.ChannelID)
	}
	return nil
}

// sameServiceURL compares service URLs as the Bot Framework SDKs do: without case and
// without a trailing slash.
func sameServiceURL(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}
