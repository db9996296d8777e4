package approvals_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
)

// TestCrashResumeBulkReset kills an executor process with SIGKILL in the middle of a
// bulk reset of 600 users (the same child TestCrashResume uses), starts another, and
// checks that every user is reset, that no user whose item had finished before the crash
// is reset again (revocations counted at graphtest), and that the audit chain verifies.
func TestCrashResumeBulkReset(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: the crash test spawns a child process")
	}
	ctx := context.Background()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 4, Users: 900})
	gs := graphtest.Start(t, tenant, graphtest.Options{Latency: 2 * time.Millisecond})
	token := gs.IssueToken()
	dbPath := filepath.Join(t.TempDir(), "mfabot.db")
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := crashDirectory(t, gs.URL(), token, 2000)
	pol := approvals.Policy{Requesters: mustPrincipals(t, "slack:UANN,slack:UBEN"), Approvers: mustPrincipals(t, "slack:UANN,slack:UBEN")}
	svc := approvals.NewService(db, dir, pol, approvals.ServiceOptions{})
	var rows []approvals.BulkRow
	for _, u := range tenant.Users() {
		if u.UserType == graphtest.Member && u.AccountEnabled && len(rows) < 600 {
			rows = append(rows, approvals.BulkRow{Line: len(rows) + 2, Value: u.UserPrincipalName})
		}
	}
	annSlack := approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
	benSlack := approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben"}
	r, err := svc.CreateBulkReset(ctx, annSlack, approvals.BulkInput{Source: "users.csv", Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Preview.Bulk.Users)
	if n < 550 {
		t.Fatalf("%d users on the list (refused %d); the test needs 550", n, len(r.Preview.Bulk.Refused))
	}
	if _, err := svc.Approve(ctx, benSlack, r.ID); err != nil {
		t.Fatal(err)
	}

	killAfter(t, 100, "MFABOT_CRASH_DB="+dbPath, "MFABOT_CRASH_GRAPH="+gs.URL(), "MFABOT_CRASH_TOKEN="+token)
	mid, _ := db.Request(ctx, r.ID)
	if mid.State != approvals.StateRunning || mid.Done >= mid.Total || mid.Total != n {
		t.Fatalf("after the kill: %s %d/%d", mid.State, mid.Done, mid.Total)
	}
	finished, err := db.Items(ctx, r.ID, approvals.ItemDone, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the executor after %d of %d users", len(finished), n)

	// A new executor resumes once the dead one's lease lapses: its clock is past it.
	ex := approvals.NewExecutor(db, dir, pol, approvals.ExecutorOptions{Owner: "second", Lease: 2 * time.Second,
		Clock: approvalstest.NewClock(time.Now().Add(3 * time.Second))})
	if ran, err := ex.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("the request was not resumed: ran %v, %v", ran, err)
	}
	end, _ := db.Request(ctx, r.ID)
	if end.State != approvals.StateSucceeded || end.Done != n {
		t.Fatalf("after resume: %s %d/%d, %d failed", end.State, end.Done, end.Total, end.Failed)
	}
	for _, u := range r.Preview.Bulk.Users {
		if gs.Count(graphtest.OpRevoke, u.ID) < 1 {
			t.Fatalf("%s was never reset", u.UPN)
		}
		for _, m := range tenant.Methods(u.ID) {
			if m.Type != graphtest.MethodPassword {
				t.Fatalf("%s still has a %s method", u.UPN, m.Type)
			}
		}
	}
	for _, it := range finished {
		if c := gs.Count(graphtest.OpRevoke, it.UserID); c != 1 {
			t.Fatalf("%s was reset before the crash and revoked %d times", it.UserName, c)
		}
	}
	res, err := db.VerifyAudit(ctx)
	if err != nil || !res.OK {
		t.Fatalf("audit after the crash: %v %v", res, err)
	}
}
