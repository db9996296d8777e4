package approvals_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
)

// staticToken is a credential holding a token graphtest issued, for the child process.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

const crashEnv = "MFABOT_CRASH_CHILD"

func crashDirectory(t testing.TB, graphURL, token string, writeRate float64) *graph.Client {
	c, err := graph.New(graph.Config{TenantID: "t", ClientID: graphtest.DefaultClientID, Credential: staticToken(token),
		BaseURL: graphURL, WriteRate: writeRate, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMain runs the executor process the crash test kills when started as that child.
func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		crashChild()
		return
	}
	os.Exit(m.Run())
}

// crashChild runs an executor on the crash test's database until it is killed.
func crashChild() {
	ctx := context.Background()
	db, err := storage.Open(ctx, os.Getenv("MFABOT_CRASH_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := graph.New(graph.Config{TenantID: "t", ClientID: graphtest.DefaultClientID, Credential: staticToken(os.Getenv("MFABOT_CRASH_TOKEN")),
		BaseURL: os.Getenv("MFABOT_CRASH_GRAPH"), WriteRate: 600, Concurrency: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ex := approvals.NewExecutor(db, dir, approvals.Policy{}, approvals.ExecutorOptions{Owner: "child", Lease: 2 * time.Second, Concurrency: 2,
		Notifier: &progressPrinter{}})
	_ = ex.Run(ctx) // until SIGKILL
}

// TestCrashResume kills an executor process with SIGKILL in the middle of a revoke-group
// of 2,000+ members, starts another, and checks that every member is revoked, that no
// item finished before the crash is redone (counted at graphtest), and that the audit
// chain still verifies.
func TestCrashResume(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: the crash test spawns a child process")
	}
	ctx := context.Background()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 3, Users: 2600})
	gs := graphtest.Start(t, tenant, graphtest.Options{Latency: 5 * time.Millisecond})
	token := gs.IssueToken()
	dbPath := filepath.Join(t.TempDir(), "mfabot.db")
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := crashDirectory(t, gs.URL(), token, 2000)
	pol := approvals.Policy{Requesters: mustPrincipals(t, "slack:UANN,slack:UBEN"), Approvers: mustPrincipals(t, "slack:UANN,slack:UBEN"), ConfirmAbove: 100000}
	svc := approvals.NewService(db, dir, pol, approvals.ServiceOptions{})
	// Slack-only actors: the simulated tenant has no users for the fixture's Entra links.
	annSlack := approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
	benSlack := approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben"}
	r, err := svc.Create(ctx, annSlack, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: graphtest.GroupAllStaff})
	if err != nil {
		t.Fatal(err)
	}
	if r.Preview.MemberCount < 2000 {
		t.Fatalf("group has %d members; the test needs 2,000", r.Preview.MemberCount)
	}
	if _, err := svc.Approve(ctx, benSlack, r.ID); err != nil {
		t.Fatal(err)
	}

	killAfter(t, 400, "MFABOT_CRASH_DB="+dbPath, "MFABOT_CRASH_GRAPH="+gs.URL(), "MFABOT_CRASH_TOKEN="+token)
	mid, _ := db.Request(ctx, r.ID)
	if mid.State != approvals.StateRunning || mid.Done >= mid.Total {
		t.Fatalf("after the kill: %s %d/%d", mid.State, mid.Done, mid.Total)
	}
	finished, err := db.Items(ctx, r.ID, approvals.ItemDone, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the executor after %d of %d items", len(finished), mid.Total)

	// A new executor resumes once the dead one's lease lapses: its clock is set past the
	// lease rather than the test waiting for it.
	ex := approvals.NewExecutor(db, dir, pol, approvals.ExecutorOptions{Owner: "second", Lease: 2 * time.Second,
		Clock: approvalstest.NewClock(time.Now().Add(3 * time.Second))})
	if ran, err := ex.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("the request was not resumed: ran %v, %v", ran, err)
	}
	end, _ := db.Request(ctx, r.ID)
	if end.State != approvals.StateSucceeded || end.Done != end.Total || end.Total != r.Preview.MemberCount {
		t.Fatalf("after resume: %s %d/%d (members %d)", end.State, end.Done, end.Total, r.Preview.MemberCount)
	}
	for _, id := range tenant.TransitiveUsers(mustGroupID(t, tenant, graphtest.GroupAllStaff)) {
		if gs.Count(graphtest.OpRevoke, id) < 1 {
			t.Fatalf("member %s was never revoked", id)
		}
	}
	for _, it := range finished {
		if n := gs.Count(graphtest.OpRevoke, it.UserID); n != 1 {
			t.Fatalf("%s was finished before the crash but revoked %d times", it.UserName, n)
		}
	}
	res, err := db.VerifyAudit(ctx)
	if err != nil || !res.OK {
		t.Fatalf("audit after the crash: %v %v", res, err)
	}
}

func mustGroupID(t *testing.T, tenant *graphtest.Tenant, name string) string {
	for _, g := range tenant.Groups() {
		if g.DisplayName == name {
			return g.ID
		}
	}
	t.Fatalf("no group %s", name)
	return ""
}

// progressPrinter tells the parent test on stdout how many items are done, so that it
// kills the child when enough are, without polling the database.
type progressPrinter struct{ mu sync.Mutex }

func (p *progressPrinter) Notify(_ context.Context, r *approvals.Request, event string) {
	if event != approvals.EventProgress {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Printf("done %d\n", r.Done)
}

// killAfter starts the crash child with env and SIGKILLs it once it reports that after
// items are done; the bound only turns a hang into a failure.
func killAfter(t *testing.T, after int, env ...string) {
	t.Helper()
	child := exec.Command(os.Args[0])
	child.Env = append(append(os.Environ(), crashEnv+"=1"), env...)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	reached := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "done %d", &n); err == nil && n >= after && !once {
				once = true
				close(reached)
			}
		}
	}()
	select {
	case <-reached:
	case <-time.After(90 * time.Second):
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("the child did not reach %d items", after)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
}
