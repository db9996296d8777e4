package summary_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// The Graph client streams exactly what the summary consumes.
var _ summary.Source = (*graph.Client)(nil)

// oracle computes what the summary must say from the simulated tenant's own records,
// bypassing HTTP, the SDK and the summary's streaming.
func oracle(tn *graphtest.Tenant, topN int) *summary.Summary {
	return oracleOf(tn, topN, nil, nil)
}

// oracleOf is oracle for the transitive members of a group (inGroup reports membership;
// nil: the tenant), with the users excluded leaves out counted apart.
func oracleOf(tn *graphtest.Tenant, topN int, inGroup, excluded func(graphtest.User) bool) *summary.Summary {
	s := &summary.Summary{Report: true, Directory: true, Methods: map[string]int{}}
	var notRegistered []summary.Person
	for _, u := range tn.Users() {
		if inGroup != nil && !inGroup(u) {
			continue
		}
		guest := strings.EqualFold(u.UserType, "Guest")
		switch {
		case !u.AccountEnabled:
			s.Disabled++
			continue
		case guest:
			s.DirectoryGuests++
		default:
			s.DirectoryMembers++
		}
		r, ok := tn.Registration(u.ID)
		if !ok {
			continue
		}
		c := &s.Members
		if guest {
			c = &s.Guests
		}
		if excluded != nil && excluded(u) {
			c = &s.Excluded
		}
		c.Enabled++
		for _, f := range []struct {
			n *int
			b bool
		}{{&c.MFARegistered, r.IsMfaRegistered}, {&c.MFACapable, r.IsMfaCapable}, {&c.SSPRRegistered, r.IsSsprRegistered}, {&c.PasswordlessCapable, r.IsPasswordlessCapable}} {
			if f.b {
				*f.n++
			}
		}
		if c == &s.Excluded {
			continue
		}
		if !guest {
			seen := map[string]bool{}
			for _, m := range r.MethodsRegistered {
				if !seen[m] {
					s.Methods[m]++
					seen[m] = true
				}
			}
		}
		if r.IsMfaRegistered {
			continue
		}
		s.CSVRows++
		if guest {
			s.CSVGuests++
		} else {
			s.CSVMembers++
		}
		p := summary.Person{ID: u.ID, UPN: r.UserPrincipalName, DisplayName: r.UserDisplayName, Guest: guest, Admin: r.IsAdmin}
		if r.IsAdmin {
			s.AdminsWithoutMFA = append(s.AdminsWithoutMFA, p)
		}
		if !guest {
			s.NotRegisteredMembers++
			notRegistered = append(notRegistered, p)
		}
	}
	order := func(ps []summary.Person) {
		sort.Slice(ps, func(i, j int) bool {
			a, b := ps[i], ps[j]
			if a.Admin != b.Admin {
				return a.Admin
			}
			if x, y := strings.ToLower(a.UPN), strings.ToLower(b.UPN); x != y {
				return x < y
			}
			return a.ID < b.ID
		})
	}
	order(s.AdminsWithoutMFA)
	order(notRegistered)
	s.NotRegistered = notRegistered[:min(topN, len(notRegistered))]
	return s
}

// newGraphClient serves tn and returns the real Graph client talking to it, with a token
// from the fake authority. The reports limit is Graph's 5 requests, in a window scaled
// down so a large tenant streams in seconds; the server enforces the same.
func newGraphClient(tb testing.TB, tn *graphtest.Tenant) *graph.Client {
	tb.Helper()
	const reportWindow = 20 * time.Millisecond
	limits := graphtest.DocumentedLimits()
	srv := graphtest.Start(tb, tn, graphtest.Options{Limits: limits, Scale: float64(limits.ReportWindow / reportWindow)})
	cred, err := graph.NewCredential(graph.CredentialOptions{
		TenantID: tn.ID(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthorityHost: srv.AuthorityURL(), HTTPClient: srv.HTTPClient(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := graph.New(graph.Config{TenantID: tn.ID(), ClientID: srv.ClientID(), Credential: cred,
		BaseURL: srv.URL(), HTTPClient: srv.HTTPClient(), ReportWindow: reportWindow})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// A generated tenant streamed through the real Graph client over HTTP gives the same
// figures, lists and CSV size as the tenant's own records say.
func TestCollectThroughGraph(t *testing.T) {
	t.Parallel()
	tn := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: 3000})
	client := newGraphClient(t, tn)
	s, err := summary.Collect(context.Background(), client, summary.Options{Day: "2026-11-22", TopN: 15})
	if err != nil {
		t.Fatal(err)
	}
	want := oracle(tn, 15)
	want.Day = "2026-11-22"
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		f := p.Last().String()
		return f == ".CSV"
	}, cmp.Ignore())
	if diff := cmp.Diff(want, s, ignore); diff != "" {
		t.Errorf("summary through Graph (-oracle +got):\n%s", diff)
	}
	t.Logf("members %+v, guests %+v, disabled %d, admins without MFA %d, CSV rows %d",
		s.Members, s.Guests, s.Disabled, len(s.AdminsWithoutMFA), s.CSVRows)
	if s.Members.Enabled == 0 || s.NotRegisteredMembers == 0 || len(s.AdminsWithoutMFA) == 0 || s.Disabled == 0 {
		t.Errorf("the generated tenant does not exercise every rule: %+v", s)
	}
	if lines := strings.Count(string(s.CSV), "\r\n"); lines != s.CSVRows+1 {
		t.Errorf("CSV has %d lines, want %d users and a header", lines, s.CSVRows)
	}
}

// Without the P1/P2 licence, and without AuditLog.Read.All, Graph's real refusals reach
// the summary as gaps that say what to do.
func TestCollectThroughGraphRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*graphtest.Tenant)
		fix   string
	}{
		{"NoLicence", func(tn *graphtest.Tenant) { tn.SetLicensed(false) }, "Microsoft Entra ID P1 or P2"},
		{"NoAuditLogPermission", func(tn *graphtest.Tenant) {
			var keep []string
			for _, p := range tn.Granted() {
				if p != "AuditLog.Read.All" {
					keep = append(keep, p)
				}
			}
			tn.SetGranted(keep)
		}, "AuditLog.Read.All"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := graphtest.Generate(graphtest.GenOptions{Seed: 3, Users: 200})
			tt.setup(tn)
			client := newGraphClient(t, tn)
			s, err := summary.Collect(context.Background(), client, summary.Options{Day: "2026-11-22"})
			if err != nil {
				t.Fatalf("Collect = %v, want the summary with a gap", err)
			}
			if s.Report || len(s.Gaps) != 1 || !strings.Contains(s.Gaps[0].Fix, tt.fix) {
				t.Fatalf("Report %v, gaps %+v; want one gap whose fix names %q", s.Report, s.Gaps, tt.fix)
			}
			if !s.Directory || s.DirectoryMembers == 0 {
				t.Errorf("directory counts missing although /users was readable: %+v", s)
			}
			if msg := summary.Message(s); !strings.Contains(msg.Text, tt.fix) {
				t.Errorf("message does not say how to fix it:\n%s", msg.Text)
			}
		})
	}
}
