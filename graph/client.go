package graph

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	msauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mfabot/mfabot/approvals"
)

// Defaults, from Graph's documented limits: writes to the directory are limited to 3,000
// per 2 minutes 30 seconds per app per tenant (20 per second); the identity reports,
// including userRegistrationDetails, to 5 requests per 10 seconds per app per tenant.
const (
	defaultBaseURL      = "https://graph.microsoft.com"
	DefaultWriteRate    = 20.0 // writes per second
	DefaultReportLimit  = 5
	DefaultReportWindow = 10 * time.Second
	DefaultConcurrency  = 4
)

// Config configures a Client.
type Config struct {
	TenantID, ClientID string
	// Credential signs requests; NewCredential builds one, any azidentity credential works.
	Credential azcore.TokenCredential
	// Cloud is the Microsoft cloud of the tenant (default the public cloud): its GraphURL
	// is the default BaseURL. The credential must come from the same cloud's authority
	// (CredentialOptions.Cloud).
	Cloud Cloud
	// BaseURL is Graph's root without a version (MFABOT_GRAPH_URL); /v1.0 and /beta are
	// appended. Default Cloud.GraphURL. Set, it wins over Cloud (a proxy, a fake); the
	// token is then asked for BaseURL's own resource, BaseURL + "/.default". Plain http is
	// allowed for localhost only.
	BaseURL string
	// HTTPClient's transport carries the requests (tests pass the simulator's client); its
	// Timeout is ignored: every attempt gets its own, and waits for the pacer do not count.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// WriteRate is the ceiling of writes per second, bulk and single-user together
	// (default 20, Graph's 3,000 per 2.5 minutes per app per tenant); the pacer keeps 97 %
	// of it and slows below that when Graph answers 429.
	WriteRate float64
	// ReportLimit requests per ReportWindow to the registration report (default 5 per 10 s).
	ReportLimit  int
	ReportWindow time.Duration
	// Concurrency is the number of requests or batches bulk work keeps in flight (default 4).
	Concurrency int
	// MailLimit messages per MailWindow from one mailbox (default Exchange Online's 30 a
	// minute).
	MailLimit  int
	MailWindow time.Duration
}

func (c Config) withDefaults() Config {
	if c.Cloud.GraphURL == "" {
		c.Cloud = CloudPublic
	}
	if c.BaseURL == "" {
		c.BaseURL = c.Cloud.GraphURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WriteRate <= 0 {
		c.WriteRate = DefaultWriteRate
	}
	if c.ReportLimit <= 0 {
		c.ReportLimit = DefaultReportLimit
	}
	if c.ReportWindow <= 0 {
		c.ReportWindow = DefaultReportWindow
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MailLimit <= 0 {
		c.MailLimit = DefaultMailLimit
	}
	if c.MailWindow <= 0 {
		c.MailWindow = DefaultMailWindow
	}
	return c
}

// Validate checks the configuration after defaults; errors name the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Credential == nil {
		return errNoCredential
	}
	if err := ValidateBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("graph: BaseURL %w", err)
	}
	return nil
}

// ValidateBaseURL is the rule for Graph's base URL (Config.BaseURL, MFABOT_GRAPH_URL): an
// absolute https URL without query or fragment; plain http only to this machine, by
// exact host, so that a token never crosses a network in clear text
// (http://localhost.evil.com is not this machine). mfabot's configuration applies the
// same rule by calling it.
func ValidateBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", base)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !approvals.IsLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%q must be https:// (plain http only for localhost)", base)
		}
	default:
		return fmt.Errorf("%q: scheme must be https", base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry a query or fragment", base)
	}
	return nil
}

// Client performs mfabot's Entra ID operations through Microsoft Graph.
type Client struct {
	sdk      *msgraphsdk.GraphServiceClient
	adapter  abstractions.RequestAdapter
	base     string // Graph root without version
	clientID string
	cred     azcore.TokenCredential
	scope    string
	log      *slog.Logger
	writes   *pacer  // every write: revocations, method deletions, default and MFA state changes
	reports  *window // the registration report
	mail     *mailboxes
	conc     int
	stats    *counters
	// clk is the clock every wait (pacing, retries) uses and attemptTimeout the limit of
	// one attempt; tests replace both (export_test.go).
	clk            clock
	attemptTimeout time.Duration
}

var _ approvals.Directory = (*Client)(nil)

// New builds a Client on msgraph-sdk-go with mfabot's middleware pipeline.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.BaseURL)
	// The token's audience is the Graph resource: for the public and national clouds that
	// is the base URL itself, and a custom base (a proxy, a fake) is its own resource.
	scope := cfg.BaseURL + "/.default"
	// kiota's auth provider sends no token to a host not on its allow-list (compared by
	// host name without the port). The SDK's default list holds every cloud's Graph; this
	// one holds only the configured Graph, so that the token never leaves its cloud, not
	// even for a nextLink that points elsewhere.
	hosts := []string{strings.ToLower(u.Hostname())}
	auth, err := msauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cfg.Credential, []string{scope}, hosts)
	if err != nil {
		return nil, fmt.Errorf("graph: auth provider: %w", err)
	}
	c := &Client{
		base:     cfg.BaseURL,
		clientID: cfg.ClientID,
		cred:     cfg.Credential,
		scope:    scope,
		log:      cfg.Logger,
		writes:   newPacer(cfg.WriteRate, nil),
		reports:  newWindow(cfg.ReportLimit, cfg.ReportWindow, nil),
		mail:     &mailboxes{n: cfg.MailLimit, length: cfg.MailWindow, clk: approvals.PaceClock{}, by: map[string]*window{}},
		conc:     cfg.Concurrency,
		stats:    newCounters(),

		clk:            approvals.PaceClock{},
		attemptTimeout: attemptTimeout,
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, nil, nil, c.httpClient(cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(cfg.BaseURL + "/v1.0")
	c.adapter = adapter
	c.sdk = msgraphsdk.NewGraphServiceClient(adapter)
	return c, nil
}

// httpClient is the SDK's default middleware pipeline, in a fixed order, with mfabot's
// retry handler in place of kiota's.
func (c *Client) httpClient(user *http.Client) *http.Client {
	var parent http.RoundTripper
	if user != nil {
		parent = user.Transport
		if parent == nil {
			parent = http.DefaultTransport
		}
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	mw := []khttp.Middleware{
		core.NewGraphTelemetryHandler(&opts),
		khttp.NewUrlReplaceHandler(true, core.ReplacementPairs),
		&retryHandler{c: c, maxRetries: maxRetries},
		khttp.NewRedirectHandler(),
		khttp.NewCompressionHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(parent, mw...),
		// The redirect middleware follows redirects (and drops the token across hosts).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Stats returns the request counters since New.
func (c *Client) Stats() Stats {
	s := c.stats.snapshot()
	s.WriteRate = c.writes.currentRate()
	return s
}

var errorMapping = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// raw sends a request the v1.0 SDK has no builder for (the beta per-user MFA endpoint,
// JSON batches) through the same adapter, so it gets the same token, middleware and error
// types. path is relative to the Graph root and includes the version.
func (c *Client) raw(ctx context.Context, method abstractions.HttpMethod, path string, body []byte) ([]byte, error) {
	u, err := url.Parse(c.base + path)
	if err != nil {
		return nil, fmt.Errorf("graph url %s: %w", path, err)
	}
	ri := abstractions.NewRequestInformation()
	ri.Method = method
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", "application/json")
	if body != nil {
		ri.SetStreamContentAndContentType(body, "application/json")
	}
	out, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", errorMapping)
	if err != nil {
		return nil, err
	}
	b, _ := out.([]byte)
	return b, nil
}
