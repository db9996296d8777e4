package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	start = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	ann   = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
	ben   = approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben"}
	cleo  = approvals.Actor{Platform: "teams", ID: "cleo-aad", Name: "Cleo"}
	nina  = approvals.Actor{Platform: "slack", ID: "UNINA", Name: "Nina"}
	// annOnTeams is Ann on Teams, linked to the same Entra user as annLinked on Slack.
	annLinked  = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann", EntraID: "e-ann"}
	annOnTeams = approvals.Actor{Platform: "teams", ID: "29:ann", Name: "Ann", EntraID: "e-ann"}
)

// statusSource adds the registration report to the fake directory; each part can be
// made to fail.
type statusSource struct {
	*approvalstest.Directory
	regErr, stateErr, methodsErr error
	reg                          map[string]approvals.Registration
}

func (s *statusSource) Registration(_ context.Context, userID string) (approvals.Registration, error) {
	if s.regErr != nil {
		return approvals.Registration{}, s.regErr
	}
	r, ok := s.reg[userID]
	if !ok {
		return approvals.Registration{}, approvals.Errorf(approvals.ENOTFOUND, "no registration details for %s", userID)
	}
	return r, nil
}

func (s *statusSource) MFAState(ctx context.Context, userID string) (string, error) {
	if s.stateErr != nil {
		return "", s.stateErr
	}
	return s.Directory.MFAState(ctx, userID)
}

func (s *statusSource) Methods(ctx context.Context, userID string) ([]approvals.Method, error) {
	if s.methodsErr != nil {
		return nil, s.methodsErr
	}
	return s.Directory.Methods(ctx, userID)
}

type summarizer struct {
	posted int
	err    error
}

func (s *summarizer) Post(context.Context) error { s.posted++; return s.err }

// logBuffer collects JSON log lines safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the records logged so far.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.b.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type fixture struct {
	d     *commands.Dispatcher
	db    *storage.DB
	svc   *approvals.Service
	dir   *approvalstest.Directory
	src   *statusSource
	clock *approvalstest.Clock
	sum   *summarizer
	logs  *logBuffer
}

type fixtureOptions struct {
	required     int
	confirmAbove int
	noSummary    bool
	requireLink  bool
	stepUp       approvals.StepUp // the policy's step-up rule
	links        commands.StepUp  // issues step-up links
	tap          bool             // --tap allowed, passes of 1 h usable once
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	clock := approvalstest.NewClock(start)
	db := storagetest.Open(t, storage.WithClock(clock))
	dir := approvalstest.NewDirectory()
	dir.AddUser(approvals.User{ID: "u-adele", UPN: "adele.vance@contoso.com", DisplayName: "Adele Vance", Enabled: true},
		approvals.Method{ID: "pw", Type: "password", Note: "password is never removed"},
		approvals.Method{ID: "a1", ODataType: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", Type: "microsoftAuthenticator", Detail: "iPhone 15", Deletable: true, Created: start.AddDate(0, -3, 0)},
		approvals.Method{ID: "p1", ODataType: "#microsoft.graph.phoneAuthenticationMethod", Type: "phone", PhoneType: "mobile", Detail: "+1 206 ••• 5555", Deletable: true},
	)
	dir.AddUser(approvals.User{ID: "e-ann", UPN: "ann@contoso.com", DisplayName: "Ann Admin", Enabled: true})
	dir.AddUser(approvals.User{ID: "u-diego", UPN: "diego.siciliani@contoso.com", DisplayName: "Diego Siciliani", Enabled: true},
		approvals.Method{ID: "pw", Type: "password", Note: "password is never removed"})
	dir.AddUser(approvals.User{ID: "u-ext", UPN: "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Jane (Fabrikam)", Mail: "jane@fabrikam.com", Guest: true, Enabled: true},
		approvals.Method{ID: "pw", Type: "password"},
		approvals.Method{ID: "e1", ODataType: "#microsoft.graph.emailAuthenticationMethod", Type: "email", Detail: "j•••@fabrikam.com", Deletable: true})
	var members []string
	for i := range 1200 {
		id := fmt.Sprintf("u-%04d", i)
		dir.AddUser(approvals.User{ID: id, UPN: id + "@contoso.com", Enabled: true})
		members = append(members, id)
	}
	dir.AddGroup(approvals.Group{ID: "g-all", DisplayName: "All Staff", MailNickname: "allstaff"}, members...)
	dir.AddGroup(approvals.Group{ID: "g-emea", DisplayName: "Sales EMEA", MailNickname: "sales-emea"}, members[:40]...)
	src := &statusSource{Directory: dir, reg: map[string]approvals.Registration{
		"u-adele": {UserID: "u-adele", UPN: "adele.vance@contoso.com", UserType: "member", IsMfaRegistered: true, IsMfaCapable: true, IsSsprRegistered: true,
			MethodsRegistered: []string{"microsoftAuthenticatorPush", "mobilePhone"}, PreferredMethod: "push", SystemPreferred: []string{"push"}, LastUpdated: start.Add(-3 * time.Hour)},
		"u-diego": {UserID: "u-diego", UPN: "diego.siciliani@contoso.com", UserType: "member", IsAdmin: true, PreferredMethod: "none", LastUpdated: start.Add(-26 * time.Hour)},
		"u-ext":   {UserID: "u-ext", UserType: "guest", IsMfaRegistered: true, IsMfaCapable: true, MethodsRegistered: []string{"email"}, PreferredMethod: "none"},
	}}
	requesters, _ := approvals.ParsePrincipals("slack:UANN,slack:UBEN,entra:e-ann")
	approvers, _ := approvals.ParsePrincipals("slack:UANN,slack:UBEN,teams:cleo-aad,entra:e-ann")
	pol := approvals.Policy{Requesters: requesters, Approvers: approvers, RequiredApprovals: o.required, ConfirmAbove: o.confirmAbove, EnforceEnabled: true,
		RequireLink: o.requireLink, StepUp: o.stepUp, TAPEnabled: o.tap, TAPLifetime: time.Hour, TAPOneTime: true}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := approvals.NewService(db, dir, pol, approvals.ServiceOptions{Clock: clock})
	f := &fixture{db: db, svc: svc, dir: dir, src: src, clock: clock, sum: &summarizer{}, logs: logs}
	opts := commands.Options{Service: svc, Status: src, Summary: f.sum, Clock: clock, Logger: log, StepUp: o.links}
	if o.noSummary {
		opts.Summary = nil
	}
	f.d = commands.NewDispatcher(opts)
	return f
}

func (f *fixture) do(a approvals.Actor, text string) bot.Response {
	return f.d.Handle(context.Background(), bot.Event{Actor: a, Text: text})
}

func (f *fixture) press(a approvals.Actor, text string) bot.Response {
	return f.d.Handle(context.Background(), bot.Event{Actor: a, Text: text, Button: true})
}

// request makes a request as Ann and returns its id.
func (f *fixture) request(t *testing.T, text string) string {
	t.Helper()
	resp := f.do(ann, text)
	if resp.Card == nil || resp.Card.RequestID == "" {
		t.Fatalf("%s: reply %+v", text, resp.Reply)
	}
	return resp.Card.RequestID
}

// golden compares m as JSON with testdata/<name>.golden.json; request ids (random) are
// masked as R-XXXXXX.
func golden(t *testing.T, name string, m any, ids ...string) {
	t.Helper()
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	for _, id := range ids {
		got = bytes.ReplaceAll(got, []byte(id), []byte("R-XXXXXX"))
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("%s differs from %s; run go test -update and review the diff:\n%s", name, path, got)
	}
}

func says(t *testing.T, m *bot.Message, want ...string) {
	t.Helper()
	if m == nil {
		t.Fatalf("no message; want one saying %q", want)
	}
	text := m.PlainText()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("message does not say %q:\n%s", w, text)
		}
	}
}

func TestDispatchResetFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	resp := f.do(ann, "reset adele.vance@contoso.com lost her phone <!channel>")
	if resp.Reply == nil || resp.Card == nil {
		t.Fatalf("reset answered %+v", resp)
	}
	id := resp.Card.RequestID
	says(t, resp.Reply, "Request "+id+" for adele.vance@contoso.com is waiting for approval in the approvals channel (expires 10:00 UTC)", "2 method(s)")
	golden(t, "reply-requested", resp.Reply, id)
	golden(t, "card-pending", resp.Card, id)

	t.Run("ErrSelfApproval", func(t *testing.T) {
		resp := f.press(ann, "approve "+id)
		says(t, resp.Reply, "you cannot approve or deny your own request")
		if resp.Card == nil || len(resp.Card.Buttons) != 2 || resp.Public {
			t.Fatalf("self-approval answered card %+v public %v", resp.Card, resp.Public)
		}
	})
	t.Run("ErrSelfApprovalOtherPlatform", func(t *testing.T) {
		g := newFixture(t, fixtureOptions{})
		resp := g.do(annLinked, "enforce diego.siciliani@contoso.com enforced")
		if resp.Card == nil {
			t.Fatalf("enforce answered %+v", resp.Reply)
		}
		says(t, g.press(annOnTeams, "approve "+resp.Card.RequestID).Reply, "you cannot approve or deny your own request")
	})
	t.Run("ErrNotApprover", func(t *testing.T) {
		resp := f.press(nina, "approve "+id)
		says(t, resp.Reply, "only members of", "may approve")
	})
	t.Run("ErrNotAdminCancel", func(t *testing.T) {
		says(t, f.do(nina, "cancel "+id).Reply, "only mfabot admins may use this command")
	})
	t.Run("OK_Approve", func(t *testing.T) {
		resp := f.press(ben, "approve "+strings.ToLower(id))
		if resp.Reply == nil || resp.Reply.Title != "Approved "+id || resp.Card == nil || len(resp.Card.Buttons) != 0 {
			t.Fatalf("approve answered %+v card %+v", resp.Reply, resp.Card)
		}
		golden(t, "card-approved", resp.Card, id)
	})
	t.Run("ErrAlreadyApproved", func(t *testing.T) {
		resp := f.press(cleo, "deny "+id+" too late")
		says(t, resp.Reply, id+" was already approved by Ben at 09:00 UTC")
		if resp.Card == nil || resp.Card.RequestID != id {
			t.Fatalf("refusal came without the current card: %+v", resp.Card)
		}
	})
	t.Run("ErrCancelApproved", func(t *testing.T) {
		says(t, f.do(ann, "cancel "+id).Reply, "only pending requests can be cancelled")
	})
	t.Run("OK_Show", func(t *testing.T) {
		resp := f.do(ben, "show "+id)
		if resp.Reply == nil || resp.Card == nil || resp.Reply.RequestID != id || resp.Reply.Title != "Reset MFA for adele.vance@contoso.com" {
			t.Fatalf("show answered %+v", resp)
		}
	})
	t.Run("OK_Pending", func(t *testing.T) {
		resp := f.do(ann, "pending")
		says(t, resp.Reply, id, "Reset MFA for adele.vance@contoso.com", "Approved or running (1)")
	})
}

func TestDispatchDenyCancelExpire(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	t.Run("OK_Deny", func(t *testing.T) {
		id := f.request(t, "reset adele.vance@contoso.com")
		says(t, f.press(ben, "deny "+id).Reply, "say why you deny it")
		resp := f.press(ben, "deny "+id+" not during the freeze")
		says(t, resp.Reply, "Denied "+id, "Nothing was changed")
		says(t, resp.Card, "Denied by: Ben (slack) at 09:00 UTC", "Why: not during the freeze")
		if resp.Card.Tone != bot.ToneBad || len(resp.Card.Buttons) != 0 {
			t.Fatalf("denied card %+v", resp.Card)
		}
	})
	t.Run("OK_CancelOwn", func(t *testing.T) {
		id := f.request(t, "enforce diego.siciliani@contoso.com enforced")
		resp := f.do(ann, "cancel "+id+" wrong user")
		says(t, resp.Reply, "Cancelled "+id)
		says(t, resp.Card, "Cancelled by: Ann (slack)", "Why: wrong user", "Cancelled; nothing was changed.")
	})
	t.Run("ErrExpired", func(t *testing.T) {
		id := f.request(t, "revoke-group \"Sales EMEA\" onboarding")
		f.clock.Advance(61 * time.Minute)
		resp := f.press(ben, "approve "+id)
		says(t, resp.Reply, "request "+id+" expired at 10:00 UTC")
		if resp.Reply.Title != "Not possible now" {
			t.Fatalf("title %q", resp.Reply.Title)
		}
		if _, err := f.svc.SweepExpired(context.Background()); err != nil {
			t.Fatal(err)
		}
		says(t, f.do(ben, "show "+id).Card, "Expired at 10:00 UTC without approval", "Nobody approved it before 10:00 UTC")
	})
	t.Run("ErrNoSuchRequest", func(t *testing.T) {
		resp := f.do(ann, "approve R-AAAAAA")
		if resp.Reply == nil || resp.Reply.Title != "Not found" || resp.Card != nil {
			t.Fatalf("unknown request answered %+v", resp)
		}
	})
}

func TestDispatchTwoApprovals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{required: 2, confirmAbove: 500})
	says(t, f.do(ann, "revoke-group \"All Staff\" enrollment push").Reply, "All Staff has 1200 members (more than 500)", "--confirm 1200")
	says(t, f.do(ann, "revoke-group \"All Staff\" --confirm 1000").Reply, "All Staff has 1200 members, not 1000")
	resp := f.do(ann, "revoke-group \"All Staff\" --confirm 1,200 enrollment push")
	id := resp.Card.RequestID
	golden(t, "card-pending-revoke-two-approvals", resp.Card, id)

	resp = f.press(ben, "approve "+id)
	says(t, resp.Reply, "1 of 2 approvals so far")
	says(t, resp.Card, "Approvals: 1 of 2", "Approved by: Ben (slack)", "Waiting for approval")
	if len(resp.Card.Buttons) != 2 {
		t.Fatalf("a request still pending lost its buttons: %+v", resp.Card.Buttons)
	}
	says(t, f.press(ben, "approve "+id).Reply, "you already approved "+id)
	resp = f.press(cleo, "approve "+id)
	says(t, resp.Reply, "It runs now")
	says(t, resp.Card, "Approvals: 2 of 2", "Approved, starting")
}

func TestDispatchReplies(t *testing.T) {
	t.Parallel()
	internal := errors.New("socket: connection reset by peer")
	tests := []struct {
		name   string
		setup  func(*testing.T, *fixture)
		opts   fixtureOptions
		actor  approvals.Actor
		text   string
		title  string
		says   []string
		golden string
	}{
		{name: "OK_HelpForAnyone", actor: nina, text: "help", title: "mfabot: MFA for Microsoft Entra ID, with two-person approval", says: []string{"/mfa reset <user> [--only", "/mfa revoke <user> [reason…]", "/mfa deny <request> <reason…>"}, golden: "help"},
		{name: "OK_HelpTopic", actor: nina, text: "help revoke-group", title: "/mfa revoke-group <group> [--unregistered] [--confirm N] [reason…]", says: []string{"--confirm 12,345"}, golden: "help-revoke-group"},
		{name: "OK_Status", actor: ann, text: "status adele.vance@contoso.com", title: "MFA status of Adele Vance",
			says: []string{"Default method: Authenticator push", "Report updated: 06:00 UTC", "/mfa reset adele.vance@contoso.com <reason>"}, golden: "status-licensed"},
		{name: "OK_StatusUnlicensed", setup: func(_ *testing.T, f *fixture) {
			f.src.regErr = approvals.Errorf(approvals.EUPSTREAM, "the registration report needs Microsoft Entra ID P1 or P2 in this tenant")
		}, actor: ann, text: "status adele.vance@contoso.com", title: "MFA status of Adele Vance",
			says: []string{"Registration details not available: the registration report needs Microsoft Entra ID P1 or P2", "Microsoft Authenticator iPhone 15"}, golden: "status-unlicensed"},
		{name: "OK_StatusUnregisteredAdmin", actor: ann, text: "status diego.siciliani@contoso.com", title: "MFA status of Diego Siciliani",
			says: []string{"This admin has no MFA", "register at https://aka.ms/mfasetup, then consider /mfa enforce diego.siciliani@contoso.com enforced"}, golden: "status-unregistered-admin"},
		{name: "OK_StatusGuestPerUserEnabled", setup: func(_ *testing.T, f *fixture) { f.dir.States["u-ext"] = approvals.MFAEnabled },
			actor: ann, text: "status jane@fabrikam.com", title: "MFA status of Jane (Fabrikam)",
			says: []string{"Guest account", "Per-user MFA is enabled: if you use Conditional Access", "only phone, email or OTP methods"}, golden: "status-guest"},
		{name: "OK_StatusPartsFail", setup: func(_ *testing.T, f *fixture) {
			f.src.methodsErr = approvals.Errorf(approvals.EUPSTREAM, "mfabot lacks UserAuthenticationMethod.ReadWrite.All")
			f.src.stateErr = internal
		}, actor: ann, text: "status adele.vance@contoso.com", title: "MFA status of Adele Vance",
			says: []string{"Methods not available: mfabot lacks UserAuthenticationMethod.ReadWrite.All", "Per-user MFA state not available: internal error (ref ", "Methods registered (from the report)"}},
		{name: "OK_Summary", actor: ann, text: "summary", title: "Enrollment summary posted", says: []string{"Posted the enrollment summary to the approvals channel"}},
		{name: "ErrSummaryNotConfigured", opts: fixtureOptions{noSummary: true}, actor: ann, text: "summary", title: "That did not work", says: []string{"not configured"}},
		{name: "ErrSummaryFails", setup: func(_ *testing.T, f *fixture) {
			f.sum.err = approvals.Errorf(approvals.EUPSTREAM, "Slack refused the upload")
		},
			actor: ann, text: "summary", title: "Microsoft Graph or the chat platform refused", says: []string{"Slack refused the upload"}},
		{name: "ErrUsage", actor: ann, text: "reset", title: "That did not work", says: []string{"which user?", "Usage: /mfa reset"}},
		{name: "ErrUsageForStranger", actor: nina, text: "rest x", title: "That did not work", says: []string{"did you mean reset?"}},
		{name: "ErrStatusForStranger", actor: nina, text: "status adele.vance@contoso.com", title: "Not allowed", says: []string{"only mfabot admins may use this command", "slack:UNINA"}},
		{name: "ErrPendingForStranger", actor: nina, text: "pending", title: "Not allowed"},
		{name: "ErrNoSuchUser", actor: ann, text: "status nobody@contoso.com", title: "Not found", says: []string{"no user nobody@contoso.com"}},
		{name: "ErrNoSuchGroup", actor: ann, text: "revoke-group Marketing", title: "Not found", says: []string{"no group Marketing"}},
		{name: "ErrEnforceSameState", actor: ann, text: "enforce adele.vance@contoso.com disabled", title: "That did not work", says: []string{"already disabled"}},
		{name: "ErrDuplicate", setup: func(t *testing.T, f *fixture) { f.request(t, "reset adele.vance@contoso.com") },
			actor: ben, text: "reset adele.vance@contoso.com", title: "Not possible now", says: []string{"is already waiting for approval for adele.vance@contoso.com (asked by Ann)"}},
		{name: "OK_PendingEmpty", actor: ann, text: "pending", title: "Open requests", says: []string{"Nothing is waiting"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			resp := f.do(tt.actor, tt.text)
			if resp.Reply == nil || resp.Reply.Title != tt.title {
				t.Fatalf("reply = %+v, want title %q", resp.Reply, tt.title)
			}
			if resp.Public {
				t.Fatal("reply is public; replies go to the actor alone")
			}
			says(t, resp.Reply, tt.says...)
			if tt.golden != "" {
				golden(t, tt.golden, resp.Reply)
			}
		})
	}
}

func TestDispatchPendingList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := f.request(t, "reset adele.vance@contoso.com lost phone")
	f.clock.Advance(12 * time.Minute)
	b := f.request(t, "enforce diego.siciliani@contoso.com enforced audit")
	f.press(ben, "approve "+b)
	f.clock.Advance(3 * time.Minute)
	resp := f.do(ben, "pending")
	golden(t, "pending", resp.Reply, a, b)
}

// panicSource makes status panic, as a bug would.
type panicSource struct{ statusSource }

func (panicSource) ResolveUser(context.Context, string) (approvals.User, error) { panic("boom") }

// failingStore fails every listing, as a broken database would.
type failingStore struct{ *storage.DB }

func (failingStore) Requests(context.Context, approvals.RequestFilter) ([]*approvals.Request, error) {
	return nil, errors.New("database disk image is malformed")
}

func TestDispatchInternalErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	admins, _ := approvals.ParsePrincipals("slack:UANN")
	svc := approvals.NewService(failingStore{f.db}, f.dir, approvals.Policy{Requesters: admins, Approvers: admins}, approvals.ServiceOptions{})
	d := commands.NewDispatcher(commands.Options{Service: svc, Status: &panicSource{}, Logger: log})

	for _, tt := range []struct{ name, text, secret string }{
		{"ErrPanic", "status adele.vance@contoso.com", "boom"},
		{"ErrInternal", "pending", "malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := d.Handle(context.Background(), bot.Event{Actor: ann, Text: tt.text})
			if resp.Reply == nil || !strings.HasPrefix(resp.Reply.Text, "internal error (ref ") || strings.Contains(resp.Reply.PlainText(), tt.secret) {
				t.Fatalf("reply = %+v", resp.Reply)
			}
			ref := strings.TrimSuffix(strings.TrimPrefix(resp.Reply.Text, "internal error (ref "), ")")
			found := false
			for _, l := range logs.lines(t) {
				if l["ref"] == ref && l["level"] == "ERROR" && strings.Contains(fmt.Sprint(l), tt.secret) && l["actor"] == "slack:UANN" {
					found = true
				}
			}
			if !found {
				t.Fatalf("no ERROR log with ref %s and the cause %q", ref, tt.secret)
			}
		})
	}
	t.Run("ErrNoService", func(t *testing.T) {
		d := commands.NewDispatcher(commands.Options{})
		if resp := d.Handle(context.Background(), bot.Event{Actor: ann, Text: "pending"}); resp.Reply == nil || !strings.HasPrefix(resp.Reply.Text, "internal error (ref ") {
			t.Fatalf("reply = %+v", resp.Reply)
		}
		if resp := d.Handle(context.Background(), bot.Event{Actor: ann, Text: "help"}); resp.Reply == nil || resp.Reply.Tone == bot.ToneBad {
			t.Fatalf("help without a service = %+v", resp.Reply)
		}
	})
}

// Every command is logged with who, what and how it ended; reasons are logged as typed.
func TestDispatchLogsEveryCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	id := f.request(t, "reset adele.vance@contoso.com lost phone")
	f.do(nina, "status adele.vance@contoso.com")
	f.do(ann, "frobnicate")
	f.press(ben, "approve "+id)
	var got []string
	for _, l := range f.logs.lines(t) {
		if l["msg"] != "command" {
			continue
		}
		got = append(got, fmt.Sprintf("%v %v %v %v", l["actor"], l["command"], l["outcome"], l["request_id"]))
		if l["command"] == "reset" && (l["reason"] != "lost phone" || l["target"] != "adele.vance@contoso.com") {
			t.Errorf("reset logged without its reason or target: %v", l)
		}
	}
	want := []string{
		"slack:UANN reset ok <nil>",
		"slack:UNINA status forbidden <nil>",
		"slack:UANN <nil> usage <nil>",
		"slack:UBEN approve ok " + id,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("command log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSummarizerFunc(t *testing.T) {
	t.Parallel()
	called := false
	var s commands.Summarizer = commands.SummarizerFunc(func(context.Context) error { called = true; return nil })
	if err := s.Post(context.Background()); err != nil || !called {
		t.Fatalf("SummarizerFunc.Post = %v, called %v", err, called)
	}
}

// A reason typed into a button's prompt reaches the request as typed, whatever it starts
// with: it is never parsed as part of the command.
func TestDispatchButtonReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	id := f.request(t, "reset adele.vance@contoso.com lost phone")
	resp := f.d.Handle(context.Background(), bot.Event{Actor: ben, Text: "deny " + id, Button: true, Reason: "  --force  was\nnever asked \"for\" "})
	if resp.Card == nil || !strings.Contains(resp.Card.PlainText(), `--force was never asked "for"`) {
		t.Fatalf("deny answered %+v / %+v", resp.Reply, resp.Card)
	}
	long := f.d.Handle(context.Background(), bot.Event{Actor: ben, Text: "cancel " + f.request(t, "revoke adele.vance@contoso.com"), Button: true, Reason: strings.Repeat("x", 1001)})
	says(t, long.Reply, "the reason is too long")
	says(t, f.d.Handle(context.Background(), bot.Event{Actor: ben, Text: "approve " + id, Button: true, Reason: "why not"}).Reply, "approve takes only the request id")
}

// An unlinked actor is told how to get linked, for their platform.
func TestDispatchUnlinkedToldHowToLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{requireLink: true})
	says(t, f.do(ann, "pending").Reply, "not linked to an Entra user", "UANN=<your Entra object id>", "MFABOT_SLACK_USERS")
}
