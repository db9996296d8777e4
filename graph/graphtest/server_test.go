package graphtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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

// do sends a request to the simulated Graph; hdr are extra header name/value pairs.
func (c *client) do(method, path, body string, hdr ...string) (int, http.Header, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.s.URL()+path, strings.NewReader(body))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
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
	_, _, mem := c.do("GET", "/v1.0/groups/"+g+"/transitiveMembers/microsoft.graph.user?$select=id,userPrincipalName,displayName,mail,userType,accountEnabled&$count=true&$top=1", "", "ConsistencyLevel", "eventual")
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

// graphErr is Graph's error body.
type graphErr struct {
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	InnerError map[string]any `json:"innerError"`
}

func decodeError(t *testing.T, resp *http.Response) graphErr {
	t.Helper()
	var body struct {
		Error graphErr `json:"error"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	return body.Error
}

// errCode is the error code of a decoded Graph body, "" if it is not an error.
func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// HoldAfter lets the calls up to its count through, holds the next with no effect until
// released, and then carries it out.
func TestHoldAfter(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 5})
	c := newClient(t, tenant, graphtest.Options{})
	users := tenant.Users()
	revoke := func(i int) int {
		status, _, _ := c.do("POST", "/v1.0/users/"+users[i].ID+"/revokeSignInSessions", "")
		return status
	}
	held, release := c.s.HoldAfter(graphtest.OpRevoke, 2)
	for i := range 2 {
		if status := revoke(i); status != 200 {
			t.Fatalf("revoke %d before the hold: %d", i, status)
		}
	}
	third := make(chan int, 1)
	go func() { third <- revoke(2) }()
	<-held
	if n := c.s.Count(graphtest.OpRevoke, ""); n != 2 {
		t.Errorf("%d revocations while held; want 2", n)
	}
	release()
	if status := <-third; status != 200 {
		t.Fatalf("held revoke answered %d after the release", status)
	}
	if n := c.s.Count(graphtest.OpRevoke, users[2].ID); n != 1 {
		t.Errorf("the held revoke was carried out %d times; want once", n)
	}
	if status := revoke(3); status != 200 {
		t.Errorf("revoke after the release: %d", status)
	}
	release() // a second release is harmless
}
