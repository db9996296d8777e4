package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// envOf is a getenv that reads m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// syncBuffer is a log sink tests can read while the app writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testApp is mfabot serving on 127.0.0.1 against the simulated tenant.
type testApp struct {
	*App
	URL    string
	Graph  *graphtest.Server
	Logs   *syncBuffer
	Config *config.Config
}

// startApp runs the real App, configured only through environment variables as an
// operator would, against graphtest; extra adds or overrides variables.
func startApp(t *testing.T, extra map[string]string) *testApp {
	t.Helper()
	return startAppWith(t, extra, appDeps{})
}

// startAppWith is startApp with dependencies the configuration cannot name (a test
// authority's credential).
func startAppWith(t *testing.T, extra map[string]string, deps appDeps) *testApp {
	t.Helper()
	return startAppOn(t, extra, deps, nil)
}

// startAppOn is startAppWith with edit applied to the simulated tenant before the app
// starts (and pins its groups).
func startAppOn(t *testing.T, extra map[string]string, deps appDeps, edit func(*graphtest.Tenant)) *testApp {
	t.Helper()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 11, Users: 400})
	// The admins who act in these tests are enabled users of the tenant: mfabot checks
	// the Entra account of every linked actor.
	for _, u := range []graphtest.User{
		{ID: annAADObject, UserPrincipalName: "ann.admin@" + tenant.Domain(), DisplayName: "Ann Admin", AccountEnabled: true},
		{ID: benAADObject, UserPrincipalName: "ben.admin@" + tenant.Domain(), DisplayName: "Ben Admin", AccountEnabled: true},
	} {
		if _, err := tenant.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(tenant)
	}
	gs := graphtest.Start(t, tenant, graphtest.Options{})
	// The app listens first: its address may be the public URL of the step-up sign-in.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	vars := map[string]string{
		"MFABOT_DB":              filepath.Join(t.TempDir(), "mfabot.db"),
		"MFABOT_GRAPH_URL":       gs.URL(),
		"AZURE_TENANT_ID":        gs.Tenant().ID(),
		"AZURE_CLIENT_ID":        gs.ClientID(),
		"AZURE_CLIENT_SECRET":    gs.ClientSecret(),
		"AZURE_AUTHORITY_HOST":   gs.AuthorityURL(),
		"MFABOT_PROTECTED_USERS": graphtest.BreakGlassUPN,
		"MFABOT_LOG_LEVEL":       "debug",
	}
	for k, v := range extra {
		vars[k] = v
	}
	if vars["MFABOT_PUBLIC_URL"] == publicURLOfListener {
		vars["MFABOT_PUBLIC_URL"] = url
		gs.SetRedirectURIs(url + "/stepup/callback")
	}
	cfg, err := config.Load("", envOf(vars))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps.GraphHTTPClient = gs.HTTPClient()
	app, err := NewApp(context.Background(), cfg, log, envOf(vars), deps)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, ln, false) }()
	t.Cleanup(func() {
		cancel()
		<-done
		app.Close()
	})
	return &testApp{App: app, URL: url, Graph: gs, Logs: logs, Config: cfg}
}

// publicURLOfListener as MFABOT_PUBLIC_URL asks startApp for the app's own address, and
// registers its step-up redirect URI with the simulated app registration.
const publicURLOfListener = "(the listener)"

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, what, 15*time.Second, cond)
}

// waitForWithin polls cond for up to bound: the one polling loop of these tests, for
// conditions no component announces (another process's database rows, a fake's calls).
// The bound only turns a hang into a failure.
func waitForWithin(t testing.TB, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requests lists every request in the app's database.
func (a *testApp) requests(t *testing.T) []*approvals.Request {
	t.Helper()
	rs, err := a.DB.Requests(context.Background(), approvals.RequestFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// noSecretsIn fails if any configured secret appears in the logs.
func noSecretsIn(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a secret (%.6s…) appears in the logs", s)
		}
	}
	if !strings.Contains(logs, `"request_id"`) {
		t.Errorf("logs carry no request ids")
	}
}
