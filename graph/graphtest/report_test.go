package graphtest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/graph/graphtest"
)

// The registration report's documented $filter (eq on its booleans and userType, joined
// with and) selects exactly the entries the tenant's records say, page by page.
func TestRegistrationReportFilter(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 4, Users: 700})
	c := newClient(t, tenant, graphtest.Options{})
	count := func(pred func(graphtest.Registration) bool) int {
		n := 0
		for _, u := range tenant.Users() {
			if r, ok := tenant.Registration(u.ID); ok && pred(r) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name, filter string
		want         func(graphtest.Registration) bool
	}{
		{"NotRegistered", "isMfaRegistered eq false", func(r graphtest.Registration) bool { return !r.IsMfaRegistered }},
		{"SSPRRegistered", "isSsprRegistered eq true", func(r graphtest.Registration) bool { return r.IsSsprRegistered }},
		{"MembersNotRegistered", "isMfaRegistered eq false and userType eq 'member'", func(r graphtest.Registration) bool {
			return !r.IsMfaRegistered && r.UserType == "member"
		}},
		{"Admins", "isAdmin eq true", func(r graphtest.Registration) bool { return r.IsAdmin }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=100&$filter=" + url.QueryEscape(tt.filter)
			got, pages := 0, 0
			for path != "" {
				st, _, body := c.do("GET", path, "")
				if st != 200 {
					t.Fatalf("status %d: %v", st, body)
				}
				pages++
				for _, v := range body["value"].([]any) {
					r := v.(map[string]any)
					entry, _ := tenant.Registration(r["id"].(string))
					if !tt.want(entry) {
						t.Fatalf("%s listed %v", tt.filter, r["userPrincipalName"])
					}
					got++
				}
				next, _ := body["@odata.nextLink"].(string)
				path = strings.TrimPrefix(next, c.s.URL())
			}
			if want := count(tt.want); got != want || want == 0 {
				t.Fatalf("listed %d in %d pages, the tenant has %d", got, pages, want)
			}
		})
	}
	for _, bad := range []string{"isMfaRegistered eq 'yes'", "startswith(userPrincipalName,'a')", "lastUpdatedDateTime eq true"} {
		st, _, body := c.do("GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails?$filter="+url.QueryEscape(bad), "")
		if st != 400 {
			t.Fatalf("%q: %d %v", bad, st, body)
		}
	}
}
