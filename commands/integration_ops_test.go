package commands_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// resetThrough asks for a reset as Ann, approves it as Cleo, runs it and returns the final
// Slack card.
func (s *stack) resetThrough(t *testing.T, text string) bot.Message {
	t.Helper()
	resp := s.do(ann, text)
	if resp.Card == nil {
		t.Fatalf("%s answered %+v", text, resp.Reply)
	}
	id := resp.Card.RequestID
	if r := s.do(cleo, "approve "+id); r.Reply == nil || !strings.Contains(r.Reply.Title, "Approved") {
		t.Fatalf("approve %s: %+v", id, r.Reply)
	}
	s.run(t)
	return s.slack.card(t, id)
}

// The demo's reset works for every kind of generated user, push-default ones first among
// them: whatever the methods and the default, nothing but the password is left.
func TestIntegrationResetGeneratedUsers(t *testing.T) {
	t.Parallel()
	s := newStack(t, 400)
	byDefault := map[string]int{}
	n := 0
	for _, u := range s.tenant.Users() {
		ms := s.tenant.Methods(u.ID)
		def := s.tenant.DefaultMethod(u.ID)
		if len(ms) < 3 || byDefault[def] >= 6 || strings.Contains(u.UserPrincipalName, "breakglass") {
			continue
		}
		byDefault[def]++
		n++
		card := s.resetThrough(t, "reset "+u.UserPrincipalName+" sample")
		says(t, &card, "Succeeded", "nothing else is left", fmt.Sprintf("Deleted (%d)", len(ms)-1))
		if left := s.tenant.Methods(u.ID); len(left) != 1 || left[0].Type != graphtest.MethodPassword {
			t.Fatalf("%s (default %s) still has %+v", u.UserPrincipalName, def, left)
		}
		if s.tenant.RevokedAt(u.ID).IsZero() {
			t.Fatalf("%s: sessions not revoked", u.UserPrincipalName)
		}
	}
	if byDefault[graphtest.DefaultPush] < 3 || n < 8 {
		t.Fatalf("sampled %d users by default %v; the sample must hold push-default users", n, byDefault)
	}
}

// Every character Entra allows in a name, through the parser, the resolver against
// graphtest and the card renderers.
func TestIntegrationNames(t *testing.T) {
	t.Parallel()
	s := newStack(t, 60)
	dom := s.tenant.Domain()
	tests := []struct {
		name, upn, display, typed string
	}{
		{"Apostrophe", "sean.o'brien@" + dom, "Seán O'Brien", "sean.o'brien@" + dom},
		{"ApostropheQuoted", "d'arcy@" + dom, "D'Arcy", `"d'arcy@` + dom + `"`},
		{"PlusAddressing", "ann+admin@" + dom, "Ann Plus", "ann+admin@" + dom},
		{"Hyphens", "mary-jane.watson-parker@" + dom, "Mary-Jane", "mary-jane.watson-parker@" + dom},
		{"Symbols", "jo!#^~_x@" + dom, "Jo Symbols", "jo!#^~_x@" + dom},
		{"Guest", "jane_fabrikam.com#EXT#@" + s.tenant.InitialDomain(), "Jane (Fabrikam)", "jane_fabrikam.com#EXT#@" + s.tenant.InitialDomain()},
		{"NonASCIIDisplayName", "zoe.muller@" + dom, "Zoë Müller-Łukasiewicz", "zoe.muller@" + dom},
		{"MailtoLink", "ola.nordmann@" + dom, "Ola Nordmann", "<mailto:ola.nordmann@" + dom + "|ola.nordmann@" + dom + ">"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.tenant.AddUser(graphtest.User{UserPrincipalName: tt.upn, DisplayName: tt.display, AccountEnabled: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.tenant.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodAuthenticator, DisplayName: "iPhone"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.tenant.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodPhone, PhoneType: graphtest.PhoneMobile, PhoneNumber: "+1 4255550177"}); err != nil {
				t.Fatal(err)
			}
			says(t, s.do(ann, "status "+tt.typed).Reply, "MFA status of "+tt.display, tt.upn)
			card := s.resetThrough(t, "reset "+tt.typed+" lost phone")
			says(t, &card, "Reset MFA for "+tt.upn, "Succeeded")
			if left := s.tenant.Methods(u.ID); len(left) != 1 {
				t.Fatalf("%s still has %+v", tt.upn, left)
			}
		})
	}
}

// revoke signs one user out, as its own approved request; their methods stay.
func TestIntegrationRevokeUser(t *testing.T) {
	t.Parallel()
	s := newStack(t, 60)
	adele, _ := s.tenant.User(graphtest.AdeleUPN)
	before := len(s.tenant.Methods(adele.ID))
	resp := s.do(ann, "revoke "+graphtest.AdeleUPN+" laptop stolen")
	if resp.Card == nil {
		t.Fatalf("revoke answered %+v", resp.Reply)
	}
	says(t, resp.Card, "Revoke sign-in sessions of "+graphtest.AdeleUPN, "Their methods stay")
	says(t, s.do(cleo, "approve "+resp.Card.RequestID).Reply, "Approved")
	s.run(t)
	card := s.slack.card(t, resp.Card.RequestID)
	says(t, &card, "Succeeded", "all sign-in sessions of "+graphtest.AdeleUPN+" are revoked")
	if s.tenant.RevokedAt(adele.ID).IsZero() || len(s.tenant.Methods(adele.ID)) != before {
		t.Fatal("revoke did not revoke, or deleted methods")
	}
}

// enforce says before approval what Entra will show, and after what it shows.
func TestIntegrationEnforceBecomes(t *testing.T) {
	t.Parallel()
	s := newStack(t, 60)
	resp := s.do(ann, "enforce "+graphtest.MeganUPN+" enabled pilot group")
	if resp.Card == nil {
		t.Fatalf("enforce answered %+v", resp.Reply)
	}
	says(t, resp.Card, "Entra will show enforced")
	says(t, resp.Reply, "Entra will show enforced")
	says(t, s.do(cleo, "approve "+resp.Card.RequestID).Reply, "Approved")
	s.run(t)
	card := s.slack.card(t, resp.Card.RequestID)
	says(t, &card, "is now enforced", "Entra turned it into enforced")
	megan, _ := s.tenant.User(graphtest.MeganUPN)
	if got := s.tenant.MFAState(megan.ID); got != approvals.MFAEnforced {
		t.Fatalf("Megan is %s", got)
	}
}

// A reset approved for someone who joined the protected group while it waited changes
// nothing.
func TestIntegrationProtectedAtExecution(t *testing.T) {
	t.Parallel()
	s := newStack(t, 60)
	megan, _ := s.tenant.User(graphtest.MeganUPN)
	resp := s.do(ann, "reset "+graphtest.MeganUPN)
	if resp.Card == nil {
		t.Fatalf("reset answered %+v", resp.Reply)
	}
	for _, g := range s.tenant.Groups() {
		if g.DisplayName == graphtest.GroupEmergencyAccess {
			if err := s.tenant.AddMember(g.ID, megan.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := len(s.tenant.Methods(megan.ID))
	says(t, s.do(cleo, "approve "+resp.Card.RequestID).Reply, "Approved")
	s.run(t)
	card := s.slack.card(t, resp.Card.RequestID)
	says(t, &card, "Failed", "member of the protected group "+graphtest.GroupEmergencyAccess, "nothing was changed")
	if len(s.tenant.Methods(megan.ID)) != before || !s.tenant.RevokedAt(megan.ID).IsZero() {
		t.Fatal("a protected account was changed")
	}
}
