package graph_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestHardwareOathMethods: a hardware OATH token (listed by v1.0 without a model, its
// details in beta) appears once, typed, named and deletable; it is deleted through beta,
// Graph's default-method rule applies to it, and deleting it twice counts as done.
func TestHardwareOathMethods(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 10, graphtest.Options{})
	tn := srv.Tenant()
	ctx := context.Background()
	u, err := tn.AddUser(graphtest.User{UserPrincipalName: "hana@contoso.com", DisplayName: "Hana Kim", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tn.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodHardwareOath, DisplayName: "Hana's token",
		SerialNumber: "TOTP123456", Manufacturer: "Contoso", Model: "Hardware Token 1000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodEmail, EmailAddress: "hana@example.org"}); err != nil {
		t.Fatal(err)
	}
	ms, err := c.Methods(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var hw []approvals.Method
	for _, m := range ms {
		if strings.EqualFold(m.ID, tok.ID) {
			hw = append(hw, m)
		}
	}
	if len(hw) != 1 {
		t.Fatalf("the token is listed %d times: %+v", len(hw), ms)
	}
	m := hw[0]
	if m.Type != approvals.MethodHardwareOath || m.ODataType != "#microsoft.graph.hardwareOathAuthenticationMethod" ||
		!m.Deletable || m.Note != "" || m.Detail != "Hana's token (serial TOTP123456)" || m.Created.IsZero() {
		t.Fatalf("token = %+v", m)
	}
	if m.DefaultFor() != approvals.DefaultOath || !m.Backs(approvals.DefaultOath) {
		t.Fatalf("a hardware token backs oath: %+v", m)
	}
	// It is the default (oath) and the e-mail remains: Graph refuses.
	if err := c.DeleteMethod(ctx, u.ID, m); !errors.Is(err, approvals.ErrDefaultMethod) {
		t.Fatalf("deleting the default token: %v", err)
	}
	if err := c.DeleteMethod(ctx, u.ID, approvals.Method{ID: graphtest.EmailMethodID, ODataType: "#microsoft.graph.emailAuthenticationMethod"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMethod(ctx, u.ID, m); err != nil {
		t.Fatalf("deleting the last token: %v", err)
	}
	if err := c.DeleteMethod(ctx, u.ID, m); err != nil {
		t.Fatalf("deleting it again: %v", err)
	}
	var deleted []string
	for _, call := range srv.Calls() {
		if call.Op == graphtest.OpDeleteMethod && call.UserID == u.ID {
			deleted = append(deleted, call.Target)
		}
	}
	if want := []string{"hardwareOath/" + tok.ID, "email/" + graphtest.EmailMethodID, "hardwareOath/" + tok.ID, "hardwareOath/" + tok.ID}; !slices.Equal(deleted, want) {
		t.Fatalf("deletions Graph saw %v, want %v", deleted, want)
	}
	if left := tn.Methods(u.ID); len(left) != 1 || left[0].Type != graphtest.MethodPassword {
		t.Fatalf("left %+v", left)
	}
}

// TestMethodTypes: every type Graph lists comes back with approvals' type constant; a
// type mfabot cannot delete is listed, not deletable, with a Note naming it.
func TestMethodTypes(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 10, graphtest.Options{})
	tn := srv.Tenant()
	u, err := tn.AddUser(graphtest.User{UserPrincipalName: "every@contoso.com", DisplayName: "Every Method", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []graphtest.Method{
		{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneMobile, PhoneNumber: "+1 2065550101"},
		{Type: graphtest.MethodAuthenticator, DisplayName: "iPhone"},
		{Type: graphtest.MethodSoftwareOath},
		{Type: graphtest.MethodHardwareOath, SerialNumber: "TOTP1"},
		{Type: graphtest.MethodEmail, EmailAddress: "e@example.org"},
		{Type: graphtest.MethodFido2, DisplayName: "Key"},
		{Type: graphtest.MethodWindowsHello, DisplayName: "LAPTOP"},
		{Type: graphtest.MethodTemporaryAccessPass},
		{Type: graphtest.MethodPlatformCredential, DisplayName: "Mac"},
	} {
		if _, err := tn.AddMethod(u.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := c.Methods(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Type)
		if m.Deletable == (m.Type == approvals.MethodPassword) {
			t.Errorf("%s deletable %v", m.Type, m.Deletable)
		}
	}
	want := []string{approvals.MethodPassword, approvals.MethodPhone, approvals.MethodAuthenticator, approvals.MethodSoftwareOath,
		approvals.MethodHardwareOath, approvals.MethodEmail, approvals.MethodFido2, approvals.MethodWindowsHello,
		approvals.MethodTemporaryAccessPass, approvals.MethodPlatformCredential}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("types %v, want %v", got, want)
	}
}

// TestHardwareOathWithoutBeta: where beta has no hardwareOathMethods (a national cloud),
// a token v1.0 lists is still listed, deletable, with a Note saying its details are
// missing; the rest of the list is whole.
func TestHardwareOathWithoutBeta(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 10, graphtest.Options{NationalCloud: true})
	tn := srv.Tenant()
	adele, _ := tn.User(graphtest.AdeleUPN)
	tok, err := tn.AddMethod(adele.ID, graphtest.Method{Type: graphtest.MethodHardwareOath, SerialNumber: "TOTP7"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := c.Methods(context.Background(), adele.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(tn.Methods(adele.ID)) {
		t.Fatalf("%d methods listed, the tenant has %d", len(ms), len(tn.Methods(adele.ID)))
	}
	for _, m := range ms {
		if m.ID != tok.ID {
			continue
		}
		if m.Type != approvals.MethodHardwareOath || !m.Deletable || m.Detail != "" || !strings.Contains(m.Note, "details unavailable") {
			t.Fatalf("token = %+v", m)
		}
		return
	}
	t.Fatalf("token missing from %+v", ms)
}

// TestMethodsDenied: without a methods permission, Methods says which one is missing.
func TestMethodsDenied(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 10, graphtest.Options{})
	adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
	srv.Tenant().SetGranted([]string{"User.Read.All"})
	if _, err := c.Methods(context.Background(), adele.ID); !graph.IsAccessDenied(err) || !strings.Contains(approvals.ErrorMessage(err), "UserAuthenticationMethod.ReadWrite.All") {
		t.Fatalf("err = %v", err)
	}
}
