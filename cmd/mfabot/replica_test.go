package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// TestMain stops the throwaway PostgreSQL server the replica tests start. In a process
// started with binaryEnv it is mfabot instead: main runs, and no test.
//
// These end-to-end tests mostly wait (on mfabot processes, fakes, a browser), so unless
// -test.parallel is given, four of them run at once instead of GOMAXPROCS: on the 2-core
// CI machine that halves the package's wall time.
func TestMain(m *testing.M) {
	if os.Getenv(asMfabot) == "1" {
		main()
		return
	}
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
	os.Exit(storagetest.Main(m))
}

// replica is one `mfabot serve` process of the binary.
type replica struct {
	name string
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{} // closed when the process has ended
}

// startReplica runs `mfabot serve` with env and waits until it serves and is ready.
func startReplica(t *testing.T, name, bin string, env []string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	serving := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			r.logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "mfabot serving" {
				serving <- rec.Addr
			}
		}
		_ = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, r.logs.String())
		}
	})
	select {
	case addr := <-serving:
		r.url = "http://" + addr
	case <-r.done:
		t.Fatalf("%s ended before serving:\n%s", name, r.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s never served:\n%s", name, r.logs.String())
	}
	waitFor(t, name+" ready", func() bool {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// TestReplicas runs two `mfabot serve` processes of the real binary on one PostgreSQL
// database, behind the Slack fake and graphtest, as two pods behind a load balancer:
// clicks on both at once decide and execute a request once, the daily summary is posted
// once, a replica killed (SIGKILL) in the middle of a revoke-group leaves it to the
// other, which finishes it without redoing a finished item, and the audit log verifies.
func TestReplicas(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: runs two mfabot replicas on PostgreSQL")
	}
	ctx := context.Background()
	pg := storagetest.SharedPostgres(t)
	dbURL, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := binary(t)
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 3, Users: 2600})
	gs := graphtest.Start(t, tenant, graphtest.Options{Latency: 5 * time.Millisecond})
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin"}
	ben := slacktest.User{ID: "UBEN", Name: "ben", RealName: "Ben Approver"}
	cat := slacktest.User{ID: "UCAT", Name: "cat", RealName: "Cat Approver"}
	for _, u := range []slacktest.User{ann, ben, cat} {
		fake.AddUser(u)
	}
	const secret = "binary-test-secret" // binaryEnv's signing secret
	env := append(binaryEnv(t, gs, fake, dbURL, "127.0.0.1:0"),
		"MFABOT_APPROVERS=slack:UBEN,slack:UCAT",
		"MFABOT_CONFIRM_ABOVE=100000",
		// A crashed replica's request is resumed 2 s after its last renewal, not 30 s.
		"MFABOT_EXECUTOR_LEASE=2s",
		// The fake sets no limits; graphtest's HoldAfter, not a slow pace, catches the
		// revoke-group in the middle.
		"MFABOT_GRAPH_WRITE_RATE=5000",
		// Both replicas start after 00:00 UTC: both catch up on today's summary at once.
		"MFABOT_SUMMARY_ENABLED=true", "MFABOT_SUMMARY_AT=00:00", "MFABOT_SUMMARY_TIMEZONE=UTC",
	)
	day := time.Now().UTC().Format("Mon 2 Jan") // as the summary's title says it, before the year
	replicas := []*replica{startReplica(t, "replica A", bin, env), startReplica(t, "replica B", bin, env)}
	a, b := replicas[0], replicas[1]
	db, err := storage.OpenReadOnly(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("OK_SummaryPostedOnce", func(t *testing.T) {
		for _, r := range replicas {
			waitFor(t, r.name+"'s summary claim", func() bool {
				l := r.logs.String()
				return strings.Contains(l, `"summary: posted"`) || strings.Contains(l, `"summary: already posted or claimed elsewhere"`)
			})
		}
		posts := map[string]int{}
		for _, m := range fake.Messages(slacktest.Channel) {
			if _, title, ok := strings.Cut(m.Text+string(m.Blocks), "MFA enrollment — "); ok {
				d, _, _ := strings.Cut(title, " 20")
				posts[d]++
			}
		}
		// A run across midnight sees tomorrow's post too; each day has one.
		for d, n := range posts {
			if n != 1 {
				t.Errorf("%d summaries of %s; want one", n, d)
			}
		}
		if posts[day] != 1 {
			t.Errorf("summaries: %v; want today's (%s) once", posts, day)
		}
	})

	t.Run("OK_ClicksOnBothReplicasDecideOnce", func(t *testing.T) {
		adele, _ := tenant.User(graphtest.AdeleUPN)
		sendA := slacktest.Sender{URL: a.url, Secret: secret}
		sendB := slacktest.Sender{URL: b.url, Secret: secret}
		if ans, err := sendA.Command(ctx, fake.Command(ann, slacktest.Channel, "reset "+graphtest.AdeleUPN+" lost phone")); err != nil || ans.Status != 200 {
			t.Fatalf("command: %v %v", ans.Status, err)
		}
		var card slacktest.Message
		waitFor(t, "the approval card", func() bool {
			for _, m := range fake.Messages(slacktest.Channel) {
				if strings.Contains(string(m.Blocks), "Reset MFA for "+graphtest.AdeleUPN) {
					card = m
					return true
				}
			}
			return false
		})
		// Ben's click lands on A, Cat's on B, and Ben's again on B (Slack retrying it), all
		// at once.
		var clicks []func() (slacktest.Answer, error)
		for _, c := range []struct {
			who  slacktest.User
			send slacktest.Sender
		}{{ben, sendA}, {cat, sendB}, {ben, sendB}} {
			press, err := fake.Press(c.who, slacktest.Channel, card.TS, "Approve")
			if err != nil {
				t.Fatal(err)
			}
			clicks = append(clicks, func() (slacktest.Answer, error) { return c.send.Interaction(ctx, press.Payload()) })
		}
		var wg sync.WaitGroup
		for i, click := range clicks {
			wg.Go(func() {
				if ans, err := click(); err != nil || ans.Status != 200 {
					t.Errorf("click %d: %v %v", i, ans.Status, err)
				}
			})
		}
		wg.Wait()
		r := waitRequest(t, db, "the reset", approvals.StateSucceeded, func(r *approvals.Request) bool {
			return r.Target.ID == adele.ID
		})
		if len(r.Approvals) != 1 {
			t.Errorf("%d approvals recorded; want 1: %+v", len(r.Approvals), r.Approvals)
		}
		if n := gs.Count(graphtest.OpRevoke, adele.ID); n != 1 {
			t.Errorf("Adele's sessions revoked %d times; want once", n)
		}
		for _, m := range gs.Tenant().Methods(adele.ID) {
			if m.Type != graphtest.MethodPassword {
				t.Errorf("method %s left", m.Type)
			}
		}
		var approved, started int
		if err := db.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
			if ev.RequestID == r.ID && ev.Type == approvals.EventApproved {
				approved++
			}
			if ev.RequestID == r.ID && ev.Type == approvals.EventStarted {
				started++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if approved != 1 || started != 1 {
			t.Errorf("audit: %d approved and %d started entries; want one each", approved, started)
		}
		waitFor(t, "the card to show success", func() bool {
			m, _ := fake.Message(slacktest.Channel, card.TS)
			return strings.Contains(string(m.Blocks), "Succeeded")
		})
	})

	t.Run("OK_KilledMidRevokeGroupFinishedByTheOther", func(t *testing.T) {
		// Revocations so far (the reset above revoked Adele): the group's are counted on top.
		before := map[string]int{}
		for _, u := range gs.Tenant().Users() {
			before[u.ID] = gs.Count(graphtest.OpRevoke, u.ID)
		}
		// Graph stops answering after 300 revocations, so the run is caught in the middle
		// however fast it goes; it is released once the runner is dead.
		held, release := gs.HoldAfter(graphtest.OpRevoke, 300)
		defer release()
		send := slacktest.Sender{URL: b.url, Secret: secret}
		if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, `revoke-group "`+graphtest.GroupAllStaff+`" compromised`)); err != nil || ans.Status != 200 {
			t.Fatalf("command: %v %v", ans.Status, err)
		}
		var card slacktest.Message
		waitFor(t, "the revoke-group card", func() bool {
			for _, m := range fake.Messages(slacktest.Channel) {
				if strings.Contains(string(m.Blocks), graphtest.GroupAllStaff) && strings.Contains(string(m.Blocks), "Approve") {
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
		if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
			t.Fatalf("approve: %v %v", ans.Status, err)
		}
		select {
		case <-held:
		case <-time.After(time.Minute): // only turns a hang into a failure
			t.Fatal("the revoke-group never reached 300 revocations")
		}
		r := waitRequest(t, db, "the revoke-group under way", approvals.StateRunning, func(r *approvals.Request) bool {
			return r.Kind == approvals.KindRevokeGroup && r.Done > 0
		})
		runner := runnerOf(t, db, r.ID, replicas)
		if err := runner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-runner.done
		finished, err := db.Items(ctx, r.ID, approvals.ItemDone, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		mid, _ := db.Request(ctx, r.ID)
		t.Logf("killed %s after %d of %d items", runner.name, len(finished), mid.Total)
		if mid.State != approvals.StateRunning || mid.Done >= mid.Total {
			t.Fatalf("after the kill: %s %d/%d; the test needs it unfinished", mid.State, mid.Done, mid.Total)
		}
		release()

		end := waitRequest(t, db, "the other replica to finish the revoke-group", approvals.StateSucceeded, func(x *approvals.Request) bool {
			return x.ID == r.ID
		})
		if end.Done != end.Total || end.Total != r.Preview.MemberCount {
			t.Fatalf("after resume: %d/%d (members %d)", end.Done, end.Total, r.Preview.MemberCount)
		}
		other := replicas[0]
		if other == runner {
			other = replicas[1]
		}
		if by := runnerOf(t, db, r.ID, replicas); by != runner { // the started entry stays the first runner's
			t.Errorf("started by %s", by.name)
		}
		if !strings.Contains(other.logs.String(), r.ID) {
			t.Errorf("%s's logs do not mention %s, which it resumed", other.name, r.ID)
		}
		for _, it := range finished {
			if n := gs.Count(graphtest.OpRevoke, it.UserID) - before[it.UserID]; n != 1 {
				t.Errorf("%s was finished before the kill but revoked %d times", it.UserName, n)
			}
		}
		items, err := db.Items(ctx, r.ID, "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if gs.Count(graphtest.OpRevoke, it.UserID)-before[it.UserID] < 1 {
				t.Fatalf("member %s was never revoked", it.UserName)
			}
		}
	})

	t.Run("OK_AuditVerifies", func(t *testing.T) {
		cmd := exec.Command(bin, "audit", "verify")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "audit log intact") {
			t.Fatalf("audit verify: %v\n%s", err, out)
		}
	})

	password := storage.URLPassword(dbURL)
	for _, r := range replicas {
		if password == "" || strings.Contains(r.logs.String(), password) {
			t.Errorf("%s's logs show the database password (or the test URL has none)", r.name)
		}
		if !strings.Contains(r.logs.String(), `"engine":"postgres"`) {
			t.Errorf("%s does not say it runs on PostgreSQL", r.name)
		}
	}
}

// waitRequest waits up to two minutes for a request in state that matches and returns it.
func waitRequest(t *testing.T, db *storage.DB, what string, state approvals.State, match func(*approvals.Request) bool) *approvals.Request {
	t.Helper()
	var found *approvals.Request
	waitForWithin(t, what, 2*time.Minute, func() bool {
		rs, err := db.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{state}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if match(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// ownerPID reads the process id from an executor name (executorOwner).
var ownerPID = regexp.MustCompile(`executor mfabot-.*-(\d+)-[0-9a-f]+$`)

// runnerOf is the replica whose executor started request id, by its audit entry.
func runnerOf(t *testing.T, db *storage.DB, id string, replicas []*replica) *replica {
	t.Helper()
	var pid int
	if err := db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.RequestID == id && ev.Type == approvals.EventStarted {
			if m := ownerPID.FindStringSubmatch(ev.Detail); m != nil {
				pid, _ = strconv.Atoi(m[1])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		if r.cmd.Process.Pid == pid {
			return r
		}
	}
	t.Fatalf("request %s was started by pid %d, which is no replica", id, pid)
	return nil
}
