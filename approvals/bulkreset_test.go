package approvals_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
)

// rows numbers values as the lines after a CSV header: 2, 3, …
func rows(values ...string) []approvals.BulkRow {
	out := make([]approvals.BulkRow, len(values))
	for i, v := range values {
		out[i] = approvals.BulkRow{Line: i + 2, Value: v}
	}
	return out
}

// passes is a PassHandler that keeps what it was handed, or refuses with err.
type passes struct {
	mu   sync.Mutex
	got  []approvals.Pass
	reqs []string
	err  error
}

func (p *passes) HandPass(_ context.Context, r *approvals.Request, pass approvals.Pass) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return "", p.err
	}
	p.got = append(p.got, pass)
	p.reqs = append(p.reqs, r.ID)
	return "a test's private message", nil
}

func (p *passes) handed() []approvals.Pass {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

func withTAP(p *approvals.Policy) {
	p.TAPEnabled, p.TAPLifetime, p.TAPOneTime = true, 2*time.Hour, true
}

func TestCreateBulkReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  func(*approvals.Policy)
		actor   approvals.Actor
		in      approvals.BulkInput
		code    string
		message string   // a part of the refusal
		users   []string // UPNs on the request
		refused []string // "line: why" parts
	}{
		{name: "OK", actor: ann, in: approvals.BulkInput{Source: "users.csv", Reason: "phishing campaign", Rows: rows(
			"adele.vance@contoso.com", "u-m001", "nobody@contoso.com", "breakglass@contoso.onmicrosoft.com", "ceo@contoso.com", "u-adele", "u-m002@contoso.com")},
			users: []string{"adele.vance@contoso.com", "u-m001@contoso.com", "u-m002@contoso.com"},
			refused: []string{"4: no user nobody@contoso.com in the directory", "5: breakglass@contoso.onmicrosoft.com is a protected account",
				"6: ceo@contoso.com is a member of the protected group Executives", "7: the same user as line 2 (adele.vance@contoso.com)"}},
		{name: "OKWithTAP", policy: withTAP, actor: ann, in: approvals.BulkInput{Rows: rows("u-m001", "u-m002"), TAP: true}, users: []string{"u-m001@contoso.com", "u-m002@contoso.com"}},
		{name: "ErrEmpty", actor: ann, in: approvals.BulkInput{}, code: approvals.EINVALID, message: "the list names no user"},
		{name: "ErrTooMany", policy: func(p *approvals.Policy) { p.BulkMax = 2 }, actor: ann, in: approvals.BulkInput{Rows: rows("u-m001", "u-m002", "u-m003")},
			code: approvals.EINVALID, message: "the list names 3 users; one bulk reset takes at most 2 (policy.bulk_max): line 4 is the first one over"},
		{name: "ErrSameLineTwice", actor: ann, in: approvals.BulkInput{Rows: rows("u-m001", "U-M002", "u-m002")},
			code: approvals.EINVALID, message: "line 4 names the same user as line 3 (u-m002)"},
		{name: "ErrAllRefused", actor: ann, in: approvals.BulkInput{Rows: rows("nobody@contoso.com", "breakglass@contoso.onmicrosoft.com")},
			code: approvals.EINVALID, message: "no user on the list can be reset; nothing was created (line 2: no user nobody@contoso.com"},
		{name: "ErrTAPOff", actor: ann, in: approvals.BulkInput{Rows: rows("u-m001"), TAP: true}, code: approvals.EFORBIDDEN, message: "--tap is turned off"},
		{name: "ErrNotRequester", actor: nina, in: approvals.BulkInput{Rows: rows("u-m001")}, code: approvals.EFORBIDDEN, message: "only mfabot admins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.policy)
			r, err := f.svc.CreateBulkReset(context.Background(), tt.actor, tt.in)
			if code(err) != tt.code || (tt.message != "" && !strings.Contains(approvals.ErrorMessage(err), tt.message)) {
				t.Fatalf("err = %v (%s), want %s %q", err, code(err), tt.code, tt.message)
			}
			if err != nil {
				if rs, _ := f.db.Requests(context.Background(), approvals.RequestFilter{}); len(rs) != 0 {
					t.Fatalf("a refused list created %d requests", len(rs))
				}
				return
			}
			var got []string
			for _, u := range r.Preview.Bulk.Users {
				got = append(got, u.UPN)
			}
			if !slices.Equal(got, tt.users) {
				t.Fatalf("users = %v, want %v", got, tt.users)
			}
			var refused []string
			for _, x := range r.Preview.Bulk.Refused {
				refused = append(refused, fmt.Sprintf("%d: %s", x.Line, x.Why))
			}
			for i, want := range tt.refused {
				if i >= len(refused) || !strings.HasPrefix(refused[i], want) {
					t.Fatalf("refused = %q, want %q", refused, tt.refused)
				}
			}
			if len(refused) != len(tt.refused) {
				t.Fatalf("refused = %q, want %q", refused, tt.refused)
			}
			stored, err := f.svc.Request(context.Background(), r.ID)
			if err != nil || stored.Kind != approvals.KindResetBulk || stored.Target.Type != "users" || len(stored.Preview.Bulk.Users) != len(tt.users) {
				t.Fatalf("stored = %+v %v", stored, err)
			}
			if (tt.in.TAP) != (stored.Preview.TAP != nil) {
				t.Fatalf("TAP plan = %+v", stored.Preview.TAP)
			}
			if len(tt.refused) > 2 && !strings.Contains(auditText(t, f), "protected accounts refused: line 5 breakglass@contoso.onmicrosoft.com, line 6 ceo@contoso.com") {
				t.Fatalf("the protected rows were not audited:\n%s", auditText(t, f))
			}
		})
	}
}

// auditText is every audit entry's type and detail, one a line.
func auditText(t *testing.T, f *fixture) string {
	t.Helper()
	var b strings.Builder
	err := f.db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		fmt.Fprintf(&b, "%s %s %s\n", ev.RequestID, ev.Type, ev.Detail)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestBulkResetOverlap: the same list twice is one target, refused by the store's unique
// index; a user already on an open reset is refused as a row, and a single reset of a
// user on an open list is refused.
func TestBulkResetOverlap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	first, err := f.svc.CreateBulkReset(ctx, ann, approvals.BulkInput{Rows: rows("u-m001", "u-m002")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.CreateBulkReset(ctx, ben, approvals.BulkInput{Rows: rows("u-m002@contoso.com", "u-m001@contoso.com")})
	if code(err) != approvals.EINVALID || !strings.Contains(approvals.ErrorMessage(err), "u-m002@contoso.com is already in "+first.ID+", which is pending") {
		t.Fatalf("the same list again: %v", err)
	}
	_, err = f.svc.Create(ctx, ben, approvals.NewRequest{Kind: approvals.KindReset, Target: "u-m001@contoso.com"})
	if code(err) != approvals.ECONFLICT || !strings.Contains(approvals.ErrorMessage(err), "is on the list of the bulk reset "+first.ID) {
		t.Fatalf("single reset of a listed user: %v", err)
	}
	if _, err := f.svc.Create(ctx, ben, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.CreateBulkReset(ctx, ben, approvals.BulkInput{Rows: rows("u-m001", "adele.vance@contoso.com", "u-m003")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(second.Preview.Bulk.Users); n != 1 || second.Preview.Bulk.Users[0].ID != "u-m003" {
		t.Fatalf("users = %+v", second.Preview.Bulk.Users)
	}
	for i, want := range []string{"u-m001@contoso.com is already in " + first.ID + ", which is pending", "adele.vance@contoso.com is already in R-"} {
		if !strings.HasPrefix(second.Preview.Bulk.Refused[i].Why, want) {
			t.Fatalf("refused = %+v, want %q", second.Preview.Bulk.Refused, want)
		}
	}
	// Once the first list is closed, its users may be listed again.
	if _, err := f.svc.Cancel(ctx, ann, first.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateBulkReset(ctx, ann, approvals.BulkInput{Rows: rows("u-m001", "u-m002")}); err != nil {
		t.Fatal(err)
	}
}

func TestPlanBulkReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	plan, err := f.svc.PlanBulkReset(ctx, ann, approvals.BulkInput{Rows: rows("adele.vance@contoso.com", "nobody@contoso.com"), Only: []string{approvals.MethodPhone}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Users) != 1 || len(plan.Preview.Refused) != 1 {
		t.Fatalf("plan = %+v", plan)
	}
	u := plan.Users[0]
	if len(u.Delete) != 1 || u.Delete[0].ID != "ph1" || u.User.UPN != "adele.vance@contoso.com" {
		t.Fatalf("adele's plan = %+v", u)
	}
	if rs, _ := f.db.Requests(ctx, approvals.RequestFilter{}); len(rs) != 0 {
		t.Fatalf("a dry run created %d requests", len(rs))
	}
	if _, err := f.svc.PlanBulkReset(ctx, nina, approvals.BulkInput{Rows: rows("u-m001")}); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("a dry run by Nina: %v", err)
	}
}

// TestExecuteBulkReset runs a list: every user is reset as one item; a user protected
// since the request and one whose deletion Graph refuses fail with why, the others are
// done; nothing is redone by a second run.
func TestExecuteBulkReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, id := range []string{"u-m001", "u-m002", "u-m003", "u-m004"} {
		f.dir.MethodsOf[id] = []approvals.Method{
			{ID: id + "-auth", ODataType: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", Type: approvals.MethodAuthenticator, Deletable: true},
		}
	}
	r, err := f.svc.CreateBulkReset(ctx, ann, approvals.BulkInput{Rows: rows("adele.vance@contoso.com", "u-m001", "u-m002", "u-m003", "u-m004")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, ben, r.ID); err != nil {
		t.Fatal(err)
	}
	f.dir.AddMember(gVIP, "u-m003") // protected after the request was made
	f.dir.Fail = func(op, id string) error {
		if op == "delete" && id == "u-m004" {
			return approvals.Errorf(approvals.EUPSTREAM, "Graph denied access: mfabot needs the application permission UserAuthenticationMethod.ReadWrite.All with admin consent")
		}
		return nil
	}
	runAll(t, f, approvals.ExecutorOptions{Concurrency: 2})
	got, err := f.svc.Request(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approvals.StatePartlyFailed || got.Total != 5 || got.Done != 3 || got.Failed != 2 {
		t.Fatalf("request = %s %d/%d failed %d", got.State, got.Done, got.Total, got.Failed)
	}
	if d := f.dir.Deleted["u-adele"]; strings.Join(d, ",") != "ph1,auth1" {
		t.Fatalf("adele: deleted %v", d)
	}
	for _, id := range []string{"u-adele", "u-m001", "u-m002"} {
		if f.dir.RevokeCount(id) != 1 {
			t.Fatalf("%s: revoked %d times", id, f.dir.RevokeCount(id))
		}
	}
	if f.dir.RevokeCount("u-m003") != 0 || len(f.dir.Deleted["u-m003"]) != 0 {
		t.Fatal("a user protected since the request was reset")
	}
	failed, err := f.svc.Items(ctx, r.ID, approvals.ItemFailed, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"u-m003": "u-m003@contoso.com is a member of the protected group Executives; mfabot never changes it; nothing was changed",
		"u-m004": "delete microsoftAuthenticator: Graph denied access",
	}
	for _, it := range failed {
		if !strings.HasPrefix(it.Error, want[it.UserID]) || it.Op != approvals.OpResetUser {
			t.Fatalf("failed item %s: %q", it.UserID, it.Error)
		}
	}
	done, _ := f.svc.Items(ctx, r.ID, approvals.ItemDone, 0)
	if len(done) != 3 || done[0].Result != "2 method(s) deleted, sessions revoked" {
		t.Fatalf("done = %+v", done)
	}
	// A second executor finds nothing to do: finished items are never redone.
	runAll(t, f, approvals.ExecutorOptions{})
	if f.dir.RevokeCount("u-adele") != 1 {
		t.Fatal("a finished user was reset again")
	}
	if !strings.Contains(auditText(t, f), "reset-user u-m004@contoso.com : failed: delete microsoftAuthenticator: Graph denied access") {
		t.Fatalf("the failure is not audited:\n%s", auditText(t, f))
	}
}

// TestResetWithTAP: the pass is created after the reset and handed to the requester
// only; Graph's refusal fails the pass step with its reason while the reset stays done;
// a pass that cannot be handed over is deleted again. The value never reaches the store.
func TestResetWithTAP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fail    func(op, id string) error
		handErr error
		state   approvals.State
		says    string // the pass step's Result (done) or Error (failed)
	}{
		{name: "OK", state: approvals.StateSucceeded, says: "Temporary Access Pass issued (valid 2 h, usable once, until "},
		{name: "ErrPolicyOff", fail: func(op, id string) error {
			if op == "tap" {
				return approvals.WrapError(approvals.EUPSTREAM, approvals.ErrTAPPolicy, "Graph refused a Temporary Access Pass: the tenant's Temporary Access Pass policy is off or does not include this user")
			}
			return nil
		}, state: approvals.StatePartlyFailed, says: "Graph refused a Temporary Access Pass: the tenant's Temporary Access Pass policy is off"},
		{name: "ErrUndeliverable", handErr: approvals.Errorf(approvals.EUPSTREAM, "Slack refused chat.postEphemeral: user_not_in_channel"),
			state: approvals.StatePartlyFailed, says: "the pass could not be handed to slack:UANN privately (Slack refused chat.postEphemeral: user_not_in_channel), so it was deleted again"},
		{name: "ErrResetFailedNoPass", fail: func(op, id string) error {
			if op == "revoke" {
				return approvals.Errorf(approvals.EUPSTREAM, "Graph denied access: mfabot needs User.RevokeSessions.All")
			}
			return nil
		}, state: approvals.StatePartlyFailed, says: "no Temporary Access Pass: the reset did not finish (step 3 failed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, withTAP)
			ctx := context.Background()
			r := approved(t, f, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com", TAP: true})
			if r.Preview.TAP == nil || r.Preview.TAP.Lifetime != 2*time.Hour || !r.Preview.TAP.OneTime {
				t.Fatalf("plan = %+v", r.Preview.TAP)
			}
			f.dir.Fail = tt.fail
			h := &passes{err: tt.handErr}
			runAll(t, f, approvals.ExecutorOptions{Passes: h})
			got, _ := f.svc.Request(ctx, r.ID)
			items, _ := f.svc.Items(ctx, r.ID, "", 0)
			last := items[len(items)-1]
			if got.State != tt.state || last.Op != approvals.OpTAP || !strings.Contains(last.Result+last.Error, tt.says) {
				t.Fatalf("request %s, pass step %+v; want %s and %q", got.State, last, tt.state, tt.says)
			}
			pass, created := f.dir.Passes["u-adele"]
			switch tt.name {
			case "OK":
				if hs := h.handed(); len(hs) != 1 || hs[0].Value != pass.Value || h.reqs[0] != r.ID {
					t.Fatalf("handed %v, created %v", hs, pass)
				}
				if !strings.Contains(last.Result, "handed to slack:UANN by a test's private message") {
					t.Fatalf("result = %q", last.Result)
				}
			case "ErrUndeliverable":
				if !created || !slices.Contains(f.dir.Deleted["u-adele"], pass.MethodID) {
					t.Fatalf("the undelivered pass %v was not deleted: %v", pass, f.dir.Deleted["u-adele"])
				}
			default:
				if created {
					t.Fatalf("a pass was created: %v", pass)
				}
			}
			if f.dir.RevokeCount("u-adele") != 1 && tt.name != "ErrResetFailedNoPass" {
				t.Fatal("the reset was not done")
			}
			if created && strings.Contains(auditText(t, f), pass.Value) {
				t.Fatal("the pass is in the audit log")
			}
		})
	}
}

// TestBulkResetTAPHandOver: a list whose passes go to the CLI's file is handed to the
// CLI's executor, which runs it and hands every pass over; when the CLI does not take it
// up, the request comes back after the lease and is run without passes.
func TestBulkResetTAPHandOver(t *testing.T) {
	t.Parallel()
	for _, cliWaits := range []bool{true, false} {
		t.Run(fmt.Sprintf("CLIWaits=%v", cliWaits), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, withTAP)
			ctx := context.Background()
			r, err := f.svc.CreateBulkReset(ctx, ann, approvals.BulkInput{Rows: rows("u-m001", "u-m002", "u-m003"), TAP: true, PassHolder: "cli-test"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Approve(ctx, ben, r.ID); err != nil {
				t.Fatal(err)
			}
			serverPasses := &passes{}
			serve := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "serve", Clock: f.clock,
				Sleep: approvalstest.NoSleep, Lease: 30 * time.Second, Passes: serverPasses})
			if ran, err := serve.RunOnce(ctx); !ran || err != nil {
				t.Fatalf("serve: %v %v", ran, err)
			}
			mid, _ := f.svc.Request(ctx, r.ID)
			if mid.State != approvals.StateRunning || mid.Total != 0 {
				t.Fatalf("after the hand-over: %s with %d items", mid.State, mid.Total)
			}
			if !strings.Contains(auditText(t, f), r.ID+" handed-over executor serve handed the request to cli-test") {
				t.Fatalf("the hand-over is not audited:\n%s", auditText(t, f))
			}
			if cliWaits {
				cliPasses := &passes{}
				cli := approvals.NewExecutor(f.db, f.dir, f.svc.Policy(), approvals.ExecutorOptions{Owner: "cli-test", Clock: f.clock,
					Sleep: approvalstest.NoSleep, Passes: cliPasses})
				if ran, err := cli.RunHeld(ctx, r.ID); !ran || err != nil {
					t.Fatalf("cli: %v %v", ran, err)
				}
				end, _ := f.svc.Request(ctx, r.ID)
				if end.State != approvals.StateSucceeded || len(cliPasses.handed()) != 3 || len(serverPasses.handed()) != 0 {
					t.Fatalf("state %s, CLI handed %d, server %d", end.State, len(cliPasses.handed()), len(serverPasses.handed()))
				}
				return
			}
			// Nobody took it: once the lease lapses it comes back to serve, which resets
			// every user and fails each pass saying why.
			f.clock.Advance(31 * time.Second)
			if ran, err := serve.RunOnce(ctx); !ran || err != nil {
				t.Fatalf("serve again: %v %v", ran, err)
			}
			end, _ := f.svc.Request(ctx, r.ID)
			if end.State != approvals.StateFailed || end.Failed != 3 || len(serverPasses.handed()) != 0 {
				t.Fatalf("state %s, %d failed, server handed %d", end.State, end.Failed, len(serverPasses.handed()))
			}
			items, _ := f.svc.Items(ctx, r.ID, "", 0)
			if !strings.HasPrefix(items[0].Error, "reset done (0 method(s) deleted, sessions revoked), but no Temporary Access Pass: the pass was to be written to a file by the mfabot CLI") {
				t.Fatalf("item = %+v", items[0])
			}
			if f.dir.RevokeCount("u-m001") != 1 || len(f.dir.Passes) != 0 {
				t.Fatal("the users were not reset, or a pass was made")
			}
		})
	}
}

// TestResetTAPRefusals: a pass for a protected account is refused like the reset itself,
// and --tap is refused where the policy has it off; both are audited.
func TestResetTAPRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target string
		policy       func(*approvals.Policy)
		says         string
	}{
		{"ErrProtected", "breakglass@contoso.onmicrosoft.com", withTAP, "is a protected account"},
		{"ErrProtectedGroup", "ceo@contoso.com", withTAP, "is a member of the protected group Executives"},
		{"ErrTAPOff", "adele.vance@contoso.com", nil, "--tap is turned off on this mfabot (policy.tap_enabled)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.policy)
			_, err := f.svc.Create(context.Background(), ann, approvals.NewRequest{Kind: approvals.KindReset, Target: tt.target, TAP: true})
			if code(err) != approvals.EFORBIDDEN || !strings.Contains(approvals.ErrorMessage(err), tt.says) {
				t.Fatalf("err = %v, want EFORBIDDEN saying %q", err, tt.says)
			}
			if a := auditText(t, f); !strings.Contains(a, " refused reset "+tt.target) {
				t.Fatalf("the refusal is not audited:\n%s", a)
			}
		})
	}
}
