package commands_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
)

// cardRequests are one request of each kind in each state, as the store returns them.
func cardRequests() map[string]*approvals.Request {
	reset := approvals.Request{
		ID: "R-7K2QXA", Kind: approvals.KindReset, Requester: ann, Reason: "lost her phone",
		Target: approvals.Target{Type: "user", ID: "u-adele", Name: "adele.vance@contoso.com"},
		Preview: approvals.Preview{
			Methods: []approvals.Method{
				{ID: "a1", Type: "microsoftAuthenticator", Detail: "iPhone 15", Deletable: true, Created: start.AddDate(0, -3, 0)},
				{ID: "p1", Type: "phone", PhoneType: "mobile", Detail: "+1 206 ••• 5555", Deletable: true},
			},
			Kept: []approvals.Method{{ID: "pw", Type: "password", Note: "password is never removed"}},
		},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
	}
	revoke := approvals.Request{
		ID: "R-9M4TZB", Kind: approvals.KindRevokeGroup, Requester: ann, Reason: "enrollment push",
		Target:    approvals.Target{Type: "group", ID: "g-all", Name: "All Staff"},
		Preview:   approvals.Preview{MemberCount: 10000},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
		Approvals: []approvals.Decision{{Actor: ben, At: start.Add(5 * time.Minute)}},
	}
	enforce := approvals.Request{
		ID: "R-3H8WQD", Kind: approvals.KindEnforce, Requester: cleo,
		Target:    approvals.Target{Type: "user", ID: "u-diego", Name: "diego.siciliani@contoso.com"},
		Preview:   approvals.Preview{FromState: "disabled", ToState: "enforced"},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
	}
	out := map[string]*approvals.Request{}
	set := func(name string, base approvals.Request, f func(r *approvals.Request)) {
		r := base
		f(&r)
		out[name] = &r
	}
	set("reset-pending", reset, func(r *approvals.Request) { r.State = approvals.StatePending })
	set("reset-approved", reset, func(r *approvals.Request) {
		r.State, r.Approvals = approvals.StateApproved, []approvals.Decision{{Actor: ben, At: start.Add(2 * time.Minute)}}
	})
	set("reset-running", reset, func(r *approvals.Request) {
		r.State, r.Approvals = approvals.StateRunning, []approvals.Decision{{Actor: ben, At: start.Add(2 * time.Minute)}}
		r.Total, r.Done = 3, 1
	})
	set("reset-succeeded", reset, func(r *approvals.Request) {
		r.State, r.Approvals = approvals.StateSucceeded, []approvals.Decision{{Actor: ben, At: start.Add(2 * time.Minute)}}
		r.Total, r.Done, r.ClosedAt = 3, 3, start.Add(3*time.Minute)
	})
	set("reset-denied", reset, func(r *approvals.Request) {
		r.State = approvals.StateDenied
		r.Denial = &approvals.Decision{Actor: ben, At: start.Add(time.Minute), Reason: "<!channel> call the service desk first"}
		r.ClosedAt = start.Add(time.Minute)
	})
	set("reset-cancelled", reset, func(r *approvals.Request) {
		r.State = approvals.StateCancelled
		r.Denial = &approvals.Decision{Actor: ann, At: start.Add(4 * time.Minute), Reason: "found the phone"}
		r.ClosedAt = start.Add(4 * time.Minute)
	})
	set("reset-expired", reset, func(r *approvals.Request) {
		r.State, r.ClosedAt = approvals.StateExpired, start.Add(time.Hour)
	})
	set("revoke-pending", revoke, func(r *approvals.Request) { r.State, r.Approvals = approvals.StatePending, nil })
	set("revoke-running", revoke, func(r *approvals.Request) {
		r.State, r.Total, r.Done, r.Failed = approvals.StateRunning, 10000, 3190, 10
	})
	set("revoke-partly-failed", revoke, func(r *approvals.Request) {
		r.State, r.Total, r.Done, r.Failed, r.ClosedAt = approvals.StatePartlyFailed, 10000, 9975, 25, start.Add(20*time.Minute)
	})
	set("revoke-partly-failed-stopped", revoke, func(r *approvals.Request) {
		r.State, r.Total, r.Done, r.Failed, r.ClosedAt = approvals.StatePartlyFailed, 10000, 4000, 1, start.Add(20*time.Minute)
		r.Error = "Microsoft Graph is unreachable; try again later"
	})
	set("enforce-pending", enforce, func(r *approvals.Request) { r.State = approvals.StatePending })
	set("enforce-failed", enforce, func(r *approvals.Request) {
		r.State, r.Approvals = approvals.StateFailed, []approvals.Decision{{Actor: ann, At: start.Add(time.Minute)}}
		r.Total, r.Failed, r.ClosedAt, r.Error = 1, 1, start.Add(2*time.Minute), "all 1 items failed"
	})
	set("enforce-succeeded-next-day", enforce, func(r *approvals.Request) {
		r.State, r.Approvals = approvals.StateSucceeded, []approvals.Decision{{Actor: ann, At: start.Add(time.Minute)}}
		r.Total, r.Done, r.ClosedAt = 1, 1, start.Add(2*time.Minute)
	})
	return out
}

func failedItems(n int) []approvals.Item {
	var out []approvals.Item
	for i := range n {
		out = append(out, approvals.Item{Seq: i + 1, Op: approvals.OpRevoke, UserName: fmt.Sprintf("user%02d@contoso.com", i),
			State: approvals.ItemFailed, Error: "no user in the directory"})
	}
	return out
}

func TestRequestCardGolden(t *testing.T) {
	t.Parallel()
	rs := cardRequests()
	now := start.Add(30 * time.Minute)
	failed := map[string][]approvals.Item{
		// The dispatcher loads at most 20 failed items; the card counts the rest.
		"revoke-partly-failed":         failedItems(20),
		"revoke-partly-failed-stopped": failedItems(1),
		"enforce-failed": {{Seq: 1, Op: approvals.OpSetMFAState, UserName: "diego.siciliani@contoso.com", Arg: "enforced", State: approvals.ItemFailed,
			Error: "mfabot lacks Policy.ReadWrite.AuthenticationMethod"}},
	}
	for name, r := range rs {
		t.Run(name, func(t *testing.T) {
			n := now
			if strings.HasSuffix(name, "next-day") {
				n = start.Add(26 * time.Hour)
			}
			golden(t, "card-"+name, commands.RequestCard(r, failed[name], n))
		})
	}
}

// What every card must say, whatever the wording elsewhere.
func TestRequestCardRules(t *testing.T) {
	t.Parallel()
	rs := cardRequests()
	now := start.Add(30 * time.Minute)
	for name, r := range rs {
		t.Run(name, func(t *testing.T) {
			c := commands.RequestCard(r, nil, now)
			if c.RequestID != r.ID || !strings.Contains(c.Footer, r.ID) {
				t.Errorf("card does not carry its id: %q %q", c.RequestID, c.Footer)
			}
			if pending := r.State == approvals.StatePending; pending != (len(c.Buttons) == 2) {
				t.Errorf("state %s has buttons %+v", r.State, c.Buttons)
			}
			for _, b := range c.Buttons {
				text := b.Command
				if b.NeedsReason {
					// The adapter appends what the presser typed.
					text += " it's not the right user"
				}
				back, err := commands.Parse(text)
				if err != nil || back.Request != r.ID || commands.Canonical(back) != text {
					t.Errorf("button %q does not parse back to itself: %+v %v", text, back, err)
				}
			}
			if (r.State == approvals.StateRunning || r.State.Final() && r.Total > 0) != (c.Progress != nil) {
				t.Errorf("state %s progress %+v", r.State, c.Progress)
			}
			wantTone := map[approvals.State]bot.Tone{
				approvals.StatePending: bot.TonePending, approvals.StateApproved: bot.TonePending, approvals.StateRunning: bot.TonePending,
				approvals.StateSucceeded: bot.ToneGood, approvals.StatePartlyFailed: bot.ToneWarning, approvals.StateFailed: bot.ToneBad,
				approvals.StateDenied: bot.ToneBad, approvals.StateExpired: bot.ToneWarning, approvals.StateCancelled: bot.ToneNeutral,
			}[r.State]
			if c.Tone != wantTone {
				t.Errorf("state %s tone %q, want %q", r.State, c.Tone, wantTone)
			}
			says(t, &c, "Requested by: "+r.Requester.Name, r.Target.Name)
		})
	}
}

func TestRequestCardFailedList(t *testing.T) {
	t.Parallel()
	r := cardRequests()["revoke-partly-failed"]
	c := commands.RequestCard(r, failedItems(20), start)
	var sec *bot.Section
	for i := range c.Sections {
		if strings.HasPrefix(c.Sections[i].Title, "Failed") {
			sec = &c.Sections[i]
		}
	}
	if sec == nil || len(sec.Lines) != 20 || sec.More != 5 || sec.Title != "Failed (25)" {
		t.Fatalf("failed section = %+v; want 20 lines and 5 more of 25", sec)
	}
	if c.Progress == nil || c.Progress.Done != 10000 || c.Progress.Failed != 25 {
		t.Fatalf("progress = %+v; want all 10,000 finished, 25 failed", c.Progress)
	}
}

func TestCardsPolicy(t *testing.T) {
	t.Parallel()
	r := cardRequests()["revoke-pending"]
	plain := commands.RequestCard(r, nil, start)
	withPolicy := commands.Cards{Policy: approvals.Policy{RequiredApprovals: 2, ConfirmAbove: 500}}.Request(r, nil, start)
	if strings.Contains(plain.PlainText(), "Approvals:") || strings.Contains(plain.PlainText(), "--confirm") {
		t.Errorf("default policy card mentions approvals count or --confirm:\n%s", plain.PlainText())
	}
	says(t, &withPolicy, "Approvals: 0 of 2", "10,000 (more than 500: the requester confirmed the count with --confirm 10000)")
}
