package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
)

// bulkCardRequests are a bulk reset and a reset with a pass in the states whose words
// are their own.
func bulkCardRequests() (map[string]*approvals.Request, map[string][]approvals.Item) {
	bulk := approvals.Request{
		ID: "R-5B7CKD", Kind: approvals.KindResetBulk, Requester: ann, Reason: "phishing wave",
		Target: approvals.Target{Type: "users", ID: "users:0f1e2d3c4b5a69788796a5b4c3d2e1f0", Name: "3 users"},
		Preview: approvals.Preview{Bulk: &approvals.BulkPreview{Source: "users.csv",
			Users: []approvals.BulkUser{{ID: "u1", UPN: "adele.vance@contoso.com", Line: 2}, {ID: "u2", UPN: "megan.bowen@contoso.com", Line: 3},
				{ID: "u3", UPN: "alex.wilber@contoso.com", Line: 5}},
			Refused: []approvals.BulkRefusal{{Line: 4, Value: "breakglass@contoso.onmicrosoft.com", Why: "breakglass@contoso.onmicrosoft.com is a protected account (emergency access); mfabot never changes it"}}},
			TAP: &approvals.TAPPlan{Lifetime: time.Hour, OneTime: true, Holder: "cli-0a1b2c"}},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
	}
	tap := approvals.Request{
		ID: "R-2T8PXN", Kind: approvals.KindReset, Requester: ann, Reason: "new phone",
		Target: approvals.Target{Type: "user", ID: "u-adele", Name: "adele.vance@contoso.com"},
		Preview: approvals.Preview{Methods: []approvals.Method{{ID: "a1", Type: "microsoftAuthenticator", Detail: "iPhone 15", Deletable: true}},
			TAP: &approvals.TAPPlan{Lifetime: time.Hour, OneTime: true}},
		CreatedAt: start, ExpiresAt: start.Add(time.Hour),
	}
	approvedBy := []approvals.Decision{{Actor: ben, At: start.Add(2 * time.Minute)}}
	out := map[string]*approvals.Request{}
	set := func(name string, base approvals.Request, f func(r *approvals.Request)) {
		r := base
		f(&r)
		out[name] = &r
	}
	set("reset-bulk-pending", bulk, func(r *approvals.Request) { r.State = approvals.StatePending })
	set("reset-bulk-running", bulk, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done = approvals.StateRunning, approvedBy, 3, 1
	})
	set("reset-bulk-partly-failed", bulk, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.Failed, r.ClosedAt = approvals.StatePartlyFailed, approvedBy, 3, 1, 2, start.Add(9*time.Minute)
	})
	set("reset-bulk-succeeded", bulk, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.ClosedAt = approvals.StateSucceeded, approvedBy, 3, 3, start.Add(9*time.Minute)
	})
	set("reset-tap-pending", tap, func(r *approvals.Request) { r.State = approvals.StatePending })
	set("reset-tap-succeeded", tap, func(r *approvals.Request) {
		r.State, r.Approvals, r.Total, r.Done, r.ClosedAt = approvals.StateSucceeded, approvedBy, 4, 4, start.Add(3*time.Minute)
	})
	items := map[string][]approvals.Item{
		"reset-bulk-partly-failed": {
			{Seq: 2, Op: approvals.OpResetUser, UserName: "megan.bowen@contoso.com", State: approvals.ItemFailed,
				Error: "reset done (2 method(s) deleted, sessions revoked), but no Temporary Access Pass: Graph refused a Temporary Access Pass: the tenant's Temporary Access Pass policy is off or does not include this user"},
			{Seq: 3, Op: approvals.OpResetUser, UserName: "alex.wilber@contoso.com", State: approvals.ItemFailed,
				Error: "delete fido2 YubiKey 5: Graph denied access: mfabot needs the application permission UserAuthenticationMethod.ReadWrite.All with admin consent"},
		},
		"reset-tap-succeeded": {
			{Seq: 1, Op: approvals.OpDeleteMethod, Arg: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod|a1|microsoftAuthenticator iPhone 15", State: approvals.ItemDone},
			{Seq: 2, Op: approvals.OpRevoke, State: approvals.ItemDone},
			{Seq: 3, Op: approvals.OpVerify, State: approvals.ItemDone},
			{Seq: 4, Op: approvals.OpTAP, State: approvals.ItemDone, Result: "Temporary Access Pass issued (valid 1 h, usable once, until 2026-11-22T10:03:00Z) and handed to slack:UANN by an ephemeral Slack message"},
		},
	}
	return out, items
}

func TestBulkCardGolden(t *testing.T) {
	t.Parallel()
	rs, items := bulkCardRequests()
	now := start.Add(30 * time.Minute)
	for name, r := range rs {
		t.Run(name, func(t *testing.T) {
			c := commands.RequestCard(r, items[name], now)
			golden(t, "card-"+name, c)
			says(t, &c, "Requested by: Ann (slack)")
			if pending := r.State == approvals.StatePending; pending != (len(c.Buttons) == 2) {
				t.Errorf("state %s has buttons %+v", r.State, c.Buttons)
			}
			if (r.State == approvals.StateRunning || r.State.Final() && r.Total > 0) != (c.Progress != nil) {
				t.Errorf("state %s progress %+v", r.State, c.Progress)
			}
		})
	}
}

// TestBulkCardSays: what the bulk cards must say whatever the wording elsewhere: the
// refused rows with why, where the passes go, the failed users with Graph's reason and
// how to ask again for them; never "nothing was changed" when resets were done.
func TestBulkCardSays(t *testing.T) {
	t.Parallel()
	rs, items := bulkCardRequests()
	now := start.Add(30 * time.Minute)
	card := func(name string) bot.Message { return commands.RequestCard(rs[name], items[name], now) }
	pending := card("reset-bulk-pending")
	says(t, &pending, "Users: 3 (from users.csv)", "line 4: breakglass@contoso.onmicrosoft.com — breakglass@contoso.onmicrosoft.com is a protected account",
		"written to a file (mode 0600) by the requester's mfabot CLI", "megan.bowen@contoso.com")
	failed := card("reset-bulk-partly-failed")
	says(t, &failed, "1 of 3 users done; 2 failed", "megan.bowen@contoso.com — reset done (2 method(s) deleted, sessions revoked), but no Temporary Access Pass",
		"alex.wilber@contoso.com — delete fido2 YubiKey 5: Graph denied access", "mfabot request show R-5B7CKD --failed --csv")
	if strings.Contains(failed.PlainText(), "nothing was changed") {
		t.Errorf("a partly done bulk reset says nothing was changed:\n%s", failed.PlainText())
	}
	tapDone := card("reset-tap-succeeded")
	says(t, &tapDone, "A Temporary Access Pass (valid 1 h, usable once) was shown to Ann (slack) alone.")
}
