package teams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// findings records what Check reports, one "status check: message" line each.
type findings struct{ lines []string }

func (f *findings) OK(check, msg, _ string)   { f.add("ok", check, msg) }
func (f *findings) Warn(check, msg, _ string) { f.add("warn", check, msg) }
func (f *findings) Fail(check, msg, fix string) {
	f.add("fail", check, msg+" | fix: "+fix)
}
func (f *findings) add(status, check, msg string) {
	f.lines = append(f.lines, fmt.Sprintf("%s %s: %s", status, check, msg))
}

func TestCheck(t *testing.T) {
	const password = "the-bot-password"
	stored := teams.ConversationRef{Kind: teams.RefConversation, ServiceURL: "https://smba.trafficmanager.net/emea/", TenantID: tenantID,
		ConversationID: channelID, ConversationType: "channel", Name: "MFA approvals", TeamName: "IT Admins"}
	tests := []struct {
		name    string
		change  func(c *teams.Config, o *teams.CheckOptions)
		refs    []teams.ConversationRef
		want    []string // line prefixes
		wantNot string   // a check that must not be reported
	}{
		{name: "OK", refs: []teams.ConversationRef{stored}, want: []string{
			"ok teams.token: Bot Framework token obtained for app " + appID + " from tenant " + tenantID,
			"ok teams.openid: 1 Bot Framework signing keys readable",
			`ok teams.channel: the bot knows the approvals channel ` + channelID + ` ("MFA approvals" in team "IT Admins")`,
		}},
		{name: "ErrPasswordExplained", change: func(c *teams.Config, o *teams.CheckOptions) {
			c.AppPassword = "wrong"
			o.ExplainTokenError = func(err error, app, tenant string) (string, string) { return "refused", "check " + app }
		}, want: []string{
			"fail teams.token: Entra ID refused a Bot Framework token to app " + appID + " in tenant " + tenantID + ": refused | fix: check teams.app_id (MFABOT_TEAMS_APP_ID); the password is",
		}},
		{name: "ErrOpenIDUnreachable", change: func(c *teams.Config, _ *teams.CheckOptions) {
			c.OpenIDURL = "http://127.0.0.1:1/v1/.well-known/openidconfiguration"
		}, want: []string{"fail teams.openid: cannot read the Bot Framework OpenID metadata: "}},
		{name: "WarnChannelNotYetKnown", want: []string{"warn teams.channel: the bot has not been added to the approvals channel " + channelID}},
		{name: "OKNoStoreNoChannelCheck", change: func(_ *teams.Config, o *teams.CheckOptions) { o.Store = nil },
			wantNot: teams.CheckChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens := teamstest.NewTokenServer(t, tenantID, appID, password)
			db := storagetest.Open(t)
			for _, r := range tt.refs {
				b, _ := json.Marshal(r)
				if err := db.PutConversation(context.Background(), teams.PlatformName, r.ConversationID, b); err != nil {
					t.Fatal(err)
				}
			}
			cfg := teams.Config{AppID: appID, AppPassword: password, TenantID: tenantID, Channel: channelID,
				OpenIDURL: teamstest.NewAuthority(t).OpenIDURL(), AuthorityHost: tokens.AuthorityHost(), HTTPClient: tokens.Client()}
			o := teams.CheckOptions{Store: db}
			if tt.change != nil {
				tt.change(&cfg, &o)
			}
			var f findings
			teams.Check(context.Background(), cfg, o, &f)
			for _, w := range tt.want {
				if !slices.ContainsFunc(f.lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("no %q in:\n%s", w, strings.Join(f.lines, "\n"))
				}
			}
			if tt.wantNot != "" && slices.ContainsFunc(f.lines, func(l string) bool { return strings.Contains(l, " "+tt.wantNot+": ") }) {
				t.Errorf("%s reported:\n%s", tt.wantNot, strings.Join(f.lines, "\n"))
			}
		})
	}
}

// TestCheckTokenWithoutExplainer: without ExplainTokenError the refusal is the error's
// first line.
func TestCheckTokenWithoutExplainer(t *testing.T) {
	var f findings
	cred := &failingCredential{err: errors.New("authority unreachable\nsecond line")}
	teams.Check(context.Background(), teams.Config{AppID: appID, TenantID: tenantID, Credential: cred,
		OpenIDURL: teamstest.NewAuthority(t).OpenIDURL()}, teams.CheckOptions{}, &f)
	if !slices.ContainsFunc(f.lines, func(l string) bool {
		return strings.HasPrefix(l, "fail teams.token: Entra ID refused a Bot Framework token to app "+appID+" in tenant "+tenantID+": authority unreachable |")
	}) {
		t.Errorf("lines:\n%s", strings.Join(f.lines, "\n"))
	}
}

// failingCredential refuses every token request with err.
type failingCredential struct{ err error }

func (c *failingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, c.err
}
