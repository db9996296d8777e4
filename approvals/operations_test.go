package approvals_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
)

// Methods of the users these tests add.
var (
	mAuth   = approvals.Method{ID: "auth", ODataType: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", Type: approvals.MethodAuthenticator, Detail: "iPhone", Deletable: true}
	mMobile = approvals.Method{ID: "mob", ODataType: "#microsoft.graph.phoneAuthenticationMethod", Type: approvals.MethodPhone, PhoneType: approvals.PhoneMobile, Detail: "+1 ••• 5555", Deletable: true}
	mAlt    = approvals.Method{ID: "alt", ODataType: "#microsoft.graph.phoneAuthenticationMethod", Type: approvals.MethodPhone, PhoneType: approvals.PhoneAlternateMobile, Detail: "+1 ••• 6666", Deletable: true}
	mOath   = approvals.Method{ID: "oath", ODataType: "#microsoft.graph.softwareOathAuthenticationMethod", Type: approvals.MethodSoftwareOath, Deletable: true}
	mHwOath = approvals.Method{ID: "hw", ODataType: "#microsoft.graph.hardwareOathAuthenticationMethod", Type: approvals.MethodHardwareOath, Detail: "Token 42", Deletable: true}
	mFido   = approvals.Method{ID: "fido", ODataType: "#microsoft.graph.fido2AuthenticationMethod", Type: approvals.MethodFido2, Detail: "YubiKey 5", Deletable: true}
	mQR     = approvals.Method{ID: "qr", ODataType: "#microsoft.graph.qrCodePinAuthenticationMethod", Type: "qrCodePin", Deletable: false, Note: "unknown method type #microsoft.graph.qrCodePinAuthenticationMethod: not deleted"}
	mPass   = approvals.Method{ID: "pw", ODataType: "#microsoft.graph.passwordAuthenticationMethod", Type: approvals.MethodPassword}
)

// resetUser adds a user with methods and the given default, has Ann ask for a reset of
// them and Ben approve it, runs the executor and returns the finished request.
func resetUser(t *testing.T, f *fixture, def string, only []string, ms ...approvals.Method) *approvals.Request {
	t.Helper()
	f.dir.AddUser(approvals.User{ID: "u-pat", UPN: "pat@contoso.com", Enabled: true}, append([]approvals.Method{mPass}, ms...)...)
	if def != "" {
		f.dir.Defaults["u-pat"] = def
	}
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindReset, Target: "pat@contoso.com", Reason: "lost phone", Only: only})
	runAll(t, f, approvals.ExecutorOptions{})
	got, err := f.svc.Request(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func left(f *fixture, userID string) []string {
	ms, _ := f.dir.Methods(context.Background(), userID)
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestResetOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		def     string
		only    []string
		methods []approvals.Method
		state   approvals.State
		deleted string // in order
		left    string
	}{
		// The commonest setup: Authenticator push is the default; it must go last.
		{"PushDefault", approvals.DefaultPush, nil, []approvals.Method{mAuth, mMobile, mFido}, approvals.StateSucceeded, "fido,mob,auth", "pw"},
		{"SMSDefault", approvals.DefaultSMS, nil, []approvals.Method{mMobile, mAuth, mOath}, approvals.StateSucceeded, "auth,oath,mob", "pw"},
		// The alternate mobile must go before the mobile; when it is also the default the
		// default moves to the mobile first.
		{"AlternateMobileDefault", approvals.DefaultVoiceAlternateMobile, nil, []approvals.Method{mMobile, mAlt, mAuth}, approvals.StateSucceeded, "auth,alt,mob", "pw"},
		{"HardwareOathDefault", approvals.DefaultOath, nil, []approvals.Method{mHwOath, mFido}, approvals.StateSucceeded, "fido,hw", "pw"},
		// A lost phone need not cost the user their security key: the Authenticator goes,
		// the default moves to the kept phone first, the FIDO2 key stays.
		{"OnlyAuthenticator", approvals.DefaultPush, []string{approvals.MethodAuthenticator}, []approvals.Method{mAuth, mMobile, mFido}, approvals.StateSucceeded, "auth", "pw,mob,fido"},
		{"OnlyOath", approvals.DefaultPush, []string{approvals.MethodHardwareOath, approvals.MethodSoftwareOath}, []approvals.Method{mAuth, mOath, mHwOath}, approvals.StateSucceeded, "oath,hw", "pw,auth"},
		// A method Graph cannot remove ends the request partly done, naming it.
		{"UnknownTypeLeft", approvals.DefaultNone, nil, []approvals.Method{mAuth, mQR}, approvals.StatePartlyFailed, "auth", "pw,qr"},
		// Nothing the kept methods can take over: the default cannot go while they stay.
		{"OnlyDefaultNoHeir", approvals.DefaultPush, []string{approvals.MethodAuthenticator}, []approvals.Method{mAuth, mFido}, approvals.StatePartlyFailed, "", "pw,auth,fido"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			got := resetUser(t, f, tt.def, tt.only, tt.methods...)
			if got.State != tt.state {
				items, _ := f.svc.Items(context.Background(), got.ID, "", 0)
				t.Fatalf("state %s, want %s; items %+v", got.State, tt.state, items)
			}
			if d := strings.Join(f.dir.Deleted["u-pat"], ","); d != tt.deleted {
				t.Errorf("deleted %q, want %q", d, tt.deleted)
			}
			if l := strings.Join(left(f, "u-pat"), ","); l != tt.left {
				t.Errorf("left %q, want %q", l, tt.left)
			}
			if f.dir.RevokeCount("u-pat") != 1 {
				t.Errorf("sessions revoked %d times, want once", f.dir.RevokeCount("u-pat"))
			}
			if tt.state == approvals.StatePartlyFailed {
				failed, _ := f.svc.Items(context.Background(), got.ID, approvals.ItemFailed, 0)
				var why []string
				for _, it := range failed {
					why = append(why, it.Error)
				}
				if !strings.Contains(strings.Join(why, " "), "still registered") {
					t.Errorf("the failures do not name what is left: %q", why)
				}
			}
		})
	}
}

// A default read from a stale report orders the deletions wrongly: Graph refuses the
// real default, which is retried once after the others, and the reset still succeeds.
func TestResetStaleDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.dir.AddUser(approvals.User{ID: "u-pat", UPN: "pat@contoso.com", Enabled: true}, mPass, mAuth, mMobile)
	f.dir.Defaults["u-pat"] = approvals.DefaultSMS
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindReset, Target: "pat@contoso.com"})
	// The user changes their default to push after the request; the directory's answer
	// for the default is still sms (the report lags), so the plan deletes auth first.
	f.dir.Defaults["u-pat"] = approvals.DefaultPush
	stale := &staleDefault{Directory: f.dir, def: approvals.DefaultSMS}
	ex := approvals.NewExecutor(f.db, stale, f.svc.Policy(), approvals.ExecutorOptions{Clock: f.clock, Sleep: approvalstest.NoSleep})
	if _, err := ex.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.State != approvals.StateSucceeded {
		items, _ := f.svc.Items(context.Background(), r.ID, "", 0)
		t.Fatalf("state %s; items %+v", got.State, items)
	}
	if d := strings.Join(f.dir.Deleted["u-pat"], ","); d != "mob,auth" {
		t.Fatalf("deleted %q", d)
	}
	if n := stale.deleteCalls("auth"); n != 2 {
		t.Fatalf("the refused default was tried %d times, want twice (once, then once at the end)", n)
	}
}

type staleDefault struct {
	*approvalstest.Directory
	def   string
	mu    sync.Mutex
	calls map[string]int
}

func (s *staleDefault) DefaultMethod(context.Context, string) (string, error) { return s.def, nil }

func (s *staleDefault) DeleteMethod(ctx context.Context, userID string, m approvals.Method) error {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[m.ID]++
	s.mu.Unlock()
	return s.Directory.DeleteMethod(ctx, userID, m)
}

func (s *staleDefault) deleteCalls(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// A deterministic refusal (a 4xx) is final at once; throttling is retried.
func TestItemRetries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		err      error
		attempts int
		state    approvals.State
	}{
		{"RefusalNotRetried", approvals.Errorf(approvals.EUPSTREAM, "Graph refused to delete authentication method: bad request"), 1, approvals.StatePartlyFailed},
		{"TransientRetried", approvalstest.TransientError("Graph is throttling mfabot"), 3, approvals.StatePartlyFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			calls := 0
			f.dir.Fail = func(op, userID string) error {
				if op == "delete" && userID == "u-adele" {
					calls++
					return tt.err
				}
				return nil
			}
			r := approved(t, f, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
			runAll(t, f, approvals.ExecutorOptions{MaxAttempts: 3})
			got, _ := f.svc.Request(context.Background(), r.ID)
			if got.State != tt.state {
				t.Fatalf("state %s, want %s", got.State, tt.state)
			}
			// Two methods to delete.
			if calls != 2*tt.attempts {
				t.Fatalf("%d delete calls, want %d", calls, 2*tt.attempts)
			}
		})
	}
}

func TestRevokeOneUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevoke, Target: "adele.vance@contoso.com", Reason: "laptop stolen"})
	runAll(t, f, approvals.ExecutorOptions{})
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.State != approvals.StateSucceeded || got.Total != 1 || f.dir.RevokeCount("u-adele") != 1 {
		t.Fatalf("state %s total %d revoked %d", got.State, got.Total, f.dir.RevokeCount("u-adele"))
	}
	if len(f.dir.Deleted["u-adele"]) != 0 {
		t.Fatal("revoke deleted methods")
	}
}

// Entra turns "enabled" into "enforced" for a user with methods: the preview says so and
// the item records what Entra shows afterwards.
func TestEnforceBecomes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.dir.SetStateHook = func(userID, state string) string {
		if state == approvals.MFAEnabled {
			return approvals.MFAEnforced
		}
		return state
	}
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindEnforce, Target: "adele.vance@contoso.com", MFAState: approvals.MFAEnabled})
	if r.Preview.Becomes != approvals.MFAEnforced {
		t.Fatalf("preview says it becomes %q", r.Preview.Becomes)
	}
	runAll(t, f, approvals.ExecutorOptions{})
	items, _ := f.svc.Items(context.Background(), r.ID, "", 0)
	if len(items) != 1 || items[0].Result != approvals.MFAEnforced {
		t.Fatalf("items %+v", items)
	}
}

// Protected accounts are checked again when a request runs: a user who joined a
// protected group after approval is left alone and the request fails saying why.
func TestProtectedAtExecution(t *testing.T) {
	t.Parallel()
	for _, kind := range []approvals.Kind{approvals.KindReset, approvals.KindRevoke, approvals.KindEnforce} {
		t.Run(string(kind), func(t *testing.T) {
			f := newFixture(t, nil)
			r := approved(t, f, approvals.NewRequest{Kind: kind, Target: "adele.vance@contoso.com", MFAState: approvals.MFAEnforced})
			f.dir.AddMember(gVIP, "u-adele")
			runAll(t, f, approvals.ExecutorOptions{})
			got, _ := f.svc.Request(context.Background(), r.ID)
			if got.State != approvals.StateFailed || !strings.Contains(got.Error, "protected group Executives") || got.Total != 0 {
				t.Fatalf("state %s error %q total %d", got.State, got.Error, got.Total)
			}
			if len(f.dir.Deleted["u-adele"]) != 0 || f.dir.RevokeCount("u-adele") != 0 || f.dir.SetState["u-adele"] != "" {
				t.Fatal("a protected account was changed")
			}
		})
	}
}

// A group that grew by more than a tenth since approval is not revoked at all.
func TestRevokeGroupGrew(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		add   int
		state approvals.State
	}{{"WithinATenth", 60, approvals.StateSucceeded}, {"MoreThanATenth", 61, approvals.StateFailed}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 600})
			for i := range tt.add {
				id := "u-new" + itoa(i)
				f.dir.AddUser(approvals.User{ID: id, UPN: id + "@contoso.com", Enabled: true})
				f.dir.AddMember(gAll, id)
			}
			runAll(t, f, approvals.ExecutorOptions{})
			got, _ := f.svc.Request(context.Background(), r.ID)
			if got.State != tt.state {
				t.Fatalf("state %s, want %s (%s)", got.State, tt.state, got.Error)
			}
			if tt.state == approvals.StateFailed {
				if !strings.Contains(got.Error, "the group changed: All Staff has 661 members now, 600 when it was approved") || f.dir.RevokeCount("u-m000") != 0 {
					t.Fatalf("error %q, revoked %d", got.Error, f.dir.RevokeCount("u-m000"))
				}
			}
		})
	}
}

// A request that waited more than ten minutes has its facts read again before an approval
// counts; changed facts refuse the approval and update the card, the next approval counts.
func TestPreviewRefreshed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	f.dir.AddMethod("u-adele", mFido) // registered while the request waited
	f.clock.Advance(approvals.RefreshAfter + time.Minute)
	_, err = f.svc.Approve(ctx, ben, r.ID)
	if code(err) != approvals.ECONFLICT || !strings.Contains(err.Error(), "now has 3 methods to delete, not 2") {
		t.Fatalf("approve on stale facts: %v", err)
	}
	cur, _ := f.svc.Request(ctx, r.ID)
	if cur.State != approvals.StatePending || len(cur.Preview.Methods) != 3 || f.notes.count(approvals.EventRefreshed) != 1 {
		t.Fatalf("after refresh: %s, %d methods, %d refreshed notes", cur.State, len(cur.Preview.Methods), f.notes.count(approvals.EventRefreshed))
	}
	if got, err := f.svc.Approve(ctx, ben, r.ID); err != nil || got.State != approvals.StateApproved {
		t.Fatalf("second approval: %v", err)
	}
}

// With two required approvals and a preview that is still fresh, nothing is read again.
func TestPreviewFreshNotRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	f.dir.AddMethod("u-adele", mFido)
	f.clock.Advance(9 * time.Minute)
	if got, err := f.svc.Approve(ctx, ben, r.ID); err != nil || len(got.Preview.Methods) != 2 {
		t.Fatalf("approve: %v", err)
	}
}

// Single-user work is not stuck behind a bulk request: with the bulk revoke held inside
// Graph, a reset approved afterwards runs to its end.
func TestSingleUserNotBehindBulk(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	f.dir.Fail = func(op, userID string) error {
		if op == "revoke" && strings.HasPrefix(userID, "u-m") {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-hold
		}
		return nil
	}
	bulk := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 600})
	ex := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Clock: f.clock, Notifier: f.notes, Sleep: approvalstest.NoSleep, MaxRequests: 2, Poll: time.Hour})
	done := make(chan struct{})
	go func() { _ = ex.Run(ctx); close(done) }()
	<-entered // the bulk request is running and held inside Graph
	reset := approved(t, f, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	ex.Wake()
	for {
		got, _ := f.svc.Request(context.Background(), reset.ID)
		if got.State.Final() {
			if got.State != approvals.StateSucceeded {
				t.Fatalf("reset %s", got.State)
			}
			break
		}
		f.notes.wait()
	}
	b, _ := f.svc.Request(context.Background(), bulk.ID)
	if b.State != approvals.StateRunning {
		t.Fatalf("bulk request is %s; the reset should have finished while it ran", b.State)
	}
	close(hold)
	cancel()
	<-done
}

// Every kind the core knows is claimed by Run: a kind missing from the registry would
// wait for ever once approved.
func TestEveryKindIsClaimed(t *testing.T) {
	t.Parallel()
	for _, k := range []approvals.Kind{approvals.KindReset, approvals.KindRevoke, approvals.KindEnforce, approvals.KindRevokeGroup} {
		if !approvals.Claimable(k) {
			t.Errorf("kind %s is not in the registry", k)
		}
	}
}
