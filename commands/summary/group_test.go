package summary_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// The real Graph client lists group members and resolves groups for summary <group> and
// summary.exclude.
var _ summary.Groups = (*graph.Client)(nil)

// summary <group> counts the group's transitive members only, and summary.exclude leaves
// its users (by UPN and object id) and its groups' members out of every figure, counting
// them apart: through the real client over HTTP, the figures are what the simulated
// tenant's own records say.
func TestCollectGroupAndExcludeThroughGraph(t *testing.T) {
	t.Parallel()
	tn := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: 3000})
	client := newGraphClient(t, tn)
	ctx := context.Background()
	sales, err := client.ResolveGroup(ctx, graphtest.GroupSales)
	if err != nil {
		t.Fatal(err)
	}
	finance, err := client.ResolveGroup(ctx, graphtest.GroupFinance)
	if err != nil {
		t.Fatal(err)
	}
	members := func(groupID string) map[string]bool {
		m := map[string]bool{}
		for _, id := range tn.TransitiveUsers(groupID) {
			m[id] = true
		}
		return m
	}
	inSales, inFinance := members(sales.ID), members(finance.ID)
	// Excluded: one user by UPN, one by object id, and the Finance group.
	var byUPN, byID graphtest.User
	for _, u := range tn.Users() {
		r, ok := tn.Registration(u.ID)
		if !ok || !u.AccountEnabled || u.UserType != graphtest.Member || r.IsMfaRegistered || inFinance[u.ID] {
			continue
		}
		switch {
		case byUPN.ID == "" && inSales[u.ID]:
			byUPN = u
		case byID.ID == "" && !inSales[u.ID]:
			byID = u
		}
	}
	refs := []string{strings.ToUpper(byUPN.UserPrincipalName), byID.ID, finance.ID}
	excluded, err := approvals.ResolveExclusions(ctx, client, refs)
	if err != nil {
		t.Fatal(err)
	}
	isExcluded := func(u graphtest.User) bool {
		return u.ID == byUPN.ID || u.ID == byID.ID || inFinance[u.ID]
	}
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		f := p.Last().String()
		return f == ".CSV" || f == ".Scope" || f == ".Day"
	}, cmp.Ignore())
	tests := []struct {
		name    string
		opt     summary.Options
		inGroup func(graphtest.User) bool
	}{
		{"Tenant", summary.Options{Exclude: excluded}, nil},
		{"Group", summary.Options{Group: &sales, Members: client}, func(u graphtest.User) bool { return inSales[u.ID] }},
		{"GroupExcluded", summary.Options{Group: &sales, Members: client, Exclude: excluded}, func(u graphtest.User) bool { return inSales[u.ID] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Day, tt.opt.TopN = "2026-11-22", 15
			s, err := summary.Collect(ctx, client, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var excl func(graphtest.User) bool
			if tt.opt.Exclude.Len() > 0 {
				excl = isExcluded
			}
			want := oracleOf(tn, 15, tt.inGroup, excl)
			if tt.inGroup != nil {
				// A group's summary reads its members, not /users.
				want.DirectoryMembers, want.DirectoryGuests, want.Disabled = s.DirectoryMembers, s.DirectoryGuests, s.Disabled
			}
			if diff := cmp.Diff(want, s, ignore); diff != "" {
				t.Errorf("summary (-oracle +got):\n%s", diff)
			}
			if excl != nil && s.Excluded.Enabled == 0 {
				t.Error("nothing was excluded")
			}
			if tt.inGroup != nil && (s.Members.Enabled == 0 || s.Members.Enabled >= 2000) {
				t.Errorf("group members %d", s.Members.Enabled)
			}
			if excl != nil && strings.Contains(string(s.CSV), byUPN.ID) {
				t.Error("an excluded user is in the CSV")
			}
			msg := summary.Message(s)
			if tt.opt.Group != nil && !strings.Contains(msg.Title, graphtest.GroupSales) {
				t.Errorf("title %q", msg.Title)
			}
		})
	}
}

// memberList is a func-free fake of Groups: the members of one group, and groups by id.
type memberList struct {
	groups  map[string]approvals.Group
	members map[string][]approvals.User
}

func (m memberList) GroupMembers(_ context.Context, id string, fn func([]approvals.User) error) error {
	return fn(m.members[id])
}

func (m memberList) ResolveGroup(_ context.Context, ref string) (approvals.Group, error) {
	if g, ok := m.groups[ref]; ok {
		return g, nil
	}
	return approvals.Group{}, approvals.Errorf(approvals.ENOTFOUND, "no group %s in the directory", ref)
}

// The message of a group's summary names the group and says whom it counts; the accounts
// summary.exclude names are counted apart and stay out of "missing" and the list.
func TestMessageGroupGolden(t *testing.T) {
	t.Parallel()
	src := tenant()
	sales := approvals.Group{ID: "00000000-0000-4000-8000-00000000a001", DisplayName: "Sales EMEA"}
	groups := memberList{groups: map[string]approvals.Group{sales.ID: sales}, members: map[string][]approvals.User{sales.ID: {
		{ID: guid(2), Enabled: true}, {ID: guid(3), Enabled: true}, {ID: guid(5), Enabled: true, Guest: true},
		{ID: guid(7), Enabled: true}, {ID: guid(8), Enabled: true}, {ID: guid(9), Enabled: true}, {ID: guid(4), Enabled: false},
	}}}
	excluded, err := approvals.ResolveExclusions(context.Background(), groups, []string{"zed@contoso.com", guid(8)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := summary.Collect(context.Background(), src, summary.Options{Day: "2026-11-22", TopN: 5, Group: &sales, Members: groups, Exclude: excluded})
	if err != nil {
		t.Fatal(err)
	}
	if s.Members.Enabled != 3 || s.Guests.Enabled != 1 || s.Excluded.Enabled != 2 || s.Excluded.MFARegistered != 1 || s.NotRegisteredMembers != 3 {
		t.Fatalf("members %+v guests %+v excluded %+v missing %d", s.Members, s.Guests, s.Excluded, s.NotRegisteredMembers)
	}
	golden(t, "message-group", dump(summary.Message(s)))
}

// summary <group> posts the group's summary with the campaign buttons for its missing
// members, and keeps its daily snapshot apart from the tenant's: neither trend borrows the
// other's figures.
func TestPostGroup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-23T10:00:00Z")
	sales := approvals.Group{ID: "00000000-0000-4000-8000-00000000a001", DisplayName: "Sales EMEA", MailNickname: "sales-emea"}
	f.job.Groups = memberList{groups: map[string]approvals.Group{sales.ID: sales, "Sales EMEA": sales}, members: map[string][]approvals.User{sales.ID: {
		{ID: guid(2), Enabled: true}, {ID: guid(3), Enabled: true}, {ID: guid(9), Enabled: true}, {ID: guid(1), Enabled: true},
	}}}
	var scopes []*approvals.Group
	f.job.Actions = func(s *summary.Summary) []bot.Button {
		scopes = append(scopes, s.Scope)
		return []bot.Button{{Label: "Nudge", Command: "nudge x"}}
	}
	ctx := context.Background()
	if err := f.job.PostNow(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.job.PostGroup(ctx, "Sales EMEA"); err != nil {
		t.Fatal(err)
	}
	posts := f.slack.posted()
	if len(posts) != 2 || !strings.HasPrefix(posts[1].Title, "MFA enrollment of Sales EMEA") || len(posts[1].Buttons) != 1 {
		t.Fatalf("posts %+v", posts)
	}
	if len(scopes) != 2 || scopes[0] != nil || scopes[1] == nil || scopes[1].ID != sales.ID {
		t.Fatalf("actions asked for scopes %+v", scopes)
	}
	if !strings.Contains(posts[1].Files[0].Name, "sales-emea") || posts[1].Image == nil || !strings.Contains(posts[1].Image.Name, "sales-emea") {
		t.Fatalf("files %+v", posts[1].Files)
	}
	tenantDay, _ := f.store.Snapshots(ctx, "2026-11-23", "2026-11-23")
	groupDay, _ := f.store.Snapshots(ctx, "group:"+sales.ID+":2026-11-23", "group:"+sales.ID+":2026-11-23")
	if len(tenantDay) != 1 || len(groupDay) != 1 || bytes.Equal(tenantDay["2026-11-23"], groupDay["group:"+sales.ID+":2026-11-23"]) {
		t.Fatalf("snapshots: tenant %v, group %v", tenantDay, groupDay)
	}
	if err := f.job.PostGroup(ctx, "Nobody"); approvals.ErrorCode(err) != approvals.ENOTFOUND {
		t.Fatalf("unknown group: %v", err)
	}
}
