package approvals_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// stepUpFixture is the service fixture with step-up on for reset (and an authentication
// context), and one pending reset of Adele requested by Ann.
func stepUpFixture(t *testing.T, context string) (*fixture, *approvals.Request) {
	t.Helper()
	f := newFixture(t, func(p *approvals.Policy) {
		p.StepUp = approvals.StepUp{Kinds: []approvals.Kind{approvals.KindReset}, Context: context}
	})
	r, err := f.svc.Create(t.Context(), ann, approvals.NewRequest{Kind: approvals.KindReset, Target: "adele.vance@contoso.com", Reason: "lost phone"})
	if err != nil {
		t.Fatal(err)
	}
	return f, r
}

// benSignIn is a sign-in by Ben with MFA a minute ago, at the fixture's clock.
func benSignIn(f *fixture) approvals.SignIn {
	return approvals.SignIn{ObjectID: "OID-BEN", TenantID: "tid", AuthTime: f.clock.Now().Add(-time.Minute),
		AMR: []string{"pwd", "mfa"}, ACRS: []string{"c1"}, TokenID: "uti-1"}
}

// auditOf lists the audit entries of a request as "type actor detail".
func auditOf(t *testing.T, f *fixture, id string) []string {
	t.Helper()
	var out []string
	err := f.db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.RequestID == id {
			out = append(out, ev.Type+" "+ev.Actor.Key()+" "+ev.Detail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStepUpClickAsksForSignIn(t *testing.T) {
	t.Parallel()
	f, r := stepUpFixture(t, "c1")
	_, err := f.svc.Approve(t.Context(), ben, r.ID)
	if !errors.Is(err, approvals.ErrStepUpRequired) || code(err) != approvals.EFORBIDDEN {
		t.Fatalf("Approve = %v, want ErrStepUpRequired", err)
	}
	cur, _ := f.svc.Request(t.Context(), r.ID)
	if cur.State != approvals.StatePending || len(cur.Approvals) != 0 {
		t.Fatalf("a click without step-up changed the request: %+v", cur)
	}
	audit := strings.Join(auditOf(t, f, r.ID), "\n")
	if !strings.Contains(audit, approvals.EventStepUpRequired+" slack:UBEN approve waits for a fresh Entra sign-in with MFA (at most 5m0s old, authentication context c1)") {
		t.Fatalf("step-up demand not audited:\n%s", audit)
	}
	// Other kinds are approved with a click, as before.
	rv, err := f.svc.Create(t.Context(), ann, approvals.NewRequest{Kind: approvals.KindRevoke, Target: "adele.vance@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(t.Context(), ben, rv.ID); err != nil {
		t.Fatalf("revoke needs no step-up: %v", err)
	}
}

// Every refusal the existing rules make comes before step-up: nobody gets a sign-in link
// for a request they may not approve, and the refusal is audited as before.
func TestStepUpComesAfterTheOtherRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		actor   approvals.Actor
		code    string
		message string
	}{
		{"ErrSelfApproval", ann, approvals.EFORBIDDEN, "your own request"},
		{"ErrSelfApprovalOtherPlatform", annOnTeams, approvals.EFORBIDDEN, "your own request"},
		{"ErrNotApprover", mallory, approvals.EFORBIDDEN, "only members of"},
		{"ErrUnlinked", approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben"}, approvals.EFORBIDDEN, "not linked to an Entra user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, r := stepUpFixture(t, "")
			f.dir.AddUser(approvals.User{ID: "oid-mallory", UPN: "mallory@contoso.com", Enabled: true})
			for _, try := range []func() error{
				func() error { _, err := f.svc.Approve(t.Context(), tt.actor, r.ID); return err },
				func() error { _, err := f.svc.ApproveSignedIn(t.Context(), tt.actor, r.ID, benSignIn(f)); return err },
			} {
				err := try()
				if code(err) != tt.code || !strings.Contains(approvals.ErrorMessage(err), tt.message) || errors.Is(err, approvals.ErrStepUpRequired) {
					t.Fatalf("err = %v, want %s saying %q", err, tt.code, tt.message)
				}
			}
			hasRefusal(t, f, tt.actor, "")
			for _, e := range auditOf(t, f, r.ID) {
				if strings.HasPrefix(e, approvals.EventStepUpRequired) {
					t.Fatalf("step-up demanded of someone who may not approve: %s", e)
				}
			}
		})
	}
}

func TestStepUpSignIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		context string
		edit    func(*approvals.SignIn, *fixture)
		proof   string // "" for a refusal
		message string // a part of the refusal
	}{
		{"OKContext", "c1", nil, "acrs c1", ""},
		{"OKAmrWithContext", "c1", func(s *approvals.SignIn, _ *fixture) { s.ACRS = nil }, "amr mfa", ""},
		{"OKAmrWithoutContext", "", func(s *approvals.SignIn, _ *fixture) { s.ACRS = nil }, "amr mfa", ""},
		{"OKContextOnly", "c1", func(s *approvals.SignIn, _ *fixture) { s.AMR = []string{"pwd"} }, "acrs c1", ""},
		{"OKAtMaxAge", "c1", func(s *approvals.SignIn, f *fixture) { s.AuthTime = f.clock.Now().Add(-approvals.DefaultStepUpMaxAge) }, "acrs c1", ""},
		{"ErrWrongPerson", "c1", func(s *approvals.SignIn, _ *fixture) { s.ObjectID = "oid-cleo" }, "", "as another user (object id oid-cleo)"},
		{"ErrNoObjectID", "c1", func(s *approvals.SignIn, _ *fixture) { s.ObjectID = "" }, "", "as another user"},
		{"ErrStale", "c1", func(s *approvals.SignIn, f *fixture) {
			s.AuthTime = f.clock.Now().Add(-approvals.DefaultStepUpMaxAge - time.Second)
		}, "", "5m1s ago"},
		{"ErrNoAuthTime", "c1", func(s *approvals.SignIn, _ *fixture) { s.AuthTime = time.Time{} }, "", "no auth_time"},
		{"ErrFutureAuthTime", "c1", func(s *approvals.SignIn, f *fixture) { s.AuthTime = f.clock.Now().Add(time.Hour) }, "", "in the future"},
		{"ErrNoMFA", "c1", func(s *approvals.SignIn, _ *fixture) { s.AMR, s.ACRS = []string{"pwd"}, nil }, "", "authentication context c1 in acrs"},
		{"ErrOtherContext", "c1", func(s *approvals.SignIn, _ *fixture) { s.AMR, s.ACRS = []string{"pwd"}, []string{"c2"} }, "", "did not prove multifactor"},
		{"ErrNoMFANoContext", "", func(s *approvals.SignIn, _ *fixture) { s.AMR, s.ACRS = []string{"pwd"}, []string{"c1"} }, "", `"mfa" in amr`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, r := stepUpFixture(t, tt.context)
			in := benSignIn(f)
			if tt.edit != nil {
				tt.edit(&in, f)
			}
			got, err := f.svc.ApproveSignedIn(t.Context(), ben, r.ID, in)
			audit := strings.Join(auditOf(t, f, r.ID), "\n")
			if tt.proof == "" {
				if code(err) != approvals.EFORBIDDEN || !strings.Contains(approvals.ErrorMessage(err), tt.message) {
					t.Fatalf("err = %v, want a refusal saying %q", err, tt.message)
				}
				cur, _ := f.svc.Request(t.Context(), r.ID)
				if cur.State != approvals.StatePending || len(cur.Approvals) != 0 {
					t.Fatalf("a refused sign-in changed the request: %+v", cur)
				}
				hasRefusal(t, f, ben, "step-up: ")
				if f.notes.count(approvals.EventApproved) != 0 {
					t.Fatal("the notifier heard of an approval")
				}
				return
			}
			if err != nil {
				t.Fatalf("ApproveSignedIn: %v", err)
			}
			if got.State != approvals.StateApproved || len(got.Approvals) != 1 {
				t.Fatalf("request = %+v", got)
			}
			want := "approved slack:UBEN step-up: signed in as OID-BEN (tenant tid) at " + in.AuthTime.Format(time.RFC3339) + ", MFA proven by " + tt.proof + ", token uti-1"
			if !strings.Contains(audit, want) {
				t.Fatalf("audit lacks the evidence %q:\n%s", want, audit)
			}
		})
	}
}

// The same sign-in presented twice approves once: the second finds the request approved.
func TestStepUpApprovesOnce(t *testing.T) {
	t.Parallel()
	f, r := stepUpFixture(t, "c1")
	in := benSignIn(f)
	if _, err := f.svc.ApproveSignedIn(t.Context(), ben, r.ID, in); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.ApproveSignedIn(t.Context(), ben, r.ID, in)
	var se *approvals.StateError
	if code(err) != approvals.ECONFLICT || !errors.As(err, &se) || se.Request.State != approvals.StateApproved {
		t.Fatalf("second approval = %v, want ECONFLICT naming the approved request", err)
	}
	n := 0
	for _, e := range auditOf(t, f, r.ID) {
		if strings.HasPrefix(e, approvals.EventApproved+" ") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d approvals audited, want 1", n)
	}
}

// A sign-in that comes back after the request left pending (denied meanwhile, expired)
// changes nothing and says what became of it.
func TestStepUpAfterRequestLeftPending(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		leave func(*fixture, *approvals.Request)
		state approvals.State
	}{
		{"Denied", func(f *fixture, r *approvals.Request) {
			if _, err := f.svc.Deny(t.Context(), cleo, r.ID, "not today"); err != nil {
				t.Fatal(err)
			}
		}, approvals.StateDenied},
		{"Expired", func(f *fixture, r *approvals.Request) { f.clock.Advance(approvals.DefaultExpiry) }, approvals.StatePending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, r := stepUpFixture(t, "c1")
			tt.leave(f, r)
			in := benSignIn(f)
			_, err := f.svc.ApproveSignedIn(t.Context(), ben, r.ID, in)
			var se *approvals.StateError
			if code(err) != approvals.ECONFLICT || !errors.As(err, &se) {
				t.Fatalf("err = %v, want ECONFLICT", err)
			}
			cur, _ := f.svc.Request(t.Context(), r.ID)
			if cur.State != tt.state || len(cur.Approvals) != 0 {
				t.Fatalf("request = %+v", cur)
			}
		})
	}
}

// Deny never needs step-up: refusing changes nothing in the tenant.
func TestStepUpNotForDeny(t *testing.T) {
	t.Parallel()
	f, r := stepUpFixture(t, "c1")
	got, err := f.svc.Deny(t.Context(), ben, r.ID, "wrong user")
	if err != nil || got.State != approvals.StateDenied {
		t.Fatalf("Deny = %v, %v", got, err)
	}
}

func TestStepUpValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    approvals.StepUp
		message string // "" when valid
	}{
		{"OK", approvals.StepUp{Kinds: []approvals.Kind{approvals.KindReset, approvals.KindRevokeGroup}, MaxAge: 10 * time.Minute, Context: "c1"}, ""},
		{"OKEmpty", approvals.StepUp{}, ""},
		{"OKContext99", approvals.StepUp{Context: "c99"}, ""},
		{"ErrKind", approvals.StepUp{Kinds: []approvals.Kind{"rest"}}, `"rest": not a request kind`},
		{"ErrMaxAgeShort", approvals.StepUp{MaxAge: time.Second}, "between 1m0s and 1h0m0s"},
		{"ErrMaxAgeLong", approvals.StepUp{MaxAge: 2 * time.Hour}, "between 1m0s and 1h0m0s"},
		{"ErrContext", approvals.StepUp{Context: "urn:mfa"}, "not an authentication context id"},
		{"ErrContextZero", approvals.StepUp{Context: "c0"}, "not an authentication context id"},
		{"ErrContext100", approvals.StepUp{Context: "c100"}, "not an authentication context id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.rule.Validate()
			if tt.message == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if code(err) != approvals.EINVALID || !strings.Contains(approvals.ErrorMessage(err), tt.message) {
				t.Fatalf("Validate = %v, want %q", err, tt.message)
			}
		})
	}
}
