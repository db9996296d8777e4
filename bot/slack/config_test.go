package slack_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := slack.Config{BotToken: "xoxb-1-2-abc", SigningSecret: "s3cret", Channel: "C0APPROVALS"}
	tests := []struct {
		name   string
		change func(c *slack.Config)
		fields []string // each must be named in the error; none for OK
	}{
		{"OKHTTP", func(*slack.Config) {}, nil},
		{"OKSocketMode", func(c *slack.Config) { c.SigningSecret, c.AppToken = "", "xapp-1-A1-2-abc" }, nil},
		{"OKLocalAPI", func(c *slack.Config) { c.APIURL = "http://127.0.0.1:8080/api/" }, nil},
		{"OKWorkspaceAndMap", func(c *slack.Config) {
			c.TeamID, c.EnterpriseID, c.AppID = "T0123ABCD", "E0123ABCD", "A0123ABCD"
			c.UserMap = map[string]string{"U0123ABCD": "3f1c…", "W0123ABCD": "9a0b…"}
		}, nil},
		{"ErrNoBotToken", func(c *slack.Config) { c.BotToken = "" }, []string{"BotToken", "MFABOT_SLACK_BOT_TOKEN"}},
		{"ErrUserToken", func(c *slack.Config) { c.BotToken = "xoxp-user" }, []string{"BotToken"}},
		{"ErrNoSecretNorAppToken", func(c *slack.Config) { c.SigningSecret = "" }, []string{"SigningSecret", "MFABOT_SLACK_APP_TOKEN"}},
		{"ErrBotTokenAsAppToken", func(c *slack.Config) { c.AppToken = "xoxb-1" }, []string{"AppToken"}},
		{"ErrPlainHTTPAPI", func(c *slack.Config) { c.APIURL = "http://slack.example.com/api/" }, []string{"APIURL"}},
		{"ErrChannelName", func(c *slack.Config) { c.Channel = "#approvals" }, []string{"Channel", "not a name"}},
		{"ErrNoChannel", func(c *slack.Config) { c.Channel = "" }, []string{"Channel"}},
		{"ErrTeamName", func(c *slack.Config) { c.TeamID = "contoso" }, []string{"TeamID"}},
		{"ErrUserMapKey", func(c *slack.Config) { c.UserMap = map[string]string{"ann@contoso.com": "oid"} }, []string{"UserMap"}},
		{"ErrUserMapValue", func(c *slack.Config) { c.UserMap = map[string]string{"U0123ABCD": " "} }, []string{"UserMap"}},
		{"ErrNegative", func(c *slack.Config) { c.UpdateInterval = -1 }, []string{"UpdateInterval"}},
		{"ErrSeveral", func(c *slack.Config) { c.BotToken, c.Channel = "", "" }, []string{"BotToken", "Channel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var e *approvals.Error
			if !errors.As(err, &e) || e.Code != approvals.EINVALID {
				t.Fatalf("Validate = %v, want EINVALID", err)
			}
			for _, f := range tt.fields {
				if !strings.Contains(err.Error(), f) {
					t.Fatalf("error %q does not name %s", err, f)
				}
			}
			if _, err := slack.New(c, newRecorder(nil), nil); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	if _, err := slack.New(ok, nil, nil); approvals.ErrorCode(err) != approvals.EINVALID {
		t.Fatalf("New without dispatcher: %v", err)
	}
}
