package graph_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestGroupsNamed: groups are found by display name only (any case); a group whose mail
// nickname is the name but whose display name is another is never returned, since anyone
// can pick a nickname; names with apostrophes are quoted, so a name cannot widen the
// filter either.
func TestGroupsNamed(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 20, graphtest.Options{})
	tn := srv.Tenant()
	add := func(display, nick string) string {
		g, err := tn.AddGroup(graphtest.Group{DisplayName: display, MailNickname: nick})
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	impostor := add("Weekend Volunteers", "mfa-approvers")
	real := add("mfa-approvers", "mfa-approvers-2024")
	oneil := add("O'Neil's approvers", "oneils-approvers")
	twinA, twinB := add("Field Ops", "field-ops-a"), add("Field Ops", "field-ops-b")
	finance := ""
	for _, g := range tn.Groups() {
		if g.DisplayName == graphtest.GroupFinance {
			finance = g.ID
		}
	}
	tests := []struct {
		name, ref string
		want      []string
	}{
		{"OKDisplayName", "mfa-approvers", []string{real}},
		{"OKAnyCase", "MFA-Approvers", []string{real}},
		{"OKApostrophes", "O'Neil's approvers", []string{oneil}},
		{"OKSameNameTwice", "Field Ops", []string{twinA, twinB}},
		{"NoneByMailNicknameOnly", "mfa-approvers-2024", nil},
		{"NoneInjected", "x' or displayName eq 'Finance", nil},
		{"NoneUnknown", "No Such Group", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := c.GroupsNamed(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range gs {
				got = append(got, g.ID)
				if g.ID == impostor || g.ID == finance {
					t.Fatalf("%q matched %+v", tt.ref, g)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("GroupsNamed(%q) = %v, want %v", tt.ref, got, want)
			}
		})
	}
	gs, _ := c.GroupsNamed(context.Background(), "mfa-approvers")
	if len(gs) != 1 || gs[0].DisplayName != "mfa-approvers" || gs[0].MailNickname != "mfa-approvers-2024" {
		t.Fatalf("group fields %+v", gs)
	}
}
