package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/storage"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	start = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	ann   = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
	ben   = approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben"}
	nina  = approvals.Actor{Platform: "slack", ID: "UNINA", Name: "Nina"}
)

// statusDir adds the registration report to the fake directory; licensed says whether
// the tenant may read it.
type statusDir struct {
	*approvalstest.Directory
	licensed bool
}

func (d statusDir) Registration(_ context.Context, userID string) (approvals.Registration, error) {
	if !d.licensed {
		return approvals.Registration{}, approvals.Errorf(approvals.EUPSTREAM, "the registration report needs Microsoft Entra ID P1 or P2")
	}
	ms, _ := d.Methods(context.Background(), userID)
	return approvals.Registration{UserID: userID, IsMfaRegistered: len(ms) > 1, IsMfaCapable: len(ms) > 1, PreferredMethod: "push"}, nil
}

type summarizer struct{ posted int }

func (s *summarizer) Post(context.Context) error { s.posted++; return nil }

type fixture struct {
	d     *commands.Dispatcher
	db    *storage.DB
	clock *approvalstest.Clock
	sum   *summarizer
}

func newFixture(t *testing.T, licensed bool) *fixture {
	t.Helper()
	clock := approvalstest.NewClock(start)
	db := storage.MustOpenDB(t, storage.WithClock(clock))
	dir := approvalstest.NewDirectory()
	dir.AddUser(approvals.User{ID: "u-adele", UPN: "adele.vance@contoso.com", DisplayName: "Adele Vance", Enabled: true},
		approvals.Method{ID: "pw", Type: "password", Note: "password is never removed"},
		approvals.Method{ID: "a1", ODataType: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", Type: "microsoftAuthenticator", Detail: "iPhone 15", Deletable: true, Created: start.AddDate(0, -3, 0)},
		approvals.Method{ID: "p1", ODataType: "#microsoft.graph.phoneAuthenticationMethod", Type: "phone", PhoneType: "mobile", Detail: "+1 206 ••• 5555", Deletable: true},
	)
	dir.AddUser(approvals.User{ID: "u-diego", UPN: "diego.siciliani@contoso.com", DisplayName: "Diego Siciliani", Enabled: true},
		approvals.Method{ID: "pw", Type: "password"})
	reqs, _ := approvals.ParsePrincipals("slack:UANN,slack:UBEN")
	pol := approvals.Policy{Requesters: reqs, Approvers: reqs}
	svc := approvals.NewService(db, dir, pol, approvals.ServiceOptions{Clock: clock})
	sum := &summarizer{}
	d := commands.NewDispatcher(commands.Options{Service: svc, Status: statusDir{dir, licensed}, Summary: sum, Clock: clock})
	return &fixture{d: d, db: db, clock: clock, sum: sum}
}

func (f *fixture) do(a approvals.Actor, text string) bot.Response {
	return f.d.Handle(context.Background(), bot.Event{Actor: a, Text: text})
}

// golden compares m as JSON with testdata/<name>.golden.json; request ids (random) are
// masked as R-XXXXXX.
func golden(t *testing.T, name string, m any, ids ...string) {
	t.Helper()
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		got = []byte(strings.ReplaceAll(string(got), id, "R-XXXXXX"))
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != string(got) {
		t.Fatalf("%s differs from the golden file; run go test -update and review the diff:\n%s", name, got)
	}
}

func TestDispatchFlow(t *testing.T) {
	f := newFixture(t, true)
	resp := f.do(ann, "reset adele.vance@contoso.com lost her phone <!channel>")
	if resp.Reply == nil || !strings.Contains(resp.Reply.Title, "waiting for approval") || resp.Card == nil {
		t.Fatalf("reset reply = %+v", resp.Reply)
	}
	id := resp.Card.RequestID
	golden(t, "card-pending", resp.Card, id)

	resp = f.do(ann, "approve "+id)
	if resp.Reply == nil || !strings.Contains(resp.Reply.Text, "you cannot approve or deny your own request") || resp.Card == nil {
		t.Fatalf("self-approval reply = %+v", resp.Reply)
	}
	resp = f.do(nina, "approve "+id)
	if resp.Reply == nil || !strings.Contains(resp.Reply.Text, "only mfabot admins") {
		t.Fatalf("stranger reply = %+v", resp.Reply)
	}
	resp = f.do(ben, "approve "+strings.ToLower(id))
	if resp.Reply == nil || resp.Reply.Title != "Approved "+id || resp.Card == nil || len(resp.Card.Buttons) != 0 {
		t.Fatalf("approve reply = %+v card %+v", resp.Reply, resp.Card)
	}
	golden(t, "card-approved", resp.Card, id)
	resp = f.do(ben, "deny "+id+" too late")
	if resp.Reply == nil || !strings.Contains(resp.Reply.Text, "already approved") {
		t.Fatalf("replayed decision = %+v", resp.Reply)
	}
	resp = f.do(ann, "pending")
	if resp.Reply == nil || len(resp.Reply.Sections) != 1 || !strings.Contains(resp.Reply.Sections[0].Lines[0], id) {
		t.Fatalf("pending = %+v", resp.Reply)
	}
}

func TestDispatchReplies(t *testing.T) {
	tests := []struct {
		name     string
		licensed bool
		actor    approvals.Actor
		text     string
		title    string
		says     string
	}{
		{"OKHelpForAnyone", true, nina, "help", "mfabot: MFA for Microsoft Entra ID, with two-person approval", "/mfa reset <user>"},
		{"OKStatus", true, ann, "status adele.vance@contoso.com", "MFA status of Adele Vance", ""},
		{"OKStatusUnlicensed", false, ann, "status adele.vance@contoso.com", "MFA status of Adele Vance", ""},
		{"OKSummary", true, ann, "summary", "Enrollment summary posted", ""},
		{"ErrUsage", true, ann, "reset", "That did not work", "which user?"},
		{"ErrStatusForStranger", true, nina, "status adele.vance@contoso.com", "Not allowed", "only mfabot admins"},
		{"ErrNoSuchUser", true, ann, "status nobody@contoso.com", "Not found", "no user nobody@contoso.com"},
		{"ErrNoSuchRequest", true, ann, "show R-AAAAAA", "Not found", "R-AAAAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.licensed)
			resp := f.do(tt.actor, tt.text)
			if resp.Reply == nil || resp.Reply.Title != tt.title {
				t.Fatalf("reply = %+v", resp.Reply)
			}
			if tt.says != "" && !strings.Contains(resp.Reply.PlainText(), tt.says) {
				t.Fatalf("reply does not say %q:\n%s", tt.says, resp.Reply.PlainText())
			}
			if strings.HasPrefix(tt.name, "OKStatus") {
				golden(t, "status-"+map[bool]string{true: "licensed", false: "unlicensed"}[tt.licensed], resp.Reply)
			}
		})
	}
}

// panicDir makes status panic, as a bug would.
type panicDir struct{ statusDir }

func (panicDir) ResolveUser(context.Context, string) (approvals.User, error) { panic("boom") }

func TestDispatchInternalErrors(t *testing.T) {
	f := newFixture(t, true)
	reqs, _ := approvals.ParsePrincipals("slack:UANN")
	svc := approvals.NewService(f.db, approvalstest.NewDirectory(), approvals.Policy{Requesters: reqs, Approvers: reqs}, approvals.ServiceOptions{})
	d := commands.NewDispatcher(commands.Options{Service: svc, Status: panicDir{}})
	resp := d.Handle(context.Background(), bot.Event{Actor: ann, Text: "status adele.vance@contoso.com"})
	if resp.Reply == nil || !strings.HasPrefix(resp.Reply.Text, "internal error (ref ") || strings.Contains(resp.Reply.Text, "boom") {
		t.Fatalf("panic reply = %+v", resp.Reply)
	}
	if !errors.Is(context.Canceled, context.Canceled) {
		t.Fatal("unreachable")
	}
}

func TestRequestCardStates(t *testing.T) {
	base := approvals.Request{
		ID: "R-7K2QXA", Kind: approvals.KindRevokeGroup, Requester: ann, Reason: "enrollment push",
		Target: approvals.Target{Type: "group", ID: "g1", Name: "All Staff"}, Preview: approvals.Preview{MemberCount: 10000},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
		Approvals: []approvals.Decision{{Actor: ben, At: start.Add(5 * time.Minute)}},
	}
	running := base
	running.State, running.Total, running.Done, running.Failed = approvals.StateRunning, 10000, 3190, 10
	partly := base
	partly.State, partly.Total, partly.Done, partly.Failed, partly.ClosedAt = approvals.StatePartlyFailed, 10000, 9998, 2, start.Add(20*time.Minute)
	failed := []approvals.Item{
		{Seq: 7, Op: approvals.OpRevoke, UserName: "gone.user@contoso.com", State: approvals.ItemFailed, Error: "no user gone.user@contoso.com in the directory"},
		{Seq: 9, Op: approvals.OpRevoke, UserName: "x@contoso.com", State: approvals.ItemFailed, Error: "Graph is unavailable"},
	}
	denied := base
	denied.Kind, denied.Target = approvals.KindReset, approvals.Target{Type: "user", ID: "u1", Name: "adele.vance@contoso.com"}
	denied.Approvals = nil
	denied.State = approvals.StateDenied
	denied.Denial = &approvals.Decision{Actor: ben, At: start.Add(time.Minute), Reason: "<!channel> not now"}
	golden(t, "card-running", commands.RequestCard(&running, nil, start.Add(10*time.Minute)))
	golden(t, "card-partly-failed", commands.RequestCard(&partly, failed, start.Add(30*time.Minute)))
	golden(t, "card-denied", commands.RequestCard(&denied, nil, start.Add(30*time.Minute)))
	if c := commands.RequestCard(&running, nil, start); c.Progress == nil || c.Progress.Done != 3200 || c.Progress.Failed != 10 {
		t.Fatalf("progress = %+v", c.Progress)
	}
}
