package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestTAPOnlyToRequester follows Temporary Access Passes from Graph to the people they
// are for, through the real app, graphtest, the Slack fake and a SQLite file:
//   - a single reset with --tap: the pass reaches Ann in an ephemeral Slack message;
//   - a bulk reset from the CLI with --tap: the CLI waits, mfabot serve hands the
//     approved request over to it, and the passes land in a new 0600 file;
//   - a user the tenant's pass policy leaves out is reset without a pass, saying why.
//
// Then every pass is looked for everywhere else: every call the Slack fake recorded, the
// app's and the CLI's logs and output, the database files and the audit log. Each pass
// must be in exactly the one place it was handed to.
func TestTAPOnlyToRequester(t *testing.T) {
	t.Parallel()
	const secret = "e2e-tap-signing-secret"
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"}
	fake.AddUser(ann)
	fake.AddUser(slacktest.User{ID: "UBEN", Name: "ben", RealName: "Ben Approver", Email: "ben@contoso.com"})
	vars := slackVars(fake, secret)
	vars["MFABOT_TAP_ENABLED"] = "true"
	vars["MFABOT_TAP_LIFETIME"] = "2h"
	var finance graphtest.Group
	app := startAppOn(t, vars, appDeps{}, func(tn *graphtest.Tenant) {
		finance = groupByName(t, tn, graphtest.GroupFinance)
		p := graphtest.EnabledTAPPolicy()
		p.ExcludeGroups = []string{finance.ID}
		tn.SetTAPPolicy(p)
	})
	for k, v := range map[string]string{"MFABOT_DB": app.Config.DB, "MFABOT_GRAPH_URL": app.Graph.URL(), "AZURE_TENANT_ID": app.Graph.Tenant().ID(),
		"AZURE_CLIENT_ID": app.Graph.ClientID(), "AZURE_CLIENT_SECRET": app.Graph.ClientSecret(), "AZURE_AUTHORITY_HOST": app.Graph.AuthorityURL(),
		"MFABOT_PROTECTED_USERS": graphtest.BreakGlassUPN, "MFABOT_LOG_LEVEL": "debug"} {
		vars[k] = v
	}
	tenant := app.Graph.Tenant()
	ctx := context.Background()
	send := slacktest.Sender{URL: app.URL, Secret: secret}
	adele, _ := tenant.User(graphtest.AdeleUPN)
	megan, _ := tenant.User(graphtest.MeganUPN)
	alex, _ := tenant.User(graphtest.AlexUPN)
	financeMember, _ := tenant.User(tenant.TransitiveUsers(finance.ID)[0])

	// A single reset with --tap, asked for and approved on Slack.
	if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, "reset "+graphtest.AdeleUPN+" --tap lost her phone")); err != nil || ans.Status != 200 {
		t.Fatalf("command: %+v %v", ans, err)
	}
	fake.WaitCalls(t, "chat.postMessage", 1)
	single := app.requests(t)[0]
	if single.Preview.TAP == nil || single.Preview.TAP.Lifetime != 2*time.Hour {
		t.Fatalf("the request asks for no pass: %+v", single.Preview.TAP)
	}
	approveOnSlack(t, fake, send, single.ID)
	waitFor(t, "the single reset to end", func() bool {
		r, _ := app.DB.Request(ctx, single.ID)
		return r.State.Final()
	})
	if r, _ := app.DB.Request(ctx, single.ID); r.State != approvals.StateSucceeded {
		t.Fatalf("single reset: %s", r.State)
	}
	adelePass, ok := tenant.TemporaryAccessPass(adele.ID)
	if !ok || adelePass.LifetimeMinutes != 120 || !adelePass.UsableOnce {
		t.Fatalf("Adele's pass = %+v %v", adelePass, ok)
	}

	// A bulk reset with --tap from the CLI, which waits and writes the passes.
	dir := t.TempDir()
	users := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(users, []byte("upn\n"+graphtest.MeganUPN+"\n"+graphtest.AlexUPN+"\n"+financeMember.UserPrincipalName+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	passesPath := filepath.Join(dir, "passes.csv")
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := app.cli(t, vars, requestDeps{poll: 20 * time.Millisecond}, "reset", "--csv", users, "--tap", "--passes", passesPath,
			"--as", "slack:UANN", "--reason", "phishing wave")
		done <- result{code, out, stderr}
	}()
	var bulkID string
	waitFor(t, "the bulk request", func() bool {
		for _, r := range app.requests(t) {
			if r.Kind == approvals.KindResetBulk {
				bulkID = r.ID
				return true
			}
		}
		return false
	})
	approveOnSlack(t, fake, send, bulkID)
	var res result
	select {
	case res = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the CLI did not finish")
	}
	end, _ := app.DB.Request(ctx, bulkID)
	if res.code != 1 || end.State != approvals.StatePartlyFailed || end.Done != 2 || end.Failed != 1 ||
		!strings.Contains(res.out, "2 Temporary Access Passes are in "+passesPath+" (mode 0600)") {
		t.Fatalf("CLI: exit %d, request %s %d/%d failed %d\n%s\n%s", res.code, end.State, end.Done, end.Total, end.Failed, res.out, res.stderr)
	}
	items, _ := app.DB.Items(ctx, bulkID, "", 0, 0)
	for _, it := range items {
		switch it.UserID {
		case financeMember.ID:
			if !strings.Contains(it.Error, "reset done (") || !strings.Contains(it.Error, "no Temporary Access Pass: Graph refused a Temporary Access Pass: the tenant's Temporary Access Pass policy is off or does not include this user") {
				t.Fatalf("the user outside the policy: %q", it.Error)
			}
		default:
			if !strings.Contains(it.Result, "handed to slack:UANN by the file passes.csv (mode 0600) of the requester's mfabot CLI") {
				t.Fatalf("item result = %q", it.Result)
			}
		}
	}
	if !app.Graph.Tenant().RevokedAt(financeMember.ID).After(time.Time{}) {
		t.Fatal("the user outside the pass policy was not reset")
	}
	fi, err := os.Stat(passesPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passes file: %v %v", fi, err)
	}
	data, _ := os.ReadFile(passesPath)
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("passes file: %q %v", data, err)
	}
	passes := map[string]string{adele.ID: adelePass.Pass}
	for _, u := range []graphtest.User{megan, alex} {
		m, ok := tenant.TemporaryAccessPass(u.ID)
		if !ok {
			t.Fatalf("%s has no pass", u.UserPrincipalName)
		}
		passes[u.ID] = m.Pass
		if !bytes.Contains(data, []byte(u.UserPrincipalName+","+u.ID+","+csvQuoted(m.Pass)+",")) {
			t.Fatalf("the file lacks %s's pass:\n%s", u.UserPrincipalName, data)
		}
	}

	// Now look for every pass everywhere it must not be.
	var everywhere []struct{ where, text string }
	// Passes have characters (&, *, …) that JSON and mrkdwn escape: each text is searched
	// as a reader would see it.
	add := func(where, text string) {
		everywhere = append(everywhere, struct{ where, text string }{where, unescaped(text)})
	}
	for i, c := range fake.Calls() {
		add(fmt.Sprintf("Slack call %d %s to %s/%s", i, c.Method, c.Args["channel"], c.Args["user"]), fmt.Sprint(c.Args))
	}
	for i, c := range app.Graph.Calls() {
		add(fmt.Sprintf("Graph call %d %s", i, c.Op), fmt.Sprint(c))
	}
	add("the app's log", app.Logs.String())
	add("the CLI's output", res.out)
	add("the CLI's log", res.stderr)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, _ := os.ReadFile(app.Config.DB + suffix)
		add("the database file "+filepath.Base(app.Config.DB+suffix), string(b))
	}
	var audit strings.Builder
	_ = app.DB.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
		fmt.Fprintln(&audit, ev.Type, ev.Detail)
		return nil
	})
	add("the audit log", audit.String())
	for user, pass := range passes {
		var found []string
		for _, w := range everywhere {
			if strings.Contains(w.text, pass) {
				found = append(found, w.where)
			}
		}
		want := []string{}
		if user == adele.ID {
			want = []string{"Slack call"} // the one ephemeral message to Ann
		}
		if len(found) != len(want) || len(found) == 1 && !strings.HasPrefix(found[0], "Slack call") {
			t.Errorf("the pass of %s is in %v", user, found)
		}
	}
	eph := fake.Calls("chat.postEphemeral")
	var toAnn int
	for _, c := range eph {
		if strings.Contains(unescaped(c.Args["blocks"]), "`"+adelePass.Pass+"`") { // in monospace, see bot.Fact.Exact
			toAnn++
			if c.Args["user"] != "UANN" || c.Args["channel"] != slacktest.Channel {
				t.Errorf("the pass went to %s in %s", c.Args["user"], c.Args["channel"])
			}
		}
	}
	if toAnn != 1 {
		t.Errorf("the pass reached Ann %d times", toAnn)
	}
	for _, want := range []string{"Temporary Access Pass issued (valid 2 h, usable once", "handed to slack:UANN by an ephemeral Slack message in " + slacktest.Channel} {
		if !strings.Contains(audit.String(), want) {
			t.Errorf("the audit log does not record %q", want)
		}
	}
}

// unescaped undoes JSON's and Slack mrkdwn's escapes of &, < and >.
func unescaped(s string) string {
	s = strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(s)
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

// csvQuoted is how encoding/csv writes a field.
func csvQuoted(s string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{s})
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
