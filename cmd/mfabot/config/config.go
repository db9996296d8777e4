package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/graph"
)

// Config is every setting of mfabot. Each one has a YAML key and an environment
// variable (see settings); secrets come only from the environment or from a file named by
// a *_file key, never from the YAML itself.
type Config struct {
	Listen    string
	DB        string
	PublicURL string
	LogLevel  string
	LogJSON   bool

	GraphCloud       string
	GraphURL         string
	TenantID         string
	ClientID         string
	ClientSecret     string // secret
	ClientCertPath   string
	AuthorityHost    string
	GraphWriteRate   float64
	GraphConcurrency int
	ExecConcurrency  int
	ExecLease        time.Duration
	SweepEvery       time.Duration
	ShutdownGrace    time.Duration

	SlackBotToken      string // secret
	SlackSigningSecret string // secret
	SlackAppToken      string // secret
	SlackAPIURL        string
	SlackChannel       string
	SlackTeamID        string
	SlackEnterpriseID  string
	SlackAppID         string
	SlackLinkByEmail   bool
	SlackUsers         map[string]string // Slack user id -> Entra object id

	TeamsAppID       string
	TeamsAppPassword string // secret
	TeamsTenantID    string
	TeamsMultiTenant bool
	TeamsOpenIDURL   string
	TeamsChannel     string

	Requesters        string
	Approvers         string
	RequiredApprovals int
	Expiry            time.Duration
	ExpiryReset       time.Duration
	ExpiryRevokeGroup time.Duration
	ExpiryEnforce     time.Duration
	ProtectedUsers    string
	ProtectedGroups   string
	ConfirmAbove      int
	EnforceEnabled    bool
	StepUp            string
	StepUpMaxAge      time.Duration
	StepUpContext     string
	TAPEnabled        bool
	TAPLifetime       time.Duration
	TAPOneTime        bool
	BulkMax           int

	SummaryEnabled      bool
	SummaryAt           string
	SummaryTimezone     string
	SummaryWeekdaysOnly bool
	SummaryExclude      string

	NotifyMailFrom string
}

// Setting binds one Config field to its YAML key and environment variable.
type Setting struct {
	Key     string // dotted YAML path: "slack.bot_token"
	Env     string // "MFABOT_SLACK_BOT_TOKEN"
	Secret  bool   // only from the environment or <key>_file, never the YAML file
	Default string
	Help    string
	ptr     any // *string, *int, *bool, *float64, *time.Duration, *map[string]string
}

// Settings lists every setting, in the order of the example configuration.
func Settings() []Setting {
	var c Config
	return c.settings()
}

func (c *Config) settings() []Setting {
	return []Setting{
		{"listen", "MFABOT_LISTEN", false, ":8080", "HTTP listen address: Slack endpoints, Teams /api/messages, /healthz, /readyz, /metrics", &c.Listen},
		{"db", "MFABOT_DB", false, "mfabot.db", "SQLite database file (created if missing; keep it on a persistent volume), or a PostgreSQL URL (postgres://…) for several replicas; a URL with a password only from the environment, MFABOT_DB_FILE or db_file", &c.DB},
		{"public_url", "MFABOT_PUBLIC_URL", false, "", "the https address admins' browsers reach mfabot at (https://mfabot.contoso.com), for step-up sign-ins under /stepup/; needed only with policy.step_up, Socket Mode included", &c.PublicURL},
		{"log.level", "MFABOT_LOG_LEVEL", false, "info", "log level: debug, info, warn, error", &c.LogLevel},
		{"log.json", "MFABOT_LOG_JSON", false, "true", "JSON logs (false: human-readable text)", &c.LogJSON},

		{"graph.cloud", "MFABOT_GRAPH_CLOUD", false, "public", "Microsoft cloud: public, usgov (GCC High), usgovdod (DoD) or china (21Vianet); sets the Graph URL, the token authority and the token's scope together", &c.GraphCloud},
		{"graph.url", "MFABOT_GRAPH_URL", false, "", "Microsoft Graph base URL, overriding graph.cloud's (a proxy, a private cloud)", &c.GraphURL},
		{"graph.tenant_id", "AZURE_TENANT_ID", false, "", "Entra tenant id (GUID) of the app registration", &c.TenantID},
		{"graph.client_id", "AZURE_CLIENT_ID", false, "", "application (client) id of the app registration", &c.ClientID},
		{"graph.client_secret", "AZURE_CLIENT_SECRET", true, "", "client secret (or use a certificate, workload identity or managed identity)", &c.ClientSecret},
		{"graph.client_certificate_path", "AZURE_CLIENT_CERTIFICATE_PATH", false, "", "PEM/PKCS#12 certificate for the app registration, instead of a secret", &c.ClientCertPath},
		{"graph.authority_host", "AZURE_AUTHORITY_HOST", false, "", "token authority, overriding graph.cloud's (a private cloud)", &c.AuthorityHost},
		{"graph.write_rate", "MFABOT_GRAPH_WRITE_RATE", false, "20", "ceiling for Graph writes per second (Graph allows 3,000 per 2.5 minutes per app and tenant); mfabot slows down by itself when throttled", &c.GraphWriteRate},
		{"graph.concurrency", "MFABOT_GRAPH_CONCURRENCY", false, "4", "Graph requests or batches in flight for bulk work", &c.GraphConcurrency},

		{"executor.concurrency", "MFABOT_EXECUTOR_CONCURRENCY", false, "4", "revoke batches (of 20 users), or users of a bulk reset, in flight per request", &c.ExecConcurrency},
		{"executor.lease", "MFABOT_EXECUTOR_LEASE", false, "30s", "how long a crashed instance's running request waits before another instance resumes it", &c.ExecLease},
		{"executor.sweep_every", "MFABOT_SWEEP_EVERY", false, "30s", "how often overdue pending requests are marked expired", &c.SweepEvery},
		{"shutdown_grace", "MFABOT_SHUTDOWN_GRACE", false, "20s", "how long SIGTERM waits for in-flight Graph calls before leaving work resumable", &c.ShutdownGrace},

		{"slack.bot_token", "MFABOT_SLACK_BOT_TOKEN", true, "", "Slack bot token (xoxb-…); setting it turns Slack on", &c.SlackBotToken},
		{"slack.signing_secret", "MFABOT_SLACK_SIGNING_SECRET", true, "", "Slack signing secret (HTTP mode)", &c.SlackSigningSecret},
		{"slack.app_token", "MFABOT_SLACK_APP_TOKEN", true, "", "Slack app-level token (xapp-…, connections:write): turns on Socket Mode instead of HTTP", &c.SlackAppToken},
		{"slack.api_url", "MFABOT_SLACK_API_URL", false, "https://slack.com/api/", "Slack Web API base URL", &c.SlackAPIURL},
		{"slack.channel", "MFABOT_SLACK_CHANNEL", false, "", "approvals and summary channel id (C…)", &c.SlackChannel},
		{"slack.team_id", "MFABOT_SLACK_TEAM_ID", false, "", "the only Slack workspace (T…) whose requests are accepted", &c.SlackTeamID},
		{"slack.enterprise_id", "MFABOT_SLACK_ENTERPRISE_ID", false, "", "the only Enterprise Grid org (E…) whose requests are accepted", &c.SlackEnterpriseID},
		{"slack.app_id", "MFABOT_SLACK_APP_ID", false, "", "the only Slack app id (A…) whose requests are accepted", &c.SlackAppID},
		{"slack.link_by_email", "MFABOT_SLACK_LINK_BY_EMAIL", false, "false", "link Slack users to Entra users by their Slack profile e-mail (users:read.email)", &c.SlackLinkByEmail},
		{"slack.users", "MFABOT_SLACK_USERS", false, "", "explicit links, Slack user id to Entra object id (env: U1=oid1,U2=oid2)", &c.SlackUsers},

		{"teams.app_id", "MFABOT_TEAMS_APP_ID", false, "", "Azure Bot app id; setting it turns Teams on", &c.TeamsAppID},
		{"teams.app_password", "MFABOT_TEAMS_APP_PASSWORD", true, "", "Azure Bot client secret", &c.TeamsAppPassword},
		{"teams.tenant_id", "MFABOT_TEAMS_TENANT_ID", false, "", "tenant of the single-tenant bot, and the only tenant whose activities are accepted", &c.TeamsTenantID},
		{"teams.multi_tenant", "MFABOT_TEAMS_MULTI_TENANT", false, "false", "legacy multi-tenant bot registration", &c.TeamsMultiTenant},
		{"teams.openid_url", "MFABOT_TEAMS_OPENID_URL", false, "https://login.botframework.com/v1/.well-known/openidconfiguration", "Bot Framework OpenID metadata", &c.TeamsOpenIDURL},
		{"teams.channel", "MFABOT_TEAMS_CHANNEL", false, "", "conversation id of the Teams approvals channel (19:…@thread.tacv2)", &c.TeamsChannel},

		{"policy.requesters", "MFABOT_REQUESTERS", false, "", "who may request and use read-only commands: slack:U…, teams:<object id>, entra:<object id>, entra-group:<id or name>", &c.Requesters},
		{"policy.approvers", "MFABOT_APPROVERS", false, "", "who may approve or deny (never their own request); same forms", &c.Approvers},
		{"policy.required_approvals", "MFABOT_REQUIRED_APPROVALS", false, "1", "approvals needed from people other than the requester", &c.RequiredApprovals},
		{"policy.expiry", "MFABOT_EXPIRY", false, "60m", "how long a request waits for approval", &c.Expiry},
		{"policy.expiry_reset", "MFABOT_EXPIRY_RESET", false, "", "expiry for reset and reset-bulk requests (default policy.expiry)", &c.ExpiryReset},
		{"policy.expiry_revoke_group", "MFABOT_EXPIRY_REVOKE_GROUP", false, "", "expiry for revoke-group requests (default policy.expiry)", &c.ExpiryRevokeGroup},
		{"policy.expiry_enforce", "MFABOT_EXPIRY_ENFORCE", false, "", "expiry for enforce requests (default policy.expiry)", &c.ExpiryEnforce},
		{"policy.protected_users", "MFABOT_PROTECTED_USERS", false, "", "users never touched (emergency access): UPNs or object ids, comma-separated", &c.ProtectedUsers},
		{"policy.protected_groups", "MFABOT_PROTECTED_GROUPS", false, "", "groups never revoked, whose members are never touched: ids or names, comma-separated", &c.ProtectedGroups},
		{"policy.confirm_above", "MFABOT_CONFIRM_ABOVE", false, "500", "revoke-group above this many members needs --confirm <count>", &c.ConfirmAbove},
		{"policy.enforce_enabled", "MFABOT_ENFORCE_ENABLED", false, "false", "allow enforce (per-user MFA state); needs the permission Policy.ReadWrite.AuthenticationMethod, which can also rewrite the tenant's authentication methods policy", &c.EnforceEnabled},
		{"policy.step_up", "MFABOT_STEP_UP", false, "", "request kinds whose approval counts only after a fresh Entra sign-in with MFA by the approver (reset, revoke, revoke-group, enforce; comma-separated); needs public_url", &c.StepUp},
		{"policy.step_up_max_age", "MFABOT_STEP_UP_MAX_AGE", false, "5m", "how recent that sign-in must be, 1m to 1h", &c.StepUpMaxAge},
		{"policy.step_up_context", "MFABOT_STEP_UP_CONTEXT", false, "", "Conditional Access authentication context id (c1 … c99) the sign-in asks for, tied in the tenant to a policy that demands MFA; without it the sign-in's amr must say mfa", &c.StepUpContext},
		{"policy.tap_enabled", "MFABOT_TAP_ENABLED", false, "false", "allow reset --tap: a Temporary Access Pass after the reset, handed to the requester alone; doctor then checks the tenant's Temporary Access Pass policy (permission Policy.Read.All)", &c.TAPEnabled},
		{"policy.tap_lifetime", "MFABOT_TAP_LIFETIME", false, "60m", "lifetime of a Temporary Access Pass (10m to 720h, within the tenant's Temporary Access Pass policy)", &c.TAPLifetime},
		{"policy.tap_one_time", "MFABOT_TAP_ONE_TIME", false, "true", "a Temporary Access Pass works for one sign-in only", &c.TAPOneTime},
		{"policy.bulk_max", "MFABOT_BULK_MAX", false, "5000", "most users one bulk reset (mfabot request reset --csv, /mfa reset-bulk) takes; a pasted list takes at most 1,000", &c.BulkMax},

		{"summary.enabled", "MFABOT_SUMMARY_ENABLED", false, "true", "post the enrollment summary every day", &c.SummaryEnabled},
		{"summary.at", "MFABOT_SUMMARY_AT", false, "09:00", "time of day of the summary (HH:MM)", &c.SummaryAt},
		{"summary.timezone", "MFABOT_SUMMARY_TIMEZONE", false, "UTC", "IANA time zone of summary.at, e.g. Europe/Amsterdam", &c.SummaryTimezone},
		{"summary.weekdays_only", "MFABOT_SUMMARY_WEEKDAYS_ONLY", false, "false", "skip Saturdays and Sundays", &c.SummaryWeekdaysOnly},
		{"summary.exclude", "MFABOT_SUMMARY_EXCLUDE", false, "", "accounts left out of \"missing\" and counted apart, and never nudged or signed out by a campaign (service and shared accounts): object ids or UPNs of users, object ids of groups, comma-separated", &c.SummaryExclude},

		{"notify.mail_from", "MFABOT_NOTIFY_MAIL_FROM", false, "", "mailbox (UPN) that nudges and notices are mailed from where no chat platform reaches the person; needs the permission Mail.Send, which only then is asked for", &c.NotifyMailFrom},
	}
}

// Load reads defaults, then the YAML file (if path is not empty), then the environment.
// Unknown YAML keys are an error, and so is a secret written into the file.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	set := c.settings()
	for _, s := range set {
		if s.Default != "" {
			if err := assign(s, s.Default); err != nil {
				return nil, fmt.Errorf("default of %s: %w", s.Key, err)
			}
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := c.applyYAML(data, set); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, s := range set {
		if v := getenv(s.Env); v != "" {
			if err := assign(s, v); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Env, err)
			}
		}
		if s.fromFile() {
			if f := getenv(s.Env + "_FILE"); f != "" {
				if err := assignFile(s, f); err != nil {
					return nil, fmt.Errorf("%s_FILE: %w", s.Env, err)
				}
			}
		}
	}
	c.applyCloud()
	return c, nil
}

// applyCloud fills the Graph URL and the token authority from graph.cloud where they are
// not set explicitly. An unknown cloud is left for Validate to report.
func (c *Config) applyCloud() {
	cl, err := graph.LookupCloud(c.GraphCloud)
	if err != nil {
		return
	}
	if c.GraphURL == "" {
		c.GraphURL = cl.GraphURL
	}
	if c.AuthorityHost == "" && cl.Name != graph.CloudPublic.Name {
		c.AuthorityHost = cl.AuthorityHost
	}
}

func (c *Config) applyYAML(data []byte, set []Setting) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if len(root.Content) == 0 {
		return nil
	}
	byKey := map[string]Setting{}
	for _, s := range set {
		byKey[s.Key] = s
	}
	var walk func(prefix string, n *yaml.Node) error
	walk = func(prefix string, n *yaml.Node) error {
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s must be a mapping", n.Line, strings.TrimSuffix(prefix, "."))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			if s, ok := byKey[key]; ok {
				if s.Secret {
					return fmt.Errorf("line %d: %s is a secret: set %s or %s_file instead of writing it into the file", k.Line, key, s.Env, k.Value)
				}
				if err := assignNode(s, v); err != nil {
					return fmt.Errorf("line %d: %s: %w", k.Line, key, err)
				}
				if err := checkWritten(s, c); err != nil {
					return fmt.Errorf("line %d: %w", k.Line, err)
				}
				continue
			}
			if base, ok := strings.CutSuffix(key, "_file"); ok {
				if s, ok := byKey[base]; ok && s.fromFile() {
					if err := assignFile(s, v.Value); err != nil {
						return fmt.Errorf("line %d: %s: %w", k.Line, key, err)
					}
					continue
				}
			}
			if v.Kind == yaml.MappingNode && hasPrefix(set, key+".") {
				if err := walk(key+".", v); err != nil {
					return err
				}
				continue
			}
			if v.Tag == "!!null" && hasPrefix(set, key+".") {
				continue // a section whose keys are all commented out, as in the example
			}
			return fmt.Errorf("line %d: unknown key %q", k.Line, key)
		}
		return nil
	}
	return walk("", root.Content[0])
}

func hasPrefix(set []Setting, p string) bool {
	for _, s := range set {
		if strings.HasPrefix(s.Key, p) {
			return true
		}
	}
	return false
}

func assignNode(s Setting, v *yaml.Node) error {
	switch p := s.ptr.(type) {
	case *map[string]string:
		m := map[string]string{}
		if err := v.Decode(&m); err != nil {
			return err
		}
		*p = m
		return nil
	}
	if v.Kind == yaml.SequenceNode {
		var items []string
		if err := v.Decode(&items); err != nil {
			return err
		}
		return assign(s, strings.Join(items, ","))
	}
	if v.Kind != yaml.ScalarNode {
		return errors.New("must be a single value")
	}
	return assign(s, v.Value)
}

func assignFile(s Setting, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read secret file: %w", err)
	}
	return assign(s, strings.TrimSpace(string(data)))
}

func assign(s Setting, v string) error {
	switch p := s.ptr.(type) {
	case *string:
		*p = v
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*p = f
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s or 60m", v)
		}
		*p = d
	case *map[string]string:
		m := map[string]string{}
		for _, pair := range strings.Split(v, ",") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			k, val, ok := strings.Cut(pair, "=")
			if !ok {
				return fmt.Errorf("%q is not key=value", pair)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		*p = m
	default:
		return fmt.Errorf("unsupported setting type %T", p)
	}
	return nil
}

// SlackEnabled reports whether Slack is configured.
func (c *Config) SlackEnabled() bool { return c.SlackBotToken != "" }

// TeamsEnabled reports whether Teams is configured.
func (c *Config) TeamsEnabled() bool { return c.TeamsAppID != "" }

// Validate returns every problem with the configuration, one per line, each naming its
// YAML key and environment variable: "slack.channel (MFABOT_SLACK_CHANNEL): required: …".
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, env, fmt.Sprintf(format, args...)))
	}
	if c.DB == "" {
		bad("db", "MFABOT_DB", "required")
	} else if err := c.validateDatabase(); err != nil {
		bad("db", "MFABOT_DB", "%v", err)
	}
	if c.TenantID == "" {
		bad("graph.tenant_id", "AZURE_TENANT_ID", "required")
	}
	if c.ClientID == "" {
		bad("graph.client_id", "AZURE_CLIENT_ID", "required")
	}
	if _, err := graph.LookupCloud(c.GraphCloud); err != nil {
		bad("graph.cloud", "MFABOT_GRAPH_CLOUD", "%v", err)
	}
	if err := graph.ValidateBaseURL(c.GraphURL); err != nil {
		bad("graph.url", "MFABOT_GRAPH_URL", "%v", err)
	}
	if c.GraphWriteRate <= 0 {
		bad("graph.write_rate", "MFABOT_GRAPH_WRITE_RATE", "must be above 0")
	}
	if !c.SlackEnabled() && !c.TeamsEnabled() {
		errs = append(errs, errors.New("no chat platform configured: set slack.bot_token (MFABOT_SLACK_BOT_TOKEN) and/or teams.app_id (MFABOT_TEAMS_APP_ID)"))
	}
	if c.SlackEnabled() {
		errs = append(errs, named(c.SlackConfig().Validate())...)
	}
	if c.TeamsEnabled() {
		errs = append(errs, named(c.TeamsConfig().Validate())...)
		if c.TeamsChannel == "" {
			bad("teams.channel", "MFABOT_TEAMS_CHANNEL", "required: the approvals conversation id")
		}
	}
	if p, err := c.Policy(); err != nil {
		errs = append(errs, err)
	} else if un := c.unlinkedSlackPrincipals(p); len(un) > 0 {
		bad("slack.users", "MFABOT_SLACK_USERS", "%s not linked to an Entra user: with more than one chat platform or an entra:/entra-group: principal, every slack: principal must be linked (here, or with slack.link_by_email)", strings.Join(un, ", "))
	}
	for u, oid := range c.SlackUsers {
		if !approvals.IsObjectID(oid) {
			bad("slack.users", "MFABOT_SLACK_USERS", "%s=%q: the link must be an Entra object id (a GUID)", u, oid)
		}
	}
	if c.StepUp != "" && c.PublicURL == "" {
		bad("public_url", "MFABOT_PUBLIC_URL", "required with policy.step_up: the https address admins' browsers reach mfabot at, for the step-up sign-in")
	}
	if c.PublicURL != "" {
		if _, err := stepup.ValidatePublicURL(c.PublicURL); err != nil {
			bad("public_url", "MFABOT_PUBLIC_URL", "%v", err)
		}
	}
	if _, err := time.LoadLocation(c.SummaryTimezone); err != nil {
		bad("summary.timezone", "MFABOT_SUMMARY_TIMEZONE", "unknown time zone %q", c.SummaryTimezone)
	}
	if _, err := time.Parse("15:04", c.SummaryAt); err != nil {
		bad("summary.at", "MFABOT_SUMMARY_AT", "%q is not HH:MM", c.SummaryAt)
	}
	for _, ref := range splitList(c.SummaryExclude) {
		if why := approvals.ValidExclusion(ref); why != "" {
			bad("summary.exclude", "MFABOT_SUMMARY_EXCLUDE", "%q %s", ref, why)
		}
	}
	if m := strings.TrimSpace(c.NotifyMailFrom); m != "" && !approvals.IsObjectID(m) && approvals.ValidExclusion(m) != "" {
		bad("notify.mail_from", "MFABOT_NOTIFY_MAIL_FROM", "%q is not a mailbox's UPN or object id", m)
	}
	return errors.Join(errs...)
}

// settingProblem is what an adapter's Validate error says about one setting: the
// environment variable that sets it and what is wrong (slack and teams declare theirs).
type settingProblem interface {
	Setting() string
	Problem() string
}

// named rewords the problems of an adapter's Validate as "key (ENV): problem", like
// Validate's own; one it cannot attribute to a setting stays as it is.
func named(err error) []error {
	if err == nil {
		return nil
	}
	problems := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		problems = j.Unwrap()
	}
	keys := map[string]string{}
	for _, s := range Settings() {
		keys[s.Env] = s.Key
	}
	out := make([]error, 0, len(problems))
	for _, e := range problems {
		var p settingProblem
		if errors.As(e, &p) && keys[p.Setting()] != "" {
			e = fmt.Errorf("%s (%s): %s", keys[p.Setting()], p.Setting(), p.Problem())
		}
		out = append(out, e)
	}
	return out
}

// SlackConfig is the Slack adapter's share of the configuration; the caller adds what
// is not configuration (logger, clock, HTTP client, hooks).
func (c *Config) SlackConfig() slack.Config {
	return slack.Config{
		BotToken: c.SlackBotToken, SigningSecret: c.SlackSigningSecret, AppToken: c.SlackAppToken,
		APIURL: c.SlackAPIURL, Channel: c.SlackChannel, TeamID: c.SlackTeamID,
		EnterpriseID: c.SlackEnterpriseID, AppID: c.SlackAppID, UserMap: c.SlackUsers,
		LinkByEmail: c.SlackLinkByEmail,
	}
}

// TeamsConfig is the Teams adapter's share of the configuration; the caller adds what
// is not configuration (logger, clock, HTTP client, credential, hooks).
func (c *Config) TeamsConfig() teams.Config {
	return teams.Config{
		AppID: c.TeamsAppID, AppPassword: c.TeamsAppPassword, TenantID: c.TeamsTenantID,
		MultiTenant: c.TeamsMultiTenant, OpenIDURL: c.TeamsOpenIDURL, Channel: c.TeamsChannel,
		AuthorityHost: c.AuthorityHost,
	}
}

// CredentialOptions are the Graph credential's options: azidentity's own variables from
// getenv (certificate password, workload identity), then what the configuration says,
// which wins.
func (c *Config) CredentialOptions(getenv func(string) string) graph.CredentialOptions {
	o := graph.CredentialOptionsFromEnv(getenv)
	o.TenantID, o.ClientID, o.ClientSecret = c.TenantID, c.ClientID, c.ClientSecret
	o.CertificatePath, o.AuthorityHost = c.ClientCertPath, c.AuthorityHost
	return o
}

// Secrets returns the values of the secret settings in c ("" for those not set), and the
// password of a PostgreSQL URL in db, for output that must never show them.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range c.settings() {
		if p, ok := s.ptr.(*string); ok && s.Secret {
			out = append(out, *p)
		}
	}
	return append(out, c.databaseSecrets()...)
}

// Policy builds the approvals policy from the configuration.
func (c *Config) Policy() (approvals.Policy, error) {
	req, err := approvals.ParsePrincipals(c.Requesters)
	if err != nil {
		return approvals.Policy{}, fmt.Errorf("policy.requesters (MFABOT_REQUESTERS): %w", err)
	}
	appr, err := approvals.ParsePrincipals(c.Approvers)
	if err != nil {
		return approvals.Policy{}, fmt.Errorf("policy.approvers (MFABOT_APPROVERS): %w", err)
	}
	p := approvals.Policy{
		Requesters:        req,
		Approvers:         appr,
		RequiredApprovals: c.RequiredApprovals,
		Expiry:            map[approvals.Kind]time.Duration{},
		ProtectedUsers:    splitList(c.ProtectedUsers),
		ProtectedGroups:   splitList(c.ProtectedGroups),
		ConfirmAbove:      c.ConfirmAbove,
		EnforceEnabled:    c.EnforceEnabled,
		TAPEnabled:        c.TAPEnabled,
		TAPLifetime:       c.TAPLifetime,
		TAPOneTime:        c.TAPOneTime,
		BulkMax:           c.BulkMax,
		Exclude:           splitList(c.SummaryExclude),
		// More than one platform, or Entra principals: a person may hold several chat
		// accounts, so only accounts linked to Entra may request or decide.
		RequireLink: (c.SlackEnabled() && c.TeamsEnabled()) || hasEntraPrincipal(req) || hasEntraPrincipal(appr),
	}
	if p.StepUp, err = c.stepUp(); err != nil {
		return p, err
	}
	for k, d := range map[approvals.Kind]time.Duration{
		approvals.KindReset:       c.ExpiryReset,
		approvals.KindResetBulk:   c.ExpiryReset,
		approvals.KindRevokeGroup: c.ExpiryRevokeGroup,
		approvals.KindEnforce:     c.ExpiryEnforce,
	} {
		if d == 0 {
			d = c.Expiry
		}
		p.Expiry[k] = d
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// stepUp is the policy's step-up rule; a problem names its key and variable.
func (c *Config) stepUp() (approvals.StepUp, error) {
	su := approvals.StepUp{MaxAge: c.StepUpMaxAge, Context: c.StepUpContext}
	for _, k := range splitList(c.StepUp) {
		su.Kinds = append(su.Kinds, approvals.Kind(strings.ToLower(k)))
	}
	for _, p := range []struct {
		key, env string
		rule     approvals.StepUp
	}{
		{"policy.step_up", "MFABOT_STEP_UP", approvals.StepUp{Kinds: su.Kinds}},
		{"policy.step_up_max_age", "MFABOT_STEP_UP_MAX_AGE", approvals.StepUp{MaxAge: su.MaxAge}},
		{"policy.step_up_context", "MFABOT_STEP_UP_CONTEXT", approvals.StepUp{Context: su.Context}},
	} {
		if err := p.rule.Validate(); err != nil {
			return su, fmt.Errorf("%s (%s): %s", p.key, p.env, strings.TrimPrefix(approvals.ErrorMessage(err), "policy: "))
		}
	}
	return su, nil
}

// StepUpConfig is the step-up flow's share of the configuration: the public URL, the
// app registration and its credential (azidentity's variables from getenv, as the Graph
// credential), the authority and the policy's freshness and context. The caller adds
// what is not configuration (store, logger, clock, HTTP client).
func (c *Config) StepUpConfig(getenv func(string) string) stepup.Config {
	o := c.CredentialOptions(getenv)
	authority := c.AuthorityHost
	if authority == "" {
		if cl, err := graph.LookupCloud(c.GraphCloud); err == nil {
			authority = cl.AuthorityHost
		}
	}
	return stepup.Config{
		PublicURL: c.PublicURL, TenantID: c.TenantID, ClientID: c.ClientID, AuthorityHost: authority,
		ClientSecret: o.ClientSecret, CertificatePath: o.CertificatePath, CertificatePassword: o.CertificatePassword,
		FederatedTokenFile: o.FederatedTokenFile, MaxAge: approvals.StepUp{MaxAge: c.StepUpMaxAge}.Fresh(), Context: c.StepUpContext,
	}
}

func hasEntraPrincipal(ps []approvals.Principal) bool {
	for _, p := range ps {
		if p.Kind == "entra" || p.Kind == "entra-group" {
			return true
		}
	}
	return false
}

// unlinkedSlackPrincipals lists the slack: principals that have no explicit link while the
// policy needs links and e-mail linking is off: they could never act.
func (c *Config) unlinkedSlackPrincipals(p approvals.Policy) []string {
	if !p.RequireLink || !c.SlackEnabled() || c.SlackLinkByEmail {
		return nil
	}
	var out []string
	for _, ps := range [][]approvals.Principal{p.Requesters, p.Approvers} {
		for _, pr := range ps {
			if pr.Kind == "slack" && c.SlackUsers[pr.Value] == "" && !slices.Contains(out, pr.Value) {
				out = append(out, pr.Value)
			}
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Example returns a complete, commented example configuration file.
func Example() string {
	var c Config
	var b strings.Builder
	b.WriteString("# mfabot configuration. Every key can be overridden by the environment variable\n")
	b.WriteString("# named after it. Secrets never go in this file: set the variable, the variable\n")
	b.WriteString("# with _FILE appended (a path), or the key with _file appended (a path).\n")
	section := ""
	for _, s := range c.settings() {
		parts := strings.Split(s.Key, ".")
		indent := ""
		if len(parts) == 2 {
			if parts[0] != section {
				section = parts[0]
				fmt.Fprintf(&b, "\n%s:\n", section)
			}
			indent = "  "
		} else if section != "" {
			section = ""
			b.WriteString("\n")
		}
		name := parts[len(parts)-1]
		fmt.Fprintf(&b, "%s# %s (%s)\n", indent, s.Help, s.Env)
		switch {
		case s.Secret:
			fmt.Fprintf(&b, "%s# %s_file: /run/secrets/%s\n", indent, name, strings.ToLower(s.Env))
		case s.Default == "":
			fmt.Fprintf(&b, "%s# %s:\n", indent, name)
		case s.fromFile():
			fmt.Fprintf(&b, "%s%s: %s\n%s# %s_file: /run/secrets/%s\n", indent, name, s.Default, indent, name, strings.ToLower(s.Env))
		default:
			def := s.Default
			if _, isStr := s.ptr.(*string); isStr && strings.ContainsAny(def, ":#") {
				def = strconv.Quote(def)
			}
			fmt.Fprintf(&b, "%s%s: %s\n", indent, name, def)
		}
	}
	return b.String()
}
