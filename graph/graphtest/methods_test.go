package graphtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestDeleteMethods walks Alex (mobile phone as default, office phone, OATH, e-mail)
// through Entra's rules for typed deletes, in order.
func TestDeleteMethods(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	alex, _ := tenant.User(graphtest.AlexUPN)
	idOf := func(typ graphtest.MethodType) string {
		for _, m := range tenant.Methods(alex.ID) {
			if m.Type == typ {
				return m.ID
			}
		}
		return "absent"
	}
	if got := tenant.DefaultMethod(alex.ID); got != graphtest.DefaultSMS {
		t.Fatalf("Alex's default is %q, want sms", got)
	}
	base := "/v1.0/users/" + alex.ID + "/authentication/"
	steps := []struct {
		name, path string
		status     int
		code, says string
	}{
		{"ErrDefaultWithOthers", "phoneMethods/" + graphtest.MobilePhoneID, 400, "badRequest", "Cannot delete default method"},
		{"ErrWrongCollection", "fido2Methods/" + graphtest.OfficePhoneID, 404, "itemNotFound", ""},
		{"ErrPassword", "passwordMethods/" + graphtest.PasswordMethodID, 405, "Request_BadRequest", "password"},
		{"ErrUnknownUser", "", 404, "Request_ResourceNotFound", ""},
		{"OKOfficePhone", "phoneMethods/" + graphtest.OfficePhoneID, 204, "", ""},
		{"OKOath", "softwareOathMethods/" + idOf(graphtest.MethodSoftwareOath), 204, "", ""},
		{"OKEmail", "emailMethods/" + graphtest.EmailMethodID, 204, "", ""},
		{"ErrAlreadyDeleted", "emailMethods/" + graphtest.EmailMethodID, 404, "itemNotFound", ""},
		{"OKDefaultWhenLast", "phoneMethods/" + graphtest.MobilePhoneID, 204, "", ""},
	}
	for _, st := range steps {
		path := base + st.path
		if st.name == "ErrUnknownUser" {
			path = "/v1.0/users/nobody@contoso.com/authentication/phoneMethods/" + graphtest.MobilePhoneID
		}
		status, _, body := c.do("DELETE", path, "")
		if status != st.status || errCode(body) != st.code {
			t.Fatalf("%s: %d %v, want %d %s", st.name, status, body, st.status, st.code)
		}
		if st.says != "" && !strings.Contains(body["error"].(map[string]any)["message"].(string), st.says) {
			t.Errorf("%s: message %v, want %q", st.name, body, st.says)
		}
	}
	if ms := tenant.Methods(alex.ID); len(ms) != 1 || ms[0].Type != graphtest.MethodPassword {
		t.Errorf("left %+v, want the password only", ms)
	}
	if got := tenant.DefaultMethod(alex.ID); got != graphtest.DefaultNone {
		t.Errorf("default after reset %q", got)
	}
	if n := c.s.Count(graphtest.OpDeleteMethod, alex.ID); n != 4 {
		t.Errorf("Count(deleteMethod) = %d successful deletes, want 4", n)
	}
	var failed int
	for _, call := range c.s.Calls() {
		if call.Op == graphtest.OpDeleteMethod && call.Status >= 400 {
			failed++
		}
	}
	if failed != 4 { // default, wrong collection, already deleted, unknown user (password never reaches a handler)
		t.Errorf("%d refused deletes recorded, want 4", failed)
	}
}

func TestListMethodsShapes(t *testing.T) {
	tenant := graphtest.NewTenant()
	u, err := tenant.AddUser(graphtest.User{UserPrincipalName: "kim@contoso.com", DisplayName: "Kim"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []graphtest.Method{
		{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneMobile, PhoneNumber: "+1 2065555555", SMSSignInState: "ready"},
		{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneAlternateMobile, PhoneNumber: "+1 2065555556"},
		{Type: graphtest.MethodAuthenticator, DisplayName: "iPhone 12", DeviceTag: "SoftwareTokenActivated", PhoneAppVersion: "6.2001.0140"},
		{Type: graphtest.MethodTemporaryAccessPass},
		{Type: graphtest.MethodPlatformCredential, DisplayName: "MacBook"},
	} {
		if _, err := tenant.AddMethod(u.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, tenant, graphtest.Options{})
	_, _, body := c.do("GET", "/v1.0/users/KIM@contoso.com/authentication/methods", "")
	var types []string
	byType := map[string]map[string]any{}
	for _, v := range body["value"].([]any) {
		m := v.(map[string]any)
		typ := m["@odata.type"].(string)
		types = append(types, typ)
		byType[typ] = m
	}
	want := []string{"#microsoft.graph.passwordAuthenticationMethod", "#microsoft.graph.phoneAuthenticationMethod", "#microsoft.graph.phoneAuthenticationMethod",
		"#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "#microsoft.graph.temporaryAccessPassAuthenticationMethod", "#microsoft.graph.platformCredentialAuthenticationMethod"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Fatalf("types (-want +got):\n%s", diff)
	}
	if m := byType["#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"]; m["phoneAppVersion"] != "6.2001.0140" || m["createdDateTime"] == nil {
		t.Errorf("authenticator %v", m)
	}
	// The mobile phone cannot go while an alternate mobile exists (phoneAuthenticationMethod delete).
	if st, _, b := c.do("DELETE", "/v1.0/users/"+u.ID+"/authentication/phoneMethods/"+graphtest.MobilePhoneID, ""); st != 400 {
		t.Errorf("mobile with alternate: %d %v", st, b)
	}
}

// TestRegistrationDetailsFollowMethods: the report is derived from the current methods,
// so a reset shows at once.
func TestRegistrationDetailsFollowMethods(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	megan, _ := tenant.User(graphtest.MeganUPN)
	path := "/v1.0/reports/authenticationMethods/userRegistrationDetails/" + megan.ID
	_, _, before := c.do("GET", path, "")
	if before["isMfaRegistered"] != true || before["userPreferredMethodForSecondaryAuthentication"] != "sms" ||
		!cmp.Equal(before["methodsRegistered"], []any{"mobilePhone", "microsoftAuthenticatorPush"}) ||
		!cmp.Equal(before["systemPreferredAuthenticationMethods"], []any{"push"}) {
		t.Fatalf("before reset %v", before)
	}
	for _, m := range tenant.Methods(megan.ID) {
		if m.Type == graphtest.MethodAuthenticator {
			if st, _, b := c.do("DELETE", "/v1.0/users/"+megan.ID+"/authentication/microsoftAuthenticatorMethods/"+m.ID, ""); st != 204 {
				t.Fatalf("delete authenticator: %d %v", st, b)
			}
		}
	}
	if st, _, b := c.do("DELETE", "/v1.0/users/"+megan.ID+"/authentication/phoneMethods/"+graphtest.MobilePhoneID, ""); st != 204 {
		t.Fatalf("delete phone: %d %v", st, b)
	}
	_, _, after := c.do("GET", path, "")
	if after["isMfaRegistered"] != false || after["isMfaCapable"] != false || after["userPreferredMethodForSecondaryAuthentication"] != "none" ||
		!cmp.Equal(after["methodsRegistered"], []any{}) {
		t.Errorf("after reset %v", after)
	}

	diego, _ := tenant.User(graphtest.DiegoUPN)
	if r, _ := tenant.Registration(diego.ID); r.IsMfaRegistered || len(r.MethodsRegistered) != 0 {
		t.Errorf("Diego has no methods: %+v", r)
	}
	bg, _ := tenant.User(graphtest.BreakGlassUPN)
	if r, _ := tenant.Registration(bg.ID); !r.IsAdmin || !r.IsPasswordlessCapable {
		t.Errorf("break-glass: %+v", r)
	}
}

func TestPerUserMFARequirements(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	diego, _ := tenant.User(graphtest.DiegoUPN)
	path := func(u graphtest.User) string { return "/beta/users/" + u.ID + "/authentication/requirements" }
	if _, _, b := c.do("GET", path(adele), ""); b["perUserMfaState"] != "disabled" {
		t.Fatalf("initial state %v", b)
	}
	tests := []struct {
		name   string
		user   graphtest.User
		body   string
		status int
		want   string
	}{
		{"OKEnabledWithMethodsBecomesEnforced", adele, `{"perUserMfaState":"enabled"}`, 204, graphtest.MFAEnforced},
		{"OKEnabledWithoutMethods", diego, `{"perUserMfaState":"enabled"}`, 204, graphtest.MFAEnabled},
		{"OKDisabled", adele, `{"perUserMfaState":"disabled"}`, 204, graphtest.MFADisabled},
		{"ErrInvalidState", adele, `{"perUserMfaState":"sometimes"}`, 400, graphtest.MFADisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, b := c.do("PATCH", path(tt.user), tt.body)
			if st != tt.status {
				t.Fatalf("PATCH %d %v", st, b)
			}
			if _, _, b := c.do("GET", path(tt.user), ""); b["perUserMfaState"] != tt.want || tenant.MFAState(tt.user.ID) != tt.want {
				t.Errorf("state %v, want %s", b, tt.want)
			}
		})
	}
	if st, _, _ := c.do("GET", "/v1.0/users/"+adele.ID+"/authentication/requirements", ""); st != 400 {
		t.Errorf("requirements exist only in beta; v1.0 answered %d", st)
	}
	if n := c.s.Count(graphtest.OpSetRequirements, adele.ID); n != 2 {
		t.Errorf("Count(setRequirements, adele) = %d, want 2", n)
	}
}

func TestRevokeSignInSessions(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	if !tenant.RevokedAt(adele.ID).IsZero() {
		t.Fatal("revoked before any call")
	}
	st, _, b := c.do("POST", "/beta/users/"+graphtest.AdeleUPN+"/revokeSignInSessions", "")
	if st != 200 || b["value"] != true || !strings.HasSuffix(b["@odata.context"].(string), "/beta/$metadata#Edm.Boolean") {
		t.Fatalf("revoke %d %v", st, b)
	}
	if tenant.RevokedAt(adele.ID).IsZero() || c.s.Count(graphtest.OpRevoke, adele.ID) != 1 {
		t.Errorf("revocation not recorded: %v %d", tenant.RevokedAt(adele.ID), c.s.Count(graphtest.OpRevoke, adele.ID))
	}
	if st, _, b := c.do("POST", "/v1.0/users/nobody@contoso.com/revokeSignInSessions", ""); st != 404 || errCode(b) != "Request_ResourceNotFound" {
		t.Errorf("unknown user %d %v", st, b)
	}
}

// TestHardwareOath: a hardware OATH token is listed by v1.0 (without its device, which
// only beta knows) and by beta hardwareOathMethods in the documented shape; it is read
// and deleted in beta only, and Entra's default-method rule applies to it as to software
// OATH.
func TestHardwareOath(t *testing.T) {
	tenant := graphtest.NewTenant()
	u, err := tenant.AddUser(graphtest.User{UserPrincipalName: "hana@contoso.com", DisplayName: "Hana Kim"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tenant.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodHardwareOath, DisplayName: "Hana's token",
		SerialNumber: "TOTP123456", Manufacturer: "Contoso", Model: "Hardware Token 1000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodAuthenticator, DisplayName: "iPhone"}); err != nil {
		t.Fatal(err)
	}
	if got := tenant.DefaultMethod(u.ID); got != graphtest.DefaultOath {
		t.Fatalf("a hardware token as first method makes the default %q, want oath", got)
	}
	c := newClient(t, tenant, graphtest.Options{})

	_, _, v1 := c.do("GET", "/v1.0/users/"+u.ID+"/authentication/methods", "")
	var listed map[string]any
	for _, v := range v1["value"].([]any) {
		if m := v.(map[string]any); m["@odata.type"] == "#microsoft.graph.hardwareOathAuthenticationMethod" {
			listed = m
		}
	}
	if diff := cmp.Diff([]string{"@odata.type", "createdDateTime", "id"}, keys(listed)); diff != "" || listed["id"] != tok.ID {
		t.Fatalf("v1.0 lists the token as %v (-want +got keys):\n%s", listed, diff)
	}

	_, _, beta := c.do("GET", "/beta/users/"+u.ID+"/authentication/hardwareOathMethods", "")
	items, _ := beta["value"].([]any)
	if len(items) != 1 {
		t.Fatalf("beta list %v", beta)
	}
	got := items[0].(map[string]any)
	doc := readTestdata(t, "hardware-oath-methods.json")["value"].([]any)[0].(map[string]any)
	if diff := cmp.Diff(keys(doc), keys(got)); diff != "" {
		t.Errorf("token properties differ from the documented example (-doc +served):\n%s", diff)
	}
	device, docDevice := got["device"].(map[string]any), doc["device"].(map[string]any)
	if diff := cmp.Diff(keys(docDevice), keys(device)); diff != "" {
		t.Errorf("device properties differ (-doc +served):\n%s", diff)
	}
	if diff := cmp.Diff(keys(docDevice["assignedTo"].(map[string]any)), keys(device["assignedTo"].(map[string]any))); diff != "" {
		t.Errorf("assignedTo differs (-doc +served):\n%s", diff)
	}
	if device["serialNumber"] != "TOTP123456" || device["displayName"] != "Hana's token" || device["assignedTo"].(map[string]any)["id"] != u.ID {
		t.Errorf("device %v", device)
	}
	if st, _, one := c.do("GET", "/beta/users/"+u.ID+"/authentication/hardwareOathMethods/"+tok.ID, ""); st != 200 || one["id"] != tok.ID || one["device"] == nil {
		t.Errorf("beta get %d %v", st, one)
	}

	steps := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"ErrV1List", "GET", "/v1.0/users/" + u.ID + "/authentication/hardwareOathMethods", 400, "BadRequest"},
		{"ErrV1Delete", "DELETE", "/v1.0/users/" + u.ID + "/authentication/hardwareOathMethods/" + tok.ID, 400, "BadRequest"},
		{"ErrUnknownToken", "GET", "/beta/users/" + u.ID + "/authentication/hardwareOathMethods/00000000-0000-4000-8000-000000000000", 404, "itemNotFound"},
		{"ErrDefaultWithOthers", "DELETE", "/beta/users/" + u.ID + "/authentication/hardwareOathMethods/" + tok.ID, 400, "badRequest"},
		{"OKDefaultMoved", "PATCH", "/beta/users/" + u.ID + "/authentication/signInPreferences", 204, ""},
		{"OKDelete", "DELETE", "/beta/users/" + u.ID + "/authentication/hardwareOathMethods/" + tok.ID, 204, ""},
		{"ErrAlreadyDeleted", "DELETE", "/beta/users/" + u.ID + "/authentication/hardwareOathMethods/" + tok.ID, 404, "itemNotFound"},
	}
	for _, st := range steps {
		body := ""
		if st.method == "PATCH" {
			body = `{"userPreferredMethodForSecondaryAuthentication":"push"}`
		}
		if status, _, b := c.do(st.method, st.path, body); status != st.status || errCode(b) != st.code {
			t.Fatalf("%s: %d %v, want %d %s", st.name, status, b, st.status, st.code)
		}
	}
	if n := c.s.Count(graphtest.OpDeleteMethod, u.ID); n != 1 {
		t.Errorf("%d successful deletions recorded, want 1", n)
	}
	for _, m := range tenant.Methods(u.ID) {
		if m.Type == graphtest.MethodHardwareOath {
			t.Errorf("token still assigned: %+v", m)
		}
	}
	tenant.SetGranted([]string{"User.Read.All"})
	if st, _, b := c.do("GET", "/beta/users/"+u.ID+"/authentication/hardwareOathMethods", ""); st != 403 || errCode(b) != "Authorization_RequestDenied" {
		t.Errorf("without UserAuthenticationMethod.Read.All: %d %v", st, b)
	}
}

// TestSignInPreferences: beta signInPreferences shows and changes the tenant's default
// second factor with Entra's rule (the default must be a method the user has), in the
// documented shape, under UserAuthenticationMethod.ReadWrite.All.
func TestSignInPreferences(t *testing.T) {
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 10})
	c := newClient(t, tenant, graphtest.Options{})
	adele, _ := tenant.User(graphtest.AdeleUPN)
	diego, _ := tenant.User(graphtest.DiegoUPN)
	path := func(u graphtest.User) string { return "/beta/users/" + u.ID + "/authentication/signInPreferences" }

	st, _, got := c.do("GET", path(adele), "")
	doc := readTestdata(t, "sign-in-preferences.json")
	if diff := cmp.Diff(append([]string{"@odata.context"}, keys(doc)...), keys(got)); st != 200 || diff != "" {
		t.Fatalf("GET %d, properties differ (-doc +served):\n%s", st, diff)
	}
	if got["userPreferredMethodForSecondaryAuthentication"] != "sms" || got["isSystemPreferredAuthenticationMethodEnabled"] != true {
		t.Fatalf("Adele's preferences %v", got)
	}
	if _, _, d := c.do("GET", path(diego), ""); d["userPreferredMethodForSecondaryAuthentication"] != nil {
		t.Errorf("Diego has no method, his default is %v", d["userPreferredMethodForSecondaryAuthentication"])
	}
	if st, _, _ := c.do("GET", "/v1.0/users/"+adele.ID+"/authentication/signInPreferences", ""); st != 400 {
		t.Errorf("signInPreferences exist only in beta; v1.0 answered %d", st)
	}

	tests := []struct {
		name    string
		user    graphtest.User
		body    string
		granted []string
		status  int
		code    string
		want    string // the user's default afterwards
	}{
		{"OKPush", adele, `{"userPreferredMethodForSecondaryAuthentication":"push"}`, nil, 204, "", graphtest.DefaultPush},
		{"ErrNoSuchMethod", adele, `{"userPreferredMethodForSecondaryAuthentication":"oath"}`, nil, 400, "badRequest", graphtest.DefaultPush},
		{"ErrUndocumentedValue", adele, `{"userPreferredMethodForSecondaryAuthentication":"none"}`, nil, 400, "badRequest", graphtest.DefaultPush},
		{"ErrUnknownProperty", adele, `{"preferred":"sms"}`, nil, 400, "BadRequest", graphtest.DefaultPush},
		{"ErrNothingRegistered", diego, `{"userPreferredMethodForSecondaryAuthentication":"sms"}`, nil, 400, "badRequest", graphtest.DefaultNone},
		{"ErrReadOnlyPermission", adele, `{"userPreferredMethodForSecondaryAuthentication":"sms"}`, []string{"UserAuthenticationMethod.Read.All"}, 403, "Authorization_RequestDenied", graphtest.DefaultPush},
		{"OKVoiceMobile", adele, `{"userPreferredMethodForSecondaryAuthentication":"voiceMobile"}`, []string{"UserAuthenticationMethod.ReadWrite.All"}, 204, "", graphtest.DefaultVoiceMobile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant.SetGranted(graphtest.DefaultGranted())
			if tt.granted != nil {
				tenant.SetGranted(tt.granted)
			}
			st, _, b := c.do("PATCH", path(tt.user), tt.body)
			if st != tt.status || errCode(b) != tt.code {
				t.Fatalf("PATCH %d %v, want %d %s", st, b, tt.status, tt.code)
			}
			if st >= 400 {
				e := b["error"].(map[string]any)
				if e["message"] == "" || e["innerError"].(map[string]any)["request-id"] == nil {
					t.Errorf("error body %v", b)
				}
			}
			if got := tenant.DefaultMethod(tt.user.ID); got != tt.want {
				t.Errorf("default %q, want %q", got, tt.want)
			}
		})
	}
	tenant.SetGranted(graphtest.DefaultGranted())
	if st, _, _ := c.do("PATCH", path(adele), `{"isSystemPreferredAuthenticationMethodEnabled":false}`); st != 204 {
		t.Fatalf("system-preferred off: %d", st)
	}
	if _, _, g := c.do("GET", path(adele), ""); g["isSystemPreferredAuthenticationMethodEnabled"] != false || g["userPreferredMethodForSecondaryAuthentication"] != "voiceMobile" {
		t.Errorf("after turning system-preferred off %v", g)
	}
	if r, _ := tenant.Registration(adele.ID); r.IsSystemPreferredAuthenticationMethodEnabled || r.UserPreferredMethodForSecondaryAuthentication != "voiceMobile" {
		t.Errorf("registration report %+v", r)
	}
	var calls []string
	for _, call := range c.s.Calls() {
		if call.Op == graphtest.OpSetSignInPreferences {
			calls = append(calls, fmt.Sprintf("%s %d", call.Target, call.Status))
		}
	}
	if diff := cmp.Diff([]string{"push 204", "oath 400", "none 400", "sms 400", "voiceMobile 204", " 204"}, calls); diff != "" {
		t.Errorf("recorded calls (-want +got):\n%s", diff)
	}
	if st, _, _ := c.do("GET", "/beta/users/nobody@contoso.com/authentication/signInPreferences", ""); st != 404 {
		t.Errorf("unknown user: %d", st)
	}
}
