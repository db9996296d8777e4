package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// cli runs mfabot request in-process against the test app's configuration and returns
// its exit code, stdout and stderr.
func (a *testApp) cli(t *testing.T, vars map[string]string, deps requestDeps, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	deps.app.GraphHTTPClient = a.Graph.HTTPClient()
	e := env{stdout: &stdout, stderr: &stderr, getenv: envOf(vars)}
	code := 0
	if err := runRequestWith(context.Background(), args, e, deps); err != nil {
		code = 1
		if ee, ok := err.(exitError); ok {
			code = ee.code
		} else {
			fmt.Fprintln(&stderr, "mfabot:", err)
		}
	}
	return code, stdout.String(), stderr.String()
}

// slackVars is the configuration of an app on the Slack fake, Ann and Ben both
// requesters and approvers.
func slackVars(fake *slacktest.Server, secret string) map[string]string {
	return map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": secret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_REQUESTERS":           "slack:UANN,slack:UBEN",
		"MFABOT_APPROVERS":            "slack:UANN,slack:UBEN",
		"MFABOT_PROTECTED_GROUPS":     graphtest.GroupEmergencyAccess,
	}
}

// approveOnSlack has Ben press Approve on the card of request id.
func approveOnSlack(t *testing.T, fake *slacktest.Server, send slacktest.Sender, id string) {
	t.Helper()
	ben := slacktest.User{ID: "UBEN", Name: "ben", RealName: "Ben Approver", Email: "ben@contoso.com"}
	var card slacktest.Message
	waitFor(t, "the card of "+id, func() bool {
		for _, m := range fake.Messages(slacktest.Channel) {
			if strings.Contains(string(m.Blocks), id) {
				card = m
				return true
			}
		}
		return false
	})
	press, err := fake.Press(ben, slacktest.Channel, card.TS, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := send.Interaction(context.Background(), press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("approve: %+v %v", ans, err)
	}
}

var requestIDRE = regexp.MustCompile(`R-[0-9A-Z]{6}`)

func groupByName(t *testing.T, tenant *graphtest.Tenant, name string) graphtest.Group {
	t.Helper()
	for _, g := range tenant.Groups() {
		if g.DisplayName == name {
			return g
		}
	}
	t.Fatalf("no group %s", name)
	return graphtest.Group{}
}

// TestRequestResetCSV drives the bulk reset the way an operator does: a CSV through the
// CLI becomes one request, posted to the Slack channel like any other, with the rows that
// cannot be reset left out and named; Ben approves it on Slack and mfabot serve resets
// every user; a user protected in the meantime fails, and the failed-rows CSV asks for
// them again in one command. Bad CSVs create nothing and name the line.
func TestRequestResetCSV(t *testing.T) {
	t.Parallel()
	const secret = "e2e-bulk-signing-secret"
	fake := slacktest.Start(t)
	for _, u := range []slacktest.User{{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"},
		{ID: "UBEN", Name: "ben", RealName: "Ben Approver", Email: "ben@contoso.com"}} {
		fake.AddUser(u)
	}
	vars := slackVars(fake, secret)
	app := startApp(t, vars)
	for k, v := range map[string]string{"MFABOT_DB": app.Config.DB, "MFABOT_GRAPH_URL": app.Graph.URL(), "AZURE_TENANT_ID": app.Graph.Tenant().ID(),
		"AZURE_CLIENT_ID": app.Graph.ClientID(), "AZURE_CLIENT_SECRET": app.Graph.ClientSecret(), "AZURE_AUTHORITY_HOST": app.Graph.AuthorityURL(),
		"MFABOT_PROTECTED_USERS": graphtest.BreakGlassUPN, "MFABOT_LOG_LEVEL": "debug"} {
		vars[k] = v
	}
	tenant := app.Graph.Tenant()
	send := slacktest.Sender{URL: app.URL, Secret: secret}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	adele, _ := tenant.User(graphtest.AdeleUPN)
	megan, _ := tenant.User(graphtest.MeganUPN)
	alex, _ := tenant.User(graphtest.AlexUPN)

	t.Run("ErrBadInput", func(t *testing.T) {
		tests := []struct{ name, csv, says string }{
			{"NotCSV", "\x00\x01PK\x03\x04binary", "is not a CSV file: it holds binary data"},
			{"BrokenQuotes", "UserPrincipalName\n\"adele.vance@contoso.com\n", "is not a valid CSV file: line 2"},
			{"NoColumn", "Name,Department\nAdele,IT\n", `has no UserPrincipalName or ObjectId column: line 1 names "Name", "Department"`},
			{"EmptyCell", "UserPrincipalName,Department\nadele.vance@contoso.com,IT\n,IT\n", "line 3 names no user: its UserPrincipalName cell is empty"},
			{"SameUserTwice", "upn\nadele.vance@contoso.com\nmegan.bowen@contoso.com\nAdele.Vance@contoso.com\n", "line 4 names the same user as line 2"},
			{"Empty", "", "is empty"},
		}
		for _, tt := range tests {
			code, _, stderr := app.cli(t, vars, requestDeps{}, "reset", "--csv", write(tt.name+".csv", tt.csv), "--as", "slack:UANN")
			if code != 1 || !strings.Contains(stderr, tt.says) || !strings.Contains(stderr, "nothing was created") {
				t.Errorf("%s: exit %d, stderr %q; want it to say %q", tt.name, code, stderr, tt.says)
			}
		}
		tooMany := "ObjectId\n" + strings.Repeat(adele.ID+"\n", 4)
		v := map[string]string{"MFABOT_BULK_MAX": "3"}
		for k, x := range vars {
			v[k] = x
		}
		if code, _, stderr := app.cli(t, v, requestDeps{}, "reset", "--csv", write("many.csv", tooMany), "--as", "slack:UANN"); code != 1 ||
			!strings.Contains(stderr, "has more than 3 users (policy.bulk_max): line 5 is the first one over") {
			t.Errorf("too many rows: exit %d, %q", code, stderr)
		}
		if code, _, stderr := app.cli(t, vars, requestDeps{}, "reset", "--csv", write("ok.csv", "upn\n"+graphtest.AdeleUPN+"\n"), "--as", "slack:UNINA"); code != 1 ||
			!strings.Contains(stderr, "only mfabot admins may use this command") {
			t.Errorf("Nina: exit %d, %q", code, stderr)
		}
		if rs := app.requests(t); len(rs) != 0 {
			t.Fatalf("bad input created %d requests", len(rs))
		}
	})

	// The dry run prints each user's plan and asks for nothing.
	users := write("users.csv", "UserPrincipalName,DisplayName\r\n"+graphtest.AdeleUPN+",Adele\r\n"+graphtest.MeganUPN+",Megan\r\n"+
		"nobody@contoso.com,Nobody\r\n"+graphtest.BreakGlassUPN+",Break glass\r\n"+graphtest.AlexUPN+",Alex\r\n"+adele.ID+",Adele again\r\n")
	code, out, stderr := app.cli(t, vars, requestDeps{}, "reset", "--csv", users, "--as", "slack:UANN", "--dry-run")
	if code != 0 || !strings.Contains(out, "3 users would be reset, 3 rows refused") || !strings.Contains(out, "line 2     adele.vance@contoso.com: delete ") ||
		!strings.Contains(out, "line 4     nobody@contoso.com: refused: no user nobody@contoso.com in the directory") || !strings.Contains(out, "Nothing was asked for") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	if rs := app.requests(t); len(rs) != 0 {
		t.Fatal("the dry run asked for something")
	}

	// The request: one, posted like any other.
	code, out, stderr = app.cli(t, vars, requestDeps{}, "reset", "--csv", users, "--as", "slack:UANN", "--reason", "phishing wave")
	id := requestIDRE.FindString(out)
	if code != 0 || id == "" || !strings.Contains(out, "asks to reset 3 users") || !strings.Contains(out, "left out: line 7 "+adele.ID+": the same user as line 2") {
		t.Fatalf("request: exit %d\n%s\n%s", code, out, stderr)
	}
	rs := app.requests(t)
	if len(rs) != 1 || rs[0].ID != id || rs[0].Kind != approvals.KindResetBulk || rs[0].Requester.Key() != "slack:UANN" ||
		!strings.Contains(rs[0].Requester.Name, "via mfabot CLI") || rs[0].Target.Name != "3 users" {
		t.Fatalf("requests = %+v", rs)
	}
	posts := fake.WaitCalls(t, "chat.postMessage", 1)
	if !strings.Contains(posts[0].Args["blocks"], "Reset MFA for 3 users") || !strings.Contains(posts[0].Args["blocks"], "from users.csv") {
		t.Fatalf("card = %s", posts[0].Args["blocks"])
	}
	// Ann cannot approve what she asked for on the CLI: she is the requester.
	annUser := slacktest.User{ID: "UANN", Name: "ann"}
	msgs := fake.Messages(slacktest.Channel)
	press, err := fake.Press(annUser, slacktest.Channel, msgs[len(msgs)-1].TS, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send.Interaction(context.Background(), press.Payload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ann's refusal", func() bool {
		for _, c := range fake.Calls("response_url") {
			if strings.Contains(c.Args["text"]+c.Args["blocks"], "your own request") {
				return true
			}
		}
		return false
	})
	// Megan joins the protected group before Ben approves: she is left alone.
	emergency := groupByName(t, tenant, graphtest.GroupEmergencyAccess)
	if err := tenant.AddMember(emergency.ID, megan.ID); err != nil {
		t.Fatal(err)
	}
	approveOnSlack(t, fake, send, id)
	var end *approvals.Request
	waitFor(t, "the bulk reset to end", func() bool {
		end, _ = app.DB.Request(context.Background(), id)
		return end.State.Final()
	})
	if end.State != approvals.StatePartlyFailed || end.Done != 2 || end.Failed != 1 {
		t.Fatalf("end = %s %d done %d failed", end.State, end.Done, end.Failed)
	}
	for _, u := range []graphtest.User{adele, alex} {
		if n := app.Graph.Count(graphtest.OpRevoke, u.ID); n != 1 {
			t.Fatalf("%s revoked %d times", u.UserPrincipalName, n)
		}
		for _, m := range tenant.Methods(u.ID) {
			if m.Type != graphtest.MethodPassword {
				t.Fatalf("%s still has %s", u.UserPrincipalName, m.Type)
			}
		}
	}
	if app.Graph.Count(graphtest.OpRevoke, megan.ID) != 0 {
		t.Fatal("a protected user was reset")
	}
	waitFor(t, "the card to show the failure", func() bool {
		for _, m := range fake.Messages(slacktest.Channel) {
			if strings.Contains(string(m.Blocks), id) && strings.Contains(string(m.Blocks), "megan.bowen@contoso.com — megan.bowen@contoso.com is a member of the protected group") {
				return true
			}
		}
		return false
	})

	// The failed rows, in the input format; once Megan is out of the group again, they
	// are the next request in one command.
	code, failedCSV, stderr := app.cli(t, vars, requestDeps{}, "show", id, "--failed", "--csv")
	if code != 0 || !strings.HasPrefix(failedCSV, "UserPrincipalName,ObjectId,Reason\r\n"+graphtest.MeganUPN+","+megan.ID+",") || strings.Count(failedCSV, "\r\n") != 2 {
		t.Fatalf("failed CSV: exit %d %q %s", code, failedCSV, stderr)
	}
	if err := tenant.RemoveMember(emergency.ID, megan.ID); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = app.cli(t, vars, requestDeps{}, "reset", "--csv", write("failed.csv", failedCSV), "--as", "slack:UBEN", "--reason", "again")
	again := requestIDRE.FindString(out)
	if code != 0 || again == "" || again == id {
		t.Fatalf("again: exit %d\n%s\n%s", code, out, stderr)
	}
	r2, err := app.DB.Request(context.Background(), again)
	if err != nil || len(r2.Preview.Bulk.Users) != 1 || r2.Preview.Bulk.Users[0].ID != megan.ID || len(r2.Preview.Bulk.Refused) != 0 {
		t.Fatalf("the failed rows did not make the new request: %+v %v", r2.Preview.Bulk, err)
	}
	code, card, _ := app.cli(t, vars, requestDeps{}, "show", again)
	if code != 0 || !strings.Contains(card, "Reset MFA for 1 user") || !strings.Contains(card, "Users: 1 (from failed.csv)") {
		t.Fatalf("show: %d %s", code, card)
	}
	res, err := app.DB.VerifyAudit(context.Background())
	if err != nil || !res.OK {
		t.Fatalf("audit: %v %v", res, err)
	}
	var audit bytes.Buffer
	_ = app.DB.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		fmt.Fprintln(&audit, ev.Type, ev.Detail)
		return nil
	})
	for _, want := range []string{"requested reset-bulk users 3 users", "adele.vance@contoso.com, megan.bowen@contoso.com, alex.wilber@contoso.com",
		"refused reset-bulk: protected accounts refused: line 5 " + graphtest.BreakGlassUPN} {
		if !strings.Contains(audit.String(), want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
	noSecretsIn(t, app.Logs.String(), secret, slacktest.BotToken, app.Config.ClientSecret)
}
