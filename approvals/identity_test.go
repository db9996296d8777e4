package approvals_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

var (
	mallory      = approvals.Actor{Platform: "slack", ID: "UMAL", Name: "Mallory", EntraID: "oid-mallory"}
	annUnlinked  = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
	annOnTeams   = approvals.Actor{Platform: "teams", ID: "29:ann", Name: "Ann", EntraID: "oid-ann"}
	cleoApprover = cleo
)

// refusals lists the audited refusals: actor key and detail.
func refusals(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	err := f.db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.Type == approvals.EventRefused {
			out = append(out, ev.Actor.Key()+" "+ev.Detail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hasRefusal(t *testing.T, f *fixture, actor approvals.Actor, part string) {
	t.Helper()
	for _, r := range refusals(t, f) {
		if strings.HasPrefix(r, actor.Key()+" ") && strings.Contains(r, part) {
			return
		}
	}
	t.Fatalf("no audited refusal of %s saying %q in %q", actor.Key(), part, refusals(t, f))
}

// An employee creates a Microsoft 365 group whose alias is the approvers group's name and
// puts their second account in it. Pinned by display name at start, the approvers stay
// the real group's members.
func TestLookAlikeGroupCannotCaptureApprovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(p *approvals.Policy) {})
	f.dir.AddUser(approvals.User{ID: "oid-mallory", UPN: "mallory@contoso.com", Enabled: true})
	f.dir.AddGroup(approvals.Group{ID: "00000000-0000-4000-8000-00000000e001", DisplayName: "Mallory's team", MailNickname: "MFA Approvers"}, "oid-mallory")
	f.dir.AddGroup(approvals.Group{ID: "00000000-0000-4000-8000-00000000e002", DisplayName: "Exec Look-alike", MailNickname: "Executives"}, "oid-mallory")
	pol, err := approvals.PinPolicy(context.Background(), f.dir, approvals.Policy{
		Requesters:      mustPrincipals(t, "slack:UANN"),
		Approvers:       mustPrincipals(t, "entra-group:MFA Approvers"),
		ProtectedGroups: []string{"Executives"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if pol.Approvers[0].Value != gApprovers || pol.ProtectedGroups[0] != gVIP {
		t.Fatalf("pinned %v and %v", pol.Approvers, pol.ProtectedGroups)
	}
	svc := approvals.NewService(f.db, f.dir, pol, approvals.ServiceOptions{Clock: f.clock})
	r, err := svc.Create(context.Background(), ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(context.Background(), mallory, r.ID); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("the look-alike group's member approved: %v", err)
	}
	if _, err := svc.Approve(context.Background(), cleoApprover, r.ID); err != nil {
		t.Fatalf("the real approver was refused: %v", err)
	}
	// The same trick does not unprotect the executives either, nor protect the attacker.
	if _, err := svc.Create(context.Background(), ann, approvals.NewRequest{Kind: approvals.KindRevoke, Target: "ceo@contoso.com"}); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("a protected account could be requested: %v", err)
	}
}

func TestPinPolicyRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.dir.AddGroup(approvals.Group{ID: "00000000-0000-4000-8000-00000000f001", DisplayName: "Finance"})
	for _, tt := range []struct {
		name, ref, says string
	}{
		{"Ambiguous", "Finance", "2 groups have the display name"},
		{"Unknown", "Nobody's Group", "no group has the display name"},
		{"NicknameOnly", "allstaff-alias", "no group has the display name"},
		{"UnknownID", "00000000-0000-4000-8000-0000000000ff", "no group"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := approvals.PinPolicy(context.Background(), f.dir, approvals.Policy{Approvers: mustPrincipals(t, "entra-group:"+tt.ref)})
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("pin %q: %v", tt.ref, err)
			}
		})
	}
}

// With links required, an unlinked chat account can neither request nor approve: one
// person could otherwise request as slack:U… and approve as teams:<oid>.
func TestUnlinkedActorRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(p *approvals.Policy) { p.RequireLink = true })
	ctx := context.Background()
	_, err := f.svc.Create(ctx, annUnlinked, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if code(err) != approvals.EFORBIDDEN || !errors.Is(err, approvals.ErrUnlinked) {
		t.Fatalf("unlinked request: %v", err)
	}
	hasRefusal(t, f, annUnlinked, "not linked")
	r, err := f.svc.Create(ctx, ben, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, annUnlinked, r.ID); !errors.Is(err, approvals.ErrUnlinked) {
		t.Fatalf("unlinked approval: %v", err)
	}
	// A failed lookup is a refusal too, never an unlinked identity.
	failed := approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann", LinkError: "Microsoft Graph did not answer"}
	if _, err := f.svc.Approve(ctx, failed, r.ID); code(err) != approvals.EUPSTREAM {
		t.Fatalf("approval with a failed link lookup: %v", err)
	}
}

// With two approvals required, one person on two platforms gives one approval.
func TestOnePersonOneApproval(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(p *approvals.Policy) {
		p.RequiredApprovals = 2
		p.RequireLink = true
		p.Approvers = append(p.Approvers, mustPrincipals(t, "teams:29:ann")...)
	})
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ben, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, ann, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, annOnTeams, r.ID); code(err) != approvals.ECONFLICT {
		t.Fatalf("second approval by the same person on Teams: %v", err)
	}
	hasRefusal(t, f, annOnTeams, "already approved")
	got, _ := f.svc.Request(ctx, r.ID)
	if got.State != approvals.StatePending || len(got.Approvals) != 1 {
		t.Fatalf("state %s with %d approvals", got.State, len(got.Approvals))
	}
}

// Someone who left the company cannot approve, even while their chat session lives; the
// account state is read again at most CheckTTL after it changed.
func TestDisabledApproverRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Create(ctx, ben, approvals.NewRequest{Kind: approvals.KindRevoke, Target: "adele.vance@contoso.com"}); err != nil {
		t.Fatal(err) // Ben's account is read and cached as enabled
	}
	f.dir.SetEnabled("oid-ben", false)
	f.clock.Advance(approvals.CheckTTL + time.Second)
	if _, err := f.svc.Approve(ctx, ben, r.ID); code(err) != approvals.EFORBIDDEN || !errors.Is(err, approvals.ErrDisabled) {
		t.Fatalf("disabled approver: %v", err)
	}
	hasRefusal(t, f, ben, "disabled")
}

// Role checks are cached for at most CheckTTL: an approver removed from the group is
// refused once that has passed.
func TestApproverRemovalTakesEffect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r1, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	r2, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindRevoke, Target: "adele.vance@contoso.com"})
	r3, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: "Finance"})
	if _, err := f.svc.Approve(ctx, cleo, r1.ID); err != nil {
		t.Fatal(err)
	}
	f.dir.RemoveMember(gApprovers, "oid-cleo")
	f.clock.Advance(30 * time.Second)
	if _, err := f.svc.Approve(ctx, cleo, r2.ID); err != nil {
		t.Fatalf("within the cache bound: %v", err)
	}
	f.clock.Advance(approvals.CheckTTL)
	if _, err := f.svc.Approve(ctx, cleo, r3.ID); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("a removed approver approved after the cache bound: %v", err)
	}
	hasRefusal(t, f, cleo, "only members of the Entra group MFA Approvers")
}

func TestCancelSomeoneElses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if _, err := f.svc.Cancel(ctx, ben, r.ID, ""); code(err) != approvals.EINVALID {
		t.Fatalf("cancel without a reason: %v", err)
	}
	if _, err := f.svc.Cancel(ctx, nina, r.ID, "mine now"); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("cancel by a non-approver: %v", err)
	}
	hasRefusal(t, f, nina, "")
	got, err := f.svc.Cancel(ctx, ben, r.ID, "duplicate of the ticket")
	if err != nil || got.State != approvals.StateCancelled || got.Denial.Reason != "duplicate of the ticket" {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if f.notes.count(approvals.EventCancelled) != 1 {
		t.Fatal("the requester is not told")
	}
}

func TestSelfApprovalAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	if _, err := f.svc.Approve(ctx, annOnTeams, r.ID); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("self-approval: %v", err)
	}
	hasRefusal(t, f, annOnTeams, "their own request")
	if _, err := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "breakglass@contoso.onmicrosoft.com"}); code(err) != approvals.EFORBIDDEN {
		t.Fatalf("protected: %v", err)
	}
	hasRefusal(t, f, ann, "protected account")
}

// A directory that cannot say whether someone is an approver refuses, never passes.
func TestMembershipLookupFailureRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	r, _ := f.svc.Create(ctx, ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com"})
	f.dir.MemberErr = errors.New("Graph unavailable")
	if _, err := f.svc.Approve(ctx, cleo, r.ID); code(err) != approvals.EUPSTREAM {
		t.Fatalf("approval while membership cannot be read: %v", err)
	}
}
