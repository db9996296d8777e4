package slack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// HTTP paths the adapter serves, and the slash command the app manifest declares.
const (
	CommandsPath     = "/slack/commands"
	InteractionsPath = "/slack/interactions"
	SlashCommand     = "/mfa"
)

// DefaultAPIURL is the Slack Web API base used when Config.APIURL is empty.
const DefaultAPIURL = "https://slack.com/api/"

// Defaults for the optional durations of Config.
const (
	DefaultLinkTTL         = 15 * time.Minute
	DefaultDispatchTimeout = 2 * time.Minute
	// DefaultUpdateInterval keeps chat.update (Tier 3, about 50 a minute) at one call per
	// message every 1.2 s.
	DefaultUpdateInterval = 1200 * time.Millisecond
)

// RequiredScopes lists the bot token scopes the adapter uses, with the calls that need
// them: commands (/mfa), chat:write (chat.postMessage, chat.update, chat.postEphemeral),
// im:write (conversations.open for direct messages), users:read (users.info, bots.info),
// users:read.email (users.info profile e-mail, users.lookupByEmail), files:write (the
// files upload v2 flow). manifests/slack declares exactly these.
func RequiredScopes() []string {
	return []string{"commands", "chat:write", "im:write", "users:read", "users:read.email", "files:write"}
}

// Config configures the Slack adapter. Secrets (BotToken, SigningSecret, AppToken) come
// from the environment or a file, never from the YAML file, and are never logged.
type Config struct {
	// BotToken is the bot user OAuth token, xoxb-… (MFABOT_SLACK_BOT_TOKEN).
	BotToken string
	// SigningSecret verifies HTTP requests from Slack (MFABOT_SLACK_SIGNING_SECRET).
	// Without it every HTTP request is refused; Socket Mode does not need it.
	SigningSecret string
	// AppToken is the app-level token, xapp-… with connections:write, for Socket Mode
	// (MFABOT_SLACK_APP_TOKEN).
	AppToken string
	// APIURL is the Web API base (MFABOT_SLACK_API_URL), DefaultAPIURL when empty.
	APIURL string
	// Channel is the id of the approvals/summary channel (MFABOT_SLACK_CHANNEL).
	Channel string

	// TeamID, EnterpriseID and AppID are the only workspace, Enterprise Grid organisation
	// and Slack app whose requests are served; requests from others (a shared channel, a
	// second install) are refused. When TeamID and EnterpriseID are both empty, Connect
	// learns them from the bot token (auth.test); when AppID is empty, Connect learns it
	// from bots.info. For an organisation-wide install set EnterpriseID alone.
	TeamID       string
	EnterpriseID string
	AppID        string

	// UserMap links Slack user ids (U…/W…) to Entra object ids explicitly. It is the
	// strongest link and wins over LinkByEmail.
	UserMap map[string]string
	// LinkByEmail links the other Slack users through their Slack profile e-mail
	// (users.info, scope users:read.email), resolved in Entra by the UserResolver.
	// Convenient, but it trusts Slack profile e-mails.
	LinkByEmail bool
	// LinkTTL is how long a looked-up link is cached, DefaultLinkTTL when zero.
	LinkTTL time.Duration

	// DispatchTimeout bounds the background handling of one command or click,
	// DefaultDispatchTimeout when zero.
	DispatchTimeout time.Duration
	// UpdateInterval is the least time between two chat.update calls for one message,
	// DefaultUpdateInterval when zero.
	UpdateInterval time.Duration
	// Direct is the pacing of bulk direct messages (nudges); Slack's documented limits
	// when zero (DefaultDirect).
	Direct DirectLimits

	// OnReject, when set, is told of every HTTP request refused before it is parsed, with
	// one of the Reject* reasons; it must not block. Refusals are logged at most once per
	// reason every 10 s, so count them here.
	OnReject func(reason string)

	Logger     *slog.Logger    // slog.Default() when nil
	Clock      approvals.Clock // approvals.SystemClock when nil
	HTTPClient *http.Client    // a client with a 30 s timeout when nil
}

var (
	slackIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,}$`)
	userIDPattern  = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
)

// Validate checks cfg and returns every problem found, each an EINVALID naming its field
// and the environment variable that sets it. It is the one place the rules of the Slack
// settings live: mfabot's configuration calls it too, and words each problem with its
// own names through the Setting and Problem methods every problem has.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, env, format string, args ...any) {
		errs = append(errs, &approvals.Error{Code: approvals.EINVALID, Message: "slack config",
			Err: &fieldError{field: field, env: env, problem: fmt.Sprintf(format, args...)}})
	}
	switch {
	case c.BotToken == "":
		bad("BotToken", "MFABOT_SLACK_BOT_TOKEN", "required")
	case !isBotToken(c.BotToken):
		bad("BotToken", "MFABOT_SLACK_BOT_TOKEN", "must be a bot token starting with xoxb-")
	}
	if c.SigningSecret == "" && c.AppToken == "" {
		bad("SigningSecret", "MFABOT_SLACK_SIGNING_SECRET", "required in HTTP mode (or set the app-level token, MFABOT_SLACK_APP_TOKEN, for Socket Mode)")
	}
	if c.AppToken != "" && !strings.HasPrefix(c.AppToken, "xapp-") {
		bad("AppToken", "MFABOT_SLACK_APP_TOKEN", "must be an app-level token starting with xapp-")
	}
	if c.APIURL != "" {
		if err := checkAPIURL(c.APIURL); err != nil {
			bad("APIURL", "MFABOT_SLACK_API_URL", "%v", err)
		}
	}
	switch {
	case c.Channel == "":
		bad("Channel", "MFABOT_SLACK_CHANNEL", "required: the approvals channel id")
	case !slackIDPattern.MatchString(c.Channel):
		bad("Channel", "MFABOT_SLACK_CHANNEL", "must be a channel id such as C0123ABCD, not a name")
	}
	if c.TeamID != "" && !slackIDPattern.MatchString(c.TeamID) {
		bad("TeamID", "MFABOT_SLACK_TEAM_ID", "must be a workspace id such as T0123ABCD")
	}
	if c.EnterpriseID != "" && !slackIDPattern.MatchString(c.EnterpriseID) {
		bad("EnterpriseID", "MFABOT_SLACK_ENTERPRISE_ID", "must be an organisation id such as E0123ABCD")
	}
	if c.AppID != "" && !slackIDPattern.MatchString(c.AppID) {
		bad("AppID", "MFABOT_SLACK_APP_ID", "must be an app id such as A0123ABCD")
	}
	for slackID, entraID := range c.UserMap {
		if !userIDPattern.MatchString(slackID) {
			bad("UserMap", "MFABOT_SLACK_USERS", "key %q is not a Slack user id (U…/W…)", slackID)
		}
		if strings.TrimSpace(entraID) == "" {
			bad("UserMap", "MFABOT_SLACK_USERS", "%s maps to an empty Entra object id", slackID)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"LinkTTL", c.LinkTTL}, {"DispatchTimeout", c.DispatchTimeout}, {"UpdateInterval", c.UpdateInterval}} {
		if d.v < 0 {
			bad(d.field, "", "must not be negative")
		}
	}
	return errors.Join(errs...)
}

// fieldError is one problem with one Config field.
type fieldError struct {
	field   string // "BotToken"
	env     string // "MFABOT_SLACK_BOT_TOKEN"; "" for a field only Go code sets
	problem string
}

func (e *fieldError) Error() string {
	if e.env == "" {
		return e.field + ": " + e.problem
	}
	return fmt.Sprintf("%s (%s): %s", e.field, e.env, e.problem)
}

// Setting returns the environment variable that sets the field, "" if none does.
func (e *fieldError) Setting() string { return e.env }

// Problem says what is wrong with the field's value.
func (e *fieldError) Problem() string { return e.problem }

// isBotToken reports whether token has the shape of a bot user OAuth token. Any other
// token (a user's xoxp-, an app-level xapp-) is never sent to Slack in its place.
func isBotToken(token string) bool { return strings.HasPrefix(token, "xoxb-") }

// checkAPIURL is the rule for the Web API base: https, plain http only to this machine
// (by exact host) so that the bot token never crosses a network in clear text.
func checkAPIURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("is not a URL")
	case u.Scheme != "https" && !(u.Scheme == "http" && approvals.IsLoopbackHost(u.Hostname())):
		return errors.New("must be https (plain http only for localhost)")
	case u.Host == "":
		return errors.New("has no host")
	}
	return nil
}

// withDefaults returns c with its empty optional fields filled in.
func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.DispatchTimeout == 0 {
		c.DispatchTimeout = DefaultDispatchTimeout
	}
	if c.UpdateInterval == 0 {
		c.UpdateInterval = DefaultUpdateInterval
	}
	c.Direct = c.Direct.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = approvals.SystemClock{}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return c
}
