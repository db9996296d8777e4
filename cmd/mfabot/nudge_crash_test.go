package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
)

// TestNudgeSurvivesKill: an mfabot process killed (SIGKILL) while a nudge's direct message
// is on its way, and another started on the same database, messages everybody else once
// and nobody twice; the message that was on its way is not sent again but reported as
// possibly arrived.
func TestNudgeSurvivesKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: runs mfabot as a process")
	}
	ctx := context.Background()
	ct := newCampaignTenant(t, 6)
	gs := graphtest.Start(t, ct.tenant, graphtest.Options{})
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", Email: "ann@contoso.com"}
	ben := slacktest.User{ID: "UBEN", Name: "ben", Email: "ben@contoso.com"}
	for _, u := range append(ct.slackUsers, ann, ben) {
		fake.AddUser(u)
	}
	db := filepath.Join(t.TempDir(), "mfabot.db")
	const secret = "binary-test-secret" // binaryEnv's signing secret
	// No mailbox and no Teams: only the Slack users can be reached.
	env := append(binaryEnv(t, gs, fake, db, "127.0.0.1:0"),
		"MFABOT_REQUESTERS=slack:UANN,slack:UBEN", "MFABOT_APPROVERS=slack:UANN,slack:UBEN",
		"MFABOT_PROTECTED_USERS="+ct.protected.UserPrincipalName, "MFABOT_SUMMARY_EXCLUDE="+ct.excluded.UserPrincipalName,
		"MFABOT_EXECUTOR_LEASE=2s")
	bin := binary(t)
	first := startReplica(t, "the first mfabot", bin, env)
	send := slacktest.Sender{URL: first.url, Secret: secret}
	nudgeApproved(t, fake, send, ann, ben)
	dms := func() (sent int, perUser map[string]int) {
		perUser = map[string]int{}
		for _, u := range ct.slackUsers {
			perUser[u.ID] = len(fake.DirectMessages(u.ID))
			sent += perUser[u.ID]
		}
		return sent, perUser
	}
	// Once the first nudge is out (a second a message), Slack stops taking nudges: the next
	// one, which is on its way when mfabot is killed, is held. Other posts (the notices to
	// Ann) go on.
	waitFor(t, "the first direct message", func() bool { n, _ := dms(); return n > 0 })
	nudged := map[string]bool{}
	for _, u := range ct.slackUsers {
		nudged[u.ID] = true
	}
	held, release := fake.HoldAfter("chat.postMessage", 0, func(args map[string]string) bool { return nudged[args["channel"]] })
	defer release()
	select {
	case <-held:
	case <-time.After(time.Minute): // only turns a hang into a failure
		t.Fatal("the nudge never sent its messages")
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	release()

	store, err := storage.OpenReadOnly(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rs, err := store.Requests(ctx, approvals.RequestFilter{Limit: 10})
	if err != nil || len(rs) != 1 {
		t.Fatalf("requests %v %v", rs, err)
	}
	mid := rs[0]
	if mid.State != approvals.StateRunning || mid.Done+mid.Failed >= mid.Total {
		t.Fatalf("after the kill: %s %d+%d of %d", mid.State, mid.Done, mid.Failed, mid.Total)
	}
	before, _ := dms()

	startReplica(t, "the second mfabot", bin, env)
	end := waitRequest(t, store, "the nudge to end after the restart", approvals.StatePartlyFailed, func(r *approvals.Request) bool {
		return r.ID == mid.ID
	})
	items, err := store.Items(ctx, mid.ID, approvals.ItemFailed, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	uncertain := map[string]bool{}
	for _, it := range items {
		if strings.Contains(it.Error, "it may have arrived, so it was not sent again") {
			uncertain[it.UserName] = true
		}
	}
	sent, perUser := dms()
	t.Logf("killed after %d direct messages; %d in all, %d reported as possibly arrived", before, sent, len(uncertain))
	if len(uncertain) < 1 {
		t.Errorf("no message is reported as possibly arrived, though one was on its way at the kill:\n%+v", items)
	}
	// Nobody got two; whoever got none is one whose message was on its way. (The held
	// message itself may still arrive if Slack's side finishes it: "may have arrived".)
	for i, u := range ct.slackUsers {
		switch n := perUser[u.ID]; {
		case n > 1:
			t.Errorf("%s got %d direct messages", u.Email, n)
		case n == 0 && !uncertain[ct.slack[i].UserPrincipalName]:
			t.Errorf("%s got no direct message and is not reported as possibly reached", u.Email)
		}
	}
	// The rest are reached by nothing here (no Teams, no mailbox): failed, each saying why.
	if end.Done+end.Failed != end.Total || end.Failed < end.Total-len(ct.slackUsers) || end.Done > sent {
		t.Errorf("%d done and %d failed of %d, with %d direct messages sent", end.Done, end.Failed, end.Total, sent)
	}
}
