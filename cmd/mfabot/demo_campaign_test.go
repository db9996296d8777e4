package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestDemoCampaign walks the demo's campaign through its web console as a person would:
// the summary of Sales EMEA with its buttons, the nudge its button starts (approved by
// Ben, mailed from the helpdesk's mailbox to everyone unregistered), then the sign-out of
// exactly the unregistered members. The excluded service account is neither mailed nor
// signed out.
func TestDemoCampaign(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startDemo(ctx, demoOptions{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "demo.db"), Users: 500, Seed: 5,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	defer func() { cancel(); <-done }()

	post := func(as, text string, button bool, reason string) {
		t.Helper()
		form := url.Values{"as": {as}, "text": {text}}
		if button {
			form.Set("button", "true")
			form.Set("reason", reason)
		}
		req, _ := http.NewRequest(http.MethodPost, d.URL+"command", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", text, resp, err)
		}
		resp.Body.Close()
	}
	page := func() string {
		resp, err := http.Get(d.URL + "?as=ann")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var emea graphtest.Group
	for _, g := range d.Tenant.Groups() {
		if g.DisplayName == graphtest.GroupSalesEMEA {
			emea = g
		}
	}
	var unregistered []graphtest.User
	svc, _ := d.Tenant.User(demoServiceAccount)
	for _, id := range d.Tenant.TransitiveUsers(emea.ID) {
		u, _ := d.Tenant.User(id)
		if r, ok := d.Tenant.Registration(id); ok && !r.IsMfaRegistered && u.AccountEnabled && u.UserType == graphtest.Member && id != svc.ID {
			unregistered = append(unregistered, u)
		}
	}
	if len(unregistered) == 0 {
		t.Fatal("the demo's Sales EMEA has nobody to nudge")
	}

	post("ann", `/mfa summary "Sales EMEA"`, false, "")
	waitFor(t, "the summary of Sales EMEA with its buttons", func() bool {
		p := page()
		return strings.Contains(p, "MFA enrollment of Sales EMEA") && strings.Contains(p, "nudge "+emea.ID) &&
			strings.Contains(p, "revoke-group "+emea.ID+" --unregistered") && strings.Contains(p, "Excluded (summary.exclude)")
	})

	run := func(command, title string) *approvals.Request {
		t.Helper()
		post("ann", command, true, "register before Friday")
		var r *approvals.Request
		waitFor(t, "the request "+title, func() bool {
			rs, _ := d.App.DB.Requests(ctx, approvals.RequestFilter{Limit: 10})
			for _, x := range rs {
				if x.State == approvals.StatePending && strings.Contains(page(), title) {
					r = x
					return true
				}
			}
			return false
		})
		post("ben", "/mfa approve "+r.ID, false, "")
		waitFor(t, title+" to finish", func() bool {
			r, _ = d.App.DB.Request(ctx, r.ID)
			return r.State.Final()
		})
		if r.State != approvals.StateSucceeded || r.Done != len(unregistered) {
			t.Fatalf("%s: %s %d of %d (%d unregistered): %s", title, r.State, r.Done, r.Total, len(unregistered), r.Error)
		}
		return r
	}
	run("nudge "+emea.ID, "Nudge Sales EMEA to register for MFA")
	waitFor(t, "the nudge's card to count the mail", func() bool { return strings.Contains(page(), "by e-mail") })
	for _, u := range unregistered {
		if got := d.Graph.MailsTo(u.Mail); len(got) != 1 || got[0].From != demoMailbox {
			t.Errorf("%s got %d mails", u.Mail, len(got))
		}
	}
	run("revoke-group "+emea.ID+" --unregistered", "Revoke sessions of the unregistered members of Sales EMEA")
	for _, u := range unregistered {
		if n := d.Graph.Count(graphtest.OpRevoke, u.ID); n != 1 {
			t.Errorf("%s revoked %d times", u.UserPrincipalName, n)
		}
	}
	if n := d.Graph.Count(graphtest.OpRevoke, svc.ID); n != 0 {
		t.Errorf("the excluded service account was revoked %d times", n)
	}
	if got := d.Graph.MailsTo(demoServiceAccount); len(got) != 0 {
		t.Errorf("the excluded service account was mailed")
	}
}
