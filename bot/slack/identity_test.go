package slack_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// directory is a func-field UserResolver that counts its calls.
type directory struct {
	mu    sync.Mutex
	calls []string
	users map[string]approvals.User // by e-mail
	err   error
}

func (d *directory) ResolveUser(_ context.Context, ref string) (approvals.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, ref)
	if d.err != nil {
		return approvals.User{}, d.err
	}
	u, ok := d.users[strings.ToLower(ref)]
	if !ok {
		return approvals.User{}, approvals.Errorf(approvals.ENOTFOUND, "no user %s", ref)
	}
	return u, nil
}

func (d *directory) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// TestLinkByEmail: with e-mail linking on, the actor's Entra id comes from the confirmed
// Slack profile e-mail, is cached for the TTL, and stays empty when the e-mail is
// unconfirmed, unknown in Entra or the lookup fails; the explicit map needs no lookup.
func TestLinkByEmail(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	dir := &directory{users: map[string]approvals.User{"bob@contoso.com": {ID: "oid-bob", UPN: "bob@contoso.com"}}}
	f := newFixtureWith(t, newRecorder(nil), dir, func(c *slack.Config) {
		c.LinkByEmail, c.Clock, c.LinkTTL = true, clk, 15*time.Minute
	})
	ctx := context.Background()
	bob := slacktest.User{ID: "UBOB", Name: "bob", RealName: "Bob Approver", Email: "Bob@contoso.com"}
	eve := slacktest.User{ID: "UEVE", Name: "eve", RealName: "Eve", Email: "bob@contoso.com", EmailUnconfirmed: true}
	nobody := slacktest.User{ID: "UNOBODY", Name: "nobody", Email: "nobody@contoso.com"}
	for _, u := range []slacktest.User{bob, eve, nobody} {
		f.slack.AddUser(u)
	}
	actor := func(u slacktest.User) approvals.Actor {
		t.Helper()
		if _, err := f.sender.Command(ctx, f.slack.Command(u, slacktest.Channel, "pending")); err != nil {
			t.Fatal(err)
		}
		return f.waitEvent(t).Actor
	}
	infos := func() int { return len(f.slack.Calls("users.info")) }

	if a := actor(bob); a.EntraID != "oid-bob" || a.Name != "Bob Approver" || a.ID != "UBOB" {
		t.Fatalf("bob = %+v", a)
	}
	if a := actor(bob); a.EntraID != "oid-bob" || infos() != 1 || dir.count() != 1 {
		t.Fatalf("second click: %+v, %d users.info, %d Entra lookups; want the cached link", a, infos(), dir.count())
	}
	clk.Add(16 * time.Minute)
	if a := actor(bob); a.EntraID != "oid-bob" || infos() != 2 {
		t.Fatalf("after the TTL: %+v with %d users.info, want a fresh lookup", a, infos())
	}
	if a := actor(eve); a.EntraID != "" {
		t.Fatalf("an unconfirmed profile e-mail was trusted: %+v", a)
	}
	if a := actor(nobody); a.EntraID != "" {
		t.Fatalf("nobody = %+v", a)
	}
	if a := actor(f.ann); a.EntraID != "oid-ann" || infos() != 4 {
		t.Fatalf("mapped ann = %+v with %d users.info; the explicit map needs no lookup", a, infos())
	}

	// A failing directory leaves the link empty and is not cached.
	dir.mu.Lock()
	dir.err = approvals.Errorf(approvals.EUPSTREAM, "graph throttled")
	dir.mu.Unlock()
	clk.Add(16 * time.Minute)
	if a := actor(bob); a.EntraID != "" {
		t.Fatalf("with Entra failing: %+v", a)
	}
	dir.mu.Lock()
	dir.err = nil
	dir.mu.Unlock()
	if a := actor(bob); a.EntraID != "oid-bob" {
		t.Fatalf("a failure was cached: %+v", a)
	}
}

func TestLinkByEmailNeedsResolver(t *testing.T) {
	t.Parallel()
	_, err := slack.New(slack.Config{BotToken: slacktest.BotToken, SigningSecret: "s", Channel: slacktest.Channel, LinkByEmail: true}, newRecorder(nil), nil)
	if approvals.ErrorCode(err) != approvals.EINVALID || !strings.Contains(err.Error(), "LinkByEmail") {
		t.Fatalf("err = %v", err)
	}
}
