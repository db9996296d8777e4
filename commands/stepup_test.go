package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// benLinked is Ben, linked to an Entra user: step-up needs to know whom to expect.
var benLinked = approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben", EntraID: "e-ben"}

// links is a func-field fake of commands.StepUp that records what it issued.
type links struct {
	mu     sync.Mutex
	issued []string // "actor request"
	err    error
}

func (l *links) Link(_ context.Context, a approvals.Actor, id string) (string, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return "", time.Time{}, l.err
	}
	l.issued = append(l.issued, a.Key()+" "+id)
	return "https://mfabot.contoso.com/stepup/one-time-token", start.Add(5 * time.Minute), nil
}

func stepUpFixture(t *testing.T, l *links) (*fixture, string) {
	t.Helper()
	o := fixtureOptions{stepUp: approvals.StepUp{Kinds: []approvals.Kind{approvals.KindReset}, Context: "c1"}}
	if l != nil {
		o.links = l
	}
	f := newFixture(t, o)
	f.dir.AddUser(approvals.User{ID: "e-ben", UPN: "ben@contoso.com", DisplayName: "Ben", Enabled: true})
	return f, f.request(t, "reset adele.vance@contoso.com lost her phone")
}

func TestStepUpLinkReply(t *testing.T) {
	t.Parallel()
	l := &links{}
	f, id := stepUpFixture(t, l)
	resp := f.press(benLinked, "approve "+id)
	says(t, resp.Reply, "Sign in to approve "+id, "fresh sign-in to Microsoft Entra ID with MFA", "Nothing is approved yet", "expires at 09:05 UTC")
	if resp.Public || len(resp.Reply.Buttons) != 1 || resp.Reply.Buttons[0].URL != "https://mfabot.contoso.com/stepup/one-time-token" || resp.Reply.Buttons[0].Command != "" {
		t.Fatalf("reply is not a private link: public %v, %+v", resp.Public, resp.Reply.Buttons)
	}
	golden(t, "reply-stepup", resp.Reply, id)
	if resp.Card == nil || !strings.Contains(resp.Card.PlainText(), "Waiting for approval") || len(resp.Card.Buttons) != 2 {
		t.Fatalf("card next to the link: %+v", resp.Card)
	}
	if len(l.issued) != 1 || l.issued[0] != "slack:UBEN "+id {
		t.Fatalf("links issued: %v", l.issued)
	}
	r, _ := f.svc.Request(context.Background(), id)
	if r.State != approvals.StatePending || len(r.Approvals) != 0 {
		t.Fatalf("the click approved: %+v", r)
	}
}

// The refusals of the two-person rule come first: no link for the requester or a
// non-approver; deny needs none.
func TestStepUpRefusalsBeforeLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		actor   approvals.Actor
		command string
		says    string
	}{
		{"ErrSelfApproval", ann, "approve", "you cannot approve or deny your own request"},
		{"ErrNotApprover", nina, "approve", "only members of"},
		{"ErrUnlinked", ben, "approve", "not linked to an Entra user"},
		{"OKDeny", benLinked, "deny", "Denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &links{}
			f, id := stepUpFixture(t, l)
			text := tt.command + " " + id
			if tt.command == "deny" {
				text += " wrong person"
			}
			says(t, f.press(tt.actor, text).Reply, tt.says)
			if len(l.issued) != 0 {
				t.Fatalf("a link was issued: %v", l.issued)
			}
		})
	}
}

func TestStepUpLinkFails(t *testing.T) {
	t.Parallel()
	t.Run("NotConfigured", func(t *testing.T) {
		t.Parallel()
		f, id := stepUpFixture(t, nil)
		resp := f.press(benLinked, "approve "+id)
		says(t, resp.Reply, "internal error (ref ")
	})
	t.Run("StoreFails", func(t *testing.T) {
		t.Parallel()
		f, id := stepUpFixture(t, &links{err: errors.New("database is locked")})
		says(t, f.press(benLinked, "approve "+id).Reply, "internal error (ref ")
	})
}

func TestStepUpPreviewAndApprove(t *testing.T) {
	t.Parallel()
	f, id := stepUpFixture(t, &links{})
	ctx := context.Background()
	m, ok := f.d.StepUpPreview(ctx, benLinked, id)
	if !ok || m.Tone != bot.TonePending {
		t.Fatalf("preview of a pending request: %v %+v", ok, m)
	}
	says(t, &m, "Approve "+id, "Approving deletes every authentication method except the password", "Sign in to Microsoft Entra ID as Ben, with MFA", "adele.vance@contoso.com")

	in := approvals.SignIn{ObjectID: "e-ben", TenantID: "t", AuthTime: start.Add(-time.Minute), ACRS: []string{"c1"}, TokenID: "uti"}
	wrong := in
	wrong.ObjectID = "e-ann"
	says(t, ptr(f.d.ApproveSignedIn(ctx, benLinked, id, wrong)), "Not allowed", "as another user")
	got := f.d.ApproveSignedIn(ctx, benLinked, id, in)
	if got.Tone != bot.ToneGood {
		t.Fatalf("approval: %+v", got)
	}
	says(t, &got, "Approved "+id, "Your sign-in to Microsoft Entra ID was verified", "It runs now")
	m, ok = f.d.StepUpPreview(ctx, benLinked, id)
	if ok {
		t.Fatal("preview of an approved request offers to approve")
	}
	says(t, &m, "Nothing to approve", id+" was already approved by Ben")
	says(t, ptr(f.d.ApproveSignedIn(ctx, benLinked, id, in)), "Not possible now", "already approved")
}

func ptr(m bot.Message) *bot.Message { return &m }
