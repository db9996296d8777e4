package graphtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mfabot/mfabot/graph/graphtest"
)

type client struct {
	t     *testing.T
	s     *graphtest.Server
	token string
}

func newClient(t *testing.T, tenant *graphtest.Tenant, o graphtest.Options) *client {
	s := graphtest.Start(t, tenant, o)
	return &client{t: t, s: s, token: s.IssueToken()}
}

func (c *client) do(method, path, body string) (int, http.Header, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.s.URL()+path, strings.NewReader(body))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header, m
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readTestdata(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestShapesMatchDocumentedExamples holds the simulator to Microsoft's documented example
// responses (testdata): every method type, registration entry, member, error and batch
// carries the same properties.
func TestShapesMatchDocumentedExamples(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 30})
	c := newClient(t, tenant, graphtest.Options{})
	alex, _ := tenant.User(graphtest.AlexUPN)
	adele, _ := tenant.User(graphtest.AdeleUPN)
	if _, err := tenant.AddMethod(adele.ID, graphtest.Method{Type: graphtest.MethodWindowsHello, DisplayName: "LAPTOP"}); err != nil {
		t.Fatal(err)
	}
	byType := map[string]map[string]any{}
	for _, id := range []string{alex.ID, adele.ID} {
		_, _, got := c.do("GET", "/v1.0/users/"+id+"/authentication/methods", "")
		for _, v := range got["value"].([]any) {
			m := v.(map[string]any)
			byType[m["@odata.type"].(string)] = m
		}
	}
	for _, v := range readTestdata(t, "list-methods.json")["value"].([]any) {
		doc := v.(map[string]any)
		typ := doc["@odata.type"].(string)
		got, ok := byType[typ]
		if !ok {
			t.Errorf("no %s served to compare", typ)
			continue
		}
		if diff := cmp.Diff(keys(doc), keys(got)); diff != "" {
			t.Errorf("%s properties differ from the documented example (-doc +served):\n%s", typ, diff)
		}
	}
	_, _, reg := c.do("GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=1", "")
	docReg := readTestdata(t, "user-registration-details.json")["value"].([]any)[0].(map[string]any)
	if diff := cmp.Diff(keys(docReg), keys(reg["value"].([]any)[0].(map[string]any))); diff != "" {
		t.Errorf("userRegistrationDetails properties differ (-doc +served):\n%s", diff)
	}
	g := groupID(t, tenant, graphtest.GroupSales)
	_, _, mem := c.do("GET", "/v1.0/groups/"+g+"/transitiveMembers/microsoft.graph.user?$select=id,userPrincipalName,displayName,mail,userType,accountEnabled&$count=true&$top=1", "")
	docMem := readTestdata(t, "transitive-members.json")
	if diff := cmp.Diff(keys(docMem), keys(mem)); diff != "" {
		t.Errorf("transitiveMembers page differs (-doc +served):\n%s", diff)
	}
	if diff := cmp.Diff(keys(docMem["value"].([]any)[0].(map[string]any)), keys(mem["value"].([]any)[0].(map[string]any))); diff != "" {
		t.Errorf("member differs (-doc +served):\n%s", diff)
	}
	st, h, e := c.do("GET", "/v1.0/users/nobody@contoso.com", "")
	docErr := readTestdata(t, "error.json")
	if st != 404 || h.Get("request-id") == "" || !cmp.Equal(keys(docErr["error"].(map[string]any)), keys(e["error"].(map[string]any))) {
		t.Errorf("error: %d %v", st, e)
	}
	_, _, rv := c.do("POST", "/v1.0/users/"+alex.ID+"/revokeSignInSessions", "")
	if diff := cmp.Diff(readTestdata(t, "revoke-sign-in-sessions.json")["value"], rv["value"]); diff != "" || rv["@odata.context"] == nil {
		t.Errorf("revoke answer = %v", rv)
	}
}

// TestDocumentedExamplesDecodeInSDK: the SDK's own models read the documented examples
// and the simulator's answers alike.
func TestDocumentedExamplesDecodeInSDK(t *testing.T) {
	b, _ := os.ReadFile("testdata/list-methods.json")
	node, err := jsonserialization.NewJsonParseNode(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := node.GetObjectValue(models.CreateAuthenticationMethodCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	var phone string
	for _, m := range v.(models.AuthenticationMethodCollectionResponseable).GetValue() {
		if p, ok := m.(models.PhoneAuthenticationMethodable); ok {
			phone = *p.GetPhoneNumber() + " " + p.GetPhoneType().String()
		}
	}
	if phone != "+1 2065555555 mobile" {
		t.Fatalf("phone = %q", phone)
	}
	b, _ = os.ReadFile("testdata/user-registration-details.json")
	node, _ = jsonserialization.NewJsonParseNode(b)
	rv, err := node.GetObjectValue(models.CreateUserRegistrationDetailsCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	r := rv.(models.UserRegistrationDetailsCollectionResponseable).GetValue()[0]
	if !*r.GetIsMfaRegistered() || r.GetUserPreferredMethodForSecondaryAuthentication().String() != "push" {
		t.Fatalf("registration = %+v", r)
	}
}

func groupID(t *testing.T, tenant *graphtest.Tenant, name string) string {
	for _, g := range tenant.Groups() {
		if g.DisplayName == name {
			return g.ID
		}
	}
	t.Fatalf("no group %s", name)
	return ""
}

func TestTokenRequired(t *testing.T) {
	c := newClient(t, graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10}), graphtest.Options{})
	for _, tok := range []string{"", "forged"} {
		c.token = tok
		st, _, body := c.do("GET", "/v1.0/users/"+graphtest.AdeleUPN, "")
		if st != 401 || body["error"].(map[string]any)["code"] != "InvalidAuthenticationToken" {
			t.Fatalf("token %q: %d %v", tok, st, body)
		}
	}
}

func TestFiltersPagingAndBatch(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 2, Users: 250})
	if _, err := tenant.AddGroup(graphtest.Group{DisplayName: "it's ops", MailNickname: "itsops"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tenant, graphtest.Options{Limits: graphtest.Limits{AppWrites: 5, AppWriteWindow: time.Minute}})
	_, _, g := c.do("GET", "/v1.0/groups?$filter="+strings.ReplaceAll("displayName eq 'it''s ops'", " ", "%20"), "")
	if v := g["value"].([]any); len(v) != 1 {
		t.Fatalf("quoted filter: %v", g)
	}
	st, _, _ := c.do("GET", "/v1.0/groups?$filter=displayName%20eq%20'unclosed", "")
	if st != 400 {
		t.Fatalf("bad filter: %d", st)
	}
	_, _, page := c.do("GET", "/v1.0/users?$top=100", "")
	next, _ := page["@odata.nextLink"].(string)
	n := len(page["value"].([]any))
	for next != "" {
		_, _, page = c.do("GET", strings.TrimPrefix(next, c.s.URL()), "")
		n += len(page["value"].([]any))
		next, _ = page["@odata.nextLink"].(string)
	}
	if n != 250 {
		t.Fatalf("paged %d users", n)
	}
	var reqs []string
	users := tenant.Users()
	for i := range 8 {
		reqs = append(reqs, fmt.Sprintf(`{"id":"%d","method":"POST","url":"/users/%s/revokeSignInSessions"}`, i, users[i].ID))
	}
	st, _, b := c.do("POST", "/v1.0/$batch", `{"requests":[`+strings.Join(reqs, ",")+`]}`)
	if st != 200 {
		t.Fatalf("batch: %d", st)
	}
	var statuses []int
	for _, r := range b["responses"].([]any) {
		m := r.(map[string]any)
		statuses = append(statuses, int(m["status"].(float64)))
		if int(m["status"].(float64)) == 429 && m["headers"].(map[string]any)["Retry-After"] == nil {
			t.Fatalf("throttled item without Retry-After: %v", m)
		}
	}
	if slices.Index(statuses, 429) != 5 || slices.Index(statuses, 200) != 0 {
		t.Fatalf("statuses %v: five writes fit the window, the rest are throttled per item", statuses)
	}
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/users"}`, i))
	}
	if st, _, _ := c.do("POST", "/v1.0/$batch", `{"requests":[`+strings.Join(many, ",")+`]}`); st != 400 {
		t.Fatalf("21 requests: %d", st)
	}
	if c.s.Count(graphtest.OpRevoke, "") != 5 {
		t.Fatalf("recorded %d revocations", c.s.Count(graphtest.OpRevoke, ""))
	}
}

func TestLicenceAndPermissions(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 3, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	tenant.SetLicensed(false)
	_, _, e := c.do("GET", "/v1.0/reports/authenticationMethods/userRegistrationDetails", "")
	if e["error"].(map[string]any)["code"] != "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		t.Fatalf("unlicensed: %v", e)
	}
	tenant.SetGranted(nil)
	st, _, e := c.do("GET", "/v1.0/users/"+graphtest.AdeleUPN, "")
	if st != 403 || e["error"].(map[string]any)["code"] != "Authorization_RequestDenied" {
		t.Fatalf("no permission: %d %v", st, e)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a := graphtest.Generate(graphtest.GenOptions{Seed: 42, Users: 500})
	b := graphtest.Generate(graphtest.GenOptions{Seed: 42, Users: 500})
	if diff := cmp.Diff(a.Users(), b.Users()); diff != "" {
		t.Fatalf("same seed, different users:\n%s", diff)
	}
	guests, registered := 0, 0
	for _, u := range a.Users() {
		if u.UserType == graphtest.Guest {
			guests++
			if !strings.Contains(u.UserPrincipalName, "#EXT#") {
				t.Fatalf("guest UPN %s", u.UserPrincipalName)
			}
		}
		if r, _ := a.Registration(u.ID); r.IsMfaRegistered {
			registered++
		}
	}
	if guests < 25 || guests > 80 || registered < 275 || registered > 400 {
		t.Fatalf("mix: %d guests, %d registered of 500", guests, registered)
	}
	for _, upn := range []string{graphtest.AdeleUPN, graphtest.DiegoUPN, graphtest.BreakGlassUPN} {
		if _, ok := a.User(upn); !ok {
			t.Fatalf("no %s", upn)
		}
	}
}
