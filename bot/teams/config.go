package teams

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/mfabot/mfabot/approvals"
)

// PlatformName is the platform name of Teams actors, conversations and message refs.
const PlatformName = "teams"

// MessagesPath is the HTTP path of the Bot Framework messaging endpoint.
const MessagesPath = "/api/messages"

// DefaultOpenIDURL is the Bot Framework OpenID metadata used when Config.OpenIDURL is empty.
const DefaultOpenIDURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"

// BotFrameworkScope is the scope of the client-credentials token the bot presents to the
// Bot Connector.
const BotFrameworkScope = "https://api.botframework.com/.default"

// multiTenantAuthority is the tenant legacy multi-tenant bots request their tokens from.
const multiTenantAuthority = "botframework.com"

// Defaults for the optional durations of Config.
const (
	// DefaultInvokeTimeout leaves room inside the time Teams waits for an invoke response.
	DefaultInvokeTimeout = 4 * time.Second
	// DefaultDispatchTimeout bounds the background handling of one command or click.
	DefaultDispatchTimeout = 2 * time.Minute
)

// Config configures the Teams adapter. AppPassword is a secret: it comes from the
// environment or a file and is never logged.
type Config struct {
	// AppID is the bot's Microsoft App ID, the Entra application (client) id of its Azure
	// Bot registration (MFABOT_TEAMS_APP_ID). Inbound tokens must carry it as audience.
	AppID string
	// AppPassword is a client secret of that application (MFABOT_TEAMS_APP_PASSWORD). Not
	// needed when Credential is set.
	AppPassword string
	// TenantID is the Entra tenant the bot serves (MFABOT_TEAMS_TENANT_ID). Activities from
	// any other tenant are refused; a single-tenant bot also gets its tokens from here.
	TenantID string
	// MultiTenant marks a legacy multi-tenant app registration: outbound tokens come from
	// the botframework.com tenant and only Bot Connector-issued inbound tokens are accepted.
	MultiTenant bool
	// OpenIDURL is the Bot Framework OpenID metadata (MFABOT_TEAMS_OPENID_URL),
	// DefaultOpenIDURL when empty.
	OpenIDURL string
	// Channel is the conversation id of the approvals channel (MFABOT_TEAMS_CHANNEL),
	// "19:…@thread.tacv2". Its serviceUrl comes from the conversation reference stored when
	// the bot was added to the team.
	Channel string
	// AuthorityHost is the Entra authority for outbound tokens (AZURE_AUTHORITY_HOST),
	// the public cloud when empty. A host that is not a known Microsoft cloud turns off
	// instance discovery.
	AuthorityHost string
	// Credential, when set, replaces the client-secret credential built from AppID,
	// AppPassword and TenantID (a managed identity, a certificate, a test authority).
	Credential azcore.TokenCredential
	// HTTPClient is used for OpenID metadata, signing keys, tokens and the Connector;
	// a client with a 30 s timeout when nil.
	HTTPClient *http.Client
	// Logger receives the adapter's logs; discarded when nil.
	Logger *slog.Logger
	// Clock tells the time for token validation and key refreshes; the system clock when nil.
	Clock approvals.Clock
	// OnReject, when set, is told of every request to the messaging endpoint refused
	// before it reaches the dispatcher, with one of the Reject* reasons; it must not
	// block. Refusals are logged at most once per reason every 10 s, so count them here.
	OnReject func(reason string)

	// InvokeTimeout is how long a card action may take before Teams is answered with the
	// last known card (the work goes on); DefaultInvokeTimeout when zero.
	InvokeTimeout time.Duration
	// DispatchTimeout bounds the background handling of one command or click,
	// DefaultDispatchTimeout when zero.
	DispatchTimeout time.Duration
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in its usual 8-4-4-4-12 form, as Entra ids are.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// Validate checks the configuration and returns every problem, each naming its field
// and the environment variable that sets it. It is the one place the rules of the Teams
// settings live: mfabot's configuration calls it too, and words each problem with its
// own names through the Setting and Problem methods every problem has.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, env, problem string) {
		errs = append(errs, &fieldError{field: field, env: env, problem: problem})
	}
	switch {
	case c.AppID == "":
		bad("AppID", "MFABOT_TEAMS_APP_ID", "is required")
	case !IsGUID(c.AppID):
		bad("AppID", "MFABOT_TEAMS_APP_ID", "must be a GUID")
	}
	// Every bot serves one tenant, a legacy multi-tenant registration too: activities
	// from any other tenant are refused.
	switch {
	case c.TenantID == "":
		bad("TenantID", "MFABOT_TEAMS_TENANT_ID", "is required")
	case !IsGUID(c.TenantID):
		bad("TenantID", "MFABOT_TEAMS_TENANT_ID", "must be a GUID")
	}
	if c.AppPassword == "" && c.Credential == nil {
		bad("AppPassword", "MFABOT_TEAMS_APP_PASSWORD", "is required")
	}
	if c.OpenIDURL != "" {
		if err := checkEndpointURL(c.OpenIDURL); err != nil {
			bad("OpenIDURL", "MFABOT_TEAMS_OPENID_URL", err.Error())
		}
	}
	if c.AuthorityHost != "" {
		if u, err := url.Parse(c.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("AuthorityHost", "AZURE_AUTHORITY_HOST", "must be an https URL")
		}
	}
	if c.Channel != "" && strings.ContainsAny(c.Channel, " \t\r\n/") {
		bad("Channel", "MFABOT_TEAMS_CHANNEL", "is not a conversation id")
	}
	if c.InvokeTimeout < 0 {
		bad("InvokeTimeout", "", "must not be negative")
	}
	if c.DispatchTimeout < 0 {
		bad("DispatchTimeout", "", "must not be negative")
	}
	return errors.Join(errs...)
}

// fieldError is one problem with one Config field.
type fieldError struct {
	field   string // "AppID"
	env     string // "MFABOT_TEAMS_APP_ID"; "" for a field only Go code sets
	problem string // "is required"
}

func (e *fieldError) Error() string {
	if e.env == "" {
		return fmt.Sprintf("teams: %s %s", e.field, e.problem)
	}
	return fmt.Sprintf("teams: %s (%s) %s", e.field, e.env, e.problem)
}

// Setting returns the environment variable that sets the field, "" if none does.
func (e *fieldError) Setting() string { return e.env }

// Problem says what is wrong with the field's value.
func (e *fieldError) Problem() string { return e.problem }

// checkEndpointURL accepts https URLs, and plain http only on a loopback address (local
// fakes).
func checkEndpointURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if approvals.IsLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return errors.New("must be https (plain http only for localhost)")
}

// knownAuthorityHosts are the Microsoft clouds MSAL can discover on its own.
var knownAuthorityHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoftonline.us":         true,
	"login.chinacloudapi.cn":           true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"login.partner.microsoftonline.cn": true,
}

func (c *Config) setDefaults() {
	if c.OpenIDURL == "" {
		c.OpenIDURL = DefaultOpenIDURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = approvals.SystemClock{}
	}
	if c.InvokeTimeout == 0 {
		c.InvokeTimeout = DefaultInvokeTimeout
	}
	if c.DispatchTimeout == 0 {
		c.DispatchTimeout = DefaultDispatchTimeout
	}
}
