package graph_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestCreateTemporaryAccessPass creates passes through the real client against the
// simulated tenant, and checks Graph's refusals arrive as what they mean.
func TestCreateTemporaryAccessPass(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 200, graphtest.Options{})
	tenant := srv.Tenant()
	adele, _ := tenant.User(graphtest.AdeleUPN)
	var guest graphtest.User
	for _, u := range tenant.Users() {
		if u.UserType == graphtest.Guest {
			guest = u
			break
		}
	}
	sales := groupID(t, tenant, graphtest.GroupSales)
	var outsider graphtest.User
	members := tenant.TransitiveUsers(sales)
	for _, u := range tenant.Users() {
		if u.UserType == graphtest.Member && !contains(members, u.ID) {
			outsider = u
			break
		}
	}
	ctx := context.Background()
	tests := []struct {
		name     string
		policy   func() graphtest.TAPPolicy
		user     string
		lifetime time.Duration
		oneTime  bool
		kind     error  // in the error's chain
		says     string // in the error's message
	}{
		{name: "OK", policy: graphtest.EnabledTAPPolicy, user: adele.ID, lifetime: 2 * time.Hour, oneTime: true},
		{name: "ErrPolicyOff", policy: graphtest.DefaultTAPPolicy, user: adele.ID, lifetime: time.Hour, kind: approvals.ErrTAPPolicy,
			says: "the tenant's Temporary Access Pass policy is off or does not include this user"},
		{name: "ErrUserOutsidePolicy", policy: func() graphtest.TAPPolicy {
			p := graphtest.EnabledTAPPolicy()
			p.IncludeGroups = []string{sales}
			return p
		}, user: outsider.ID, lifetime: time.Hour, kind: approvals.ErrTAPPolicy, says: "does not include this user"},
		{name: "ErrGuest", policy: graphtest.EnabledTAPPolicy, user: guest.ID, lifetime: time.Hour,
			says: "Graph refused to create a Temporary Access Pass: Temporary Access Pass cannot be added to an external guest user."},
		{name: "ErrLifetimeOutsidePolicy", policy: graphtest.EnabledTAPPolicy, user: adele.ID, lifetime: 24 * time.Hour,
			says: "must be between 60 and 480 minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant.SetTAPPolicy(tt.policy())
			p, err := c.CreateTemporaryAccessPass(ctx, tt.user, tt.lifetime, tt.oneTime)
			if tt.says != "" {
				if err == nil || !strings.Contains(approvals.ErrorMessage(err), tt.says) {
					t.Fatalf("err = %v, want one saying %q", err, tt.says)
				}
				if tt.kind != nil && !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, not %v", err, tt.kind)
				}
				if approvals.Transient(err) {
					t.Fatalf("a refusal is transient: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, ok := tenant.TemporaryAccessPass(tt.user)
			if !ok || p.Value == "" || p.Value != m.Pass || p.MethodID != m.ID {
				t.Fatalf("pass %v (%q) is not the tenant's %+v", p, p.Value, m)
			}
			if p.Lifetime != tt.lifetime || p.OneTime != tt.oneTime || p.Start.IsZero() {
				t.Fatalf("terms = %v %v %v", p.Lifetime, p.OneTime, p.Start)
			}
			// The value never shows in the pass's text forms.
			for _, s := range []string{p.String(), p.GoString(), p.LogValue().String()} {
				if strings.Contains(s, p.Value) {
					t.Fatalf("%q shows the pass", s)
				}
			}
			// A second pass replaces the first, as Graph documents.
			again, err := c.CreateTemporaryAccessPass(ctx, tt.user, tt.lifetime, tt.oneTime)
			if err != nil {
				t.Fatal(err)
			}
			if m, _ := tenant.TemporaryAccessPass(tt.user); m.Pass != again.Value || again.Value == p.Value {
				t.Fatalf("the second pass did not replace the first")
			}
			// It can be deleted like any method (an undelivered pass is).
			if err := c.DeleteMethod(ctx, tt.user, approvals.Method{ID: again.MethodID, ODataType: "#microsoft.graph.temporaryAccessPassAuthenticationMethod"}); err != nil {
				t.Fatal(err)
			}
			if _, ok := tenant.TemporaryAccessPass(tt.user); ok {
				t.Fatal("the pass is still there")
			}
		})
	}
	if n := srv.Count(graphtest.OpCreateTAP, adele.ID); n != 2 {
		t.Fatalf("graphtest counted %d passes for Adele, want 2", n)
	}
}

// TestReadTAPPolicy reads the policy in the documented shape.
func TestReadTAPPolicy(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 20, graphtest.Options{})
	ctx := context.Background()
	var granted []string
	for _, p := range graphtest.DefaultGranted() {
		if p != "Policy.ReadWrite.AuthenticationMethod" { // enforce's permission reads it too
			granted = append(granted, p)
		}
	}
	srv.Tenant().SetGranted(granted)
	if _, err := c.ReadTAPPolicy(ctx); !graph.IsAccessDenied(err) {
		t.Fatalf("without Policy.Read.All: %v", err)
	}
	srv.Tenant().SetGranted(append(granted, "Policy.Read.All"))
	p := graphtest.EnabledTAPPolicy()
	p.IsUsableOnce, p.ExcludeGroups = true, []string{"6f1c8e2a-0000-4000-8000-000000000002"}
	srv.Tenant().SetTAPPolicy(p)
	got, err := c.ReadTAPPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := graph.TAPPolicy{Enabled: true, DefaultLifetime: time.Hour, MinLifetime: time.Hour, MaxLifetime: 8 * time.Hour,
		OneTimeOnly: true, IncludeAll: true, ExcludeIDs: []string{"6f1c8e2a-0000-4000-8000-000000000002"}}
	if got.Enabled != want.Enabled || got.DefaultLifetime != want.DefaultLifetime || got.MinLifetime != want.MinLifetime ||
		got.MaxLifetime != want.MaxLifetime || got.OneTimeOnly != want.OneTimeOnly || got.IncludeAll != want.IncludeAll ||
		len(got.ExcludeIDs) != 1 || got.ExcludeIDs[0] != want.ExcludeIDs[0] {
		t.Fatalf("policy = %+v, want %+v", got, want)
	}
}

func groupID(t *testing.T, tenant *graphtest.Tenant, name string) string {
	t.Helper()
	for _, g := range tenant.Groups() {
		if g.DisplayName == name {
			return g.ID
		}
	}
	t.Fatalf("no group %s", name)
	return ""
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
