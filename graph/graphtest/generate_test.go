package graphtest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/graph/graphtest"
)

func TestGenerateDeterministic(t *testing.T) {
	a := graphtest.Generate(graphtest.GenOptions{Seed: 42, Users: 500})
	b := graphtest.Generate(graphtest.GenOptions{Seed: 42, Users: 500})
	if diff := cmp.Diff(a.Users(), b.Users()); diff != "" {
		t.Fatalf("same seed, different users:\n%s", diff)
	}
	for _, u := range a.Users() {
		if diff := cmp.Diff(a.Methods(u.ID), b.Methods(u.ID)); diff != "" {
			t.Fatalf("same seed, different methods for %s:\n%s", u.UserPrincipalName, diff)
		}
	}
	if diff := cmp.Diff(a.Groups(), b.Groups()); diff != "" {
		t.Fatalf("same seed, different groups:\n%s", diff)
	}
	c := graphtest.Generate(graphtest.GenOptions{Seed: 43, Users: 500})
	if cmp.Equal(a.Users()[10:], c.Users()[10:]) {
		t.Error("seeds 42 and 43 made the same users")
	}
}

// TestGenerateMix: the well-known users and groups come first, and the enrollment mix is
// the documented one (about 70 % MFA, 20 % none, 10 % guests, 3 % disabled, a few admins,
// some of them without MFA).
func TestGenerateMix(t *testing.T) {
	const n = 20000
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: n})
	users := tenant.Users()
	if len(users) != n {
		t.Fatalf("%d users", len(users))
	}
	var first []string
	for _, u := range users[:5] {
		first = append(first, u.UserPrincipalName)
	}
	if diff := cmp.Diff([]string{graphtest.AdeleUPN, graphtest.MeganUPN, graphtest.AlexUPN, graphtest.DiegoUPN, graphtest.BreakGlassUPN}, first); diff != "" {
		t.Errorf("well-known users (-want +got):\n%s", diff)
	}
	var guests, disabled, mfa, none, admins, adminsWithoutMFA, hardware int
	for _, u := range users {
		for _, m := range tenant.Methods(u.ID) {
			if m.Type == graphtest.MethodHardwareOath {
				hardware++
				if m.SerialNumber == "" || m.DisplayName == "" {
					t.Fatalf("hardware token without serial or name: %+v", m)
				}
			}
		}
		r, _ := tenant.Registration(u.ID)
		switch {
		case u.UserType == graphtest.Guest:
			guests++
			if !strings.Contains(u.UserPrincipalName, "#EXT#@contoso.onmicrosoft.com") {
				t.Fatalf("guest UPN %s", u.UserPrincipalName)
			}
		case !strings.HasSuffix(u.UserPrincipalName, "@contoso.com") && u.UserPrincipalName != graphtest.BreakGlassUPN:
			t.Fatalf("member UPN %s", u.UserPrincipalName)
		}
		if !u.AccountEnabled {
			disabled++
		}
		if r.IsMfaRegistered {
			mfa++
		}
		if len(tenant.Methods(u.ID)) == 1 {
			none++
		}
		if r.IsAdmin {
			admins++
			if !r.IsMfaRegistered {
				adminsWithoutMFA++
			}
		}
	}
	pct := func(k int) float64 { return float64(k) * 100 / n }
	for name, c := range map[string]struct {
		got, lo, hi float64
	}{
		"guests": {pct(guests), 8, 12}, "disabled": {pct(disabled), 2, 4}, "MFA": {pct(mfa), 65, 75}, "no methods": {pct(none), 20, 30},
		"hardware OATH": {pct(hardware), 0.5, 1.5},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s %.1f %%, want %v-%v %%", name, c.got, c.lo, c.hi)
		}
	}
	if admins < 10 || adminsWithoutMFA == 0 {
		t.Errorf("%d admins, %d without MFA", admins, adminsWithoutMFA)
	}

	groups := map[string]string{}
	for _, g := range tenant.Groups() {
		groups[g.DisplayName] = g.ID
	}
	bg, _ := tenant.User(graphtest.BreakGlassUPN)
	if got := tenant.TransitiveUsers(groups[graphtest.GroupEmergencyAccess]); !cmp.Equal(got, []string{bg.ID}) {
		t.Errorf("Emergency Access %v", got)
	}
	alex, _ := tenant.User(graphtest.AlexUPN)
	if !slices.Contains(tenant.TransitiveUsers(groups[graphtest.GroupSales]), alex.ID) {
		t.Error("Alex (Sales EMEA) is not a transitive member of Sales")
	}
	if all := tenant.TransitiveUsers(groups[graphtest.GroupAllStaff]); len(all) < n*80/100 {
		t.Errorf("All Staff has %d members", len(all))
	}
	if f := tenant.TransitiveUsers(groups[graphtest.GroupFinance]); len(f) == 0 || len(f) > n/20 {
		t.Errorf("Finance has %d members", len(f))
	}
}
