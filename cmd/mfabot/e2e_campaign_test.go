package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
)

// campaignTenant is a generated tenant with the group "Campaign": unregistered members
// reachable on Slack, only in Teams, only by mail, and on no channel; registered members;
// and the people a campaign leaves alone (a guest, a disabled account, a protected and an
// excluded account, all unregistered).
type campaignTenant struct {
	tenant                                   *graphtest.Tenant
	group                                    graphtest.Group
	slack, teams, mail, none, registered     []graphtest.User
	guest, disabled, protected, excluded     graphtest.User
	mailbox                                  graphtest.User
	slackUsers                               []slacktest.User
	unregisteredReached, unregisteredTargets int
}

func newCampaignTenant(t *testing.T, slackN int) *campaignTenant {
	t.Helper()
	tn := graphtest.Generate(graphtest.GenOptions{Seed: 11, Users: 200})
	tn.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	c := &campaignTenant{tenant: tn}
	g, err := tn.AddGroup(graphtest.Group{DisplayName: "Campaign", MailNickname: "campaign"})
	if err != nil {
		t.Fatal(err)
	}
	c.group = g
	add := func(name string, u graphtest.User) graphtest.User {
		u.UserPrincipalName, u.DisplayName = name+"@"+tn.Domain(), strings.ToUpper(name[:1])+name[1:]
		if u.UserType == "" {
			u.UserType = graphtest.Member
		}
		u, err := tn.AddUser(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := tn.AddMember(g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		return u
	}
	for i := range slackN {
		u := add(fmt.Sprintf("s%d.user", i), graphtest.User{Mail: fmt.Sprintf("s%d.mail@%s", i, tn.Domain()), AccountEnabled: true})
		c.slack = append(c.slack, u)
		// Slack knows them by mail address, or (every other one) by UPN.
		email := u.Mail
		if i%2 == 1 {
			email = u.UserPrincipalName
		}
		c.slackUsers = append(c.slackUsers, slacktest.User{ID: fmt.Sprintf("US%03d", i), Name: u.DisplayName, Email: email})
	}
	for i := range 3 {
		c.teams = append(c.teams, add(fmt.Sprintf("t%d.user", i), graphtest.User{Mail: fmt.Sprintf("t%d.user@%s", i, tn.Domain()), AccountEnabled: true}))
	}
	for i := range 2 {
		c.mail = append(c.mail, add(fmt.Sprintf("m%d.user", i), graphtest.User{Mail: fmt.Sprintf("m%d.user@%s", i, tn.Domain()), AccountEnabled: true}))
	}
	for i := range 2 {
		c.none = append(c.none, add(fmt.Sprintf("n%d.user", i), graphtest.User{AccountEnabled: true}))
	}
	for i := range 3 {
		u := add(fmt.Sprintf("r%d.user", i), graphtest.User{Mail: fmt.Sprintf("r%d.user@%s", i, tn.Domain()), AccountEnabled: true})
		if _, err := tn.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodAuthenticator, DisplayName: "iPhone"}); err != nil {
			t.Fatal(err)
		}
		c.registered = append(c.registered, u)
	}
	c.guest = add("pat_fabrikam.com#EXT", graphtest.User{UserType: graphtest.Guest, Mail: "pat@fabrikam.com", AccountEnabled: true})
	c.disabled = add("gone.user", graphtest.User{Mail: "gone.user@" + tn.Domain(), AccountEnabled: false})
	c.protected = add("vip.user", graphtest.User{Mail: "vip.user@" + tn.Domain(), AccountEnabled: true})
	c.excluded = add("svc-scanner", graphtest.User{Mail: "svc-scanner@" + tn.Domain(), AccountEnabled: true})
	mb, err := tn.AddUser(graphtest.User{UserPrincipalName: "it-helpdesk@" + tn.Domain(), Mail: "it-helpdesk@" + tn.Domain(), DisplayName: "IT Helpdesk", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	c.mailbox = mb
	c.unregisteredTargets = slackN + 3 + 2 + 2
	c.unregisteredReached = slackN + 3 + 2
	return c
}

// targets are the people a campaign on Campaign must reach.
func (c *campaignTenant) targets() []graphtest.User {
	var out []graphtest.User
	for _, us := range [][]graphtest.User{c.slack, c.teams, c.mail, c.none} {
		out = append(out, us...)
	}
	return out
}

// spared are the members a campaign must leave alone.
func (c *campaignTenant) spared() []graphtest.User {
	return append(append([]graphtest.User{}, c.registered...), c.guest, c.disabled, c.protected, c.excluded)
}

// campaignApp runs the real App against gs with vars (over the defaults), on its own
// listener, until stop is called; the database at db outlives it.
func campaignApp(t *testing.T, gs *graphtest.Server, db string, vars map[string]string, deps appDeps) (app *App, url string, stop func()) {
	t.Helper()
	all := map[string]string{
		"MFABOT_DB": db, "MFABOT_GRAPH_URL": gs.URL(), "AZURE_TENANT_ID": gs.Tenant().ID(),
		"AZURE_CLIENT_ID": gs.ClientID(), "AZURE_CLIENT_SECRET": gs.ClientSecret(), "AZURE_AUTHORITY_HOST": gs.AuthorityURL(),
		"MFABOT_LOG_LEVEL": "debug",
	}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := config.Load("", envOf(all))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	deps.GraphHTTPClient = gs.HTTPClient()
	// The simulator's report limit scaled down: a campaign reads the report twice. Slack's
	// documented limits, which the fake enforces, are sped up by campaignScale on both
	// sides: the pacing is tested, the wall clock is not waited on.
	deps.ReportLimit, deps.ReportWindow = 5, 50*time.Millisecond
	if deps.SlackDirect.Rate == 0 {
		deps.SlackDirect = slack.DirectLimits{Rate: campaignScale, ListPages: 20, ListWindow: time.Minute / campaignScale, DirectoryTTL: 15 * time.Minute}
	}
	app, err = NewApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(&syncBuffer{}, nil)), envOf(all), deps)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, ln, false) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		app.Close()
	}
	t.Cleanup(stop)
	return app, "http://" + ln.Addr().String(), stop
}

// slackCard finds the card in the approvals channel whose blocks say title.
func slackCard(t *testing.T, fake *slacktest.Server, title string) slacktest.Message {
	t.Helper()
	var card slacktest.Message
	waitFor(t, "the card "+title, func() bool {
		for _, m := range fake.Messages(slacktest.Channel) {
			if strings.Contains(string(m.Blocks), title) {
				card = m
				return true
			}
		}
		return false
	})
	return card
}

// nudgeApproved asks for a nudge of Campaign on Slack as asker and approves it as
// approver.
func nudgeApproved(t *testing.T, fake *slacktest.Server, send slacktest.Sender, asker, approver slacktest.User) {
	t.Helper()
	ctx := context.Background()
	if ans, err := send.Command(ctx, fake.Command(asker, slacktest.Channel, "nudge campaign")); err != nil || ans.Status != 200 {
		t.Fatalf("nudge: %d %v", ans.Status, err)
	}
	card := slackCard(t, fake, "Nudge Campaign to register for MFA")
	press, err := fake.Press(approver, slacktest.Channel, card.TS, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("approve: %d %v", ans.Status, err)
	}
}

// TestCampaignEndToEnd runs a campaign through the App as `mfabot serve` builds it, with
// Slack, Teams and mail on: signed Slack commands and clicks, real Teams JWTs, the real
// Graph client against graphtest (sendMail from the helpdesk mailbox), a real SQLite file.
// The nudge reaches each unregistered member of the group once on the first channel that
// reaches them and lists the two nobody reaches; revoke-group --unregistered then signs
// out exactly the unregistered members; and the user a revoke concerns is told on Slack and
// by mail.
func TestCampaignEndToEnd(t *testing.T) {
	t.Parallel()
	const secret = "campaign-signing-secret-5a4b"
	ct := newCampaignTenant(t, 4)
	gs := graphtest.Start(t, ct.tenant, graphtest.Options{Limits: graphtest.Limits{Mail: 30, MailWindow: time.Minute}})
	for _, u := range []graphtest.User{
		{ID: annAADObject, UserPrincipalName: "ann.admin@" + ct.tenant.Domain(), DisplayName: "Ann Admin", AccountEnabled: true},
		{ID: benAADObject, UserPrincipalName: "ben.admin@" + ct.tenant.Domain(), DisplayName: "Ben Admin", AccountEnabled: true},
	} {
		if _, err := ct.tenant.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	fake := slacktest.Start(t)
	fake.EnforceLimits(slacktest.DocumentedLimits(), campaignScale)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann.admin@" + ct.tenant.Domain()}
	ben := slacktest.User{ID: "UBEN", Name: "ben", RealName: "Ben Admin", Email: "ben.admin@" + ct.tenant.Domain()}
	for _, u := range append(ct.slackUsers, ann, ben) {
		fake.AddUser(u)
	}
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
	_, url, _ := campaignApp(t, gs, filepath.Join(t.TempDir(), "mfabot.db"), map[string]string{
		"MFABOT_SLACK_BOT_TOKEN": slacktest.BotToken, "MFABOT_SLACK_SIGNING_SECRET": secret,
		"MFABOT_SLACK_API_URL": fake.APIURL(), "MFABOT_SLACK_CHANNEL": slacktest.Channel,
		"MFABOT_SLACK_USERS":  "UANN=" + annAADObject + ",UBEN=" + benAADObject,
		"MFABOT_TEAMS_APP_ID": teamsAppID, "MFABOT_TEAMS_APP_PASSWORD": teamsSecret, "MFABOT_TEAMS_TENANT_ID": teamsTenantID,
		"MFABOT_TEAMS_OPENID_URL": auth.OpenIDURL(), "MFABOT_TEAMS_CHANNEL": teamsChannel,
		"MFABOT_REQUESTERS":       "entra:" + annAADObject + ",entra:" + benAADObject,
		"MFABOT_APPROVERS":        "entra:" + annAADObject + ",entra:" + benAADObject,
		"MFABOT_PROTECTED_USERS":  graphtest.BreakGlassUPN + "," + ct.protected.UserPrincipalName,
		"MFABOT_SUMMARY_EXCLUDE":  ct.excluded.UserPrincipalName,
		"MFABOT_NOTIFY_MAIL_FROM": ct.mailbox.UserPrincipalName,
	}, appDeps{TeamsCredential: cred})

	// The bot joins the approvals channel's team, whose members include the three who are
	// only in Teams: it can open a personal chat with each of them from then on.
	tc := &teamsClient{t: t, url: url, auth: auth, conn: conn, tenant: teamsTenantID}
	up := tc.activity("conversationUpdate", annAADObject, "ann")
	up["conversation"] = map[string]any{"id": teamsChannel, "conversationType": "channel", "tenantId": teamsTenantID}
	up["channelData"].(map[string]any)["eventType"] = "teamMemberAdded"
	members := []any{map[string]any{"id": teamsBotMRI}}
	for i, u := range ct.teams {
		members = append(members, map[string]any{"id": fmt.Sprintf("29:teams-%d", i), "aadObjectId": u.ID, "name": u.DisplayName})
	}
	up["membersAdded"] = members
	if st, body := tc.post(tc.good(), up); st != 200 {
		t.Fatalf("conversationUpdate: %d %s", st, body)
	}

	send := slacktest.Sender{URL: url, Secret: secret}
	ctx := context.Background()
	command := func(text string) {
		t.Helper()
		if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, text)); err != nil || ans.Status != 200 {
			t.Fatalf("%s: %d %v", text, ans.Status, err)
		}
	}
	approve := func(card slacktest.Message) {
		t.Helper()
		press, err := fake.Press(ben, slacktest.Channel, card.TS, "Approve")
		if err != nil {
			t.Fatal(err)
		}
		if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
			t.Fatalf("approve: %d %v", ans.Status, err)
		}
	}
	final := func(card slacktest.Message, state string) string {
		t.Helper()
		var blocks string
		waitFor(t, "the card to reach "+state, func() bool {
			m, _ := fake.Message(slacktest.Channel, card.TS)
			blocks = string(m.Blocks)
			return strings.Contains(blocks, state)
		})
		return blocks
	}

	// The nudge.
	command("nudge Campaign please register before Friday")
	card := slackCard(t, fake, "Nudge Campaign to register for MFA")
	if !strings.Contains(string(card.Blocks), fmt.Sprintf("%d of %d enabled members are not registered for MFA", ct.unregisteredTargets, ct.unregisteredTargets+3+2)) {
		t.Fatalf("nudge card: %s", card.Blocks)
	}
	approve(card)
	blocks := final(card, "Partly failed")
	for _, want := range []string{
		fmt.Sprintf("Messaged %d of %d people (4 by Slack direct message · 3 by Teams chat · 2 by e-mail); 2 could not be reached", ct.unregisteredReached, ct.unregisteredTargets),
		"Not reached (2)", ct.none[0].UserPrincipalName, "e-mail: no mail address in the directory",
	} {
		if !strings.Contains(blocks, want) {
			t.Errorf("final card lacks %q:\n%s", want, blocks)
		}
	}
	for _, u := range ct.slackUsers {
		dms := fake.DirectMessages(u.ID)
		if len(dms) != 1 || !strings.Contains(string(dms[0].Blocks), "https://aka.ms/mfasetup") || !strings.Contains(string(dms[0].Blocks), "please register before Friday") {
			t.Errorf("%s got %d direct messages", u.Email, len(dms))
		}
	}
	creates, sends := map[string]int{}, map[string]int{}
	for _, call := range conn.Succeeded() {
		switch call.Op {
		case "create":
			var p struct {
				Members []struct{ ID string } `json:"members"`
			}
			_ = json.Unmarshal(call.Body, &p)
			creates[p.Members[0].ID]++
		case "send":
			if strings.HasPrefix(call.ConversationID, "a:personal") {
				sends[call.ConversationID]++
			}
		}
	}
	if len(creates) != 3 || len(sends) != 3 {
		t.Errorf("Teams: personal chats created %v, messages sent %v; want one each for the three", creates, sends)
	}
	for id, n := range sends {
		if n != 1 {
			t.Errorf("Teams chat %s got %d messages", id, n)
		}
	}
	for _, u := range ct.mail {
		if got := gs.MailsTo(u.Mail); len(got) != 1 || got[0].From != ct.mailbox.UserPrincipalName || !strings.Contains(got[0].Body, "https://aka.ms/mfasetup") {
			t.Errorf("%s got mails %+v", u.Mail, got)
		}
	}
	for _, u := range append(append(ct.spared(), ct.slack...), ct.teams...) {
		if n := len(gs.MailsTo(u.Mail)); u.Mail != "" && n != 0 {
			t.Errorf("%s was mailed %d times", u.UserPrincipalName, n)
		}
	}
	if n := fake.Throttled("chat.postMessage") + fake.Throttled("users.list"); n != 0 {
		t.Errorf("Slack answered %d × 429", n)
	}

	// Sign out exactly the unregistered members.
	command("revoke-group Campaign --unregistered deadline passed")
	card = slackCard(t, fake, "Revoke sessions of the unregistered members of Campaign")
	approve(card)
	final(card, "Succeeded")
	for _, u := range ct.targets() {
		if n := gs.Count(graphtest.OpRevoke, u.ID); n != 1 {
			t.Errorf("%s (unregistered) revoked %d times", u.UserPrincipalName, n)
		}
	}
	for _, u := range ct.spared() {
		if n := gs.Count(graphtest.OpRevoke, u.ID); n != 0 {
			t.Errorf("%s revoked %d times; a campaign leaves them alone", u.UserPrincipalName, n)
		}
	}

	// summary Campaign counts the group's members only, the excluded account apart, and
	// carries the buttons that start the campaign for its missing members.
	command("summary Campaign")
	sum := slackCard(t, fake, "MFA enrollment of Campaign")
	for _, want := range []string{
		"15 members · 1 guest (enabled)", "1 account · 1 without MFA (not counted)", "MFA registered (members)", "3 · 20.0%",
		"SSPR registered (members)", "12 members have not registered MFA", "nudge " + ct.group.ID, "revoke-group " + ct.group.ID + " --unregistered",
	} {
		if !strings.Contains(string(sum.Blocks), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.Blocks)
		}
	}

	// Its nudge button asks for the message, then makes the request for the approvers.
	press, err := fake.Press(ann, slacktest.Channel, sum.TS, "Nudge the 12 to register")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("press the summary's nudge: %d %v", ans.Status, err)
	}
	var views []slacktest.View
	waitFor(t, "the reason prompt", func() bool { views = fake.Views(); return len(views) == 1 })
	var v struct {
		Blocks []struct {
			Type    string `json:"type"`
			BlockID string `json:"block_id"`
			Element struct {
				ActionID string `json:"action_id"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(views[0].JSON, &v); err != nil {
		t.Fatal(err)
	}
	values := map[string]map[string]string{}
	for _, b := range v.Blocks {
		if b.Type == "input" {
			values[b.BlockID] = map[string]string{b.Element.ActionID: "second round: register by Monday"}
		}
	}
	sub, err := fake.Submit(ann, views[0].ID, values)
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := send.Interaction(ctx, sub.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("submit the message: %d %v", ans.Status, err)
	}
	waitFor(t, "the second nudge's card", func() bool {
		n := 0
		for _, m := range fake.Messages(slacktest.Channel) {
			if strings.Contains(string(m.Blocks), "Nudge Campaign to register for MFA") && strings.Contains(string(m.Blocks), "second round: register by Monday") {
				n++
			}
		}
		return n == 1
	})

	// The user a revoke concerns is told on Slack (found by e-mail) and by mail.
	target := ct.slack[0]
	command("revoke " + target.UserPrincipalName + " laptop stolen")
	card = slackCard(t, fake, "Revoke sign-in sessions of "+target.UserPrincipalName)
	approve(card)
	final(card, "Succeeded")
	waitFor(t, "the affected user to be told", func() bool {
		return len(fake.DirectMessages(ct.slackUsers[0].ID)) == 2 && len(gs.MailsTo(target.Mail)) == 1
	})
	if dms := fake.DirectMessages(ct.slackUsers[0].ID); !strings.Contains(string(dms[1].Blocks), "signed you out of every device") {
		t.Errorf("notice: %s", dms[1].Blocks)
	}
}

// TestNudgeSurvivesRestart: mfabot stopped in the middle of a nudge (SIGTERM) and started
// again on the same database messages the rest, and nobody twice.
// campaignScale speeds Slack's documented limits up in these tests, on the fake and in
// mfabot's pacing alike.
const campaignScale = 10

func TestNudgeSurvivesRestart(t *testing.T) {
	t.Parallel()
	const secret = "restart-signing-secret-7c6d"
	ct := newCampaignTenant(t, 6)
	gs := graphtest.Start(t, ct.tenant, graphtest.Options{})
	fake := slacktest.Start(t)
	fake.EnforceLimits(slacktest.DocumentedLimits(), campaignScale)
	ann := slacktest.User{ID: "UANN", Name: "ann", Email: "ann@contoso.com"}
	ben := slacktest.User{ID: "UBEN", Name: "ben", Email: "ben@contoso.com"}
	for _, u := range append(ct.slackUsers, ann, ben) {
		fake.AddUser(u)
	}
	db := filepath.Join(t.TempDir(), "mfabot.db")
	vars := map[string]string{
		"MFABOT_SLACK_BOT_TOKEN": slacktest.BotToken, "MFABOT_SLACK_SIGNING_SECRET": secret,
		"MFABOT_SLACK_API_URL": fake.APIURL(), "MFABOT_SLACK_CHANNEL": slacktest.Channel,
		"MFABOT_REQUESTERS": "slack:UANN,slack:UBEN", "MFABOT_APPROVERS": "slack:UANN,slack:UBEN",
		"MFABOT_PROTECTED_USERS":  ct.protected.UserPrincipalName,
		"MFABOT_SUMMARY_EXCLUDE":  ct.excluded.UserPrincipalName,
		"MFABOT_NOTIFY_MAIL_FROM": ct.mailbox.UserPrincipalName,
		"MFABOT_SHUTDOWN_GRACE":   "5s",
	}
	ct.tenant.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	_, url, stop := campaignApp(t, gs, db, vars, appDeps{})
	send := slacktest.Sender{URL: url, Secret: secret}
	ctx := context.Background()
	nudgeApproved(t, fake, send, ann, ben)
	// Slack takes one direct message a second: stop once two have gone.
	dmCount := func() int {
		n := 0
		for _, u := range ct.slackUsers {
			n += len(fake.DirectMessages(u.ID))
		}
		return n
	}
	waitFor(t, "two direct messages", func() bool { return dmCount() >= 2 })
	stop()
	store, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := store.Requests(ctx, approvals.RequestFilter{Limit: 10})
	store.Close()
	if err != nil || len(rs) != 1 {
		t.Fatalf("requests %v %v", rs, err)
	}
	mid := rs[0]
	if mid.State != approvals.StateRunning || mid.Done+mid.Failed >= mid.Total {
		t.Fatalf("after the stop: %s %d+%d of %d", mid.State, mid.Done, mid.Failed, mid.Total)
	}
	sentBefore := dmCount()

	again, _, _ := campaignApp(t, gs, db, vars, appDeps{})
	var end *approvals.Request
	waitFor(t, "the nudge to finish after the restart", func() bool {
		end, err = again.DB.Request(ctx, mid.ID)
		return err == nil && end.State.Final()
	})
	// Teams is off here: the three who are only in Teams are mailed instead; the two
	// without an address are reached by nothing.
	if end.State != approvals.StatePartlyFailed || end.Done != ct.unregisteredReached || end.Failed != 2 {
		t.Fatalf("after the restart: %s %d done %d failed of %d", end.State, end.Done, end.Failed, end.Total)
	}
	for _, u := range ct.slackUsers {
		if n := len(fake.DirectMessages(u.ID)); n != 1 {
			t.Errorf("%s got %d direct messages across the restart (%d before it)", u.Email, n, sentBefore)
		}
	}
	for _, u := range append(ct.teams, ct.mail...) {
		if n := len(gs.MailsTo(u.Mail)); n != 1 {
			t.Errorf("%s was mailed %d times", u.Mail, n)
		}
	}
	if n := fake.Throttled("chat.postMessage"); n != 0 {
		t.Errorf("Slack answered %d × 429", n)
	}
}
