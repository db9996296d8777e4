package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestDemoOperations drives the demo as its people do, through the console's HTTP form,
// against the generated tenant: a full reset of a push-default user leaves only the
// password, and a selective reset of another removes the Authenticator only, moving the
// default to the phone the user keeps.
func TestDemoOperations(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := startDemo(ctx, demoOptions{Addr: "127.0.0.1:0", Users: 300, Seed: 21, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	send := func(as, text string, button bool) {
		t.Helper()
		form := url.Values{"as": {as}, "text": {text}}
		if button {
			form.Set("button", "true")
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
	// request asks as Ann, approves as Ben and waits for the request to end.
	request := func(text, upn string) *approvals.Request {
		t.Helper()
		send("ann", text, false)
		var id string
		waitFor(t, "the request for "+upn, func() bool {
			rs, _ := d.App.DB.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
			for _, r := range rs {
				if r.Target.Name == upn {
					id = r.ID
				}
			}
			return id != ""
		})
		send("ben", "approve "+id, true)
		signInDemo(t, d, "ben", id) // the demo asks for step-up for reset
		var end *approvals.Request
		waitFor(t, "the end of "+id, func() bool {
			end, _ = d.App.DB.Request(ctx, id)
			return end.State.Final()
		})
		return end
	}
	pick := func(want func(ms []graphtest.Method) bool, not string) graphtest.User {
		for _, u := range d.Tenant.Users() {
			if u.UserPrincipalName != not && d.Tenant.DefaultMethod(u.ID) == graphtest.DefaultPush && want(d.Tenant.Methods(u.ID)) {
				return u
			}
		}
		t.Fatal("the generated tenant has no such user")
		return graphtest.User{}
	}
	has := func(ms []graphtest.Method, typ graphtest.MethodType) bool {
		for _, m := range ms {
			if m.Type == typ {
				return true
			}
		}
		return false
	}

	full := pick(func(ms []graphtest.Method) bool { return len(ms) >= 3 }, "")
	if r := request("/mfa reset "+full.UserPrincipalName+" lost phone", full.UserPrincipalName); r.State != approvals.StateSucceeded {
		t.Fatalf("full reset of a push-default user: %s %s", r.State, r.Error)
	}
	if ms := d.Tenant.Methods(full.ID); len(ms) != 1 || ms[0].Type != graphtest.MethodPassword {
		t.Fatalf("%s still has %+v", full.UserPrincipalName, ms)
	}

	sel := pick(func(ms []graphtest.Method) bool {
		return has(ms, graphtest.MethodAuthenticator) && has(ms, graphtest.MethodPhone)
	}, full.UserPrincipalName)
	if r := request("/mfa reset "+sel.UserPrincipalName+" --only authenticator phone replaced", sel.UserPrincipalName); r.State != approvals.StateSucceeded {
		t.Fatalf("selective reset: %s %s", r.State, r.Error)
	}
	ms := d.Tenant.Methods(sel.ID)
	if has(ms, graphtest.MethodAuthenticator) || !has(ms, graphtest.MethodPhone) {
		t.Fatalf("after --only authenticator %s has %+v", sel.UserPrincipalName, ms)
	}
	if def := d.Tenant.DefaultMethod(sel.ID); def == graphtest.DefaultPush || def == graphtest.DefaultNone {
		t.Fatalf("the default is still %s", def)
	}
}
