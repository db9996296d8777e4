package commands_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/commands/summary"
)

func TestParseCampaign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want commands.Command
	}{
		{"OK_Nudge", `nudge "Sales EMEA" register before Friday`, commands.Command{Name: "nudge", Group: "Sales EMEA", Reason: "register before Friday"}},
		{"OK_NudgeEveryone", "nudge Everyone --confirm 2,640 MFA becomes mandatory", commands.Command{Name: "nudge", Everyone: true, Confirm: 2640, Reason: "MFA becomes mandatory"}},
		{"OK_NudgeGroupNamedEveryone", `nudge "everyone" hi`, commands.Command{Name: "nudge", Group: "everyone", Reason: "hi"}},
		{"OK_NudgeConfirmLast", "nudge sales please register --confirm 12", commands.Command{Name: "nudge", Group: "sales", Confirm: 12, Reason: "please register"}},
		{"OK_RevokeUnregistered", `revoke-group "All Staff" --unregistered deadline passed`, commands.Command{Name: "revoke-group", Group: "All Staff", Unregistered: true, Reason: "deadline passed"}},
		{"OK_RevokeUnregisteredFirst", `revoke-group --unregistered --confirm 118 Sales`, commands.Command{Name: "revoke-group", Group: "Sales", Unregistered: true, Confirm: 118}},
		{"OK_RevokeEveryoneUnregistered", `revoke-group everyone --unregistered`, commands.Command{Name: "revoke-group", Everyone: true, Unregistered: true}},
		{"OK_Summary", "summary", commands.Command{Name: "summary"}},
		{"OK_SummaryGroup", `summary "Sales EMEA"`, commands.Command{Name: "summary", Group: "Sales EMEA"}},
		{"OK_SummaryEveryone", "summary everyone", commands.Command{Name: "summary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
			back, err := commands.Parse(commands.Canonical(got))
			if err != nil || !cmp.Equal(back, got) {
				t.Fatalf("Canonical %q parses to %+v, %v", commands.Canonical(got), back, err)
			}
		})
	}
}

func TestParseCampaignErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		says []string
	}{
		{"ErrNudgeWhom", "nudge", []string{"whom? give a group", "or everyone", "Usage: /mfa nudge <group>|everyone [--confirm N] [message…]"}},
		{"ErrNudgeUnregisteredOption", "nudge Sales --unregistered", []string{`unknown option "--unregistered"`, "nudge takes only --confirm N (it reaches only the members not registered for MFA)"}},
		{"ErrRevokeEveryone", "revoke-group everyone", []string{"revoke-group everyone needs --unregistered", "never the whole tenant"}},
		{"ErrNudgeBadConfirm", "nudge Sales --confirm many", []string{"--confirm takes"}},
		{"ErrSummaryOption", "summary --all", []string{`unknown option "--all"`}},
		{"ErrSummaryEveryoneAndMore", "summary everyone now", []string{"summary without a group is everyone's"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := commands.Parse(tt.in)
			if approvals.ErrorCode(err) != approvals.EINVALID {
				t.Fatalf("Parse(%q) = %v", tt.in, err)
			}
			for _, s := range tt.says {
				if !strings.Contains(approvals.ErrorMessage(err), s) {
					t.Errorf("%q does not say %q", approvals.ErrorMessage(err), s)
				}
			}
		})
	}
}

// campaignRequests are campaign requests in the states their cards show.
func campaignRequests() map[string]*approvals.Request {
	camp := approvals.Campaign{Members: 2640, Registered: 2490, Protected: 2, Excluded: 30, Guests: 41, Disabled: 7}
	nudge := approvals.Request{
		ID: "R-NUDGE1", Kind: approvals.KindNudge, Requester: ann, Reason: "MFA becomes mandatory on 1 December",
		Target:    approvals.Target{Type: "group", ID: "g-all", Name: "All Staff"},
		Preview:   approvals.Preview{MemberCount: 118, Campaign: &camp},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
	}
	rc := camp
	rc.Unregistered = true
	revoke := approvals.Request{
		ID: "R-UNREG1", Kind: approvals.KindRevokeGroup, Requester: ann, Reason: "deadline passed",
		Target:    approvals.Target{Type: "group", ID: "g-all", Name: "All Staff"},
		Preview:   approvals.Preview{MemberCount: 118, Campaign: &rc},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
	}
	approved := []approvals.Decision{{Actor: ben, At: start.Add(5 * time.Minute)}}
	out := map[string]*approvals.Request{}
	set := func(name string, base approvals.Request, f func(r *approvals.Request)) {
		r := base
		f(&r)
		out[name] = &r
	}
	set("nudge-pending", nudge, func(r *approvals.Request) { r.State = approvals.StatePending })
	set("nudge-everyone-pending", nudge, func(r *approvals.Request) {
		r.State, r.Target = approvals.StatePending, approvals.Target{Type: approvals.TargetTenant, ID: approvals.Everyone, Name: approvals.Everyone}
	})
	set("nudge-running", nudge, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.Failed = approvals.StateRunning, approved, 118, 40, 2
	})
	set("nudge-partly-failed", nudge, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.Failed, r.ClosedAt = approvals.StatePartlyFailed, approved, 118, 115, 3, start.Add(10*time.Minute)
	})
	set("nudge-succeeded", nudge, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.ClosedAt = approvals.StateSucceeded, approved, 118, 118, start.Add(10*time.Minute)
	})
	set("revoke-unregistered-pending", revoke, func(r *approvals.Request) { r.State = approvals.StatePending })
	set("revoke-unregistered-succeeded", revoke, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.ClosedAt = approvals.StateSucceeded, approved, 118, 118, start.Add(10*time.Minute)
	})
	return out
}

// nudgeItems are the items of a finished nudge: done ones by channel, and the unreachable.
func nudgeItems(slack, teams, mail, failed int) []approvals.Item {
	var out []approvals.Item
	add := func(n int, state approvals.ItemState, result, errText string) {
		for range n {
			out = append(out, approvals.Item{Seq: len(out) + 1, Op: approvals.OpNudge, UserName: "user" + itoa(len(out)) + "@contoso.com",
				State: state, Result: result, Error: errText})
		}
	}
	add(slack, approvals.ItemDone, "slack", "")
	add(teams, approvals.ItemDone, "teams", "")
	add(mail, approvals.ItemDone, "mail", "")
	add(failed, approvals.ItemFailed, "", "not reachable (slack: no active Slack member has that address; teams: not reachable; e-mail: no mailbox configured)")
	return out
}

func itoa(n int) string { return fmt.Sprintf("%03d", n) }

func TestCampaignCardGolden(t *testing.T) {
	t.Parallel()
	items := map[string][]approvals.Item{
		"nudge-partly-failed": nudgeItems(100, 12, 3, 3),
		"nudge-succeeded":     nudgeItems(110, 8, 0, 0),
		"nudge-running":       nudgeItems(0, 0, 0, 2),
	}
	cards := commands.Cards{Policy: approvals.Policy{ConfirmAbove: 100}}
	for name, r := range campaignRequests() {
		t.Run(name, func(t *testing.T) {
			c := cards.Request(r, items[name], start.Add(30*time.Minute))
			golden(t, "card-"+name, c)
			says(t, &c, "Requested by: Ann")
			for _, b := range c.Buttons {
				text := b.Command
				if b.NeedsReason {
					text += " not now"
				}
				if back, err := commands.Parse(text); err != nil || back.Request != r.ID {
					t.Errorf("button %q: %v", b.Command, err)
				}
			}
		})
	}
	r := campaignRequests()["nudge-partly-failed"]
	c := cards.Request(r, items["nudge-partly-failed"], start.Add(30*time.Minute))
	says(t, &c, "Messaged 115 of 118 people (100 by Slack direct message · 12 by Teams chat · 3 by e-mail); 3 could not be reached",
		"Not reached (3)", "no active Slack member has that address")
	p := campaignRequests()["revoke-unregistered-pending"]
	c = cards.Request(p, nil, start)
	says(t, &c, "118 of 2,640 enabled members are not registered for MFA",
		"2,490 registered · 2 protected · 30 excluded (summary.exclude) · 41 guests (they register in their home tenant) · 7 disabled accounts",
		"the requester confirmed the count with --confirm 118")
}

// A nudge says where to register, why, and who asked and approved, and warns against
// phishing; it carries no buttons.
func TestNudgeWords(t *testing.T) {
	t.Parallel()
	d := commands.NewDispatcher(commands.Options{})
	r := campaignRequests()["nudge-running"]
	m := d.Nudge(r, approvals.User{ID: "u1", UPN: "sean.o'brien@contoso.com", DisplayName: "Seán O'Brien", Mail: "sean@contoso.com"})
	says(t, &m, "Hello Seán O'Brien", "sean.o'brien@contoso.com has no multifactor authentication (MFA) method registered yet",
		"https://aka.ms/mfasetup", "Why now: MFA becomes mandatory on 1 December", "Sent by Ann for IT, approved by Ben (request R-NUDGE1)",
		"never ask you for your password")
	if len(m.Buttons) != 0 || m.RequestID != "" {
		t.Fatalf("a nudge with buttons or a request id: %+v", m)
	}
}

// A summary that finds members without MFA carries buttons that start the matching nudge
// and revoke-group --unregistered for its scope, as canonical commands the presser adds a
// reason to; a summary without missing members carries none.
func TestSummaryButtons(t *testing.T) {
	t.Parallel()
	sales := approvals.Group{ID: "00000000-0000-4000-8000-00000000a001", DisplayName: "Sales EMEA"}
	tests := []struct {
		name string
		s    *summary.Summary
		want []string
	}{
		{"Tenant", &summary.Summary{Report: true, NotRegisteredMembers: 490}, []string{"nudge everyone", "revoke-group everyone --unregistered"}},
		{"Group", &summary.Summary{Report: true, NotRegisteredMembers: 3, Scope: &sales},
			[]string{"nudge " + sales.ID, "revoke-group " + sales.ID + " --unregistered"}},
		{"NobodyMissing", &summary.Summary{Report: true}, nil},
		{"NoReport", &summary.Summary{NotRegisteredMembers: 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := commands.SummaryButtons(tt.s)
			var got []string
			for _, b := range bs {
				got = append(got, b.Command)
				if !b.NeedsReason {
					t.Errorf("button %q asks for no reason", b.Command)
				}
				c, err := commands.Parse(withPressReason(b.Command))
				if err != nil || c.Reason != "register by Friday" || (c.Name == commands.CmdRevokeGroup) != c.Unregistered {
					t.Errorf("pressed %q parses to %+v, %v", b.Command, c, err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("buttons (-want +got):\n%s", diff)
			}
		})
	}
	if bs := commands.SummaryButtons(&summary.Summary{Report: true, NotRegisteredMembers: 490}); bs[0].Label != "Nudge the 490 to register" {
		t.Fatalf("label %q", bs[0].Label)
	}
}

// withPressReason is what an adapter sends for a button that asks for a reason.
func withPressReason(cmd string) string { return cmd + ` "register by Friday"` }
