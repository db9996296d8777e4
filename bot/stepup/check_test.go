package stepup_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// findings records what Check reports, "status check: message | fix" each.
type findings struct{ lines []string }

func (f *findings) OK(check, msg, _ string)     { f.add("ok", check, msg, "") }
func (f *findings) Warn(check, msg, fix string) { f.add("warn", check, msg, fix) }
func (f *findings) Fail(check, msg, fix string) { f.add("fail", check, msg, fix) }
func (f *findings) add(status, check, msg, fix string) {
	f.lines = append(f.lines, fmt.Sprintf("%s %s: %s | %s", status, check, msg, fix))
}

func TestCheck(t *testing.T) {
	t.Parallel()
	gs := graphtest.Start(t, graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10}), graphtest.Options{})
	good := stepup.Config{PublicURL: "https://mfabot.contoso.com", TenantID: gs.Tenant().ID(), ClientID: gs.ClientID(),
		ClientSecret: gs.ClientSecret(), AuthorityHost: gs.AuthorityURL(), HTTPClient: gs.HTTPClient()}
	tests := []struct {
		name   string
		change func(*stepup.Config)
		want   string // a line prefix
		says   string
	}{
		{"OK", nil, "ok stepup.authority: sign-in metadata of tenant " + gs.Tenant().ID() + " loads (issuer " + gs.AuthorityURL() + gs.Tenant().ID() + "/v2.0, 1 signing keys)",
			"redeemed with the client secret of app " + gs.ClientID() + "; redirect URI https://mfabot.contoso.com/stepup/callback"},
		{"ErrNoCredential", func(c *stepup.Config) { c.ClientSecret = "" }, "fail stepup.authority: step-up cannot run: step-up redeems the sign-in as the app registration",
			"a managed identity cannot"},
		{"ErrPublicURL", func(c *stepup.Config) { c.PublicURL = "http://mfabot.contoso.com" }, "fail stepup.authority: step-up cannot run: public URL:", "https://"},
		{"ErrUnreachable", func(c *stepup.Config) { c.AuthorityHost = "https://127.0.0.1:1/" }, "fail stepup.authority: Entra ID's OpenID metadata does not load",
			"AZURE_TENANT_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			if tt.change != nil {
				tt.change(&cfg)
			}
			var f findings
			stepup.Check(context.Background(), cfg, &f)
			if !slices.ContainsFunc(f.lines, func(l string) bool { return strings.HasPrefix(l, tt.want) }) || !strings.Contains(strings.Join(f.lines, "\n"), tt.says) {
				t.Fatalf("want %q saying %q in:\n%s", tt.want, tt.says, strings.Join(f.lines, "\n"))
			}
		})
	}
}
