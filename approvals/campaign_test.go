package approvals_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/storage"
)

// campaignFixture is the fixture's directory with a guest and a disabled account in All
// Staff, a report in which u-m000…u-m049, u-vip, the guest and the disabled account are not
// registered, and u-m001 excluded (summary.exclude) by UPN.
func campaignFixture(t *testing.T, edit func(*approvals.Policy)) (*fixture, *approvalstest.Report) {
	t.Helper()
	f := newFixture(t, func(p *approvals.Policy) {
		p.Exclude = []string{"u-m001@contoso.com"}
		if edit != nil {
			edit(p)
		}
	})
	f.dir.AddUser(approvals.User{ID: "u-guest", UPN: "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com", Guest: true, Enabled: true})
	f.dir.AddUser(approvals.User{ID: "u-gone", UPN: "gone@contoso.com", Enabled: false})
	f.dir.AddMember(gAll, "u-guest")
	f.dir.AddMember(gAll, "u-gone")
	unreg := []string{"u-vip", "u-guest", "u-gone"}
	for i := range 50 {
		unreg = append(unreg, fmt.Sprintf("u-m%03d", i))
	}
	rep := approvalstest.NewReport(f.dir, unreg...)
	f.svc = approvals.NewService(f.db, f.dir, f.svc.Policy(), approvals.ServiceOptions{Clock: f.clock, Notifier: f.notes, Report: rep})
	return f, rep
}

func TestCampaignCreate(t *testing.T) {
	t.Parallel()
	allStaff := approvals.Campaign{Members: 601, Registered: 550, Protected: 1, Excluded: 1, Guests: 1, Disabled: 1}
	tests := []struct {
		name    string
		in      approvals.NewRequest
		edit    func(*approvals.Policy)
		report  func(*approvalstest.Report)
		want    approvals.Campaign
		reached int
		code    string
		message string
	}{
		{name: "OKRevokeUnregistered", in: approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Unregistered: true},
			want: withUnregistered(allStaff), reached: 49},
		{name: "OKNudgeGroup", in: approvals.NewRequest{Kind: approvals.KindNudge, Target: gAll, Reason: "deadline Friday"}, want: allStaff, reached: 49},
		{name: "OKNudgeEveryone", in: approvals.NewRequest{Kind: approvals.KindNudge, Target: "Everyone"},
			// Every enabled member of the tenant: All Staff's, and Adele, Ann, Ben, Cleo
			// (registered) and the break-glass account (protected).
			want: approvals.Campaign{Members: 606, Registered: 554, Protected: 2, Excluded: 1, Guests: 1, Disabled: 1}, reached: 49},
		{name: "ErrNobodyUnregistered", in: approvals.NewRequest{Kind: approvals.KindNudge, Target: "Finance"},
			report: func(r *approvalstest.Report) {
				for i := range 5 {
					r.SetRegistered(fmt.Sprintf("u-m%03d", i), true)
				}
			},
			code: approvals.EINVALID, message: "Finance has no unregistered members: 4 of 5 enabled members are registered, 1 protected or excluded; nothing to do"},
		{name: "ErrOnlyExcludedUnregistered", in: approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "Finance", Unregistered: true},
			edit: func(p *approvals.Policy) {
				p.Exclude = []string{"u-m000@contoso.com", "U-M001@contoso.com", "u-m002@contoso.com", "u-m003@contoso.com", "u-m004@contoso.com"}
			},
			code: approvals.EINVALID, message: "0 of 5 enabled members are registered, 5 protected or excluded"},
		{name: "ErrProtectedGroup", in: approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "Executives", Unregistered: true},
			code: approvals.EFORBIDDEN, message: "protected group"},
		{name: "ErrConfirmMissing", in: approvals.NewRequest{Kind: approvals.KindNudge, Target: "everyone"}, edit: func(p *approvals.Policy) { p.ConfirmAbove = 20 },
			code: approvals.EINVALID, message: "this nudge reaches 49 people (more than 20): to message them all, repeat the command with --confirm 49"},
		{name: "ErrConfirmWrong", in: approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Unregistered: true, Confirm: 50},
			edit: func(p *approvals.Policy) { p.ConfirmAbove = 20 }, code: approvals.EINVALID, message: "49 members of All Staff are not registered for MFA, not 50"},
		{name: "OKConfirmed", in: approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Unregistered: true, Confirm: 49},
			edit: func(p *approvals.Policy) { p.ConfirmAbove = 20 }, want: withUnregistered(allStaff), reached: 49},
		{name: "ErrUnlicensed", in: approvals.NewRequest{Kind: approvals.KindNudge, Target: "All Staff"},
			report: func(r *approvalstest.Report) {
				r.Err = approvals.WrapError(approvals.EUPSTREAM, approvals.ErrLicence, "the registration report needs Microsoft Entra ID P1 or P2 in this tenant")
			},
			code: approvals.EUPSTREAM, message: "cannot tell who is not registered for MFA: the registration report needs Microsoft Entra ID P1 or P2"},
		{name: "ErrNoGroup", in: approvals.NewRequest{Kind: approvals.KindNudge, Target: ""}, code: approvals.EINVALID, message: "group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, rep := campaignFixture(t, tt.edit)
			if tt.report != nil {
				tt.report(rep)
			}
			r, err := f.svc.Create(context.Background(), ann, tt.in)
			if code(err) != tt.code {
				t.Fatalf("code %q, want %q: %v", code(err), tt.code, err)
			}
			if tt.code != "" {
				if !strings.Contains(approvals.ErrorMessage(err), tt.message) {
					t.Fatalf("message %q does not say %q", approvals.ErrorMessage(err), tt.message)
				}
				return
			}
			if c := r.Preview.Campaign; c == nil || *c != tt.want || r.Preview.MemberCount != tt.reached || c.Reached() != tt.reached {
				t.Fatalf("campaign %+v reached %d, want %+v and %d", r.Preview.Campaign, r.Preview.MemberCount, tt.want, tt.reached)
			}
			// The preview survives the store.
			stored, err := f.svc.Request(context.Background(), r.ID)
			if err != nil || stored.Preview.Campaign == nil || *stored.Preview.Campaign != tt.want {
				t.Fatalf("stored %+v %v", stored.Preview, err)
			}
		})
	}
}

func withUnregistered(c approvals.Campaign) approvals.Campaign {
	c.Unregistered = true
	return c
}

// revoke-group --unregistered revokes exactly the unregistered members it may touch: not
// the registered, the protected, the excluded, the guest or the disabled account.
func TestRevokeUnregisteredTouchesOnlyThem(t *testing.T) {
	t.Parallel()
	f, rep := campaignFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Unregistered: true})
	runAll(t, f, approvals.ExecutorOptions{Report: rep})
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.State != approvals.StateSucceeded || got.Done != 49 {
		t.Fatalf("request %s %d/%d", got.State, got.Done, got.Total)
	}
	for _, u := range f.dir.Users {
		want := 0
		if n, ok := strings.CutPrefix(u.ID, "u-m"); ok && n < "050" && u.ID != "u-m001" {
			want = 1
		}
		if got := f.dir.RevokeCount(u.ID); got != want {
			t.Errorf("%s revoked %d times, want %d", u.ID, got, want)
		}
	}
}

// A member who registered between approval and execution is not revoked; a campaign that
// grew past a tenth is not run.
func TestCampaignRecountedWhenRun(t *testing.T) {
	t.Parallel()
	t.Run("RegisteredMeanwhileSpared", func(t *testing.T) {
		t.Parallel()
		f, rep := campaignFixture(t, nil)
		r := approved(t, f, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "All Staff", Unregistered: true})
		rep.SetRegistered("u-m010", true)
		runAll(t, f, approvals.ExecutorOptions{Report: rep})
		got, _ := f.svc.Request(context.Background(), r.ID)
		if got.State != approvals.StateSucceeded || got.Total != 48 || f.dir.RevokeCount("u-m010") != 0 {
			t.Fatalf("request %s %d/%d, u-m010 revoked %d times", got.State, got.Done, got.Total, f.dir.RevokeCount("u-m010"))
		}
	})
	t.Run("ErrGrew", func(t *testing.T) {
		t.Parallel()
		f, rep := campaignFixture(t, nil)
		r := approved(t, f, approvals.NewRequest{Kind: approvals.KindNudge, Target: "All Staff"})
		for i := 100; i < 110; i++ {
			rep.SetRegistered(fmt.Sprintf("u-m%03d", i), false)
		}
		m := &messenger{}
		runAll(t, f, approvals.ExecutorOptions{Report: rep, Messenger: m})
		got, _ := f.svc.Request(context.Background(), r.ID)
		if got.State != approvals.StateFailed || !strings.Contains(got.Error, "59 people are not registered in All Staff now, 49 when it was approved; nobody was messaged") {
			t.Fatalf("request %s: %s", got.State, got.Error)
		}
		if len(m.sent()) != 0 {
			t.Fatalf("messaged %d", len(m.sent()))
		}
	})
}

// messenger is a func-field fake of approvals.Messenger: deliver decides each outcome
// (nil: every message goes by slack). A message counts as sent once BeginSend has let it
// go; sent lists those, in order.
type messenger struct {
	deliver func(u approvals.User) (string, error)
	// wait, when set, is the platform's wait before the send (its pace); an error ends the
	// delivery with nothing sent.
	wait func(ctx context.Context, u approvals.User) error

	mu    sync.Mutex
	sends []approvals.User
}

func (m *messenger) Nudge(ctx context.Context, _ *approvals.Request, u approvals.User) (string, error) {
	channel, err := "slack", error(nil)
	if m.deliver != nil {
		channel, err = m.deliver(u)
	}
	if errors.Is(err, approvals.ErrUnreachable) {
		return "", err // nothing was sent
	}
	if m.wait != nil {
		if werr := m.wait(ctx, u); werr != nil {
			return "", werr
		}
	}
	_, cancel, berr := approvals.BeginSend(ctx)
	if berr != nil {
		return "", berr
	}
	defer cancel()
	m.mu.Lock()
	m.sends = append(m.sends, u)
	m.mu.Unlock()
	return channel, err
}

func (m *messenger) sent() []approvals.User {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]approvals.User(nil), m.sends...)
}

// A nudge messages each person it reaches once, records the channel that reached them,
// and ends partly failed with the unreachable ones named in their items and the audit log.
func TestNudgeDelivers(t *testing.T) {
	t.Parallel()
	f, rep := campaignFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindNudge, Target: "All Staff", Reason: "deadline Friday"})
	m := &messenger{deliver: func(u approvals.User) (string, error) {
		switch {
		case u.ID == "u-m007":
			return "", approvals.WrapError(approvals.ENOTFOUND, approvals.ErrUnreachable, "not reachable: Slack: no Slack user with that address; Teams: mfabot has never seen them; e-mail: no mailbox configured")
		case u.ID < "u-m020":
			return "mail", nil
		}
		return "slack", nil
	}}
	runAll(t, f, approvals.ExecutorOptions{Report: rep, Messenger: m})
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.State != approvals.StatePartlyFailed || got.Done != 48 || got.Failed != 1 {
		t.Fatalf("request %s %d done %d failed", got.State, got.Done, got.Failed)
	}
	seen := map[string]int{}
	for _, u := range m.sent() {
		seen[u.ID]++
		if u.UPN != u.ID+"@contoso.com" {
			t.Fatalf("messenger got %+v", u)
		}
	}
	if len(seen) != 48 || seen["u-m007"] != 0 {
		t.Fatalf("messaged %d people", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s messaged %d times", id, n)
		}
	}
	items, _ := f.svc.Items(context.Background(), r.ID, "", 0)
	by := map[string]int{}
	for _, it := range items {
		if it.Op != approvals.OpNudge {
			t.Fatalf("item %+v", it)
		}
		by[it.Result]++
		if it.UserID == "u-m007" && (it.State != approvals.ItemFailed || !strings.Contains(it.Error, "not reachable")) {
			t.Fatalf("unreachable item %+v", it)
		}
	}
	if by["mail"] != 18 || by["slack"] != 30 {
		t.Fatalf("by channel %v", by)
	}
	found := false
	err := f.db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		found = found || (ev.RequestID == r.ID && ev.Type == approvals.EventItem && strings.Contains(ev.Detail, "u-m007@contoso.com") &&
			strings.Contains(ev.Detail, "not reachable"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatal("the unreachable person is not in the audit log")
	}
}

// killedStore is the store as a process killed with SIGKILL leaves it: from the moment of
// the kill nothing more is written, and the lease is neither renewed nor released.
type killedStore struct {
	*storage.DB
	dead      atomic.Bool
	killAfter int64 // the process dies right after beginning this many items
	begun     atomic.Int64
}

func (*killedStore) RenewLease(context.Context, string, string, time.Time) error { return nil }

func (s *killedStore) FinishItems(ctx context.Context, items []approvals.Item, evs []approvals.AuditEvent) error {
	if s.dead.Load() {
		return errors.New("killed")
	}
	return s.DB.FinishItems(ctx, items, evs)
}

func (s *killedStore) StartItems(ctx context.Context, items []approvals.Item) error {
	if s.dead.Load() {
		return errors.New("killed")
	}
	err := s.DB.StartItems(ctx, items)
	if s.begun.Add(int64(len(items))) >= s.killAfter && s.killAfter > 0 {
		s.dead.Store(true)
	}
	return err
}

func (s *killedStore) Transition(ctx context.Context, id string, tr approvals.Transition, ev approvals.AuditEvent) (*approvals.Request, error) {
	if s.dead.Load() {
		return nil, errors.New("killed")
	}
	return s.DB.Transition(ctx, id, tr, ev)
}

// A nudge resumed after a crash never sends a message twice: what the dead executor began
// and did not record fails as of unknown fate, and the rest go out once.
func TestNudgeResumeNeverTwice(t *testing.T) {
	t.Parallel()
	f, rep := campaignFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindNudge, Target: "All Staff"})
	// The process dies while the eleventh message is on its way.
	store := &killedStore{DB: f.db}
	first := &messenger{}
	store.killAfter = 11 // the eleventh message is begun and sent; nothing is written after it
	ex := approvals.NewExecutor(store, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "first", Clock: f.clock,
		Report: rep, Messenger: first, NudgeConcurrency: 1, Sleep: approvalstest.NoSleep})
	_, _ = ex.RunOnce(context.Background())
	if mid, _ := f.svc.Request(context.Background(), r.ID); mid.State != approvals.StateRunning || mid.Done == 0 || mid.Done >= 11 {
		t.Fatalf("after the kill: %s %d done", mid.State, mid.Done)
	}

	f.clock.Advance(time.Minute) // the dead executor's lease lapses
	second := &messenger{}
	runAll(t, f, approvals.ExecutorOptions{Report: rep, Messenger: second})
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.Total != 49 || got.Done+got.Failed != 49 || got.State != approvals.StatePartlyFailed {
		t.Fatalf("request %s %d+%d of %d", got.State, got.Done, got.Failed, got.Total)
	}
	count := map[string]int{}
	for _, u := range append(first.sent(), second.sent()...) {
		count[u.ID]++
	}
	for id, n := range count {
		if n != 1 {
			t.Fatalf("%s messaged %d times", id, n)
		}
	}
	if len(count) != 49 || len(second.sent()) != 49-11 {
		t.Fatalf("%d people messaged, %d after the restart", len(count), len(second.sent()))
	}
	failed, _ := f.svc.Items(context.Background(), r.ID, approvals.ItemFailed, 0)
	if len(failed) != got.Failed || len(failed) == 0 {
		t.Fatalf("failed items %+v", failed)
	}
	for _, it := range failed {
		if !strings.Contains(it.Error, "may have arrived, so it was not sent again") {
			t.Fatalf("failed item %+v", it)
		}
	}
}

// summary.exclude names users by object id or UPN and groups by object id (their members
// now); anything else is refused, naming the entry.
func TestResolveExclusions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name     string
		refs     []string
		excluded []string
		kept     []string
		code     string
	}{
		{"ErrNotAnObjectID", []string{"u-m003"}, nil, nil, approvals.EINVALID},
		{"OKGroup", []string{gSmall}, []string{"u-m000", "u-m004"}, []string{"u-m005"}, ""},
		{"OKUPNAnyCase", []string{"U-M010@Contoso.com"}, []string{"u-m010"}, []string{"u-m011"}, ""},
		{"OKObjectIDOfUser", []string{"00000000-0000-4000-8000-0000000000ff"}, nil, []string{"u-m000"}, ""},
		{"ErrDisplayName", []string{"Finance"}, nil, nil, approvals.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := approvals.ResolveExclusions(context.Background(), f.dir, tt.refs)
			if code(err) != tt.code {
				t.Fatalf("code %q: %v", code(err), err)
			}
			if err != nil {
				return
			}
			for _, id := range tt.excluded {
				u, _ := f.dir.ResolveUser(context.Background(), id)
				if !x.Has(u) {
					t.Errorf("%s not excluded", id)
				}
			}
			for _, id := range tt.kept {
				u, _ := f.dir.ResolveUser(context.Background(), id)
				if x.Has(u) {
					t.Errorf("%s excluded", id)
				}
			}
		})
	}
	// A user named by object id is excluded by it.
	f.dir.AddUser(approvals.User{ID: "00000000-0000-4000-8000-0000000000ff", UPN: "svc@contoso.com", Enabled: true})
	x, err := approvals.ResolveExclusions(context.Background(), f.dir, []string{"00000000-0000-4000-8000-0000000000FF"})
	if err != nil || !x.Has(approvals.User{ID: "00000000-0000-4000-8000-0000000000ff"}) {
		t.Fatalf("user by object id: %v", err)
	}
}

// Shutting down stops the messages waiting for their platform's turn without marking them
// begun: the next start sends them, and nobody is messaged twice or left out.
func TestNudgeShutdownLeavesWaitingPending(t *testing.T) {
	t.Parallel()
	f, rep := campaignFixture(t, nil)
	r := approved(t, f, approvals.NewRequest{Kind: approvals.KindNudge, Target: "All Staff"})
	ctx, stop := context.WithCancel(context.Background())
	first := &messenger{}
	var n atomic.Int32
	first.wait = func(wctx context.Context, u approvals.User) error {
		if n.Add(1) > 20 {
			stop() // SIGTERM while the 21st waits for its turn
			<-wctx.Done()
			return wctx.Err()
		}
		return nil
	}
	ex := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "first", Clock: f.clock,
		Report: rep, Messenger: first, NudgeConcurrency: 4, Sleep: approvalstest.NoSleep})
	if _, err := ex.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	mid, _ := f.svc.Request(context.Background(), r.ID)
	if mid.State != approvals.StateRunning || mid.Failed != 0 || mid.Done != len(first.sent()) {
		t.Fatalf("after shutdown: %s %d done %d failed, %d sent", mid.State, mid.Done, mid.Failed, len(first.sent()))
	}
	second := &messenger{}
	runAll(t, f, approvals.ExecutorOptions{Report: rep, Messenger: second})
	got, _ := f.svc.Request(context.Background(), r.ID)
	if got.State != approvals.StateSucceeded || got.Done != 49 {
		t.Fatalf("after restart: %s %d/%d", got.State, got.Done, got.Total)
	}
	count := map[string]int{}
	for _, u := range append(first.sent(), second.sent()...) {
		count[u.ID]++
	}
	if len(count) != 49 {
		t.Fatalf("%d people messaged", len(count))
	}
	for id, c := range count {
		if c != 1 {
			t.Fatalf("%s messaged %d times", id, c)
		}
	}
}
