package summary_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/graph"
)

func guid(n int) string { return fmt.Sprintf("0000000%d-aaaa-bbbb-cccc-%012d", n%10, n) }

var updated = time.Date(2026, 11, 21, 6, 30, 0, 0, time.UTC)

// tenant is a small tenant covering every rule: admins with and without MFA, a guest
// admin, a disabled user in the report, a hostile display name, UPNs in mixed case.
func tenant() *fakeSource {
	reg := func(id int, upn, name, typ string, admin, mfa bool, methods ...string) approvals.Registration {
		return approvals.Registration{
			UserID: guid(id), UPN: upn, DisplayName: name, UserType: typ, IsAdmin: admin,
			IsMfaRegistered: mfa, IsMfaCapable: mfa, MethodsRegistered: methods, LastUpdated: updated,
		}
	}
	ann := reg(1, "ann@contoso.com", "Ann Admin", "member", true, true, "microsoftAuthenticatorPush", "mobilePhone")
	ann.IsSsprRegistered = true
	hugo := reg(8, "hugo@contoso.com", "Hugo", "member", false, true, "fido2", "windowsHelloForBusiness")
	hugo.IsSsprRegistered, hugo.IsPasswordlessCapable = true, true
	return &fakeSource{
		users: [][]approvals.User{
			{
				{ID: guid(1), Enabled: true}, {ID: guid(2), Enabled: true}, {ID: guid(3), Enabled: true},
				// The directory may spell an id in capitals; the report does not.
				{ID: strings.ToUpper(guid(4)), Enabled: false},
			},
			{
				{ID: guid(5), Enabled: true, Guest: true}, {ID: guid(6), Enabled: true, Guest: true},
				{ID: guid(7), Enabled: true}, {ID: guid(8), Enabled: true}, {ID: guid(9), Enabled: true},
				{ID: guid(10), Enabled: true}, {ID: "not-a-guid", Enabled: false},
			},
		},
		regs: [][]approvals.Registration{
			{
				ann,
				reg(2, "bob@contoso.com", "Bob Admin", "member", true, false, "email"),
				reg(3, "carl@contoso.com", "=cmd|' /C calc'!A0", "member", false, false),
				reg(4, "dora@contoso.com", "Dora Disabled", "member", true, false, "mobilePhone"),
			},
			{
				reg(5, "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Eve Guest", "guest", true, false),
				reg(6, "frank_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Frank Guest", "guest", false, true, "mobilePhone"),
				reg(7, "Zed@contoso.com", "Zed", "member", false, false),
				hugo,
			},
			{
				reg(9, "adam@contoso.com", "Adam", "member", false, false),
				reg(10, "Beth@contoso.com", `Beth "B", Jr.`, "member", false, false, "sms"),
				reg(11, "x@contoso.com", "Not in /users", "member", false, false),
			},
		},
	}
}

func TestCollect(t *testing.T) {
	t.Parallel()
	s, err := summary.Collect(context.Background(), tenant(), summary.Options{Day: "2026-11-22", TopN: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := &summary.Summary{
		Day: "2026-11-22", Report: true, Directory: true,
		Members:          summary.Counts{Enabled: 8, MFARegistered: 2, MFACapable: 2, SSPRRegistered: 2, PasswordlessCapable: 1},
		Guests:           summary.Counts{Enabled: 2, MFARegistered: 1, MFACapable: 1},
		DirectoryMembers: 7, DirectoryGuests: 2, Disabled: 2,
		Methods: map[string]int{
			"microsoftAuthenticatorPush": 1, "mobilePhone": 1, "email": 1,
			"fido2": 1, "windowsHelloForBusiness": 1, "sms": 1,
		},
		AdminsWithoutMFA: []summary.Person{
			{ID: guid(2), UPN: "bob@contoso.com", DisplayName: "Bob Admin", Admin: true},
			{ID: guid(5), UPN: "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Eve Guest", Guest: true, Admin: true},
		},
		NotRegistered: []summary.Person{
			{ID: guid(2), UPN: "bob@contoso.com", DisplayName: "Bob Admin", Admin: true},
			{ID: guid(9), UPN: "adam@contoso.com", DisplayName: "Adam"},
			{ID: guid(10), UPN: "Beth@contoso.com", DisplayName: `Beth "B", Jr.`},
		},
		NotRegisteredMembers: 6,
		CSVRows:              7, CSVMembers: 6, CSVGuests: 1,
	}
	if diff := cmp.Diff(want, s, cmpopts.IgnoreFields(summary.Summary{}, "CSV")); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	rows, err := csv.NewReader(bytes.NewReader(s.CSV)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	ts := updated.Format(time.RFC3339)
	wantRows := [][]string{
		{"object_id", "upn", "display_name", "user_type", "admin", "sspr_registered", "methods_registered", "last_updated"},
		{guid(2), "bob@contoso.com", "Bob Admin", "member", "yes", "no", "email", ts},
		{guid(3), "carl@contoso.com", "'=cmd|' /C calc'!A0", "member", "no", "no", "", ts},
		{guid(5), "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Eve Guest", "guest", "yes", "no", "", ts},
		{guid(7), "Zed@contoso.com", "Zed", "member", "no", "no", "", ts},
		{guid(9), "adam@contoso.com", "Adam", "member", "no", "no", "", ts},
		{guid(10), "Beth@contoso.com", `Beth "B", Jr.`, "member", "no", "no", "sms", ts},
		{guid(11), "x@contoso.com", "Not in /users", "member", "no", "no", "", ts},
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("CSV rows (-want +got):\n%s", diff)
	}
	if !bytes.HasSuffix(s.CSV, []byte("\r\n")) || !bytes.Contains(s.CSV, []byte(`"Beth ""B"", Jr."`)) {
		t.Errorf("CSV is not RFC 4180 (CRLF, doubled quotes):\n%s", s.CSV)
	}
}

func TestCollectTopNDefault(t *testing.T) {
	t.Parallel()
	src := &fakeSource{regs: [][]approvals.Registration{nil}}
	for i := 0; i < 40; i++ {
		// Descending UPNs, so keeping the first 15 seen would be wrong.
		src.regs[0] = append(src.regs[0], approvals.Registration{
			UserID: guid(100 + i), UPN: fmt.Sprintf("user%02d@contoso.com", 99-i), UserType: "member",
		})
	}
	s, err := summary.Collect(context.Background(), src, summary.Options{Day: "2026-11-22"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.NotRegistered) != summary.DefaultTopN {
		t.Fatalf("kept %d, want %d", len(s.NotRegistered), summary.DefaultTopN)
	}
	for i, p := range s.NotRegistered {
		if want := fmt.Sprintf("user%02d@contoso.com", 60+i); p.UPN != want {
			t.Errorf("NotRegistered[%d] = %s, want %s", i, p.UPN, want)
		}
	}
	if s.NotRegisteredMembers != 40 || s.CSVRows != 40 {
		t.Errorf("counted %d members, %d CSV rows; want 40, 40", s.NotRegisteredMembers, s.CSVRows)
	}
}

func licenceErr() error {
	return approvals.WrapError(approvals.EUPSTREAM, fmt.Errorf("%w: HTTP 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant", approvals.ErrLicence),
		"the registration report needs Microsoft Entra ID P1 or P2 in this tenant")
}

func deniedErr(perm string) error {
	return approvals.WrapError(approvals.EUPSTREAM, fmt.Errorf("%w: HTTP 403 Authorization_RequestDenied", approvals.ErrAccessDenied),
		"Graph denied access: mfabot needs the application permission %s with admin consent", perm)
}

func TestCollectGaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		usersErr  error
		regsErr   error
		report    bool
		directory bool
		fix       string // in the gap's Fix
		enabled   int    // Members.Enabled
	}{
		{name: "NoLicence", regsErr: licenceErr(), directory: true, fix: "Microsoft Entra ID P1 or P2"},
		{name: "NoAuditLogPermission", regsErr: deniedErr("AuditLog.Read.All"), directory: true, fix: "AuditLog.Read.All"},
		{name: "NoUserReadPermission", usersErr: deniedErr("User.Read.All"), report: true, fix: "User.Read.All", enabled: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tenant()
			src.usersErr, src.regsErr = tt.usersErr, tt.regsErr
			s, err := summary.Collect(context.Background(), src, summary.Options{Day: "2026-11-22"})
			if err != nil {
				t.Fatalf("Collect: %v (a refused read must become a gap)", err)
			}
			if s.Report != tt.report || s.Directory != tt.directory {
				t.Errorf("Report, Directory = %v, %v; want %v, %v", s.Report, s.Directory, tt.report, tt.directory)
			}
			if len(s.Gaps) != 1 || !strings.Contains(s.Gaps[0].Fix, tt.fix) {
				t.Fatalf("gaps = %+v, want one whose fix names %q", s.Gaps, tt.fix)
			}
			if s.Members.Enabled != tt.enabled {
				t.Errorf("Members.Enabled = %d, want %d (disabled accounts count only when /users is unreadable)", s.Members.Enabled, tt.enabled)
			}
			if !tt.report && (len(s.AdminsWithoutMFA) > 0 || len(s.NotRegistered) > 0 || s.CSVRows > 0) {
				t.Errorf("names listed without a report: %+v", s)
			}
			msg := summary.Message(s)
			if !strings.Contains(msg.Text, tt.fix) {
				t.Errorf("message text does not say how to fix it:\n%s", msg.Text)
			}
			if msg.Tone != "warning" {
				t.Errorf("tone = %q, want warning", msg.Tone)
			}
		})
	}
}

func TestCollectFails(t *testing.T) {
	t.Parallel()
	unavailable := approvals.WrapError(approvals.EUPSTREAM, graph.ErrUnavailable, "Microsoft Graph is unavailable (HTTP 503); try again later")
	for _, tt := range []struct {
		name string
		src  *fakeSource
	}{
		{"UsersUnavailable", &fakeSource{usersErr: unavailable}},
		{"ReportUnavailable", &fakeSource{regsErr: unavailable}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := summary.Collect(context.Background(), tt.src, summary.Options{Day: "2026-11-22"})
			if got := approvals.ErrorCode(err); got != approvals.EUPSTREAM {
				t.Errorf("error code %q (%v), want %q", got, err, approvals.EUPSTREAM)
			}
		})
	}
}

func TestCSVCell(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"ann@contoso.com", "ann@contoso.com"},
		{"=1+1", "'=1+1"},
		{"+31 6 1234", "'+31 6 1234"},
		{"-2", "'-2"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
	} {
		if got := summary.CSVCell(tt.in); got != tt.want {
			t.Errorf("CSVCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
