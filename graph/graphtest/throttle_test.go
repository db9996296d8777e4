package graphtest_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestResourceUnitCosts: x-ms-resource-unit is Microsoft's documented cost of each request
// ($select -1, $top under 20 -1, never below 1).
func TestResourceUnitCosts(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 40})
	c := newClient(t, tenant, graphtest.Options{})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	sales := groupID(t, tenant, graphtest.GroupSales)
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"GetUser", "GET", "/v1.0/users/" + adele.ID, "", 2},
		{"GetUserSelect", "GET", "/v1.0/users/" + adele.ID + "?$select=id", "", 1},
		{"ListUsersSmallTop", "GET", "/v1.0/users?$top=5", "", 1},
		{"ListUsersSelectSmallTop", "GET", "/v1.0/users?$top=5&$select=id", "", 1},
		{"TransitiveMembers", "GET", "/v1.0/groups/" + sales + "/transitiveMembers/microsoft.graph.user", "", 5},
		{"TransitiveMembersSelect", "GET", "/v1.0/groups/" + sales + "/transitiveMembers/microsoft.graph.user?$select=id&$top=999", "", 4},
		{"ListMethods", "GET", "/v1.0/users/" + adele.ID + "/authentication/methods", "", 1},
		{"Revoke", "POST", "/v1.0/users/" + adele.ID + "/revokeSignInSessions", "", 1},
		{"CheckMemberGroups", "POST", "/v1.0/users/" + adele.ID + "/checkMemberGroups", `{"groupIds":["` + sales + `"]}`, 4},
		{"AppRoleAssignments", "GET", "/v1.0/servicePrincipals/" + appSPID(t, c) + "/appRoleAssignments", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, h, body := c.do(tt.method, tt.path, tt.body)
			if st >= 300 {
				t.Fatalf("%d %v", st, body)
			}
			if got := h.Get("x-ms-resource-unit"); got != strconv.Itoa(tt.want) {
				t.Errorf("x-ms-resource-unit = %q, want %d", got, tt.want)
			}
		})
	}
}

func appSPID(t *testing.T, c *client) string {
	t.Helper()
	_, _, body := c.do("GET", "/v1.0/servicePrincipals?$filter=appId%20eq%20'"+c.s.ClientID()+"'", "")
	v, _ := body["value"].([]any)
	if len(v) != 1 {
		t.Fatalf("app's service principal: %v", body)
	}
	return v[0].(map[string]any)["id"].(string)
}

// TestThrottling: each limit answers 429 with Retry-After and the x-ms-throttle headers
// naming it, once its quota in the window is used.
func TestThrottling(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 40})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	read := func(c *client) (int, http.Header) {
		st, h, _ := c.do("GET", "/v1.0/users/"+adele.ID, "") // 2 resource units
		return st, h
	}
	write := func(c *client) (int, http.Header) {
		st, h, _ := c.do("POST", "/v1.0/users/"+adele.ID+"/revokeSignInSessions", "")
		return st, h
	}
	report := func(c *client) (int, http.Header) {
		st, h, _ := c.do("GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails/"+adele.ID, "")
		return st, h
	}
	tests := []struct {
		name   string
		limits graphtest.Limits
		call   func(*client) (int, http.Header)
		fit    int
		scope  string
		reason string
	}{
		{"ResourceUnits", graphtest.Limits{ResourceUnits: 10, ResourceUnitWindow: time.Minute}, read, 5,
			"Tenant_Application/ReadWrite/", graphtest.ThrottledResourceUnits},
		{"AppWrites", graphtest.Limits{AppWrites: 3, AppWriteWindow: time.Minute}, write, 3,
			"Tenant_Application/Write/", graphtest.ThrottledAppWrites},
		{"TenantWrites", graphtest.Limits{TenantWrites: 2, TenantWriteWindow: time.Minute}, write, 2,
			"Tenant/Write/", graphtest.ThrottledTenantWrites},
		{"Reports", graphtest.Limits{Reports: 5, ReportWindow: time.Minute}, report, 5,
			"Tenant_Application/Read/", graphtest.ThrottledReports},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tenant, graphtest.Options{Limits: tt.limits})
			for i := range tt.fit {
				if st, _ := tt.call(c); st >= 300 {
					t.Fatalf("request %d within the limit: %d", i+1, st)
				}
			}
			st, h := tt.call(c)
			if st != 429 {
				t.Fatalf("request over the limit: %d", st)
			}
			ra, err := strconv.Atoi(h.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After %q", h.Get("Retry-After"))
			}
			want := tt.scope + c.s.ClientID() + "/" + tenant.ID()
			if h.Get("x-ms-throttle-scope") != want || h.Get("x-ms-throttle-information") != tt.reason {
				t.Errorf("scope %q information %q, want %q %q", h.Get("x-ms-throttle-scope"), h.Get("x-ms-throttle-information"), want, tt.reason)
			}
			if st := c.s.Stats(); st.Throttled != 1 || st.ThrottledBy[tt.reason] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestThrottleLimitPercentage(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{Limits: graphtest.Limits{ResourceUnits: 10, ResourceUnitWindow: time.Minute}})
	var got []string
	for range 5 {
		_, h, _ := c.do("GET", "/v1.0/users/"+graphtest.AdeleUPN, "")
		got = append(got, h.Get("x-ms-throttle-limit-percentage"))
	}
	if strings.Join(got, ",") != ",,,0.8,1.0" {
		t.Errorf("x-ms-throttle-limit-percentage over 5 requests of 2 of 10 units: %q", got)
	}
}

// TestScaledLimitsRecover: Scale shortens every window, so a throttled client may go on
// after the (fractional) Retry-After, on the server's clock (Options.Now).
func TestScaledLimitsRecover(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	c := newClient(t, tenant, graphtest.Options{Limits: graphtest.Limits{AppWrites: 2, AppWriteWindow: 10 * time.Second}, Scale: 100,
		Now: func() time.Time { return now }})
	path := "/v1.0/users/" + graphtest.AdeleUPN + "/revokeSignInSessions"
	c.do("POST", path, "")
	c.do("POST", path, "")
	st, h, _ := c.do("POST", path, "")
	ra, err := strconv.ParseFloat(h.Get("Retry-After"), 64)
	if st != 429 || err != nil || ra != 0.1 {
		t.Fatalf("third write in the same instant: %d, Retry-After %q, want 0.1 s", st, h.Get("Retry-After"))
	}
	now = now.Add(time.Duration(ra*float64(time.Second)) - time.Millisecond)
	if st, _, _ := c.do("POST", path, ""); st != 429 {
		t.Fatalf("just before Retry-After: %d", st)
	}
	now = now.Add(time.Millisecond)
	if st, _, _ := c.do("POST", path, ""); st != 200 {
		t.Fatalf("after Retry-After: %d", st)
	}
	c.s.SetLimits(graphtest.Limits{}, 1)
	for range 5 {
		if st, _, _ := c.do("POST", path, ""); st != 200 {
			t.Fatalf("without limits: %d", st)
		}
	}
}

// TestThrottleFor: a window of 429s answers every request and batch item with a
// Retry-After that ends with the window, writes as the tenant's write limit and reads as
// its resource units; the batch itself answers 200.
func TestThrottleFor(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	c := newClient(t, tenant, graphtest.Options{Now: func() time.Time { return now }})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	c.s.ThrottleFor(3 * time.Second)
	now = now.Add(time.Second)
	st, h, _ := c.do("POST", "/v1.0/users/"+adele.ID+"/revokeSignInSessions", "")
	if st != 429 || h.Get("Retry-After") != "2" || h.Get("x-ms-throttle-information") != graphtest.ThrottledTenantWrites {
		t.Fatalf("write in the window: %d %v", st, h)
	}
	st, h, _ = c.do("GET", "/v1.0/users/"+adele.ID, "")
	if st != 429 || h.Get("x-ms-throttle-information") != graphtest.ThrottledResourceUnits {
		t.Fatalf("read in the window: %d %v", st, h)
	}
	st, _, b := c.do("POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"POST","url":"/users/`+adele.ID+`/revokeSignInSessions"}]}`)
	item := b["responses"].([]any)[0].(map[string]any)
	if st != 200 || item["status"] != float64(429) || item["headers"].(map[string]any)["Retry-After"] != "2" {
		t.Fatalf("batch in the window: %d %v", st, b)
	}
	now = now.Add(2 * time.Second)
	if st, _, _ := c.do("POST", "/v1.0/users/"+adele.ID+"/revokeSignInSessions", ""); st != 200 {
		t.Fatalf("after the window: %d", st)
	}
	if s := c.s.Stats(); s.Throttled != 3 || s.ThrottledBy[graphtest.ThrottledTenantWrites] != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestFaultsInBatches: with InBatches, batch items get the injected 503s on their own
// (Retry-After scaled like the limits) and no call is recorded for them; without it,
// items are never faulted.
func TestFaultsInBatches(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 60})
	c := newClient(t, tenant, graphtest.Options{Scale: 25})
	var items []string
	for i, u := range tenant.Users()[:20] {
		items = append(items, fmt.Sprintf(`{"id":"%d","method":"POST","url":"/users/%s/revokeSignInSessions"}`, i, u.ID))
	}
	batch := `{"requests":[` + strings.Join(items, ",") + `]}`
	// Without InBatches a batch is faulted whole or not at all.
	c.s.SetFaults(graphtest.Faults{Unavailable: 0.5})
	served := false
	for range 20 {
		st, _, b := c.do("POST", "/v1.0/$batch", batch)
		if st == 503 {
			continue
		}
		for _, r := range b["responses"].([]any) {
			if m := r.(map[string]any); m["status"] != float64(200) {
				t.Fatalf("item faulted without InBatches: %v", m)
			}
		}
		served = true
		break
	}
	if !served {
		t.Fatal("no batch served in 20 tries")
	}
	before := c.s.Count(graphtest.OpRevoke, "")
	c.s.SetFaults(graphtest.Faults{Unavailable: 0.5, InBatches: true})
	for range 20 {
		st, _, b := c.do("POST", "/v1.0/$batch", batch)
		if st != 200 {
			continue // the batch drew the fault as a whole
		}
		n503 := 0
		for _, r := range b["responses"].([]any) {
			m := r.(map[string]any)
			if m["status"] != float64(503) {
				continue
			}
			n503++
			if m["headers"].(map[string]any)["Retry-After"] != "0.04" || m["body"].(map[string]any)["error"].(map[string]any)["code"] != "serviceNotAvailable" {
				t.Fatalf("503 item %v", m)
			}
		}
		if n503 == 0 || n503 == 20 {
			continue // possible, but not every time
		}
		if revoked := c.s.Count(graphtest.OpRevoke, "") - before; revoked != 20-n503 {
			t.Fatalf("%d revocations recorded, %d items faulted of 20", revoked, n503)
		}
		return
	}
	t.Fatal("no batch with some items faulted in 20 tries")
}

func TestLimitsFor(t *testing.T) {
	for users, want := range map[int]int{10: 3500, 49: 3500, 50: 5000, 500: 5000, 501: 8000, 100000: 8000} {
		if got := graphtest.LimitsFor(users).ResourceUnits; got != want {
			t.Errorf("LimitsFor(%d).ResourceUnits = %d, want %d", users, got, want)
		}
	}
	if l := graphtest.DocumentedLimits(); l.AppWrites != 3000 || l.AppWriteWindow != 150*time.Second || l.TenantWrites != 18000 || l.Reports != 5 {
		t.Errorf("DocumentedLimits %+v", l)
	}
}

func TestFaults(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{Faults: graphtest.Faults{ServerErrors: 1}})
	seen := map[int]bool{}
	for range 30 {
		req, _ := http.NewRequest("GET", c.s.URL()+"/v1.0/users/"+graphtest.AdeleUPN, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("client-request-id", "fault-probe")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		e := decodeError(t, resp)
		resp.Body.Close()
		seen[resp.StatusCode] = true
		if resp.StatusCode < 500 || e.Code == "" || e.InnerError["client-request-id"] != "fault-probe" ||
			e.InnerError["request-id"] != resp.Header.Get("request-id") {
			t.Fatalf("fault %d %+v (request-id header %q)", resp.StatusCode, e, resp.Header.Get("request-id"))
		}
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	if !seen[500] || !seen[503] || !seen[504] {
		t.Errorf("statuses %v, want 500, 503 and 504", seen)
	}
	if st := c.s.Stats(); st.Injected5xx != 30 || st.Requests != 30 {
		t.Errorf("stats %+v", st)
	}

	c.s.SetFaults(graphtest.Faults{Timeouts: 1})
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("GET", c.s.URL()+"/v1.0/users/"+graphtest.AdeleUPN, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if resp, err := hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("injected timeout answered %d", resp.StatusCode)
	}

	c.s.SetFaults(graphtest.Faults{})
	c.s.SetLatency(30 * time.Millisecond)
	start := time.Now()
	if st, _, _ := c.do("GET", "/v1.0/users/"+graphtest.AdeleUPN, ""); st != 200 {
		t.Fatalf("without faults: %d", st)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered in %v despite 30 ms latency", d)
	}
}
