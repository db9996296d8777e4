package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/graph/graphtest"
)

const malloryAADObject = "0c0c0c0c-1111-2222-3333-444444444444"

// TestInsiderEndToEnd plays an insider's attacks on the two-person rule through the App,
// with Slack and Teams both on and the approvers named as an Entra group:
//   - Mallory, an ordinary employee, created a Microsoft 365 group whose alias is the
//     approvers group's name and put herself in it;
//   - Ann asks on Slack and approves on Teams, as the same person;
//   - Ben, an approver, left the company: his account is disabled while his chat
//     session lives.
//
// Every attempt is refused to the clicker and audited; the real approver's click counts.
func TestInsiderEndToEnd(t *testing.T) {
	t.Parallel()
	const secret = "e2e-insider-signing-secret"
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"}
	mal := slacktest.User{ID: "UMAL", Name: "mallory", RealName: "Mallory", Email: "mallory@contoso.com"}
	fake.AddUser(ann)
	fake.AddUser(mal)
	auth := teamstest.NewAuthority(t)
	conn := teamstest.NewConnector(t)
	ts := teamstest.NewTokenServer(t, teamsTenantID, teamsAppID, teamsSecret)
	cred, err := azidentity.NewClientSecretCredential(teamsTenantID, teamsAppID, teamsSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: ts.AuthorityHost()}, Transport: ts.Client()},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.RequireToken(ts.Valid)

	var approvers graphtest.Group
	app := startAppOn(t, map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": secret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_SLACK_USERS":          "UANN=" + annAADObject + ",UMAL=" + malloryAADObject,
		"MFABOT_TEAMS_APP_ID":         teamsAppID,
		"MFABOT_TEAMS_APP_PASSWORD":   teamsSecret,
		"MFABOT_TEAMS_TENANT_ID":      teamsTenantID,
		"MFABOT_TEAMS_OPENID_URL":     auth.OpenIDURL(),
		"MFABOT_TEAMS_CHANNEL":        teamsChannel,
		"MFABOT_REQUESTERS":           "entra-group:MFA Approvers",
		"MFABOT_APPROVERS":            "entra-group:MFA Approvers",
	}, appDeps{TeamsCredential: cred}, func(tn *graphtest.Tenant) {
		var err error
		if approvers, err = tn.AddGroup(graphtest.Group{DisplayName: "MFA Approvers", MailNickname: "mfa-approvers"}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{annAADObject, benAADObject} {
			if err := tn.AddMember(approvers.ID, id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tn.AddUser(graphtest.User{ID: malloryAADObject, UserPrincipalName: "mallory@" + tn.Domain(), DisplayName: "Mallory", AccountEnabled: true}); err != nil {
			t.Fatal(err)
		}
		// Any employee may create a Microsoft 365 group and choose its alias.
		lookAlike, err := tn.AddGroup(graphtest.Group{DisplayName: "Mallory's projects", MailNickname: "MFA Approvers"})
		if err != nil {
			t.Fatal(err)
		}
		if err := tn.AddMember(lookAlike.ID, malloryAADObject); err != nil {
			t.Fatal(err)
		}
	})
	if p := app.Service.Policy(); !p.RequireLink || p.Approvers[0].Value != approvers.ID {
		t.Fatalf("policy: links required %v, approvers pinned to %v (want %s)", p.RequireLink, p.Approvers, approvers.ID)
	}
	ctx := context.Background()
	send := slacktest.Sender{URL: app.URL, Secret: secret}
	c := &teamsClient{t: t, url: app.URL, auth: auth, conn: conn, tenant: teamsTenantID}

	// Mallory, in the look-alike group, may not even ask.
	if ans, err := send.Command(ctx, fake.Command(mal, slacktest.Channel, "reset adele.vance@contoso.com")); err != nil || ans.Status != 200 {
		t.Fatalf("Mallory's request: %d %v", ans.Status, err)
	}
	waitFor(t, "the refusal of Mallory's request", func() bool {
		for _, c := range fake.Calls("response_url") {
			if strings.Contains(c.Args["text"]+c.Args["blocks"], "only mfabot admins") {
				return true
			}
		}
		return false
	})
	// Ann asks on Slack.
	if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, "reset adele.vance@contoso.com lost phone")); err != nil || ans.Status != 200 {
		t.Fatalf("Ann's request: %d %v", ans.Status, err)
	}
	var id string
	waitFor(t, "the request", func() bool {
		rs := app.requests(t)
		if len(rs) == 1 {
			id = rs[0].ID
		}
		return id != ""
	})
	refused := func(who, aad, wants string) {
		t.Helper()
		st, body := c.post(c.good(), c.invoke(aad, who, "approve "+id, "card-1"))
		if st != 200 || !strings.Contains(string(body), wants) {
			t.Fatalf("%s's approval: %d %s; want it refused saying %q", who, st, body, wants)
		}
		if r, _ := app.DB.Request(ctx, id); r.State != approvals.StatePending {
			t.Fatalf("state after %s's approval: %s", who, r.State)
		}
	}
	// Ann on Teams is Ann on Slack: her own request.
	refused("ann", annAADObject, "your own request")
	// The look-alike group makes no one an approver.
	refused("mallory", malloryAADObject, "only members of the Entra group MFA Approvers")
	// Ben left: his account is disabled while his Teams session lives.
	if err := app.Graph.Tenant().SetAccountEnabled(benAADObject, false); err != nil {
		t.Fatal(err)
	}
	refused("ben", benAADObject, "disabled")

	var got []string
	if err := app.DB.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.Type == approvals.EventRefused {
			got = append(got, ev.Actor.Key()+": "+ev.Detail)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"slack:UMAL: only mfabot admins", "teams:" + annAADObject + ": tried to approve their own request",
		"teams:" + malloryAADObject + ": only members of", "teams:" + benAADObject + ": your Entra account"} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("audit lacks the refusal %q; it has:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// With two platforms on, a slack: principal that is not linked to Entra could act as a
// second person: mfabot refuses to start.
func TestUnlinkedSlackPrincipalRefusedAtStart(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"MFABOT_DB": "x.db", "AZURE_TENANT_ID": teamsTenantID, "AZURE_CLIENT_ID": teamsAppID,
		"MFABOT_SLACK_BOT_TOKEN": slacktest.BotToken, "MFABOT_SLACK_SIGNING_SECRET": "s", "MFABOT_SLACK_CHANNEL": slacktest.Channel,
		"MFABOT_TEAMS_APP_ID": teamsAppID, "MFABOT_TEAMS_APP_PASSWORD": "p", "MFABOT_TEAMS_TENANT_ID": teamsTenantID, "MFABOT_TEAMS_CHANNEL": teamsChannel,
		"MFABOT_REQUESTERS": "slack:UANN,teams:" + annAADObject, "MFABOT_APPROVERS": "slack:UBEN,teams:" + benAADObject,
	}
	cfg, err := config.Load("", envOf(vars))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "UANN, UBEN not linked to an Entra user") {
		t.Fatalf("Validate = %v", err)
	}
	vars["MFABOT_SLACK_USERS"] = "UANN=" + annAADObject + ",UBEN=not-a-guid"
	cfg, _ = config.Load("", envOf(vars))
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `UBEN="not-a-guid": the link must be an Entra object id`) {
		t.Fatalf("Validate = %v", err)
	}
}
