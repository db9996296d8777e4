package teams

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/jwks"
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
	// keyFetchTimeout bounds one fetch of the metadata and the key set.
	keyFetchTimeout = 10 * time.Second
)

var (
	errUnauthenticated = errors.New("unauthenticated")
	errKeysUnavailable = errors.New("signing keys unavailable")
	// errGaveUp: the request ended while it waited for the signing keys.
	errGaveUp = errors.New("request ended while waiting for the signing keys")

	errNoToken     = errors.New("no bearer token")
	errNoKeyID     = errors.New("token names no key")
	errUnknownKey  = errors.New("unknown signing key")
	errIssuer      = errors.New("issuer")
	errServiceURL  = errors.New("serviceurl")
	errChannel     = errors.New("channel")
	errEndorsement = errors.New("signing key not endorsed")
)

// signingKey is one published key and its endorsements (nil when the key has none).
type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// keyCache holds the published signing keys. keyfunc/v3 drops the endorsements property,
// hence this small cache of our own.
//
// A fetch belongs to no request: it runs on its own goroutine under the cache's own
// context and timeout, and every request that needs it waits for the same one, each for
// as long as its own context lets it. A client that hangs up stops waiting; the fetch
// goes on for the others. The mutex is never held across the network.
type keyCache struct {
	metadataURL string
	client      *http.Client
	clock       approvals.Clock
	log         *slog.Logger
	// base is the context fetches run under (cancelled when the adapter closes);
	// fetchTimeout bounds each.
	base         context.Context
	fetchTimeout time.Duration

	mu        sync.Mutex
	keys      map[string]signingKey // nil until the first successful fetch
	fetchedAt time.Time
	// attemptAt is when the last fetch finished, successful or not: the refresh
	// intervals run from there, so that they space completed fetches.
	attemptAt time.Time
	running   *keyFetch // the fetch in flight, nil when none
	waiting   int       // callers waiting for running
	// waitersChanged, when set, is called with mu held each time waiting changes. Nil in
	// the service; tests set it (export_test.go) because the moment a request joins or
	// leaves a fetch shows nowhere outside the cache.
	waitersChanged func()
}

// keyFetch is one fetch of the key set; done is closed when it has finished and the
// cache is updated.
type keyFetch struct {
	done chan struct{}
}

// key returns the key with id kid, fetching the key set when it is missing, stale, or
// lacks kid — at most once per keyMinRefresh (keyRetry while no key set was ever loaded),
// counted from the end of the previous fetch. A fetch already running is joined.
func (k *keyCache) key(ctx context.Context, kid string) (signingKey, error) {
	k.mu.Lock()
	now := k.clock.Now()
	if key, ok := k.keys[kid]; ok && now.Sub(k.fetchedAt) < keyMaxAge {
		k.mu.Unlock()
		return key, nil
	}
	f := k.running
	if f == nil {
		interval := keyMinRefresh
		if k.keys == nil {
			interval = keyRetry
		}
		if k.attemptAt.IsZero() || now.Sub(k.attemptAt) >= interval {
			f = &keyFetch{done: make(chan struct{})}
			k.running = f
			go k.refresh(f)
		}
	}
	if f == nil {
		defer k.mu.Unlock()
		return k.lookup(kid)
	}
	k.waiting++
	k.noteWaiters()
	k.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.waiting--
	k.noteWaiters()
	select {
	case <-f.done:
		return k.lookup(kid)
	default:
		return signingKey{}, fmt.Errorf("%w: %w", errGaveUp, context.Cause(ctx))
	}
}

// noteWaiters tells waitersChanged that waiting changed; k.mu is held.
func (k *keyCache) noteWaiters() {
	if k.waitersChanged != nil {
		k.waitersChanged()
	}
}

// lookup answers from the keys held; k.mu is held.
func (k *keyCache) lookup(kid string) (signingKey, error) {
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	if k.keys == nil {
		return signingKey{}, errKeysUnavailable
	}
	return signingKey{}, fmt.Errorf("%w: %w %q", errUnauthenticated, errUnknownKey, kid)
}

// refresh runs fetch f and stores what it got; the attempt is stamped when it is over.
func (k *keyCache) refresh(f *keyFetch) {
	base := k.base
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithTimeout(base, k.fetchTimeout)
	defer cancel()
	keys, err := k.fetch(ctx)
	if err != nil {
		k.log.Warn("fetch Bot Framework signing keys", slog.String("url", k.metadataURL), slog.Any(approvals.LogErr, err))
	}
	k.mu.Lock()
	k.attemptAt = k.clock.Now()
	if err == nil {
		k.keys, k.fetchedAt = keys, k.attemptAt
	}
	k.running = nil
	k.mu.Unlock()
	close(f.done)
}

func (k *keyCache) fetch(ctx context.Context) (map[string]signingKey, error) {
	var meta openIDMetadata
	if err := jwks.GetJSON(ctx, k.client, k.metadataURL, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	if err := meta.check(); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	keys, err := k.keySet(ctx, meta.JWKSURI)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("signing keys: no usable RSA key")
	}
	return keys, nil
}

// openIDMetadata is what the adapter reads of the Bot Framework OpenID metadata.
type openIDMetadata struct {
	Issuer      string   `json:"issuer"`
	JWKSURI     string   `json:"jwks_uri"`
	SigningAlgs []string `json:"id_token_signing_alg_values_supported"`
}

// check refuses metadata whose keys could not verify a token: a jwks_uri that is not
// https (plain http only to this machine), or no RS256 among the signing algorithms.
func (m openIDMetadata) check() error {
	if err := checkEndpointURL(m.JWKSURI); err != nil {
		return fmt.Errorf("jwks_uri %w", err)
	}
	if len(m.SigningAlgs) > 0 && !slices.Contains(m.SigningAlgs, "RS256") {
		return errors.New("RS256 not among the signing algorithms")
	}
	return nil
}

// keySet fetches the key set at uri and keeps the usable RSA signing keys.
func (k *keyCache) keySet(ctx context.Context, uri string) (map[string]signingKey, error) {
	got, err := jwks.Fetch(ctx, k.client, uri, k.log)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]signingKey, len(got))
	for _, jk := range got {
		keys[jk.ID] = signingKey{pub: jk.Public, endorsements: jk.Endorsements}
	}
	return keys, nil
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
			metadataURL:  cfg.OpenIDURL,
			client:       cfg.HTTPClient,
			clock:        cfg.Clock,
			log:          cfg.Logger,
			fetchTimeout: keyFetchTimeout,
		},
	}
}

// validate verifies the Authorization header of a request, before its body is read.
func (v *validator) validate(ctx context.Context, header string) (tokenInfo, error) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || strings.Contains(raw, " ") {
		return tokenInfo{}, fmt.Errorf("%w: %w", errUnauthenticated, errNoToken)
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
			return nil, errNoKeyID
		}
		key, keyErr = v.keys.key(ctx, kid)
		if keyErr != nil {
			return nil, keyErr
		}
		return key.pub, nil
	})
	if errors.Is(keyErr, errKeysUnavailable) || errors.Is(keyErr, errGaveUp) {
		return tokenInfo{}, keyErr
	}
	if err != nil {
		return tokenInfo{}, fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	iss, _ := claims["iss"].(string)
	if !slices.Contains(v.issuers, iss) {
		return tokenInfo{}, fmt.Errorf("%w: %w %q not accepted", errUnauthenticated, errIssuer, iss)
	}
	su, _ := claims["serviceurl"].(string)
	if su == "" {
		return tokenInfo{}, fmt.Errorf("%w: %w: no serviceurl claim", errUnauthenticated, errServiceURL)
	}
	return tokenInfo{serviceURL: su, issuer: iss, endorsements: key.endorsements}, nil
}

// checkActivity binds a verified token to the activity it came with.
func (ti tokenInfo) checkActivity(a *activity) error {
	if !sameServiceURL(ti.serviceURL, a.ServiceURL) {
		return fmt.Errorf("%w: %w: the claim does not match the activity", errUnauthenticated, errServiceURL)
	}
	if a.ChannelID != channelMSTeams {
		return fmt.Errorf("%w: %w %q is not served", errUnauthenticated, errChannel, a.ChannelID)
	}
	if ti.endorsements != nil && !slices.Contains(ti.endorsements, a.ChannelID) {
		return fmt.Errorf("%w: %w for %q", errUnauthenticated, errEndorsement, a.ChannelID)
	}
	return nil
}

// Reasons a request is refused, as OnReject is told them: a fixed, small set.
const (
	RejectNoToken         = "no_token"
	RejectMalformedToken  = "malformed_token"
	RejectUnknownKey      = "unknown_key"
	RejectBadSignature    = "bad_signature"
	RejectExpired         = "expired"
	RejectNotYetValid     = "not_yet_valid"
	RejectAudience        = "audience"
	RejectIssuer          = "issuer"
	RejectClaims          = "claims"
	RejectServiceURL      = "serviceurl"
	RejectChannel         = "channel"
	RejectEndorsement     = "endorsement"
	RejectTenant          = "tenant"
	RejectKeysUnavailable = "keys_unavailable"
	RejectBadActivity     = "bad_activity"
)

// rejectReason classifies an error of validate or checkActivity.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, errKeysUnavailable):
		return RejectKeysUnavailable
	case errors.Is(err, errNoToken):
		return RejectNoToken
	case errors.Is(err, errUnknownKey):
		return RejectUnknownKey
	case errors.Is(err, errNoKeyID), errors.Is(err, jwt.ErrTokenMalformed):
		return RejectMalformedToken
	case errors.Is(err, errIssuer):
		return RejectIssuer
	case errors.Is(err, errServiceURL):
		return RejectServiceURL
	case errors.Is(err, errChannel):
		return RejectChannel
	case errors.Is(err, errEndorsement):
		return RejectEndorsement
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return RejectBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return RejectExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return RejectNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return RejectAudience
	}
	return RejectClaims
}

// sameServiceURL compares service URLs as the Bot Framework SDKs do: without case and
// without a trailing slash.
func sameServiceURL(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}
