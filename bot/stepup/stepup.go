package stepup

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Lifetimes of a step-up.
const (
	// LinkLifetime is how long a sign-in link waits to be opened.
	LinkLifetime = 5 * time.Minute
	// SignInLifetime is how long the sign-in may take, from opening the link to coming
	// back with the answer.
	SignInLifetime = 5 * time.Minute
)

// DecisionApprove is the decision a link makes: deny never needs step-up.
const DecisionApprove = "approve"

// CallbackPath is where Entra sends the browser back: the app registration's web redirect
// URI is the public URL followed by it.
const CallbackPath = "/stepup/callback"

// Challenge is one step-up in progress: a one-time link bound to an approver, a request
// and a decision, and the sign-in it starts. Only hashes of its secrets are kept (the
// link's token, the OAuth state, the browser's binding cookie); the nonce and the PKCE
// verifier are kept as they are, useless without the code only the approver's browser
// receives.
type Challenge struct {
	ID          string // hex SHA-256 of the link's token
	RequestID   string
	Decision    string // DecisionApprove
	Actor       approvals.Actor
	CreatedAt   time.Time
	ExpiresAt   time.Time // the link must be opened before
	StartedAt   time.Time // zero until the sign-in starts
	StateHash   string    // hex SHA-256 of the OAuth state
	BindingHash string    // hex SHA-256 of the browser's binding cookie
	Nonce       string
	Verifier    string    // PKCE code_verifier
	FinishedAt  time.Time // zero until the sign-in came back (or was refused)
}

// Start is what StartChallenge records when the browser starts the sign-in.
type Start struct {
	At          time.Time
	StateHash   string
	BindingHash string
	Nonce       string
	Verifier    string
}

// Store keeps challenges; storage.DB implements it. Starting and finishing are each one
// compare-and-set, so a link starts one sign-in and a sign-in comes back once, whichever
// instance or race asks.
type Store interface {
	// CreateChallenge stores a new challenge.
	CreateChallenge(ctx context.Context, c Challenge) error
	// Challenge loads one by id (ENOTFOUND).
	Challenge(ctx context.Context, id string) (Challenge, error)
	// StartChallenge records s on the challenge id if it has not started and its link has
	// not expired at s.At; otherwise ECONFLICT, changing nothing.
	StartChallenge(ctx context.Context, id string, s Start) error
	// FinishChallenge marks finished at the started challenge whose state hashes to
	// stateHash and returns it. ENOTFOUND for no such challenge; one already finished is
	// returned as it stands with ECONFLICT.
	FinishChallenge(ctx context.Context, stateHash string, at time.Time) (Challenge, error)
}

// Decider makes the decision a sign-in allows and words what the browser shows;
// commands.Dispatcher implements it.
type Decider interface {
	// StepUpPreview is what the link's page shows before the sign-in: the request as it
	// stands for a, and whether a may still approve it.
	StepUpPreview(ctx context.Context, a approvals.Actor, requestID string) (bot.Message, bool)
	// ApproveSignedIn approves the request as a with the verified sign-in in
	// (approvals.Service.ApproveSignedIn) and says how it went.
	ApproveSignedIn(ctx context.Context, a approvals.Actor, requestID string, in approvals.SignIn) bot.Message
	// StepUpRefused audits a sign-in refused before it reached the core (a token that did
	// not verify, a replayed state, another browser).
	StepUpRefused(ctx context.Context, a approvals.Actor, requestID, why string)
}

// UserResolver finds the approver's user principal name for the sign-in page's
// login_hint; graph.Client implements it.
type UserResolver interface {
	ResolveUser(ctx context.Context, ref string) (approvals.User, error)
}

// Config configures a Flow.
type Config struct {
	// PublicURL is the address admins' browsers reach mfabot at ("https://mfabot.contoso.com");
	// links are PublicURL/stepup/…, and PublicURL+CallbackPath is the redirect URI.
	PublicURL string
	// TenantID and ClientID are the app registration (the same as Graph's).
	TenantID, ClientID string
	// AuthorityHost is the Microsoft identity platform host, default
	// https://login.microsoftonline.com/.
	AuthorityHost string
	// The app's credential for redeeming the code: a client secret, a certificate (PEM or
	// PKCS#12, with its password), or a workload identity's federated token file.
	ClientSecret                         string
	CertificatePath, CertificatePassword string
	FederatedTokenFile                   string
	// MaxAge is how recent the sign-in must be (approvals.StepUp.Fresh): sent as max_age.
	MaxAge time.Duration
	// Context is the Conditional Access authentication context id asked for with the
	// claims parameter ("c1"); "" asks for none.
	Context string
	Store   Store
	Users   UserResolver // optional: a login_hint for the sign-in page
	// HTTPClient carries the calls to the authority; nil means http.DefaultClient.
	HTTPClient *http.Client
	Clock      approvals.Clock
	Logger     *slog.Logger
	// Limits of requests per minute to the endpoints: from one address, and in all;
	// defaults DefaultPerClient and DefaultTotal.
	PerClient, Total int
}

// Defaults of Config's rate limits, requests per minute. One approval takes three
// requests; a person clicking around takes a few more.
const (
	DefaultPerClient = 30
	DefaultTotal     = 300
)

// DefaultAuthorityHost is the public cloud's authority.
const DefaultAuthorityHost = "https://login.microsoftonline.com/"

// Flow runs step-ups: Link makes the one-time link a chat answer carries, Handler serves
// the browser's side.
type Flow struct {
	cfg       Config
	public    *url.URL
	authority *authority
	cred      clientCredential
	log       *slog.Logger
	limit     *limiter
}

// ValidatePublicURL checks a public URL: an absolute https origin (plain http only for
// this machine), with no path, query or fragment.
func ValidatePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	switch {
	case s == "":
		return nil, errors.New("required: the address admins' browsers reach mfabot at, such as https://mfabot.contoso.com")
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "https" && !(u.Scheme == "http" && approvals.IsLoopbackHost(u.Host)):
		return nil, fmt.Errorf("%q must start with https:// (plain http only for localhost)", s)
	case u.Host == "" || u.User != nil:
		return nil, fmt.Errorf("%q must name a host, without a user", s)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q must be an origin only (scheme and host), without a path: the step-up endpoints are under /stepup/", s)
	}
	return u, nil
}

// New returns a Flow. It reads the certificate, if one is configured, at once.
func New(cfg Config) (*Flow, error) {
	pub, err := ValidatePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("public URL: %w", err)
	}
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, errors.New("step-up needs the app registration's tenant and client id")
	}
	if cfg.Store == nil {
		return nil, errors.New("step-up needs a store")
	}
	if cfg.AuthorityHost == "" {
		cfg.AuthorityHost = DefaultAuthorityHost
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = approvals.DefaultStepUpMaxAge
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Clock == nil {
		cfg.Clock = approvals.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PerClient <= 0 {
		cfg.PerClient = DefaultPerClient
	}
	if cfg.Total <= 0 {
		cfg.Total = DefaultTotal
	}
	cred, err := newClientCredential(cfg)
	if err != nil {
		return nil, err
	}
	f := &Flow{cfg: cfg, public: pub, cred: cred, log: cfg.Logger,
		authority: newAuthority(cfg.AuthorityHost, cfg.TenantID, cfg.HTTPClient, cfg.Clock, cfg.Logger),
		limit:     newLimiter(cfg.PerClient, cfg.Total, cfg.Clock)}
	return f, nil
}

// RedirectURI is the web redirect URI the app registration must list.
func (f *Flow) RedirectURI() string { return f.public.String() + CallbackPath }

// Link makes a one-time sign-in link for a's approval of request requestID and returns it
// with the time it expires. The link's token appears only in the link; the store keeps its
// hash.
func (f *Flow) Link(ctx context.Context, a approvals.Actor, requestID string) (string, time.Time, error) {
	if a.EntraID == "" {
		return "", time.Time{}, approvals.WrapError(approvals.EFORBIDDEN, approvals.ErrStepUpUnlinked,
			"a step-up sign-in needs your chat account linked to an Entra user")
	}
	token := randomString()
	now := f.cfg.Clock.Now()
	c := Challenge{ID: hash(token), RequestID: requestID, Decision: DecisionApprove, Actor: a,
		CreatedAt: now, ExpiresAt: now.Add(LinkLifetime)}
	if err := f.cfg.Store.CreateChallenge(ctx, c); err != nil {
		return "", time.Time{}, fmt.Errorf("store step-up link: %w", err)
	}
	f.log.InfoContext(ctx, "step-up link issued", approvals.LogRequestID, requestID, approvals.LogActor, a.Key(), "challenge", short(c.ID))
	return f.public.String() + "/stepup/" + token, c.ExpiresAt, nil
}

// randomString is 32 random bytes, base64url: a link token, a state, a nonce, a verifier.
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hash is the hex SHA-256 of a secret: what the store keeps instead of it.
func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// short names a challenge in logs: a prefix of the hash of its token, which tells
// nothing about the token.
func short(id string) string { return id[:min(len(id), 12)] }

// clientCredential authenticates the app at the token endpoint.
type clientCredential struct {
	kind     string // "client secret", "certificate", "workload identity"
	secret   string
	cert     *x509.Certificate
	key      *rsa.PrivateKey
	fedToken string // path of the federated token file, read at every use (it rotates)
}

// newClientCredential picks the credential as graph.NewCredential does: a secret, then a
// certificate, then workload identity. A managed identity cannot redeem a user's code.
func newClientCredential(cfg Config) (clientCredential, error) {
	switch {
	case cfg.ClientSecret != "":
		return clientCredential{kind: "client secret", secret: cfg.ClientSecret}, nil
	case cfg.CertificatePath != "":
		data, err := os.ReadFile(cfg.CertificatePath)
		if err != nil {
			return clientCredential{}, fmt.Errorf("step-up certificate: %w", err)
		}
		var pw []byte
		if cfg.CertificatePassword != "" {
			pw = []byte(cfg.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			return clientCredential{}, fmt.Errorf("step-up certificate %s: %w", cfg.CertificatePath, err)
		}
		rk, ok := key.(*rsa.PrivateKey)
		if !ok || len(certs) == 0 {
			return clientCredential{}, fmt.Errorf("step-up certificate %s: Entra ID takes RSA certificates only", cfg.CertificatePath)
		}
		return clientCredential{kind: "certificate", cert: certs[0], key: rk}, nil
	case cfg.FederatedTokenFile != "":
		return clientCredential{kind: "workload identity", fedToken: cfg.FederatedTokenFile}, nil
	}
	return clientCredential{}, errors.New("step-up redeems the sign-in as the app registration, which needs a client secret (AZURE_CLIENT_SECRET), a certificate (AZURE_CLIENT_CERTIFICATE_PATH) or a workload identity (AZURE_FEDERATED_TOKEN_FILE); a managed identity cannot")
}
