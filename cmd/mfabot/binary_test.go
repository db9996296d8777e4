package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// asMfabot in a test process's environment makes the test binary mfabot itself (see
// TestMain).
const asMfabot = "MFABOT_TEST_BINARY_IS_MFABOT"

// binary is the executable that the process tests run as mfabot: this test binary, whose
// TestMain calls main when binaryEnv's marker is set. It is the same main and the same
// code, without linking a second large executable for every run; deploy/packaging_test.go
// builds the real one with the Dockerfile's very flags.
func binary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// binaryEnv is the environment of an mfabot process pointed at graphtest and the Slack
// fake, trusting the fake authority's certificate.
func binaryEnv(t *testing.T, gs *graphtest.Server, fake *slacktest.Server, db, listen string) []string {
	t.Helper()
	certs := filepath.Join(t.TempDir(), "authority.pem")
	if err := os.WriteFile(certs, gs.AuthorityCertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), asMfabot+"=1",
		"SSL_CERT_FILE="+certs,
		"MFABOT_DB="+db, "MFABOT_LISTEN="+listen, "MFABOT_GRAPH_URL="+gs.URL(),
		"AZURE_TENANT_ID="+gs.Tenant().ID(), "AZURE_CLIENT_ID="+gs.ClientID(), "AZURE_CLIENT_SECRET="+gs.ClientSecret(),
		"AZURE_AUTHORITY_HOST="+gs.AuthorityURL(),
		"MFABOT_SLACK_BOT_TOKEN="+slacktest.BotToken, "MFABOT_SLACK_SIGNING_SECRET=binary-test-secret",
		"MFABOT_SLACK_API_URL="+fake.APIURL(), "MFABOT_SLACK_CHANNEL="+slacktest.Channel,
		"MFABOT_REQUESTERS=slack:UANN", "MFABOT_APPROVERS=slack:UBEN",
		"MFABOT_SUMMARY_ENABLED=false", "MFABOT_SHUTDOWN_GRACE=5s",
	)
}

// TestServeBinaryStopsOnSIGTERM runs the built binary as production does: it serves
// /healthz and /readyz, and SIGTERM ends it cleanly (exit 0) within the grace period.
func TestServeBinaryStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: runs mfabot as a process")
	}
	bin := binary(t)
	gs := graphtest.Start(t, graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 50}), graphtest.Options{})
	fake := slacktest.Start(t)
	// The binary picks its own port and logs it: a port chosen here could be taken by
	// another test before the binary binds it.
	cmd := exec.Command(bin, "serve")
	cmd.Env = binaryEnv(t, gs, fake, filepath.Join(t.TempDir(), "m.db"), "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan string, 1)
	logs := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			all.WriteString(line + "\n")
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "mfabot serving" {
				serving <- rec.Addr
			}
		}
		logs <- all.String()
	}()
	var addr string
	select {
	case addr = <-serving:
	case out := <-logs:
		t.Fatalf("the binary ended before serving:\n%s", out)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("never served:\n%s", <-logs)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitForWithin(t, "/readyz to answer 200", 20*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out := <-logs // read to the end before Wait, which closes the pipe
	err := cmd.Wait()
	if err != nil || time.Since(start) > 10*time.Second {
		t.Fatalf("after SIGTERM: %v after %s\n%s", err, time.Since(start), out)
	}
	if !strings.Contains(out, "shutting down") || strings.Contains(out, gs.ClientSecret()) || strings.Contains(out, "binary-test-secret") {
		t.Fatalf("logs:\n%s", out)
	}
}

// TestSummaryBinary: `mfabot summary` prints the enrollment summary; with --post it posts
// it (chart and CSV uploaded) once per day: a second run the same day posts nothing.
func TestSummaryBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("testing.Short: runs mfabot as a process")
	}
	bin := binary(t)
	gs := graphtest.Start(t, graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 200}), graphtest.Options{})
	fake := slacktest.Start(t)
	env := binaryEnv(t, gs, fake, filepath.Join(t.TempDir(), "m.db"), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "summary")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "MFA") {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	for range 2 {
		cmd = exec.CommandContext(ctx, bin, "summary", "--post")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("summary --post: %v\n%s", err, out)
		}
	}
	if n := len(fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d summary posts, want exactly one for the day", n)
	}
	if len(fake.Calls("files.completeUploadExternal")) == 0 {
		t.Fatal("the chart and CSV were not uploaded")
	}
}

// The mfabot binary links no test package: test helpers (storagetest, the fakes'
// Start(tb) functions) must not pull testing or httptest into production.
func TestBinaryLinksNoTestPackages(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/mfabot/mfabot/cmd/mfabot").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "testing/") || dep == "net/http/httptest" || strings.HasSuffix(dep, "/storagetest") {
			t.Errorf("the mfabot binary links %s", dep)
		}
	}
}
