package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// findings records what Check reports, one "status check: message | fix" line each.
type findings struct{ lines []string }

func (f *findings) OK(check, msg, _ string)     { f.add("ok", check, msg, "") }
func (f *findings) Warn(check, msg, fix string) { f.add("warn", check, msg, fix) }
func (f *findings) Fail(check, msg, fix string) { f.add("fail", check, msg, fix) }
func (f *findings) add(status, check, msg, fix string) {
	f.lines = append(f.lines, fmt.Sprintf("%s %s: %s | %s", status, check, msg, fix))
}

func grantMail(tn *graphtest.Tenant) { tn.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send")) }

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		tenant func(*graphtest.Tenant)
		server func(*graphtest.Server)
		change func(c *graph.CheckConfig)
		want   []string // line prefixes
		says   string   // in the report too
	}{
		{name: "OK", want: []string{
			"ok graph.token: token for ", "ok graph.permissions: every permission mfabot needs is granted (read from the app's service principal)",
			"ok graph.licence: ", `ok policy.groups: groups pinned to object ids: protected "` + graphtest.GroupEmergencyAccess + `" = `,
		}},
		{name: "ErrSecretExplained", change: func(c *graph.CheckConfig) { c.Credential.ClientSecret = "wrong" },
			want: []string{"fail graph.token: Entra ID refused a token to app "},
			says: "(client secret): invalid_client (AADSTS7000215: Invalid client secret provided."},
		{name: "WarnEnforceGrantWithEnforceOff", change: func(c *graph.CheckConfig) { c.Enforce = false }, want: []string{
			"warn graph.permissions: Policy.ReadWrite.AuthenticationMethod is granted but mfabot does not need it",
		}},
		{name: "ErrMailSendMissing", change: func(c *graph.CheckConfig) { c.MailFrom = graphtest.AdeleUPN }, want: []string{
			"fail graph.permissions: Mail.Send is missing: needed for nudges and notices by e-mail", "ok graph.mailbox: nudges and notices are mailed from " + graphtest.AdeleUPN,
		}},
		{name: "OKMailbox", tenant: grantMail, change: func(c *graph.CheckConfig) { c.MailFrom = graphtest.AdeleUPN }, want: []string{
			"ok graph.permissions: every permission", "ok graph.mailbox: ",
		}},
		{name: "ErrNoSuchMailbox", tenant: grantMail, change: func(c *graph.CheckConfig) { c.MailFrom = "helpdesk@contoso.com" }, want: []string{
			"fail graph.mailbox: notify.mail_from helpdesk@contoso.com: no user helpdesk@contoso.com",
		}},
		{name: "WarnMailSendWithoutMailbox", tenant: grantMail, want: []string{
			"warn graph.permissions: Mail.Send is granted but mfabot does not need it",
		}},
		{name: "WarnUnlicensed", tenant: func(tn *graphtest.Tenant) { tn.SetLicensed(false) }, want: []string{
			"warn graph.licence: the tenant has no Microsoft Entra ID P1/P2",
		}},
		{name: "OKStepUp", server: func(s *graphtest.Server) { s.SetRedirectURIs("https://app.contoso.com/", stepUpRedirect) }, change: stepUpOn,
			want: []string{"ok graph.redirect_uri: the app registration has the Web redirect URI " + stepUpRedirect + " and the ID token claim auth_time"}},
		{name: "ErrStepUpRedirectMissing", server: func(s *graphtest.Server) { s.SetRedirectURIs("https://app.contoso.com/") }, change: stepUpOn,
			want: []string{"fail graph.redirect_uri: the app registration lacks the Web redirect URI " + stepUpRedirect + " (it has https://app.contoso.com/)"},
			says: "Authentication → Add a platform → Web"},
		{name: "ErrStepUpNoAuthTime", server: func(s *graphtest.Server) { s.SetRedirectURIs(stepUpRedirect); s.SetIDTokenOptionalClaims() }, change: stepUpOn,
			want: []string{"fail graph.redirect_uri: the app registration's ID token lacks the optional claim auth_time"},
			says: "Token configuration → Add optional claim → ID → auth_time"},
		{name: "WarnStepUpUnreadable", tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(slices.DeleteFunc(graphtest.DefaultGranted(), func(p string) bool { return p == "Application.Read.All" }))
		}, change: stepUpOn, want: []string{"warn graph.redirect_uri: cannot read the app registration"}, says: "Application.Read.All"},
		// --tap on: Policy.Read.All is needed, and the Temporary Access Pass policy is read.
		{name: "OKTAPPolicy", tenant: tapTenant(graphtest.EnabledTAPPolicy(), "Policy.Read.All"), change: withTAP(time.Hour, true), want: []string{
			"ok graph.permissions: every permission", "ok graph.tap_policy: the Temporary Access Pass policy is enabled; passes of valid 1 h, usable once are allowed (policy 1h0m0s to 8h0m0s), for all users",
		}},
		{name: "ErrTAPPolicyDisabled", tenant: tapTenant(graphtest.DefaultTAPPolicy(), "Policy.Read.All"), change: withTAP(time.Hour, true), want: []string{
			"fail graph.tap_policy: the tenant's Temporary Access Pass policy is disabled",
		}},
		{name: "ErrTAPWithoutPolicyReadAll", tenant: tapTenant(graphtest.EnabledTAPPolicy()), change: withTAP(time.Hour, true), want: []string{
			"fail graph.permissions: Policy.Read.All is missing: needed for mfabot doctor's check of the Temporary Access Pass policy",
		}},
		{name: "ErrTAPLifetimeOutsidePolicy", tenant: tapTenant(graphtest.EnabledTAPPolicy(), "Policy.Read.All"), change: withTAP(24*time.Hour, true), want: []string{
			"fail graph.tap_policy: policy.tap_lifetime 24h0m0s is outside the policy's lifetimes (1h0m0s to 8h0m0s)",
		}},
		{name: "ErrTAPMultiUseRefused", tenant: func(tn *graphtest.Tenant) {
			p := graphtest.EnabledTAPPolicy()
			p.IsUsableOnce = true
			tapTenant(p, "Policy.Read.All")(tn)
		}, change: withTAP(time.Hour, false), want: []string{
			"fail graph.tap_policy: the policy allows one-time passes only",
		}},
		{name: "WarnTAPPolicyForSomeGroups", tenant: func(tn *graphtest.Tenant) {
			p := graphtest.EnabledTAPPolicy()
			p.IncludeGroups = []string{"6f1c8e2a-0000-4000-8000-000000000001"}
			tapTenant(p, "Policy.Read.All")(tn)
		}, change: withTAP(time.Hour, true), want: []string{
			"warn graph.tap_policy: the Temporary Access Pass policy is enabled; passes of valid 1 h, usable once are allowed (policy 1h0m0s to 8h0m0s), but not for every user",
		}},
		{name: "WarnPolicyReadAllWithTAPOff", tenant: tapTenant(graphtest.EnabledTAPPolicy(), "Policy.Read.All"), want: []string{
			"warn graph.permissions: Policy.Read.All is granted but mfabot does not need it",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: 20})
			if tt.tenant != nil {
				tt.tenant(tenant)
			}
			srv := graphtest.Start(t, tenant, graphtest.Options{})
			if tt.server != nil {
				tt.server(srv)
			}
			pol := approvals.Policy{ProtectedGroups: []string{graphtest.GroupEmergencyAccess}}
			cfg := graph.CheckConfig{
				Credential: graph.CredentialOptions{TenantID: srv.Tenant().ID(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
					AuthorityHost: srv.AuthorityURL()},
				BaseURL: srv.URL(), Enforce: true, Policy: &pol, HTTPClient: srv.HTTPClient(),
			}
			if tt.change != nil {
				tt.change(&cfg)
			}
			var f findings
			graph.Check(context.Background(), cfg, &f)
			for _, w := range tt.want {
				if !slices.ContainsFunc(f.lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("no %q in:\n%s", w, strings.Join(f.lines, "\n"))
				}
			}
			if all := strings.Join(f.lines, "\n"); !strings.Contains(all, tt.says) {
				t.Errorf("no %q in:\n%s", tt.says, all)
			}
		})
	}
}

const stepUpRedirect = "https://mfabot.contoso.com/stepup/callback"

func stepUpOn(c *graph.CheckConfig) { c.StepUpRedirectURI = stepUpRedirect }

// tapTenant sets the tenant's Temporary Access Pass policy and grants the default
// permissions plus extra.
func tapTenant(p graphtest.TAPPolicy, extra ...string) func(*graphtest.Tenant) {
	return func(tn *graphtest.Tenant) {
		tn.SetTAPPolicy(p)
		tn.SetGranted(append(graphtest.DefaultGranted(), extra...))
	}
}

// withTAP turns --tap on in the check, with passes of these terms.
func withTAP(lifetime time.Duration, oneTime bool) func(*graph.CheckConfig) {
	return func(c *graph.CheckConfig) { c.TAP, c.TAPLifetime, c.TAPOneTime = true, lifetime, oneTime }
}
