package graphtest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/graph/graphtest"
)

func TestUserLookup(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 5, Users: 200})
	c := newClient(t, tenant, graphtest.Options{})
	var guest graphtest.User
	for _, u := range tenant.Users() {
		if u.UserType == graphtest.Guest {
			guest = u
			break
		}
	}
	adele, _ := tenant.User(graphtest.AdeleUPN)
	tests := []struct {
		name, path string
		status     int
		wantID     string
	}{
		{"OKByID", "/v1.0/users/" + adele.ID, 200, adele.ID},
		{"OKByUPNAnyCase", "/v1.0/users/Adele.Vance@Contoso.com", 200, adele.ID},
		{"OKGuestEscapedEXT", "/v1.0/users/" + url.PathEscape(guest.UserPrincipalName), 200, guest.ID},
		{"OKBeta", "/beta/users/" + adele.ID, 200, adele.ID},
		{"ErrUnknown", "/v1.0/users/nobody@contoso.com", 404, ""},
		{"ErrNoVersion", "/v2.0/users/" + adele.ID, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, b := c.do("GET", tt.path, "")
			if st != tt.status || (tt.wantID != "" && b["id"] != tt.wantID) {
				t.Fatalf("%d %v", st, b)
			}
		})
	}
	if !strings.Contains(guest.UserPrincipalName, "#EXT#") {
		t.Fatalf("guest UPN %q", guest.UserPrincipalName)
	}
	_, _, sel := c.do("GET", "/v1.0/users/"+adele.ID+"?$select=id,mail,accountEnabled", "")
	if diff := cmp.Diff([]string{"@odata.context", "accountEnabled", "id", "mail"}, keys(sel)); diff != "" {
		t.Errorf("$select (-want +got):\n%s", diff)
	}
}

func TestUserFilters(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 5, Users: 50})
	if _, err := tenant.AddUser(graphtest.User{UserPrincipalName: "o'brien@contoso.com", Mail: "o'brien@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tenant, graphtest.Options{})
	tests := []struct {
		name, filter string
		status, n    int
	}{
		{"OKMail", "mail eq 'MEGAN.BOWEN@contoso.com'", 200, 1},
		{"OKUPN", "userPrincipalName eq 'alex.wilber@contoso.com'", 200, 1},
		{"OKDoubledQuote", "mail eq 'o''brien@contoso.com'", 200, 1},
		{"OKNoMatch", "mail eq 'nobody@contoso.com'", 200, 0},
		{"ErrUnclosedQuote", "mail eq 'o'brien@contoso.com'", 400, 0},
		{"ErrUnsupportedProperty", "jobTitle eq 'x'", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, b := c.do("GET", "/v1.0/users?$filter="+url.QueryEscape(tt.filter)+"&$select=id,mail", "")
			if st != tt.status {
				t.Fatalf("%d %v", st, b)
			}
			if st == 200 && len(b["value"].([]any)) != tt.n {
				t.Errorf("%d users, want %d", len(b["value"].([]any)), tt.n)
			}
			if st == 400 && !strings.HasPrefix(errCode(b), "Request_") {
				t.Errorf("error %v", b)
			}
		})
	}
}

// TestPagingAndCount: every user arrives exactly once through opaque nextLinks, and $count
// needs ConsistencyLevel: eventual as on directory objects in Graph.
func TestPagingAndCount(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 6, Users: 2345})
	c := newClient(t, tenant, graphtest.Options{})
	seen := map[string]bool{}
	next := "/v1.0/users?$select=id,userPrincipalName,displayName,mail,userType,accountEnabled&$top=999&$count=true"
	pages := 0
	for next != "" {
		st, _, b := c.do("GET", strings.TrimPrefix(next, c.s.URL()), "", "ConsistencyLevel", "eventual")
		if st != 200 {
			t.Fatalf("page %d: %d %v", pages, st, b)
		}
		if pages == 0 && b["@odata.count"] != float64(2345) {
			t.Errorf("@odata.count %v", b["@odata.count"])
		}
		for _, v := range b["value"].([]any) {
			id := v.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("user %s twice", id)
			}
			seen[id] = true
		}
		next, _ = b["@odata.nextLink"].(string)
		if next != "" && (!strings.HasPrefix(next, c.s.URL()+"/v1.0/users?") || strings.Contains(next, "skiptoken=2")) {
			t.Fatalf("nextLink %q: same server, opaque token", next)
		}
		pages++
	}
	if len(seen) != 2345 || pages != 3 {
		t.Errorf("%d users in %d pages", len(seen), pages)
	}

	st, _, b := c.do("GET", "/v1.0/users?$count=true", "")
	if st != 400 || errCode(b) != "Request_BadRequest" {
		t.Errorf("$count without ConsistencyLevel: %d %v", st, b)
	}
	if st, _, b := c.do("GET", "/v1.0/users?$skiptoken=forged", ""); st != 400 {
		t.Errorf("forged skiptoken: %d %v", st, b)
	}
	req, _ := http.NewRequest("GET", c.s.URL()+"/v1.0/users/$count", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("ConsistencyLevel", "eventual")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(raw) != "2345" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("/users/$count = %q (%s)", raw, resp.Header.Get("Content-Type"))
	}
}

func TestGroups(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: 3000})
	itsOps, err := tenant.AddGroup(graphtest.Group{DisplayName: "it's ops", MailNickname: "itsops"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tenant, graphtest.Options{})
	sales, emea := groupID(t, tenant, graphtest.GroupSales), groupID(t, tenant, graphtest.GroupSalesEMEA)
	emergency := groupID(t, tenant, graphtest.GroupEmergencyAccess)

	for filter, want := range map[string]string{
		"displayName eq 'it''s ops'":    itsOps.ID,
		"mailNickname eq 'sales'":       sales,
		"displayName eq 'Sales EMEA'":   emea,
		"mailNickname eq 'nonexistent'": "",
	} {
		_, _, b := c.do("GET", "/v1.0/groups?$filter="+url.QueryEscape(filter)+"&$select=id,displayName,mailNickname", "")
		var got string
		if v := b["value"].([]any); len(v) == 1 {
			got = v[0].(map[string]any)["id"].(string)
		}
		if got != want {
			t.Errorf("%s: %v", filter, b)
		}
	}

	// Transitive members expand Sales EMEA into Sales, users only, paged.
	direct := tenant.TransitiveUsers(emea)
	all := tenant.TransitiveUsers(sales)
	if len(direct) == 0 || len(all) <= len(direct) || len(all) < 100 {
		t.Fatalf("Sales %d members, Sales EMEA %d", len(all), len(direct))
	}
	var got []string
	next := "/v1.0/groups/" + sales + "/transitiveMembers/microsoft.graph.user?$select=id,userPrincipalName&$top=100&$count=true"
	for next != "" {
		_, _, b := c.do("GET", strings.TrimPrefix(next, c.s.URL()), "", "ConsistencyLevel", "eventual")
		if b["@odata.count"] != float64(len(all)) {
			t.Fatalf("@odata.count %v, want %d", b["@odata.count"], len(all))
		}
		for _, v := range b["value"].([]any) {
			m := v.(map[string]any)
			if m["@odata.type"] != "#microsoft.graph.user" {
				t.Fatalf("member %v", m)
			}
			got = append(got, m["id"].(string))
		}
		next, _ = b["@odata.nextLink"].(string)
	}
	slices.Sort(got)
	want := slices.Clone(all)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transitive members (-tenant +served):\n%s", diff)
	}
	req, _ := http.NewRequest("GET", c.s.URL()+"/v1.0/groups/"+sales+"/transitiveMembers/microsoft.graph.user/$count", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("ConsistencyLevel", "eventual")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n, _ := strconv.Atoi(string(raw)); n != len(all) {
		t.Errorf("$count %q, want %d", raw, len(all))
	}

	// checkMemberGroups is transitive and answers only the groups the user is in.
	emeaUser := direct[0]
	bg, _ := tenant.User(graphtest.BreakGlassUPN)
	for _, tt := range []struct {
		user string
		want []any
	}{
		{emeaUser, []any{sales, emea}},
		{bg.ID, []any{emergency}},
	} {
		body := fmt.Sprintf(`{"groupIds":[%q,%q,%q]}`, sales, emea, emergency)
		_, _, b := c.do("POST", "/v1.0/users/"+tt.user+"/checkMemberGroups", body)
		if diff := cmp.Diff(tt.want, b["value"]); diff != "" {
			t.Errorf("checkMemberGroups(%s) (-want +got):\n%s", tt.user, diff)
		}
	}
}

// TestBatch: up to 20 requests, each answered (and throttled) on its own inside a 200.
func TestBatch(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 8, Users: 60})
	c := newClient(t, tenant, graphtest.Options{Limits: graphtest.Limits{AppWrites: 3, AppWriteWindow: 60e9}})
	users := tenant.Users()
	var items []string
	for i := range 5 {
		items = append(items, fmt.Sprintf(`{"id":"%d","method":"POST","url":"/users/%s/revokeSignInSessions"}`, i+1, users[i].ID))
	}
	items = append(items,
		`{"id":"6","method":"GET","url":"/users/nobody@contoso.com","headers":{"client-request-id":"item-6"}}`,
		`{"id":"7","method":"GET","url":"users?$top=2&$select=id"}`,
		`{"id":"8","method":"GET","url":"/users/$count","headers":{"ConsistencyLevel":"eventual"}}`)
	st, _, b := c.do("POST", "/v1.0/$batch", `{"requests":[`+strings.Join(items, ",")+`]}`)
	if st != 200 {
		t.Fatalf("batch %d %v", st, b)
	}
	byID := map[string]map[string]any{}
	var statuses []float64
	for _, r := range b["responses"].([]any) {
		m := r.(map[string]any)
		byID[m["id"].(string)] = m
		statuses = append(statuses, m["status"].(float64))
	}
	if diff := cmp.Diff([]float64{200, 200, 200, 429, 429, 404, 200, 200}, statuses); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	docItems := readTestdata(t, "batch-response.json")["responses"].([]any)
	for i, id := range []string{"1", "4"} {
		if diff := cmp.Diff(keys(docItems[i].(map[string]any)), keys(byID[id])); diff != "" {
			t.Errorf("item %s properties differ from the documented example (-doc +served):\n%s", id, diff)
		}
	}
	h := byID["4"]["headers"].(map[string]any)
	if h["Retry-After"] == nil || h["x-ms-throttle-information"] != graphtest.ThrottledAppWrites {
		t.Errorf("throttled item headers %v", h)
	}
	inner := byID["6"]["body"].(map[string]any)["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["client-request-id"] != "item-6" || inner["request-id"] != byID["6"]["headers"].(map[string]any)["request-id"] {
		t.Errorf("item error ids %v, headers %v", inner, byID["6"]["headers"])
	}
	if v := byID["7"]["body"].(map[string]any)["value"].([]any); len(v) != 2 {
		t.Errorf("item 7 %v", byID["7"])
	}
	if byID["8"]["body"] != "60" {
		t.Errorf("item 8 %v", byID["8"])
	}
	if n := c.s.Count(graphtest.OpRevoke, ""); n != 3 {
		t.Errorf("%d revocations, want 3", n)
	}
	if st := c.s.Stats(); st.Requests != 1 || st.BatchItems != 8 || st.Throttled != 2 {
		t.Errorf("stats %+v", st)
	}

	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/users"}`, i))
	}
	for name, body := range map[string]string{
		"ErrTooMany":     `{"requests":[` + strings.Join(many, ",") + `]}`,
		"ErrEmpty":       `{"requests":[]}`,
		"ErrNotJSON":     `requests`,
		"ErrDuplicateID": `{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}`,
	} {
		st, _, b := c.do("POST", "/v1.0/$batch", body)
		if name == "ErrDuplicateID" {
			st = int(b["responses"].([]any)[1].(map[string]any)["status"].(float64))
		}
		if st != 400 {
			t.Errorf("%s: %d %v", name, st, b)
		}
	}
}

func TestServicePrincipalsForDoctor(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	tenant.SetGranted([]string{"User.Read.All", "Application.Read.All"})
	c := newClient(t, tenant, graphtest.Options{})
	sp := appSPID(t, c)
	_, _, g := c.do("GET", "/v1.0/servicePrincipals?$filter=appId%20eq%20'"+graphtest.GraphAppID+"'&$select=id,appRoles", "")
	graphSP := g["value"].([]any)[0].(map[string]any)
	roles := map[string]string{}
	for _, r := range graphSP["appRoles"].([]any) {
		m := r.(map[string]any)
		roles[m["id"].(string)] = m["value"].(string)
	}
	if roles["df021288-bdef-4463-88db-98f22de89214"] != "User.Read.All" || roles["50483e42-d915-4231-9639-7fdb7fd190e5"] != "UserAuthenticationMethod.ReadWrite.All" {
		t.Errorf("Graph app roles %v", roles)
	}
	_, _, a := c.do("GET", "/v1.0/servicePrincipals/"+sp+"/appRoleAssignments", "")
	var granted []string
	for _, v := range a["value"].([]any) {
		m := v.(map[string]any)
		if m["resourceId"] != graphSP["id"] {
			t.Errorf("assignment to %v", m["resourceId"])
		}
		granted = append(granted, roles[m["appRoleId"].(string)])
	}
	slices.Sort(granted)
	if diff := cmp.Diff([]string{"Application.Read.All", "User.Read.All"}, granted); diff != "" {
		t.Errorf("granted (-want +got):\n%s", diff)
	}
}

// TestPermissionsAndLicence: an endpoint whose least-privileged permission is not granted
// answers 403 Authorization_RequestDenied; the reports need a premium licence.
func TestPermissionsAndLicence(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	tests := []struct {
		name, method, path string
		granted            []string
		licensed           bool
		code               string
	}{
		{"OKRevoke", "POST", "/v1.0/users/" + adele.ID + "/revokeSignInSessions", []string{"User.RevokeSessions.All"}, true, ""},
		{"ErrRevokeWithoutPermission", "POST", "/v1.0/users/" + adele.ID + "/revokeSignInSessions", []string{"User.Read.All"}, true, "Authorization_RequestDenied"},
		{"OKReadMethods", "GET", "/v1.0/users/" + adele.ID + "/authentication/methods", []string{"UserAuthenticationMethod.Read.All"}, true, ""},
		{"ErrDeleteWithReadOnly", "DELETE", "/v1.0/users/" + adele.ID + "/authentication/fido2Methods/x", []string{"UserAuthenticationMethod.Read.All"}, true, "Authorization_RequestDenied"},
		{"ErrMembersWithoutGroupPermission", "GET", "/v1.0/groups/" + groupID(t, tenant, graphtest.GroupSales) + "/transitiveMembers/microsoft.graph.user", []string{"User.Read.All"}, true, "Authorization_RequestDenied"},
		{"ErrReportUnlicensed", "GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails", graphtest.DefaultGranted(), false, "Authentication_RequestFromNonPremiumTenantOrB2CTenant"},
		{"ErrReportWithoutAuditLog", "GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails", []string{"User.Read.All"}, true, "Authorization_RequestDenied"},
		{"OKReport", "GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails", []string{"AuditLog.Read.All"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant.SetGranted(tt.granted)
			tenant.SetLicensed(tt.licensed)
			st, _, b := c.do(tt.method, tt.path, "")
			if errCode(b) != tt.code || (tt.code != "" && st != 403) {
				t.Fatalf("%d %v, want %q", st, b, tt.code)
			}
		})
	}
}
