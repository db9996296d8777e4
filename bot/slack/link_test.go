package slack_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// emailResolver is a UserResolver over a fixed set of Entra users by e-mail; err, when
// set, is every lookup's answer. It records the e-mails asked for.
type emailResolver struct {
	users map[string]approvals.User
	err   error

	mu    sync.Mutex
	asked []string
}

func (r *emailResolver) ResolveUser(_ context.Context, ref string) (approvals.User, error) {
	r.mu.Lock()
	r.asked = append(r.asked, ref)
	r.mu.Unlock()
	if r.err != nil {
		return approvals.User{}, r.err
	}
	if u, ok := r.users[strings.ToLower(ref)]; ok {
		return u, nil
	}
	return approvals.User{}, approvals.Errorf(approvals.ENOTFOUND, "no Entra user %s", ref)
}

func (r *emailResolver) lookups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.asked...)
}

// TestEntraLinkByEmail: with LinkByEmail the actor of a command or a click carries the
// Entra id of the user its confirmed Slack profile e-mail resolves to; when users.info or
// the Entra lookup fails the actor is unlinked (EntraID empty), and an explicit UserMap
// entry wins over the e-mail without any lookup.
func TestEntraLinkByEmail(t *testing.T) {
	t.Parallel()
	entra := map[string]approvals.User{
		"bob@contoso.com": {ID: "oid-bob", UPN: "bob@contoso.com"},
		// Ann's profile e-mail resolves too, to someone the explicit map does not name.
		"ann@contoso.com": {ID: "oid-ann-by-mail", UPN: "ann@contoso.com"},
	}
	bob := slacktest.User{ID: "UBOB", Name: "bob", RealName: "Bob Builder", Email: "Bob@contoso.com"}
	ghost := slacktest.User{ID: "UGHOST", Name: "ghost"} // not a member: users.info fails
	tests := []struct {
		name        string
		user        slacktest.User // zero: the fixture's Ann, mapped to oid-ann
		click       bool
		resolverErr error
		want        approvals.Actor
		wantLookups []string
		wantInfos   int
	}{
		{"OKLinkedByEmail", bob, false, nil,
			approvals.Actor{Platform: "slack", ID: "UBOB", Name: "Bob Builder", EntraID: "oid-bob"}, []string{"Bob@contoso.com"}, 1},
		{"OKLinkedByEmailOnClick", bob, true, nil,
			approvals.Actor{Platform: "slack", ID: "UBOB", Name: "Bob Builder", EntraID: "oid-bob"}, []string{"Bob@contoso.com"}, 1},
		{"OKUserMapWinsOverEmail", slacktest.User{}, false, nil,
			approvals.Actor{Platform: "slack", ID: "UANN", Name: "ann", EntraID: "oid-ann"}, nil, 0},
		// A failed lookup is never an unlinked actor: it carries why, and the core refuses it.
		{"LinkErrorWhenEntraFails", bob, false, approvals.Errorf(approvals.EUPSTREAM, "graph unavailable"),
			approvals.Actor{Platform: "slack", ID: "UBOB", Name: "Bob Builder", LinkError: "Microsoft Graph did not answer"}, []string{"Bob@contoso.com"}, 1},
		{"UnlinkedWhenNotInEntra", bob, false, approvals.Errorf(approvals.ENOTFOUND, "no such user"),
			approvals.Actor{Platform: "slack", ID: "UBOB", Name: "Bob Builder"}, []string{"Bob@contoso.com"}, 1},
		{"LinkErrorWhenUsersInfoFails", ghost, false, nil,
			approvals.Actor{Platform: "slack", ID: "UGHOST", Name: "ghost", LinkError: "Slack did not answer users.info"}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &emailResolver{users: entra, err: tt.resolverErr}
			f := newFixtureWith(t, newRecorder(nil), res, func(c *slack.Config) { c.LinkByEmail = true })
			f.slack.AddUser(bob)
			u := tt.user
			if u.ID == "" {
				u = f.ann
			}
			ctx := context.Background()
			if tt.click {
				ref, err := f.ad.Post(ctx, approvalCard())
				if err != nil {
					t.Fatal(err)
				}
				p, err := f.slack.Press(u, ref.Channel, ref.MessageID, "Approve")
				if err != nil {
					t.Fatal(err)
				}
				if ans, err := f.sender.Interaction(ctx, p.Payload()); err != nil || ans.Status != 200 {
					t.Fatalf("press: %v %v", ans, err)
				}
			} else if ans, err := f.sender.Command(ctx, f.slack.Command(u, slacktest.Channel, "pending")); err != nil || ans.Status != 200 {
				t.Fatalf("command: %v %v", ans, err)
			}
			ev := f.waitEvent(t)
			if diff := cmp.Diff(tt.want, ev.Actor); diff != "" {
				t.Fatalf("actor (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLookups, res.lookups()); diff != "" {
				t.Fatalf("Entra lookups (-want +got):\n%s", diff)
			}
			if n := len(f.slack.Calls("users.info")); n != tt.wantInfos {
				t.Fatalf("%d users.info calls, want %d", n, tt.wantInfos)
			}
		})
	}
}
