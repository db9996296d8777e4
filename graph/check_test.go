package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: 20})
			if tt.tenant != nil {
				tt.tenant(tenant)
			}
			srv := graphtest.Start(t, tenant, graphtest.Options{})
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
