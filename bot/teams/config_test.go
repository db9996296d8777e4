package teams_test

import (
	"strings"
	"testing"

	"github.com/mfabot/mfabot/bot/teams"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := teams.Config{AppID: appID, AppPassword: "secret", TenantID: tenantID, Channel: channelID}
	tests := []struct {
		name   string
		mutate func(c *teams.Config)
		want   []string // fragments each expected in the error; none for OK
	}{
		{"OK", func(c *teams.Config) {}, nil},
		{"OKWithCredentialInsteadOfPassword", func(c *teams.Config) { c.AppPassword = ""; c.Credential = &staticCredential{} }, nil},
		{"OKLoopbackHTTPOpenID", func(c *teams.Config) { c.OpenIDURL = "http://127.0.0.1:8080/v1/.well-known/openidconfiguration" }, nil},
		{"ErrEmpty", func(c *teams.Config) { *c = teams.Config{} }, []string{"AppID (MFABOT_TEAMS_APP_ID) is required", "TenantID (MFABOT_TEAMS_TENANT_ID) is required", "AppPassword (MFABOT_TEAMS_APP_PASSWORD) is required"}},
		{"ErrAppIDNotGUID", func(c *teams.Config) { c.AppID = "mfabot" }, []string{"AppID (MFABOT_TEAMS_APP_ID) must be a GUID"}},
		{"ErrTenantNotGUID", func(c *teams.Config) { c.TenantID = "contoso.onmicrosoft.com" }, []string{"TenantID (MFABOT_TEAMS_TENANT_ID) must be a GUID"}},
		{"ErrOpenIDPlainHTTP", func(c *teams.Config) {
			c.OpenIDURL = "http://login.botframework.com/v1/.well-known/openidconfiguration"
		}, []string{"OpenIDURL (MFABOT_TEAMS_OPENID_URL)"}},
		{"ErrAuthorityHost", func(c *teams.Config) { c.AuthorityHost = "login.microsoftonline.com" }, []string{"AuthorityHost (AZURE_AUTHORITY_HOST)"}},
		{"ErrChannel", func(c *teams.Config) { c.Channel = "General channel" }, []string{"Channel (MFABOT_TEAMS_CHANNEL)"}},
		{"ErrNegativeTimeout", func(c *teams.Config) { c.InvokeTimeout = -1 }, []string{"InvokeTimeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	if _, err := teams.New(teams.Config{}, newDispatcher(), nil); err == nil {
		t.Fatal("New accepted an empty config")
	}
}
