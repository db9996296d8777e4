package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/cmd/mfabot/config"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	secret := writeFile(t, "secret", "s3cret-from-file\n")
	path := writeFile(t, "mfabot.yaml", `
listen: 127.0.0.1:9000
graph:
  tenant_id: 11111111-1111-1111-1111-111111111111
  client_id: 22222222-2222-2222-2222-222222222222
  client_secret_file: `+secret+`
slack:
  channel: C0123
  users:
    U1: oid-1
policy:
  requesters: [slack:U1, "entra-group:MFA Admins"]
  approvers: slack:U2
  expiry: 30m
summary:
  timezone: Europe/Amsterdam
`)
	cfg, err := config.Load(path, envOf(map[string]string{
		"MFABOT_SLACK_BOT_TOKEN": "xoxb-1",
		"MFABOT_SLACK_CHANNEL":   "C0999", // the environment wins over the file
		"MFABOT_EXPIRY_RESET":    "15m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"listen", cfg.Listen, "127.0.0.1:9000"},
		{"default db", cfg.DB, "mfabot.db"},
		{"secret from file", cfg.ClientSecret, "s3cret-from-file"},
		{"env over file", cfg.SlackChannel, "C0999"},
		{"user map", cfg.SlackUsers["U1"], "oid-1"},
		{"list", cfg.Requesters, "slack:U1,entra-group:MFA Admins"},
		{"timezone", cfg.SummaryTimezone, "Europe/Amsterdam"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	p, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.Expiry["reset"] != 15*time.Minute || p.Expiry["enforce"] != 30*time.Minute || len(p.Requesters) != 2 {
		t.Fatalf("policy = %+v", p)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"ErrUnknownKey", "graph:\n  tenant: x\n", nil, `unknown key "graph.tenant"`},
		{"ErrUnknownTopKey", "lisen: :80\n", nil, `unknown key "lisen"`},
		{"ErrSecretInFile", "slack:\n  bot_token: xoxb-123\n", nil, "slack.bot_token is a secret"},
		{"ErrBadDuration", "policy:\n  expiry: soon\n", nil, "not a duration"},
		{"ErrBadEnvNumber", "", map[string]string{"MFABOT_CONFIRM_ABOVE": "many"}, "MFABOT_CONFIRM_ABOVE"},
		{"ErrMissingSecretFile", "graph:\n  client_secret_file: /nonexistent/secret\n", nil, "read secret file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(writeFile(t, "c.yaml", tt.yaml), envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if strings.Contains(tt.yaml, "xoxb-123") && strings.Contains(err.Error(), "xoxb-123") {
				t.Fatal("the error repeats the secret")
			}
		})
	}
}

func TestValidateNamesKeys(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", envOf(map[string]string{
		"MFABOT_SLACK_BOT_TOKEN": "not-a-bot-token",
		"MFABOT_GRAPH_URL":       "http://graph.example.com",
		"MFABOT_REQUESTERS":      "slack:U1",
		"MFABOT_APPROVERS":       "bogus",
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"graph.tenant_id (AZURE_TENANT_ID): required",
		"graph.client_id (AZURE_CLIENT_ID): required",
		"graph.url (MFABOT_GRAPH_URL)",
		"slack.signing_secret (MFABOT_SLACK_SIGNING_SECRET)",
		"slack.channel (MFABOT_SLACK_CHANNEL)",
		"slack.bot_token (MFABOT_SLACK_BOT_TOKEN): must be a bot token",
		"policy.approvers (MFABOT_APPROVERS)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validation does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "not-a-bot-token") {
		t.Error("validation repeats the secret")
	}
}

// TestExampleConfig: the printed example is a valid configuration file as it stands.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	ex := config.Example()
	if _, err := config.Load(writeFile(t, "example.yaml", ex), envOf(nil)); err != nil {
		t.Fatalf("example does not load: %v\n%s", err, ex)
	}
	for _, s := range config.Settings() {
		if !strings.Contains(ex, s.Env) {
			t.Errorf("example does not mention %s", s.Env)
		}
	}
}

// TestREADMEDocumentsEverySetting: the environment names are a public contract.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range config.Settings() {
		if !strings.Contains(string(readme), "`"+s.Env+"`") {
			t.Errorf("README.md does not document %s (%s)", s.Env, s.Key)
		}
	}
}

// graph.cloud sets the Graph URL and the token authority together; explicit values win.
func TestGraphCloud(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cloud, url, authority string
		vars                  map[string]string
	}{
		{"", "https://graph.microsoft.com", "", nil},
		{"public", "https://graph.microsoft.com", "", nil},
		{"usgov", "https://graph.microsoft.us", "https://login.microsoftonline.us/", nil},
		{"USGovDoD", "https://dod-graph.microsoft.us", "https://login.microsoftonline.us/", nil},
		{"china", "https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn/", nil},
		{"usgov", "https://graph-proxy.contoso.us", "https://login.microsoftonline.us/", map[string]string{"MFABOT_GRAPH_URL": "https://graph-proxy.contoso.us"}},
	} {
		t.Run(tt.cloud+tt.url, func(t *testing.T) {
			vars := map[string]string{"MFABOT_GRAPH_CLOUD": tt.cloud}
			for k, v := range tt.vars {
				vars[k] = v
			}
			cfg, err := config.Load("", envOf(vars))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.GraphURL != tt.url || cfg.AuthorityHost != tt.authority {
				t.Fatalf("graph %q authority %q; want %q and %q", cfg.GraphURL, cfg.AuthorityHost, tt.url, tt.authority)
			}
		})
	}
	cfg, _ := config.Load("", envOf(map[string]string{"MFABOT_GRAPH_CLOUD": "germany"}))
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "graph.cloud (MFABOT_GRAPH_CLOUD)") {
		t.Fatalf("unknown cloud: %v", err)
	}
}

// Plain http is allowed to this machine only, by exact host.
func TestGraphURLLoopbackOnly(t *testing.T) {
	t.Parallel()
	for u, ok := range map[string]bool{
		"http://127.0.0.1:8080":        true,
		"http://localhost:9000/":       true,
		"http://[::1]:80":              true,
		"http://localhost.evil.com":    false,
		"http://127.0.0.1.nip.io":      false,
		"http://graph.microsoft.com":   false,
		"https://graph.microsoft.com/": true,
	} {
		cfg, _ := config.Load("", envOf(map[string]string{"MFABOT_GRAPH_URL": u}))
		err := cfg.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "graph.url"); got != ok {
			t.Errorf("%s: accepted %v, want %v (%v)", u, got, ok, err)
		}
	}
}

// TestValidateUsesAdapterRules: the Slack and Teams rules are the adapters' own (what
// serve would refuse, Validate refuses), each problem named by its key and variable.
func TestValidateUsesAdapterRules(t *testing.T) {
	base := map[string]string{
		"AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111", "AZURE_CLIENT_ID": "22222222-2222-2222-2222-222222222222",
		"MFABOT_SLACK_BOT_TOKEN": "xoxb-1-2-abc", "MFABOT_SLACK_SIGNING_SECRET": "s", "MFABOT_SLACK_CHANNEL": "C0123ABCD",
		"MFABOT_TEAMS_APP_ID": "33333333-3333-3333-3333-333333333333", "MFABOT_TEAMS_APP_PASSWORD": "p",
		"MFABOT_TEAMS_TENANT_ID": "11111111-1111-1111-1111-111111111111", "MFABOT_TEAMS_CHANNEL": "19:a@thread.tacv2",
		"MFABOT_REQUESTERS": "teams:44444444-4444-4444-4444-444444444444", "MFABOT_APPROVERS": "teams:55555555-5555-5555-5555-555555555555",
	}
	tests := []struct {
		name string
		vars map[string]string
		want string // "" for valid
	}{
		{"OK", nil, ""},
		{"ErrSlackChannelName", map[string]string{"MFABOT_SLACK_CHANNEL": "mfa-approvals"},
			"slack.channel (MFABOT_SLACK_CHANNEL): must be a channel id such as C0123ABCD, not a name"},
		{"ErrSlackAPIPlainHTTP", map[string]string{"MFABOT_SLACK_API_URL": "http://slack.example.com/api/"},
			"slack.api_url (MFABOT_SLACK_API_URL): must be https (plain http only for localhost)"},
		{"ErrSlackWorkspaceName", map[string]string{"MFABOT_SLACK_TEAM_ID": "contoso"}, "slack.team_id (MFABOT_SLACK_TEAM_ID): must be a workspace id"},
		{"ErrTeamsAppIDNotGUID", map[string]string{"MFABOT_TEAMS_APP_ID": "mfabot"}, "teams.app_id (MFABOT_TEAMS_APP_ID): must be a GUID"},
		{"ErrTeamsMultiTenantWithoutTenant", map[string]string{"MFABOT_TEAMS_MULTI_TENANT": "true", "MFABOT_TEAMS_TENANT_ID": ""},
			"teams.tenant_id (MFABOT_TEAMS_TENANT_ID): is required"},
		{"ErrTeamsAuthorityNotHTTPS", map[string]string{"AZURE_AUTHORITY_HOST": "login.microsoftonline.com"},
			"graph.authority_host (AZURE_AUTHORITY_HOST): must be an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			cfg, err := config.Load("", envOf(vars))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want it to say %q", err, tt.want)
			}
		})
	}
}
