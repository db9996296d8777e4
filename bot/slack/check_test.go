package slack_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// findings records what Check reports, one "status check: message" line each.
type findings struct{ lines []string }

func (f *findings) OK(check, msg, _ string)   { f.add("ok", check, msg) }
func (f *findings) Warn(check, msg, _ string) { f.add("warn", check, msg) }
func (f *findings) Fail(check, msg, _ string) { f.add("fail", check, msg) }
func (f *findings) add(status, check, msg string) {
	f.lines = append(f.lines, fmt.Sprintf("%s %s: %s", status, check, msg))
}

func (f *findings) has(prefix string) bool {
	return slices.ContainsFunc(f.lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func TestCheck(t *testing.T) {
	const secret = "5f2b8c0e9a7d4e1f3b6c8a0d2e4f6a8b"
	tests := []struct {
		name   string
		change func(c *slack.Config, fake *slacktest.Server)
		want   []string // line prefixes
	}{
		{"OKHTTPMode", func(*slack.Config, *slacktest.Server) {}, []string{
			"ok slack.token: bot token valid: workspace mfabot test (" + slacktest.TeamID + ")",
			"ok slack.scopes: every bot scope mfabot needs is granted",
			"ok slack.signing_secret: ",
		}},
		{"OKSocketMode", func(c *slack.Config, _ *slacktest.Server) { c.SigningSecret, c.AppToken = "", slacktest.AppToken }, []string{
			"ok slack.app_token: app-level token of app " + slacktest.AppID + " accepted",
		}},
		{"ErrTokenRefused", func(c *slack.Config, _ *slacktest.Server) { c.BotToken = "xoxb-not-the-token" }, []string{
			"fail slack.token: auth.test refused the bot token: invalid_auth",
		}},
		{"ErrOtherApp", func(c *slack.Config, _ *slacktest.Server) { c.AppID = "A0OTHER" }, []string{
			"fail slack.token: the bot token belongs to app " + slacktest.AppID + ", but slack.app_id is A0OTHER",
		}},
		{"ErrMissingScope", func(_ *slack.Config, fake *slacktest.Server) { fake.Scopes = []string{"commands", "chat:write"} }, []string{
			"fail slack.scopes: bot scope files:write is missing",
		}},
		{"WarnSigningSecretShape", func(c *slack.Config, _ *slacktest.Server) { c.SigningSecret = "not-hex" }, []string{
			"warn slack.signing_secret: the signing secret is not 32 hexadecimal characters",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slacktest.Start(t)
			cfg := slack.Config{BotToken: slacktest.BotToken, SigningSecret: secret, Channel: slacktest.Channel, APIURL: fake.APIURL()}
			tt.change(&cfg, fake)
			var f findings
			slack.Check(context.Background(), cfg, &f)
			for _, w := range tt.want {
				if !f.has(w) {
					t.Errorf("no %q in:\n%s", w, strings.Join(f.lines, "\n"))
				}
			}
			if len(fake.Calls("chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.open")) > 0 {
				t.Error("Check posted something")
			}
		})
	}
}

// TestCheckSendsNoStrayToken: a token that is not a bot token, or an API URL that would
// carry it in clear text, is never sent: Validate reports those.
func TestCheckSendsNoStrayToken(t *testing.T) {
	fake := slacktest.Start(t)
	for _, cfg := range []slack.Config{
		{BotToken: "xoxp-a-user-token", Channel: slacktest.Channel, APIURL: fake.APIURL()},
		{BotToken: slacktest.BotToken, Channel: slacktest.Channel, APIURL: "http://slack.example.com/api/"},
	} {
		var f findings
		slack.Check(context.Background(), cfg, &f)
		if len(f.lines) > 0 {
			t.Errorf("Check reported %q", f.lines)
		}
	}
	if calls := fake.Calls(); len(calls) > 0 {
		t.Errorf("Check called Slack: %+v", calls)
	}
}
