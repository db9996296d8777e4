package graph_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// start serves a generated tenant and returns the real client talking to it with a token
// from the fake authority. Client and server share a skip clock: whatever the client waits
// for (Retry-After, backoff, the pace) passes in fake time at once.
func start(t testing.TB, users int, o graphtest.Options) (*graph.Client, *graphtest.Server) {
	t.Helper()
	return startClock(t, users, o, newSkipClock())
}

// startClock is start with the clock client and server share.
func startClock(t testing.TB, users int, o graphtest.Options, clk graph.TestClock) (*graph.Client, *graphtest.Server) {
	t.Helper()
	if o.Now == nil {
		o.Now = clk.Now
	}
	srv := graphtest.Start(t, graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: users}), o)
	cred, err := graph.NewCredential(graph.CredentialOptions{
		TenantID: srv.Tenant().ID(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthorityHost: srv.AuthorityURL(), HTTPClient: srv.HTTPClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.Config{TenantID: srv.Tenant().ID(), ClientID: srv.ClientID(), Credential: cred,
		BaseURL: srv.URL(), HTTPClient: srv.HTTPClient(), ReportWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	graph.SetClock(c, clk)
	return c, srv
}

func TestResolveUser(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 300, graphtest.Options{})
	ctx := context.Background()
	var guest graphtest.User
	for _, u := range srv.Tenant().Users() {
		if u.UserType == graphtest.Guest {
			guest = u
			break
		}
	}
	tests := []struct{ name, ref, wantUPN, code string }{
		{"OKUPN", "Adele.Vance@contoso.com", graphtest.AdeleUPN, ""},
		{"OKGuestEXT", guest.UserPrincipalName, guest.UserPrincipalName, ""},
		{"OKGuestByMail", guest.Mail, guest.UserPrincipalName, ""},
		{"ErrNoSuchUser", "nobody@contoso.com", "", approvals.ENOTFOUND},
		{"ErrQuoteInMail", "o'brien@contoso.com", "", approvals.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.ResolveUser(ctx, tt.ref)
			if approvals.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want code %q", err, tt.code)
			}
			if tt.code == "" && u.UPN != tt.wantUPN {
				t.Fatalf("upn = %q", u.UPN)
			}
			if tt.code == approvals.ENOTFOUND && !strings.Contains(approvals.ErrorMessage(err), "no user") {
				t.Fatalf("message = %q", approvals.ErrorMessage(err))
			}
		})
	}
	byID, err := c.ResolveUser(ctx, guest.ID)
	if err != nil || !byID.Guest {
		t.Fatalf("by id: %+v %v", byID, err)
	}
}

func TestMethodsAndReset(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 50, graphtest.Options{})
	ctx := context.Background()
	adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
	ms, err := c.Methods(ctx, adele.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range ms {
		types = append(types, m.Type)
	}
	// Non-phone methods first, the phone last among deletable ones, the password kept.
	if want := []string{"microsoftAuthenticator", "fido2", "phone", "password"}; !slices.Equal(types, want) {
		t.Fatalf("order = %v, want %v", types, want)
	}
	if ms[2].Detail != "+1 ••• 0101" || ms[3].Deletable {
		t.Fatalf("phone/password = %+v / %+v", ms[2], ms[3])
	}
	for _, m := range ms {
		if m.Deletable {
			if err := c.DeleteMethod(ctx, adele.ID, m); err != nil {
				t.Fatalf("delete %s: %v", m.Type, err)
			}
		}
	}
	if left := srv.Tenant().Methods(adele.ID); len(left) != 1 || left[0].Type != graphtest.MethodPassword {
		t.Fatalf("left = %+v", left)
	}
	// Already gone counts as done.
	if err := c.DeleteMethod(ctx, adele.ID, ms[0]); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := c.DeleteMethod(ctx, adele.ID, ms[3]); approvals.ErrorCode(err) != approvals.EINVALID {
		t.Fatalf("password delete: %v", err)
	}
	errs := c.RevokeSessions(ctx, []string{adele.ID})
	if errs[0] != nil || srv.Count(graphtest.OpRevoke, adele.ID) != 1 {
		t.Fatalf("revoke: %v", errs)
	}
}

func TestDefaultPhoneRefusedWhileOthersRemain(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 50, graphtest.Options{})
	ctx := context.Background()
	adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
	ms, _ := c.Methods(ctx, adele.ID)
	// The phone is Adele's default: deleting it first must fail with Graph's error,
	// recognisable with errors.Is and not worth repeating as it is.
	err := c.DeleteMethod(ctx, adele.ID, ms[2])
	if !errors.Is(err, approvals.ErrDefaultMethod) || approvals.Transient(err) || !strings.Contains(err.Error(), "Cannot delete default method") {
		t.Fatalf("err = %v", err)
	}
	// Once the default moves to the authenticator, the phone goes.
	if err := c.SetDefaultMethod(ctx, adele.ID, approvals.DefaultPush); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMethod(ctx, adele.ID, ms[2]); err != nil {
		t.Fatalf("after moving the default: %v", err)
	}
}

func TestRegistrationAndMFAState(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 50, graphtest.Options{})
	ctx := context.Background()
	adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
	r, err := c.Registration(ctx, adele.ID)
	if err != nil || !r.IsMfaRegistered || r.PreferredMethod != "sms" || !slices.Contains(r.MethodsRegistered, "fido2") {
		t.Fatalf("registration = %+v, %v", r, err)
	}
	if st, err := c.MFAState(ctx, adele.ID); err != nil || st != approvals.MFADisabled {
		t.Fatalf("state = %q %v", st, err)
	}
	if err := c.SetMFAState(ctx, adele.ID, approvals.MFAEnabled); err != nil {
		t.Fatal(err)
	}
	// Entra turns enabled into enforced for a user who has MFA methods.
	if st, _ := c.MFAState(ctx, adele.ID); st != approvals.MFAEnforced {
		t.Fatalf("state after enable = %q", st)
	}
	srv.Tenant().SetLicensed(false)
	_, err = c.Registration(ctx, adele.ID)
	if !graph.IsLicenceError(err) || !strings.Contains(approvals.ErrorMessage(err), "P1 or P2") {
		t.Fatalf("unlicensed: %v", err)
	}
	srv.Tenant().SetGranted([]string{"User.Read.All"})
	_, err = c.Methods(ctx, adele.ID)
	if !graph.IsAccessDenied(err) || !strings.Contains(approvals.ErrorMessage(err), "UserAuthenticationMethod.ReadWrite.All") {
		t.Fatalf("denied: %v", err)
	}
}

func TestGroupsAndBatchRevoke(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 3000, graphtest.Options{})
	ctx := context.Background()
	g, err := c.ResolveGroup(ctx, "All Staff")
	if err != nil {
		t.Fatal(err)
	}
	want := srv.Tenant().TransitiveUsers(g.ID)
	var got []string
	pages := 0
	err = c.GroupMembers(ctx, g.ID, func(us []approvals.User) error {
		pages++
		for _, u := range us {
			got = append(got, u.ID)
		}
		return nil
	})
	if err != nil || !slices.Equal(got, want) || pages < 2 {
		t.Fatalf("members: %d of %d in %d pages, %v", len(got), len(want), pages, err)
	}
	if _, err := c.ResolveGroup(ctx, "sales-emea"); err != nil {
		t.Fatalf("by mail nickname: %v", err)
	}
	if _, err := c.ResolveGroup(ctx, "No Such Group"); approvals.ErrorCode(err) != approvals.ENOTFOUND {
		t.Fatalf("missing group: %v", err)
	}
	adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
	if ok, err := c.IsMemberOf(ctx, adele.ID, g.ID); !ok || err != nil {
		t.Fatalf("is member: %v %v", ok, err)
	}
	ids := append(slices.Clone(got[:45]), "00000000-0000-4000-8000-000000000000")
	errs := c.RevokeSessions(ctx, ids)
	for i, id := range ids[:45] {
		if errs[i] != nil || srv.Count(graphtest.OpRevoke, id) != 1 {
			t.Fatalf("revoke %s: %v", id, errs[i])
		}
	}
	if approvals.ErrorCode(errs[45]) != approvals.ENOTFOUND {
		t.Fatalf("unknown user in batch: %v", errs[45])
	}
}

func TestBatchItemsThrottledAreRetried(t *testing.T) {
	t.Parallel()
	l := graphtest.Limits{AppWrites: 30, AppWriteWindow: 2 * time.Second}
	c, srv := start(t, 300, graphtest.Options{Limits: l})
	ctx := context.Background()
	var ids []string
	for _, u := range srv.Tenant().Users()[:80] {
		ids = append(ids, u.ID)
	}
	errs := c.RevokeSessions(ctx, ids)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
	}
	if n := srv.Count(graphtest.OpRevoke, ""); n != 80 {
		t.Fatalf("revoked %d, want 80", n)
	}
	if srv.Stats().Throttled == 0 || c.Stats().Throttled == 0 {
		t.Fatalf("Graph never throttled (server %d, client %d 429s): the test proves nothing", srv.Stats().Throttled, c.Stats().Throttled)
	}
}

func TestRegistrationsStream(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 2500, graphtest.Options{})
	n, pages := 0, 0
	err := c.Registrations(context.Background(), func(rs []approvals.Registration) error {
		n += len(rs)
		pages++
		return nil
	})
	if err != nil || n != srv.Tenant().UserCount() || pages != 3 {
		t.Fatalf("streamed %d in %d pages: %v", n, pages, err)
	}
	users := 0
	if err := c.Users(context.Background(), func(us []approvals.User) error { users += len(us); return nil }); err != nil || users != 2500 {
		t.Fatalf("users %d: %v", users, err)
	}
}

func TestGrantedPermissions(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 10, graphtest.Options{})
	srv.Tenant().SetGranted([]string{"User.Read.All", "Application.Read.All", "Directory.ReadWrite.All"})
	got, err := c.GrantedPermissions(context.Background())
	if err != nil || !slices.Equal(got, []string{"Application.Read.All", "Directory.ReadWrite.All", "User.Read.All"}) {
		t.Fatalf("granted = %v, %v", got, err)
	}
}

// TestFaultsAreRetried: with a fifth of Graph's answers 500, 503 or 504, reads still
// succeed (retried after Retry-After or a backoff) and a write that finally fails is
// reported for its user as an upstream error, never as success.
func TestFaultsAreRetried(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 300, graphtest.Options{})
	srv.SetFaults(graphtest.Faults{ServerErrors: 0.2})
	ctx := context.Background()
	users := srv.Tenant().Users()
	for _, u := range users[:60] {
		if _, err := c.ResolveUser(ctx, u.ID); err != nil {
			t.Fatalf("read under faults: %v", err)
		}
	}
	if srv.Stats().Injected5xx == 0 {
		t.Fatal("no faults were injected")
	}
	var ids []string
	for _, u := range users[60:100] {
		ids = append(ids, u.ID)
	}
	for i, err := range c.RevokeSessions(ctx, ids) {
		if err != nil && approvals.ErrorCode(err) != approvals.EUPSTREAM {
			t.Fatalf("a fault became %v", err)
		}
		if err == nil && srv.Count(graphtest.OpRevoke, ids[i]) != 1 {
			t.Fatalf("%s reported revoked but Graph has no record", ids[i])
		}
	}
}

// TestPhonesDeletedDefaultLast: a user with all three phones, the mobile one the default,
// gets them listed alternate, office, mobile after every other method, and a reset in that
// order goes through without Graph refusing the default phone.
func TestPhonesDeletedDefaultLast(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 10, graphtest.Options{})
	tn := srv.Tenant()
	u, err := tn.AddUser(graphtest.User{UserPrincipalName: "phones@contoso.com", DisplayName: "Pat Phones", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []graphtest.Method{
		{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneMobile, PhoneNumber: "+1 2065550101"},
		{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneOffice, PhoneNumber: "+1 2065550102"},
		{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneAlternateMobile, PhoneNumber: "+1 2065550103"},
		{Type: graphtest.MethodEmail, EmailAddress: "pat@fabrikam.com"},
		{Type: graphtest.MethodAuthenticator, DisplayName: "Pat's iPhone"},
	} {
		if _, err := tn.AddMethod(u.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := tn.SetDefaultMethod(u.ID, graphtest.DefaultSMS); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ms, err := c.Methods(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Label())
	}
	want := []string{"email pat@fabrikam.com", "microsoftAuthenticator Pat's iPhone",
		"phone (alternateMobile) +1 ••• 0103", "phone (office) +1 ••• 0102", "phone (mobile) +1 ••• 0101", "password"}
	if !slices.Equal(got, want) {
		t.Fatalf("order:\n got %q\nwant %q", got, want)
	}
	for _, m := range ms {
		if !m.Deletable {
			continue
		}
		if err := c.DeleteMethod(ctx, u.ID, m); err != nil {
			t.Fatalf("delete %s: %v", m.Label(), err)
		}
	}
	if left := tn.Methods(u.ID); len(left) != 1 || left[0].Type != graphtest.MethodPassword {
		t.Fatalf("left after reset: %+v", left)
	}
}

// TestGroupNames: display names are escaped in the filter, an ambiguous name lists the
// candidates, and the member count ($count) agrees with the streamed membership.
func TestGroupNames(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 300, graphtest.Options{})
	tn := srv.Tenant()
	ctx := context.Background()
	quoted, err := tn.AddGroup(graphtest.Group{DisplayName: "O'Neil's team", MailNickname: "oneils-team"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, nick := range []string{"field-ops-a", "field-ops-b"} {
		g, err := tn.AddGroup(graphtest.Group{DisplayName: "Field Ops", MailNickname: nick})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.ID)
	}
	for _, u := range tn.Users()[:7] {
		if err := tn.AddMember(quoted.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OKQuotedName", func(t *testing.T) {
		g, err := c.ResolveGroup(ctx, "O'Neil's team")
		if err != nil || g.ID != quoted.ID {
			t.Fatalf("got %+v, %v", g, err)
		}
	})
	t.Run("ErrAmbiguousName", func(t *testing.T) {
		_, err := c.ResolveGroup(ctx, "Field Ops")
		if approvals.ErrorCode(err) != approvals.EINVALID {
			t.Fatalf("err = %v", err)
		}
		msg := approvals.ErrorMessage(err)
		if !strings.HasPrefix(msg, "2 groups are named Field Ops: ") || !strings.HasSuffix(msg, "; use the object id") ||
			!strings.Contains(msg, "Field Ops (id "+ids[0]+")") || !strings.Contains(msg, "Field Ops (id "+ids[1]+")") {
			t.Fatalf("message = %q", msg)
		}
	})
	t.Run("OKMailNicknameIsUnique", func(t *testing.T) {
		if g, err := c.ResolveGroup(ctx, "field-ops-b"); err != nil || g.ID != ids[1] {
			t.Fatalf("got %+v, %v", g, err)
		}
	})
	t.Run("OKMemberCount", func(t *testing.T) {
		for _, g := range tn.Groups() {
			n, err := c.GroupMemberCount(ctx, g.ID)
			if err != nil || n != len(tn.TransitiveUsers(g.ID)) {
				t.Fatalf("%s: count %d, want %d (%v)", g.DisplayName, n, len(tn.TransitiveUsers(g.ID)), err)
			}
		}
	})
	t.Run("ErrCountUnknownGroup", func(t *testing.T) {
		_, err := c.GroupMemberCount(ctx, "00000000-0000-4000-8000-000000000000")
		if approvals.ErrorCode(err) != approvals.ENOTFOUND {
			t.Fatalf("err = %v", err)
		}
	})
}
