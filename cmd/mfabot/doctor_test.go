package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

func runDoctorTest(t *testing.T, vars map[string]string, deps doctorDeps) (doctorReport, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, getenv: envOf(vars)}
	err := doctor(context.Background(), []string{"--json"}, e, deps)
	code := 0
	if ee, ok := err.(exitError); ok {
		code = ee.code
	} else if err != nil {
		t.Fatalf("doctor: %v (%s)", err, errOut.String())
	}
	var r doctorReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out.String(), err)
	}
	for _, secret := range []string{vars["AZURE_CLIENT_SECRET"], vars["MFABOT_SLACK_BOT_TOKEN"], vars["MFABOT_SLACK_SIGNING_SECRET"]} {
		if secret != "" && strings.Contains(out.String()+errOut.String(), secret) {
			t.Fatalf("doctor printed a secret")
		}
	}
	return r, code
}

func find(r doctorReport, name, status, says string) bool {
	for _, c := range r.Checks {
		if c.Name == name && c.Status == status && strings.Contains(c.Message, says) {
			return true
		}
	}
	return false
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name   string
		tenant func(*graphtest.Tenant)
		vars   map[string]string
		scopes []string
		code   int
		want   [][3]string // name, status, message part
	}{
		{name: "OK", code: 0, want: [][3]string{{"graph token", checkOK, "obtained"}, {"permissions", checkOK, "granted"},
			{"registration", checkOK, "licensed"}, {"slack", checkOK, "bot token valid"}, {"slack scopes", checkOK, ""}, {"database", checkOK, "schema"}}},
		{name: "ErrMissingPermission", tenant: func(t *graphtest.Tenant) {
			t.SetGranted([]string{"User.Read.All", "Application.Read.All", "AuditLog.Read.All", "GroupMember.Read.All", "Policy.ReadWrite.AuthenticationMethod", "UserAuthenticationMethod.ReadWrite.All", "Directory.ReadWrite.All"})
		}, code: 1, want: [][3]string{{"permissions", checkFail, "User.RevokeSessions.All is missing"}, {"permissions", checkWarn, "Directory.ReadWrite.All"}}},
		{name: "WarnUnlicensed", tenant: func(t *graphtest.Tenant) { t.SetLicensed(false) }, code: 0,
			want: [][3]string{{"registration", checkWarn, "P1 or P2"}}},
		{name: "ErrBadClientSecret", vars: map[string]string{"AZURE_CLIENT_SECRET": "wrong-secret-value"}, code: 1,
			want: [][3]string{{"graph token", checkFail, "invalid_client"}}},
		{name: "ErrSlackToken", vars: map[string]string{"MFABOT_SLACK_BOT_TOKEN": "xoxb-revoked-token"}, code: 1,
			want: [][3]string{{"slack", checkFail, "auth.test refused"}}},
		{name: "ErrSlackScope", scopes: []string{"commands", "chat:write"}, code: 1,
			want: [][3]string{{"slack scopes", checkFail, "users:read.email"}}},
		{name: "ErrConfig", vars: map[string]string{"MFABOT_SLACK_CHANNEL": "", "MFABOT_APPROVERS": "nobody"}, code: 1,
			want: [][3]string{{"configuration", checkFail, "policy.approvers (MFABOT_APPROVERS)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 20})
			if tt.tenant != nil {
				tt.tenant(tenant)
			}
			gs := graphtest.Start(t, tenant, graphtest.Options{})
			fake := slacktest.Start(t)
			fake.Scopes = tt.scopes
			vars := map[string]string{
				"MFABOT_DB": filepath.Join(t.TempDir(), "m.db"), "MFABOT_GRAPH_URL": gs.URL(),
				"AZURE_TENANT_ID": tenant.ID(), "AZURE_CLIENT_ID": gs.ClientID(), "AZURE_CLIENT_SECRET": gs.ClientSecret(),
				"AZURE_AUTHORITY_HOST": gs.AuthorityURL(), "MFABOT_SLACK_BOT_TOKEN": slacktest.BotToken,
				"MFABOT_SLACK_SIGNING_SECRET": "doctor-signing-secret", "MFABOT_SLACK_API_URL": fake.APIURL(),
				"MFABOT_SLACK_CHANNEL": slacktest.Channel, "MFABOT_REQUESTERS": "slack:U1", "MFABOT_APPROVERS": "slack:U2",
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			r, code := runDoctorTest(t, vars, doctorDeps{HTTPClient: gs.HTTPClient()})
			if code != tt.code || r.OK != (tt.code == 0) {
				t.Errorf("exit %d ok %v, want exit %d", code, r.OK, tt.code)
			}
			for _, w := range tt.want {
				if !find(r, w[0], w[1], w[2]) {
					t.Errorf("no %s check %s saying %q in %+v", w[0], w[1], w[2], r.Checks)
				}
			}
		})
	}
}
