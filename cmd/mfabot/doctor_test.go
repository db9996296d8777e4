package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
	"github.com/mfabot/mfabot/cmd/mfabot/doctor"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
)

// signingSecret has the shape of Slack's signing secrets (32 hex characters).
const signingSecret = "5f2b8c0e9a7d4e1f3b6c8a0d2e4f6a8b"

// fakeChannel is a channel as conversations.info describes it.
type fakeChannel struct {
	Name                      string
	Member, Private, Archived bool
}

// slackFront serves conversations.info, which slacktest does not, in front of the fake:
// the same token check and scope header, channels:read (groups:read for a private
// channel) required as Slack does. Every other method goes to the fake.
func slackFront(t *testing.T, fake *slacktest.Server, channels map[string]fakeChannel) string {
	t.Helper()
	target, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/conversations.info", func(w http.ResponseWriter, r *http.Request) {
		scopes := fake.Scopes
		if scopes == nil {
			scopes = slacktest.DefaultScopes
		}
		w.Header().Set("X-OAuth-Scopes", strings.Join(scopes, ","))
		w.Header().Set("Content-Type", "application/json")
		reply := func(v map[string]any) { _ = json.NewEncoder(w).Encode(v) }
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" {
			token = r.FormValue("token") // Slack takes it either way; slack-go sends it in the form
		}
		if token != slacktest.BotToken {
			reply(map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		id := r.FormValue("channel")
		ch, ok := channels[id]
		need := "channels:read"
		if ch.Private {
			need = "groups:read"
		}
		switch {
		case !slices.Contains(scopes, need):
			reply(map[string]any{"ok": false, "error": "missing_scope", "needed": need, "provided": strings.Join(scopes, ",")})
		case !ok || (ch.Private && !ch.Member):
			reply(map[string]any{"ok": false, "error": "channel_not_found"})
		default:
			reply(map[string]any{"ok": true, "channel": map[string]any{
				"id": id, "name": ch.Name, "is_channel": !ch.Private, "is_group": ch.Private, "is_private": ch.Private,
				"is_member": ch.Member, "is_archived": ch.Archived, "created": 1700000000,
			}})
		}
	})
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/api/"
}

// doctorCase is a tenant, a Slack workspace and a configuration to run doctor against.
type doctorCase struct {
	tenant   func(*graphtest.Tenant)
	server   func(*graphtest.Server) // the app registration's settings
	scopes   []string
	channels map[string]fakeChannel // default: the approvals channel with the bot in it
	vars     map[string]string      // added to (or, when "", removed from) the base
	db       func(t *testing.T, path string)
}

// doctorRunResult is one doctor run: the report, the exit code and everything printed.
type doctorRunResult struct {
	report doctor.Report
	code   int
	output string
}

func (c doctorCase) start(t *testing.T) (map[string]string, doctor.Options) {
	t.Helper()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 20})
	if c.tenant != nil {
		c.tenant(tenant)
	}
	gs := graphtest.Start(t, tenant, graphtest.Options{})
	if c.server != nil {
		c.server(gs)
	}
	fake := slacktest.Start(t)
	fake.Scopes = c.scopes
	channels := c.channels
	if channels == nil {
		channels = map[string]fakeChannel{slacktest.Channel: {Name: "mfa-approvals", Member: true}}
	}
	dbPath := filepath.Join(t.TempDir(), "mfabot.db")
	if c.db != nil {
		c.db(t, dbPath)
	}
	vars := map[string]string{
		"MFABOT_DB": dbPath, "MFABOT_GRAPH_URL": gs.URL(),
		"AZURE_TENANT_ID": tenant.ID(), "AZURE_CLIENT_ID": gs.ClientID(), "AZURE_CLIENT_SECRET": gs.ClientSecret(),
		"AZURE_AUTHORITY_HOST": gs.AuthorityURL(), "MFABOT_SLACK_BOT_TOKEN": slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": signingSecret, "MFABOT_SLACK_API_URL": slackFront(t, fake, channels),
		"MFABOT_SLACK_CHANNEL": slacktest.Channel, "MFABOT_REQUESTERS": "slack:U0ANN", "MFABOT_APPROVERS": "slack:U0BEN",
		// graphtest grants the enforce permission by default: a correct installation with
		// it turns enforce on.
		"MFABOT_ENFORCE_ENABLED": "true",
	}
	for k, v := range c.vars {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	return vars, doctor.Options{HTTPClient: gs.HTTPClient()}
}

// runDoctorTest runs doctor --json and then doctor in text, and fails the test if either
// printed one of the secrets.
func runDoctorTest(t *testing.T, vars map[string]string, deps doctor.Options, secrets ...string) doctorRunResult {
	t.Helper()
	var res doctorRunResult
	for _, asJSON := range []bool{true, false} {
		var out, errOut bytes.Buffer
		e := env{stdout: &out, stderr: &errOut, getenv: envOf(vars)}
		var args []string
		if asJSON {
			args = []string{"--json"}
		}
		err := runDoctor(context.Background(), args, e, deps)
		code := 0
		if ee, ok := err.(exitError); ok {
			code = ee.code
		} else if err != nil {
			t.Fatalf("doctor: %v (%s)", err, errOut.String())
		}
		res.output += out.String() + errOut.String()
		if asJSON {
			res.code = code
			if err := json.Unmarshal(out.Bytes(), &res.report); err != nil {
				t.Fatalf("doctor --json printed %q: %v", out.String(), err)
			}
		} else if code != res.code {
			t.Fatalf("doctor exited %d in text and %d with --json", code, res.code)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(res.output, s) {
			t.Fatalf("doctor printed the secret %q:\n%s", s, res.output)
		}
	}
	return res
}

// want is a check doctor must report: name, status and part of its message.
type want struct{ name, status, says string }

func hasCheck(r doctor.Report, w want) bool {
	return slices.ContainsFunc(r.Checks, func(c doctor.Check) bool {
		return c.Name == w.name && c.Status == w.status && strings.Contains(c.Message, w.says)
	})
}

func assertChecks(t *testing.T, res doctorRunResult, code int, wants []want) {
	t.Helper()
	if res.code != code || res.report.OK != (code == 0) {
		t.Errorf("exit %d ok %v, want exit %d", res.code, res.report.OK, code)
	}
	for _, w := range wants {
		if !hasCheck(res.report, w) {
			t.Errorf("no %s check %s saying %q", w.name, w.status, w.says)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", res.output)
	}
}

func withoutPerm(perms []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(perms), func(p string) bool { return p == drop })
}

func withScopes(extra ...string) []string {
	return append(slices.Clone(slacktest.DefaultScopes), extra...)
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    doctorCase
		code int
		want []want
	}{
		{name: "OK", c: doctorCase{scopes: withScopes("channels:read")}, code: 0, want: []want{
			{doctor.CheckConfig, doctor.StatusOK, "platforms: Slack (HTTP)"}, {storage.CheckDatabase, doctor.StatusOK, "creates it at start"},
			{graph.CheckToken, doctor.StatusOK, "client secret"}, {graph.CheckPermissions, doctor.StatusOK, "read from the app's service principal"},
			{graph.CheckLicence, doctor.StatusOK, "P1/P2"}, {slack.CheckToken, doctor.StatusOK, "workspace mfabot test (" + slacktest.TeamID + ")"},
			{slack.CheckScopes, doctor.StatusOK, "files:write"}, {slack.CheckChannel, doctor.StatusOK, "member of #mfa-approvals"},
			{slack.CheckSigningSecret, doctor.StatusOK, "right shape"},
		}},
		{name: "ErrMissingPermission", c: doctorCase{tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(withoutPerm(graphtest.DefaultGranted(), "User.RevokeSessions.All"))
		}}, code: 1, want: []want{{graph.CheckPermissions, doctor.StatusFail, "User.RevokeSessions.All is missing: needed for reset, revoke and revoke-group"}}},
		{name: "WarnExtraPermission", c: doctorCase{tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(graphtest.DefaultGranted(), "Directory.ReadWrite.All", "Group.Read.All"))
		}}, code: 0, want: []want{
			{graph.CheckPermissions, doctor.StatusWarn, "Directory.ReadWrite.All is granted but mfabot does not need it"},
			{graph.CheckPermissions, doctor.StatusWarn, "Group.Read.All is granted"},
		}},
		// Policy.ReadWrite.AuthenticationMethod can rewrite the tenant's authentication
		// methods policy: needed only with enforce on.
		{name: "WarnEnforcePermissionWithEnforceOff", c: doctorCase{vars: map[string]string{"MFABOT_ENFORCE_ENABLED": ""}}, code: 0,
			want: []want{{graph.CheckPermissions, doctor.StatusWarn, "Policy.ReadWrite.AuthenticationMethod is granted but mfabot does not need it"}}},
		{name: "OKEnforceOffWithoutPermission", c: doctorCase{vars: map[string]string{"MFABOT_ENFORCE_ENABLED": ""}, tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(withoutPerm(graphtest.DefaultGranted(), "Policy.ReadWrite.AuthenticationMethod"))
		}}, code: 0, want: []want{{graph.CheckPermissions, doctor.StatusOK, "every permission mfabot needs is granted"}}},
		{name: "ErrEnforceOnWithoutPermission", c: doctorCase{tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(withoutPerm(graphtest.DefaultGranted(), "Policy.ReadWrite.AuthenticationMethod"))
		}}, code: 1, want: []want{{graph.CheckPermissions, doctor.StatusFail, "Policy.ReadWrite.AuthenticationMethod is missing: needed for enforce"}}},
		// Mail.Send lets the app mail as anyone: needed only with notify.mail_from, whose
		// mailbox doctor checks.
		{name: "OKMailFrom", c: doctorCase{vars: map[string]string{"MFABOT_NOTIFY_MAIL_FROM": graphtest.AdeleUPN}, tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
		}}, code: 0, want: []want{{graph.CheckMailbox, doctor.StatusOK, "mailed from " + graphtest.AdeleUPN}}},
		{name: "ErrMailFromWithoutMailSend", c: doctorCase{vars: map[string]string{"MFABOT_NOTIFY_MAIL_FROM": graphtest.AdeleUPN}}, code: 1,
			want: []want{{graph.CheckPermissions, doctor.StatusFail, "Mail.Send is missing: needed for nudges and notices by e-mail"}}},
		{name: "ErrMailFromNoMailbox", c: doctorCase{vars: map[string]string{"MFABOT_NOTIFY_MAIL_FROM": "helpdesk@contoso.com"}, tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
		}}, code: 1, want: []want{{graph.CheckMailbox, doctor.StatusFail, "notify.mail_from helpdesk@contoso.com"}}},
		{name: "WarnMailSendWithoutMailFrom", c: doctorCase{tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
		}}, code: 0, want: []want{{graph.CheckPermissions, doctor.StatusWarn, "Mail.Send is granted but mfabot does not need it"}}},
		{name: "ErrBadExclusion", c: doctorCase{vars: map[string]string{"MFABOT_SUMMARY_EXCLUDE": "Service Accounts"}}, code: 1,
			want: []want{{doctor.CheckConfig, doctor.StatusFail, `summary.exclude (MFABOT_SUMMARY_EXCLUDE): "Service Accounts" is neither an object id nor a UPN`}}},
		// Groups are pinned to object ids, as serve does at start.
		{name: "OKPinnedGroups", c: doctorCase{vars: map[string]string{"MFABOT_PROTECTED_GROUPS": graphtest.GroupEmergencyAccess}}, code: 0,
			want: []want{{graph.CheckPolicyGroups, doctor.StatusOK, `protected "` + graphtest.GroupEmergencyAccess + `" = `}}},
		{name: "ErrAmbiguousGroupName", c: doctorCase{vars: map[string]string{"MFABOT_PROTECTED_GROUPS": graphtest.GroupEmergencyAccess}, tenant: func(tn *graphtest.Tenant) {
			if _, err := tn.AddGroup(graphtest.Group{DisplayName: graphtest.GroupEmergencyAccess, MailNickname: "look-alike"}); err != nil {
				panic(err)
			}
		}}, code: 1, want: []want{{graph.CheckPolicyGroups, doctor.StatusFail, "2 groups have the display name"}}},
		{name: "OKPermissionsFromTokenWithoutApplicationReadAll", c: doctorCase{tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(withoutPerm(graphtest.DefaultGranted(), "Application.Read.All"))
		}}, code: 0, want: []want{{graph.CheckPermissions, doctor.StatusOK, "read from the access token's roles"}}},
		{name: "ErrMissingPermissionFromToken", c: doctorCase{tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(withoutPerm(withoutPerm(graphtest.DefaultGranted(), "Application.Read.All"), "UserAuthenticationMethod.ReadWrite.All"))
		}}, code: 1, want: []want{{graph.CheckPermissions, doctor.StatusFail, "UserAuthenticationMethod.ReadWrite.All is missing: needed for status"}}},
		{name: "WarnUnlicensed", c: doctorCase{tenant: func(tn *graphtest.Tenant) { tn.SetLicensed(false) }}, code: 0,
			want: []want{{graph.CheckLicence, doctor.StatusWarn, "will lack registration details"}, {graph.CheckLicence, doctor.StatusWarn, "Entra ID P1/P2"}}},
		{name: "ErrBadClientSecret", c: doctorCase{vars: map[string]string{"AZURE_CLIENT_SECRET": "wrong-secret-value"}}, code: 1,
			want: []want{{graph.CheckToken, doctor.StatusFail, "invalid_client (AADSTS7000215"}}},
		{name: "ErrUnknownTenant", c: doctorCase{vars: map[string]string{"AZURE_TENANT_ID": "9b0c5a3e-0000-4000-8000-000000000000"}}, code: 1,
			want: []want{{graph.CheckToken, doctor.StatusFail, "AADSTS90002"}}},
		{name: "ErrSlackToken", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_BOT_TOKEN": "xoxb-revoked-token"}}, code: 1,
			want: []want{{slack.CheckToken, doctor.StatusFail, "auth.test refused the bot token: invalid_auth"}}},
		{name: "ErrSlackScope", c: doctorCase{scopes: []string{"commands", "chat:write", "im:write", "users:read"}}, code: 1, want: []want{
			{slack.CheckScopes, doctor.StatusFail, "users:read.email is missing"}, {slack.CheckScopes, doctor.StatusFail, "files:write is missing"},
		}},
		{name: "WarnSlackExtraScope", c: doctorCase{scopes: withScopes("channels:read", "channels:history")}, code: 0,
			want: []want{{slack.CheckScopes, doctor.StatusWarn, "channels:history is granted but mfabot does not need it"}}},
		{name: "WarnSlackChannelUnchecked", code: 0,
			want: []want{{slack.CheckChannel, doctor.StatusWarn, "not checked: conversations.info needs channels:read"}}},
		{name: "ErrSlackNotInChannel", c: doctorCase{scopes: withScopes("channels:read"),
			channels: map[string]fakeChannel{slacktest.Channel: {Name: "mfa-approvals"}}}, code: 1,
			want: []want{{slack.CheckChannel, doctor.StatusFail, "not a member of #mfa-approvals"}}},
		{name: "ErrSlackChannelNotFound", c: doctorCase{scopes: withScopes("channels:read"), vars: map[string]string{"MFABOT_SLACK_CHANNEL": "mfa-approvals"}}, code: 1,
			want: []want{{slack.CheckChannel, doctor.StatusFail, "mfa-approvals does not exist"}}},
		{name: "ErrSlackOtherWorkspace", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_TEAM_ID": "T0OTHER"}}, code: 1,
			want: []want{{slack.CheckToken, doctor.StatusFail, "belongs to workspace " + slacktest.TeamID}}},
		{name: "ErrSlackOtherApp", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_APP_ID": "A0OTHER"}}, code: 1,
			want: []want{{slack.CheckToken, doctor.StatusFail, "belongs to app " + slacktest.AppID}}},
		{name: "WarnSigningSecretShape", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_SIGNING_SECRET": "not-a-signing-secret"}}, code: 0,
			want: []want{{slack.CheckSigningSecret, doctor.StatusWarn, "not 32 hexadecimal"}}},
		{name: "OKSocketMode", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_APP_TOKEN": slacktest.AppToken, "MFABOT_SLACK_SIGNING_SECRET": ""}}, code: 0,
			want: []want{{doctor.CheckConfig, doctor.StatusOK, "Slack (Socket Mode)"}, {slack.CheckAppToken, doctor.StatusOK, "Socket Mode can connect"}}},
		{name: "ErrSocketModeTokenRefused", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_APP_TOKEN": "xapp-1-" + slacktest.AppID + "-1-revoked"}}, code: 1,
			want: []want{{slack.CheckAppToken, doctor.StatusFail, "refused the app-level token: invalid_auth"}}},
		{name: "ErrSocketModeTokenOfOtherApp", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_APP_TOKEN": "xapp-1-A0OTHERAPP-1-abc"}}, code: 1,
			want: []want{{slack.CheckAppToken, doctor.StatusFail, "belongs to app A0OTHERAPP, the bot token to app " + slacktest.AppID}}},
		{name: "ErrConfig", c: doctorCase{vars: map[string]string{"MFABOT_SLACK_CHANNEL": "", "MFABOT_APPROVERS": "nobody"}}, code: 1, want: []want{
			{doctor.CheckConfig, doctor.StatusFail, "slack.channel (MFABOT_SLACK_CHANNEL): required"},
			{doctor.CheckConfig, doctor.StatusFail, "policy.approvers (MFABOT_APPROVERS)"},
		}},
		{name: "OKStepUp", c: doctorCase{vars: stepUpVars, server: func(s *graphtest.Server) { s.SetRedirectURIs(stepUpPublicURL + "/stepup/callback") }},
			code: 0, want: []want{
				{graph.CheckRedirectURI, doctor.StatusOK, "Web redirect URI " + stepUpPublicURL + "/stepup/callback and the ID token claim auth_time"},
				{stepup.CheckAuthority, doctor.StatusOK, "redeemed with the client secret"},
			}},
		{name: "ErrStepUpRedirectURIMissing", c: doctorCase{vars: stepUpVars}, code: 1,
			want: []want{{graph.CheckRedirectURI, doctor.StatusFail, "lacks the Web redirect URI " + stepUpPublicURL + "/stepup/callback"}}},
		{name: "ErrStepUpWithoutPublicURL", c: doctorCase{vars: map[string]string{"MFABOT_STEP_UP": "reset"}}, code: 1,
			want: []want{{doctor.CheckConfig, doctor.StatusFail, "public_url (MFABOT_PUBLIC_URL): required with policy.step_up"}}},
		{name: "ErrConfigFile", c: doctorCase{vars: map[string]string{"MFABOT_GRAPH_WRITE_RATE": "fast"}}, code: 1,
			want: []want{{doctor.CheckConfig, doctor.StatusFail, `MFABOT_GRAPH_WRITE_RATE: "fast" is not a number`}}},
		// --tap on: the tenant's Temporary Access Pass policy is checked, with Policy.Read.All.
		{name: "OKTAPPolicy", c: doctorCase{vars: map[string]string{"MFABOT_TAP_ENABLED": "true"}, tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(graphtest.DefaultGranted(), "Policy.Read.All"))
			tn.SetTAPPolicy(graphtest.EnabledTAPPolicy())
		}}, code: 0, want: []want{{graph.CheckTAP, doctor.StatusOK, "the Temporary Access Pass policy is enabled; passes of valid 1 h, usable once are allowed"}}},
		{name: "ErrTAPPolicyDisabled", c: doctorCase{vars: map[string]string{"MFABOT_TAP_ENABLED": "true"}, tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(graphtest.DefaultGranted(), "Policy.Read.All"))
		}}, code: 1, want: []want{{graph.CheckTAP, doctor.StatusFail, "the tenant's Temporary Access Pass policy is disabled"}}},
		{name: "ErrTAPWithoutPolicyReadAll", c: doctorCase{vars: map[string]string{"MFABOT_TAP_ENABLED": "true"}}, code: 1,
			want: []want{{graph.CheckPermissions, doctor.StatusFail, "Policy.Read.All is missing: needed for mfabot doctor's check of the Temporary Access Pass policy"}}},
		{name: "ErrTAPLifetime", c: doctorCase{vars: map[string]string{"MFABOT_TAP_LIFETIME": "5m"}}, code: 1,
			want: []want{{doctor.CheckConfig, doctor.StatusFail, "policy.tap_lifetime (MFABOT_TAP_LIFETIME): a Temporary Access Pass lasts whole minutes from 10m to 30 days (720h), not 5m0s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, deps := tt.c.start(t)
			res := runDoctorTest(t, vars, deps, vars["AZURE_CLIENT_SECRET"], vars["MFABOT_SLACK_BOT_TOKEN"],
				vars["MFABOT_SLACK_SIGNING_SECRET"], vars["MFABOT_SLACK_APP_TOKEN"])
			assertChecks(t, res, tt.code, tt.want)
			if tt.name == "OK" {
				for _, c := range res.report.Checks {
					if c.Status != doctor.StatusOK {
						t.Errorf("a correct installation got %s %s: %s", c.Status, c.Name, c.Message)
					}
				}
			}
		})
	}
}

const stepUpPublicURL = "https://mfabot.contoso.com"

var stepUpVars = map[string]string{"MFABOT_STEP_UP": "reset,revoke-group", "MFABOT_PUBLIC_URL": stepUpPublicURL}

// TestDoctorFixes: every problem says how to fix it, in words that name the setting or
// the place in the admin portal.
func TestDoctorFixes(t *testing.T) {
	t.Parallel()
	c := doctorCase{
		tenant: func(tn *graphtest.Tenant) {
			tn.SetGranted(append(withoutPerm(graphtest.DefaultGranted(), "GroupMember.Read.All"), "Directory.Read.All"))
			tn.SetLicensed(false)
		},
		scopes: []string{"commands", "chat:write"},
		vars:   map[string]string{"MFABOT_APPROVERS": "nobody"},
	}
	vars, deps := c.start(t)
	res := runDoctorTest(t, vars, deps)
	for _, ch := range res.report.Checks {
		if ch.Status != doctor.StatusOK && ch.Fix == "" {
			t.Errorf("%s %s %q has no fix", ch.Status, ch.Name, ch.Message)
		}
	}
	fixes := map[string]string{}
	for _, ch := range res.report.Checks {
		if strings.Contains(ch.Message, "GroupMember.Read.All") {
			fixes["permission"] = ch.Fix
		}
		if strings.HasPrefix(ch.Message, "policy.approvers") {
			fixes["config"] = ch.Fix
		}
	}
	if !strings.Contains(fixes["permission"], "Application permissions → GroupMember.Read.All, then Grant admin consent") {
		t.Errorf("fix for a missing permission: %q", fixes["permission"])
	}
	if !strings.Contains(fixes["config"], "MFABOT_APPROVERS") {
		t.Errorf("fix for a configuration problem: %q", fixes["config"])
	}
}

// TestDoctorSecretsNeverPrinted runs doctor with every secret set, right and wrong, on
// every platform, and looks for each one in everything it printed.
func TestDoctorSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	wrong := map[string]string{
		"AZURE_CLIENT_SECRET":         "leak-check-graph-secret-4711",
		"MFABOT_SLACK_BOT_TOKEN":      "xoxb-leak-check-bot-token-4711",
		"MFABOT_SLACK_APP_TOKEN":      "xapp-1-" + slacktest.AppID + "-4711-leakcheckapptoken",
		"MFABOT_SLACK_SIGNING_SECRET": "leak-check-signing-secret-4711",
		"MFABOT_TEAMS_APP_PASSWORD":   "leak-check-teams-password-4711",
	}
	for _, tt := range []struct {
		name  string
		wrong bool
	}{{"RightSecrets", false}, {"WrongSecrets", true}} {
		t.Run(tt.name, func(t *testing.T) {
			// The Teams bot shares the Graph app registration here, so the fake authority
			// answers both token requests.
			c := doctorCase{vars: map[string]string{"MFABOT_SLACK_APP_TOKEN": slacktest.AppToken}}
			vars, deps := c.start(t)
			vars["MFABOT_TEAMS_APP_ID"] = vars["AZURE_CLIENT_ID"]
			vars["MFABOT_TEAMS_APP_PASSWORD"] = vars["AZURE_CLIENT_SECRET"]
			vars["MFABOT_TEAMS_TENANT_ID"] = vars["AZURE_TENANT_ID"]
			vars["MFABOT_TEAMS_CHANNEL"] = "19:approvals@thread.tacv2"
			vars["MFABOT_TEAMS_OPENID_URL"] = teamstest.NewAuthority(t).OpenIDURL()
			// Two platforms: every slack: principal must be linked to an Entra user.
			vars["MFABOT_SLACK_USERS"] = "U0ANN=0a0a0a0a-1111-2222-3333-444444444444,U0BEN=0b0b0b0b-1111-2222-3333-444444444444"
			if tt.wrong {
				for k, v := range wrong {
					vars[k] = v
				}
			}
			var secrets []string
			for _, k := range []string{"AZURE_CLIENT_SECRET", "MFABOT_SLACK_BOT_TOKEN", "MFABOT_SLACK_APP_TOKEN", "MFABOT_SLACK_SIGNING_SECRET", "MFABOT_TEAMS_APP_PASSWORD"} {
				secrets = append(secrets, vars[k])
			}
			res := runDoctorTest(t, vars, deps, secrets...)
			if tt.wrong {
				assertChecks(t, res, 1, []want{{graph.CheckToken, doctor.StatusFail, "AADSTS7000215"}, {slack.CheckToken, doctor.StatusFail, "invalid_auth"}, {teams.CheckToken, doctor.StatusFail, "AADSTS7000215"}})
			} else {
				assertChecks(t, res, 0, []want{{graph.CheckToken, doctor.StatusOK, ""}, {slack.CheckAppToken, doctor.StatusOK, ""}, {teams.CheckToken, doctor.StatusOK, ""}})
			}
		})
	}
}

// TestDoctorRedactsEchoedSecrets: a secret that comes back inside an upstream message
// (here the database path, which doctor names) is blanked out.
func TestDoctorRedactsEchoedSecrets(t *testing.T) {
	t.Parallel()
	const secret = "echoed-graph-secret-0815"
	c := doctorCase{vars: map[string]string{"AZURE_CLIENT_SECRET": secret}}
	vars, deps := c.start(t)
	vars["MFABOT_DB"] = filepath.Join(t.TempDir(), secret, "mfabot.db")
	res := runDoctorTest(t, vars, deps, secret)
	if !hasCheck(res.report, want{storage.CheckDatabase, doctor.StatusFail, "[redacted]"}) {
		t.Errorf("the database check does not show the redaction:\n%s", res.output)
	}
}

func TestDoctorDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	makeDB := func(t *testing.T, path string) {
		t.Helper()
		db, err := storage.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		for _, detail := range []string{"reset ann@contoso.com", "approved", "finished"} {
			if err := db.Audit(ctx, approvals.AuditEvent{Time: time.Now(), Type: approvals.EventRequested, Detail: detail,
				Actor: approvals.Actor{Platform: "slack", ID: "U1", Name: "Ann"}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(t *testing.T, path string, stmts ...string) {
		t.Helper()
		db, err := sql.Open("sqlite3", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	version := func(t *testing.T, path string) int {
		t.Helper()
		db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v int
		if err := db.QueryRow(`SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// The newest schema, so that a new migration does not change what these cases say.
	latest, err := storage.LatestSchema()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		db    func(t *testing.T, path string)
		vars  map[string]string
		code  int
		want  []want
		after func(t *testing.T, path string)
	}{
		{name: "OKIntactAuditLog", db: makeDB, code: 0, want: []want{
			{storage.CheckDatabase, doctor.StatusOK, fmt.Sprintf("schema version %d is current", latest)}, {storage.CheckAudit, doctor.StatusOK, "intact: 3 entries, hash chain verified"},
		}},
		{name: "OKMissingFileLeftAlone", code: 0, want: []want{{storage.CheckDatabase, doctor.StatusOK, "does not exist yet"}},
			after: func(t *testing.T, path string) {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("doctor created the database file: %v", err)
				}
			}},
		{name: "ErrAuditEdited", db: func(t *testing.T, path string) {
			makeDB(t, path)
			exec(t, path, "DROP TRIGGER audit_no_update", "UPDATE audit SET detail = 'approved by nobody' WHERE seq = 2")
		}, code: 1, want: []want{{storage.CheckAudit, doctor.StatusFail, "broken at entry 2 (edited)"}}},
		{name: "ErrNewerSchema", db: func(t *testing.T, path string) {
			makeDB(t, path)
			exec(t, path, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', '2030-01-01T00:00:00Z')")
		}, code: 1, want: []want{{storage.CheckDatabase, doctor.StatusFail, fmt.Sprintf("schema version 99, newer than this mfabot knows (%d)", latest)}}},
		{name: "OKOlderSchemaNotMigrated", db: func(t *testing.T, path string) {
			makeDB(t, path)
			exec(t, path, "DELETE FROM schema_migrations")
		}, code: 0, want: []want{
			{storage.CheckDatabase, doctor.StatusOK, fmt.Sprintf("schema version 0; this mfabot migrates it to %d when it starts", latest)}, {storage.CheckAudit, doctor.StatusWarn, "not verified"},
		}, after: func(t *testing.T, path string) {
			if v := version(t, path); v != 0 {
				t.Errorf("doctor migrated the file to version %d", v)
			}
		}},
		{name: "ErrNotMfabotDatabase", db: func(t *testing.T, path string) {
			exec(t, path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
		}, code: 1, want: []want{{storage.CheckDatabase, doctor.StatusFail, "not mfabot's"}}},
		{name: "ErrNotSQLite", db: func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 100), 0o600); err != nil {
				t.Fatal(err)
			}
		}, code: 1, want: []want{{storage.CheckDatabase, doctor.StatusFail, "not a readable SQLite database"}}},
		{name: "ErrNoDirectory", vars: map[string]string{"MFABOT_DB": filepath.Join(os.TempDir(), "mfabot-no-such-dir-8e1f", "mfabot.db")}, code: 1,
			want: []want{{storage.CheckDatabase, doctor.StatusFail, "cannot be created"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, deps := doctorCase{db: tt.db, vars: tt.vars, scopes: withScopes("channels:read")}.start(t)
			res := runDoctorTest(t, vars, deps)
			assertChecks(t, res, tt.code, tt.want)
			if tt.after != nil {
				tt.after(t, vars["MFABOT_DB"])
			}
		})
	}
}

func TestDoctorTeams(t *testing.T) {
	t.Parallel()
	const (
		appID    = "3d9f6a2b-1c4e-4b7a-9e8d-5f0a1b2c3d4e"
		password = "teams-app-password-from-azure-bot"
		tenantID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
		channel  = "19:approvals0123@thread.tacv2"
	)
	ref := func(id, name string) teams.ConversationRef {
		return teams.ConversationRef{Kind: teams.RefConversation, ServiceURL: "https://smba.trafficmanager.net/emea/", TenantID: tenantID,
			ConversationID: id, ConversationType: "channel", Name: name, TeamID: "19:team@thread.tacv2", TeamName: "IT Admins"}
	}
	tests := []struct {
		name        string
		tokenTenant string // the tenant the token server serves
		vars        map[string]string
		refs        []teams.ConversationRef
		want        []want
	}{
		{name: "OK", tokenTenant: tenantID, refs: []teams.ConversationRef{ref(channel, "MFA approvals")}, want: []want{
			{doctor.CheckConfig, doctor.StatusOK, "platforms: Teams"}, {teams.CheckToken, doctor.StatusOK, "from tenant " + tenantID},
			{teams.CheckOpenID, doctor.StatusOK, "signing keys readable"}, {teams.CheckChannel, doctor.StatusOK, `"MFA approvals" in team "IT Admins"`},
		}},
		{name: "OKMultiTenant", tokenTenant: "botframework.com", vars: map[string]string{"MFABOT_TEAMS_MULTI_TENANT": "true"},
			want: []want{{teams.CheckToken, doctor.StatusOK, "from tenant botframework.com"}}},
		{name: "ErrBadPassword", tokenTenant: tenantID, vars: map[string]string{"MFABOT_TEAMS_APP_PASSWORD": "not-the-password"},
			want: []want{{teams.CheckToken, doctor.StatusFail, "invalid_client (AADSTS7000215"}}},
		{name: "ErrWrongTenant", tokenTenant: tenantID, vars: map[string]string{"MFABOT_TEAMS_TENANT_ID": "00000000-1111-4222-8333-444444444444"},
			want: []want{{teams.CheckToken, doctor.StatusFail, "AADSTS90002"}}},
		{name: "ErrOpenIDUnreachable", tokenTenant: tenantID, vars: map[string]string{"MFABOT_TEAMS_OPENID_URL": "http://127.0.0.1:1/v1/.well-known/openidconfiguration"},
			want: []want{{teams.CheckOpenID, doctor.StatusFail, "cannot read the Bot Framework OpenID metadata"}}},
		{name: "WarnChannelNotYetKnown", tokenTenant: tenantID, refs: []teams.ConversationRef{ref("19:general@thread.tacv2", "General")},
			want: []want{{teams.CheckChannel, doctor.StatusWarn, "has not been added to the approvals channel " + channel}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens := teamstest.NewTokenServer(t, tt.tokenTenant, appID, password)
			dbPath := filepath.Join(t.TempDir(), "mfabot.db")
			db, err := storage.Open(context.Background(), dbPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.refs {
				b, _ := json.Marshal(r)
				if err := db.PutConversation(context.Background(), teams.PlatformName, r.ConversationID, b); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			// Graph is not under test: its token request goes to the Teams token server
			// (one AZURE_AUTHORITY_HOST for both) and is refused.
			vars := map[string]string{
				"MFABOT_DB": dbPath, "AZURE_TENANT_ID": tenantID, "AZURE_CLIENT_ID": "graph-app", "AZURE_CLIENT_SECRET": "graph-secret",
				"AZURE_AUTHORITY_HOST": tokens.AuthorityHost(), "MFABOT_TEAMS_APP_ID": appID, "MFABOT_TEAMS_APP_PASSWORD": password,
				"MFABOT_TEAMS_TENANT_ID": tenantID, "MFABOT_TEAMS_CHANNEL": channel, "MFABOT_TEAMS_OPENID_URL": teamstest.NewAuthority(t).OpenIDURL(),
				"MFABOT_REQUESTERS": "teams:11111111-1111-1111-1111-111111111111", "MFABOT_APPROVERS": "teams:22222222-2222-2222-2222-222222222222",
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			res := runDoctorTest(t, vars, doctor.Options{HTTPClient: tokens.Client()}, vars["MFABOT_TEAMS_APP_PASSWORD"])
			for _, w := range tt.want {
				if !hasCheck(res.report, w) {
					t.Errorf("no %s check %s saying %q\n%s", w.name, w.status, w.says, res.output)
				}
			}
			if strings.HasPrefix(tt.name, "OK") {
				var got []map[string]string
				for _, r := range tokens.Requests() {
					if r["client_id"] == appID {
						got = append(got, map[string]string{"tenant": r["tenant"], "scope": r["scope"], "grant_type": r["grant_type"]})
					}
				}
				// One token per run: doctor --json, then doctor.
				one := map[string]string{"tenant": tt.tokenTenant, "scope": "https://api.botframework.com/.default", "grant_type": "client_credentials"}
				wantReq := []map[string]string{one, one}
				if diff := cmp.Diff(wantReq, got); diff != "" {
					t.Errorf("Bot Framework token requests (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestDoctorOutput: the JSON shape is the documented one, and the text is one aligned
// line per check with the fix indented under its message; the exit code follows the
// worst status.
func TestDoctorOutput(t *testing.T) {
	t.Parallel()
	vars, deps := doctorCase{vars: map[string]string{"MFABOT_APPROVERS": "nobody", "MFABOT_SLACK_CHANNEL": ""}}.start(t)

	var out bytes.Buffer
	err := runDoctor(context.Background(), []string{"--json"}, env{stdout: &out, stderr: &out, getenv: envOf(vars)}, deps)
	if ee, ok := err.(exitError); !ok || ee.code != 1 {
		t.Fatalf("doctor --json with a failing check: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"checks", "ok"}, slices.Sorted(maps.Keys(raw))); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	for _, c := range raw["checks"].([]any) {
		c := c.(map[string]any)
		if diff := cmp.Diff([]string{"fix", "message", "name", "status"}, slices.Sorted(maps.Keys(c))); diff != "" {
			t.Errorf("check keys (-want +got):\n%s", diff)
		}
		if s := c["status"]; s != doctor.StatusOK && s != doctor.StatusWarn && s != doctor.StatusFail {
			t.Errorf("status %q", s)
		}
	}

	out.Reset()
	err = runDoctor(context.Background(), nil, env{stdout: &out, stderr: &out, getenv: envOf(vars)}, deps)
	if ee, ok := err.(exitError); !ok || ee.code != 1 {
		t.Fatalf("doctor with a failing check: %v", err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	checkLine := regexp.MustCompile(`^(ok  |WARN|FAIL)  (\S+ *)  (\S.*)$`)
	fixLine := regexp.MustCompile(`^( +)fix: \S`)
	msgCol, checks, fixes := -1, 0, 0
	for _, l := range lines[:len(lines)-2] {
		if m := checkLine.FindStringSubmatchIndex(l); m != nil {
			if msgCol >= 0 && m[6] != msgCol {
				t.Errorf("message not aligned at column %d: %q", msgCol, l)
			}
			msgCol = m[6]
			checks++
			continue
		}
		if m := fixLine.FindStringSubmatch(l); m != nil && len(m[1]) == msgCol {
			fixes++
			continue
		}
		t.Errorf("line is neither a check nor a fix under its message: %q", l)
	}
	if checks < 5 || fixes < 2 {
		t.Errorf("%d check lines, %d fixes:\n%s", checks, fixes, out.String())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "problems (FAIL) to fix before mfabot can serve") {
		t.Errorf("summary line %q", last)
	}

	// Through the command line: a stray flag or argument is a usage error.
	for _, args := range [][]string{{"doctor", "--bogus"}, {"doctor", "extra"}} {
		if code, _, _ := runWith(t, vars, args...); code != 2 {
			t.Errorf("mfabot %v exited %d, want 2 (usage)", args, code)
		}
	}
}
