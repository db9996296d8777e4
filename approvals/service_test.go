package approvals_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

var (
	ann      = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann", EntraID: "oid-ann"}
	annTeams = approvals.Actor{Platform: "teams", ID: "29:ann", Name: "Ann (Teams)", EntraID: "OID-ANN"}
	ben      = approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben", EntraID: "oid-ben"}
	cleo     = approvals.Actor{Platform: "teams", ID: "29:cleo", Name: "Cleo", EntraID: "oid-cleo"}
	nina     = approvals.Actor{Platform: "slack", ID: "UNINA", Name: "Nina"}
	start    = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
)

// Group object ids of the fixture's directory.
const (
	gVIP       = "00000000-0000-4000-8000-00000000a001"
	gApprovers = "00000000-0000-4000-8000-00000000a002"
	gAll       = "00000000-0000-4000-8000-00000000a003"
	gSmall     = "00000000-0000-4000-8000-00000000a004"
)

type fixture struct {
	svc   *approvals.Service
	db    *storage.DB
	dir   *approvalstest.Directory
	clock *approvalstest.Clock
	notes *recorder
}

type recorder struct {
	mu      sync.Mutex
	events  []string
	changed chan struct{} // has a value after an event nobody waited for yet
}

func (r *recorder) Notify(_ context.Context, req *approvals.Request, event string) {
	r.mu.Lock()
	r.events = append(r.events, req.ID+" "+event)
	if r.changed == nil {
		r.changed = make(chan struct{}, 1)
	}
	ch := r.changed
	r.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wait blocks until an event arrives (or has arrived since the last wait). Read the state
// first, then wait: an event after the read always wakes the waiter, and a stale wake only
// costs one more read.
func (r *recorder) wait() {
	r.mu.Lock()
	if r.changed == nil {
		r.changed = make(chan struct{}, 1)
	}
	ch := r.changed
	r.mu.Unlock()
	<-ch
}

func (r *recorder) count(event string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if strings.HasSuffix(e, " "+event) {
			n++
		}
	}
	return n
}

func mustPrincipals(t testing.TB, s string) []approvals.Principal {
	t.Helper()
	ps, err := approvals.ParsePrincipals(s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// newFixture builds a service over a real SQLite file and an in-memory directory with
// a few users and groups.
func newFixture(t testing.TB, edit func(*approvals.Policy)) *fixture {
	t.Helper()
	clock := approvalstest.NewClock(start)
	db := storagetest.Open(t, storage.WithClock(clock))
	dir := approvalstest.NewDirectory()
	dir.AddUser(approvals.User{ID: "u-adele", UPN: "adele.vance@contoso.com", DisplayName: "Adele Vance", Enabled: true},
		approvals.Method{ID: "pw", Type: "password", Note: "password is never removed"},
		approvals.Method{ID: "auth1", ODataType: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", Type: "microsoftAuthenticator", Detail: "iPhone", Deletable: true},
		approvals.Method{ID: "ph1", ODataType: "#microsoft.graph.phoneAuthenticationMethod", Type: "phone", PhoneType: "mobile", Detail: "+1 206 ••• 5555", Deletable: true},
	)
	dir.AddUser(approvals.User{ID: "u-break", UPN: "breakglass@contoso.onmicrosoft.com", Enabled: true})
	dir.AddUser(approvals.User{ID: "u-vip", UPN: "ceo@contoso.com", Enabled: true})
	dir.AddUser(approvals.User{ID: "oid-ann", UPN: "ann@contoso.com", Enabled: true})
	dir.AddUser(approvals.User{ID: "oid-ben", UPN: "ben@contoso.com", Enabled: true})
	dir.AddUser(approvals.User{ID: "oid-cleo", UPN: "cleo@contoso.com", Enabled: true})
	dir.AddGroup(approvals.Group{ID: gVIP, DisplayName: "Executives"}, "u-vip")
	dir.AddGroup(approvals.Group{ID: gApprovers, DisplayName: "MFA Approvers"}, "oid-cleo")
	var members []string
	for i := range 600 {
		id := "u-m" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i)
		dir.AddUser(approvals.User{ID: id, UPN: id + "@contoso.com", Enabled: true})
		members = append(members, id)
	}
	members = append(members, "u-vip")
	dir.AddGroup(approvals.Group{ID: gAll, DisplayName: "All Staff"}, members...)
	dir.AddGroup(approvals.Group{ID: gSmall, DisplayName: "Finance"}, members[:5]...)

	pol := approvals.Policy{
		Requesters:      mustPrincipals(t, "slack:UANN,slack:UBEN,teams:29:ann"),
		Approvers:       mustPrincipals(t, "slack:UANN,slack:UBEN,teams:29:ann,entra-group:MFA Approvers"),
		ProtectedUsers:  []string{"breakglass@contoso.onmicrosoft.com"},
		ProtectedGroups: []string{"Executives"},
		ConfirmAbove:    500,
		EnforceEnabled:  true,
	}
	if edit != nil {
		edit(&pol)
	}
	pol, err := approvals.PinPolicy(context.Background(), dir, pol)
	if err != nil {
		t.Fatalf("pin policy: %v", err)
	}
	notes := &recorder{}
	svc := approvals.NewService(db, dir, pol, approvals.ServiceOptions{Clock: clock, Notifier: notes})
	return &fixture{svc: svc, db: db, dir: dir, clock: clock, notes: notes}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func code(err error) string { return approvals.ErrorCode(err) }

func TestCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		actor   approvals.Actor
		in      approvals.NewRequest
		code    string
		message string // a part of the refusal
	}{
		{"OK", ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com", Reason: "lost phone"}, "", ""},
		{"OKGroupWithConfirm", ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 600}, "", ""},
		{"OKSmallGroup", ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "finance"}, "", ""},
		{"OKEnforce", ann, approvals.NewRequest{Kind: approvals.KindEnforce, Target: "adele.vance@contoso.com", MFAState: approvals.MFAEnforced}, "", ""},
		{"ErrNotRequester", nina, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"}, approvals.EFORBIDDEN, "only mfabot admins"},
		{"ErrNoSuchUser", ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "nobody@contoso.com"}, approvals.ENOTFOUND, "no user nobody@contoso.com"},
		{"ErrProtectedUser", ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "BreakGlass@contoso.onmicrosoft.com"}, approvals.EFORBIDDEN, "protected account"},
		{"ErrProtectedGroupMember", ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "ceo@contoso.com"}, approvals.EFORBIDDEN, "protected group Executives"},
		{"ErrProtectedGroup", ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "Executives"}, approvals.EFORBIDDEN, "protected group"},
		{"ErrConfirmMissing", ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff"}, approvals.EINVALID, "--confirm 600"},
		{"ErrConfirmWrong", ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 601}, approvals.EINVALID, "has 600 members, not 601"},
		{"ErrEnforceSameState", ann, approvals.NewRequest{Kind: approvals.KindEnforce, Target: "adele.vance@contoso.com", MFAState: approvals.MFADisabled}, approvals.EINVALID, "already disabled"},
		{"ErrEnforceBadState", ann, approvals.NewRequest{Kind: approvals.KindEnforce, Target: "adele.vance@contoso.com", MFAState: "maybe"}, approvals.EINVALID, "enabled, enforced or disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r, err := f.svc.Create(context.Background(), tt.actor, tt.in)
			if got := code(err); got != tt.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tt.code, err)
			}
			if tt.code != "" {
				if !strings.Contains(approvals.ErrorMessage(err), tt.message) {
					t.Fatalf("message %q does not say %q", approvals.ErrorMessage(err), tt.message)
				}
				return
			}
			if r.State != approvals.StatePending || r.ID == "" || !r.ExpiresAt.Equal(start.Add(approvals.DefaultExpiry)) {
				t.Fatalf("request = %+v", r)
			}
			if f.notes.count(approvals.EventRequested) != 1 {
				t.Fatalf("notifier not told: %v", f.notes.events)
			}
		})
	}
}

func TestCreatePreview(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Preview.Methods) != 2 || len(r.Preview.Kept) != 1 || r.Preview.Kept[0].Type != "password" {
		t.Fatalf("preview = %+v", r.Preview)
	}
	g, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Confirm: 600})
	if err != nil {
		t.Fatal(err)
	}
	// 601 members, one of them in the protected group Executives: never counted.
	if g.Preview.MemberCount != 600 {
		t.Fatalf("member count = %d, want 600", g.Preview.MemberCount)
	}
	_, err = f.svc.Create(ctx, ben, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if code(err) != approvals.ECONFLICT || !strings.Contains(err.Error(), r.ID) {
		t.Fatalf("duplicate request: %v", err)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(f *fixture)
		actor   approvals.Actor
		deny    string // deny with this reason instead of approving
		code    string
		message string
		state   approvals.State
	}{
		{"OK", nil, ben, "", "", "", approvals.StateApproved},
		{"OKApproverByEntraGroup", nil, cleo, "", "", "", approvals.StateApproved},
		{"OKDeny", nil, ben, "not during the freeze", "", "", approvals.StateDenied},
		{"ErrSelfApproval", nil, ann, "", approvals.EFORBIDDEN, "you cannot approve or deny your own request", approvals.StatePending},
		{"ErrSelfApprovalOtherPlatform", nil, annTeams, "", approvals.EFORBIDDEN, "your own request", approvals.StatePending},
		{"ErrSelfDeny", nil, ann, "changed my mind", approvals.EFORBIDDEN, "your own request", approvals.StatePending},
		{"ErrNotApprover", nil, nina, "", approvals.EFORBIDDEN, "only members of the Entra group MFA Approvers may approve", approvals.StatePending},
		{"ErrExpired", func(f *fixture) { f.clock.Advance(61 * time.Minute) }, ben, "", approvals.ECONFLICT, "is pending", approvals.StatePending},
		{"ErrDenyWithoutReason", nil, ben, " ", approvals.EINVALID, "say why", approvals.StatePending},
		{"ErrAlreadyApproved", func(f *fixture) {
			if _, err := f.svc.Approve(context.Background(), cleo, firstID(f)); err != nil {
				panic(err)
			}
		}, ben, "", approvals.ECONFLICT, "is approved", approvals.StateApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(f)
			}
			if tt.deny != "" {
				_, err = f.svc.Deny(ctx, tt.actor, r.ID, tt.deny)
			} else {
				_, err = f.svc.Approve(ctx, tt.actor, r.ID)
			}
			if got := code(err); got != tt.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tt.code, err)
			}
			if tt.code != "" && !strings.Contains(approvals.ErrorMessage(err), tt.message) {
				t.Fatalf("message %q does not say %q", approvals.ErrorMessage(err), tt.message)
			}
			got, err := f.svc.Request(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.state {
				t.Fatalf("state = %s, want %s", got.State, tt.state)
			}
		})
	}
}

func firstID(f *fixture) string {
	rs, err := f.db.Requests(context.Background(), approvals.RequestFilter{})
	if err != nil || len(rs) == 0 {
		panic("no request")
	}
	return rs[0].ID
}

func TestTwoApprovalsRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(p *approvals.Policy) { p.RequiredApprovals = 2 })
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = f.svc.Approve(ctx, ben, r.ID)
	if err != nil || r.State != approvals.StatePending || len(r.Approvals) != 1 {
		t.Fatalf("after one approval: %+v, %v", r, err)
	}
	if _, err := f.svc.Approve(ctx, ben, r.ID); code(err) != approvals.ECONFLICT {
		t.Fatalf("second approval by the same person: %v", err)
	}
	r, err = f.svc.Approve(ctx, cleo, r.ID)
	if err != nil || r.State != approvals.StateApproved || len(r.Approvals) != 2 {
		t.Fatalf("after two approvals: %+v, %v", r, err)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(ctx, nina, r.ID, ""); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("cancel by a stranger: %v", err)
	}
	got, err := f.svc.Cancel(ctx, ann, r.ID, "typo")
	if err != nil || got.State != approvals.StateCancelled {
		t.Fatalf("cancel by requester: %+v %v", got, err)
	}
	var se *approvals.StateError
	if _, err := f.svc.Approve(ctx, ben, r.ID); code(err) != approvals.ECONFLICT || !errors.As(err, &se) || se.Request.Denial.Actor.Name != "Ann" {
		t.Fatalf("approve after cancel: %v", err)
	}
}

func TestSweepExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SweepExpired(ctx); n != 0 || err != nil {
		t.Fatalf("early sweep: %d %v", n, err)
	}
	f.clock.Advance(time.Hour)
	if n, err := f.svc.SweepExpired(ctx); n != 1 || err != nil {
		t.Fatalf("sweep: %d %v", n, err)
	}
	got, _ := f.svc.Request(ctx, r.ID)
	if got.State != approvals.StateExpired || f.notes.count(approvals.EventExpired) != 1 {
		t.Fatalf("after sweep: %s, events %v", got.State, f.notes.events)
	}
}

// TestConcurrentApprovals: 50 approvers click Approve on the same request at once; exactly
// one approval is recorded and the request runs exactly once.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	var approvers []string
	for i := range 50 {
		approvers = append(approvers, "slack:UAPP"+itoa(i))
	}
	f := newFixture(t, func(p *approvals.Policy) {
		p.Approvers = mustPrincipals(t, strings.Join(approvers, ","))
	})
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := approvals.Actor{Platform: "slack", ID: "UAPP" + itoa(i), Name: "Approver " + itoa(i)}
			_, err := f.svc.Approve(ctx, a, r.ID)
			mu.Lock()
			defer mu.Unlock()
			switch code(err) {
			case "":
				ok++
			case approvals.ECONFLICT:
				conflicts++
			default:
				t.Errorf("approve: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || conflicts != 49 {
		t.Fatalf("ok = %d, conflicts = %d; want 1 and 49", ok, conflicts)
	}
	got, err := f.svc.Request(ctx, r.ID)
	if err != nil || len(got.Approvals) != 1 || got.State != approvals.StateApproved {
		t.Fatalf("request after the race: %+v %v", got, err)
	}

	// Two executors race for it: it runs once.
	var runs sync.WaitGroup
	for i := range 2 {
		runs.Add(1)
		go func() {
			defer runs.Done()
			ex := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "ex" + itoa(i), Clock: f.clock})
			if _, err := ex.RunOnce(ctx); err != nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	runs.Wait()
	if n := f.dir.RevokeCount("u-adele"); n != 1 {
		t.Fatalf("revoked %d times, want once", n)
	}
	if got := len(f.dir.Deleted["u-adele"]); got != 2 {
		t.Fatalf("deleted %d methods, want 2", got)
	}
	var started int
	err = f.db.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.Type == approvals.EventStarted {
			started++
		}
		return nil
	})
	if err != nil || started != 1 {
		t.Fatalf("started events = %d (%v), want 1", started, err)
	}
}

func TestParsePrincipal(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"slack:U1", "teams:6a1b", "entra-group:MFA Approvers", "Entra:oid"} {
		if _, err := approvals.ParsePrincipal(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"U1", "discord:x", "slack:"} {
		if _, err := approvals.ParsePrincipal(s); code(err) != approvals.EINVALID {
			t.Errorf("%s: got %v, want EINVALID", s, err)
		}
	}
	var e *approvals.Error
	if !errors.As(approvals.WrapError(approvals.EUPSTREAM, errors.New("x"), "y"), &e) {
		t.Fatal("WrapError is not an *Error")
	}
}
