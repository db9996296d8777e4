package graphtest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/graph/graphtest"
)

func mailBody(to string) string {
	return fmt.Sprintf(`{"message":{"subject":"Register for MFA","body":{"contentType":"Text","content":"Go to https://aka.ms/mfasetup"},`+
		`"toRecipients":[{"emailAddress":{"address":%q}}]},"saveToSentItems":false}`, to)
}

// sendMail from a mailbox: 202 and the message recorded; the documented refusals for a
// sender without a mailbox, without the permission, and a message without recipients.
func TestSendMail(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 40})
	tenant.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	guest, err := tenant.AddUser(graphtest.User{UserPrincipalName: "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com", Mail: "pat@fabrikam.com", UserType: graphtest.Guest, AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	noMail, err := tenant.AddUser(graphtest.User{UserPrincipalName: "svc-backup@contoso.com", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tenant, graphtest.Options{})
	tests := []struct {
		name, sender, body string
		status             int
		code               string
	}{
		{"OK", graphtest.AdeleUPN, mailBody("diego.siciliani@contoso.com"), 202, ""},
		{"ErrUnknownSender", "nobody@contoso.com", mailBody("diego.siciliani@contoso.com"), 404, "ErrorInvalidUser"},
		{"ErrGuestHasNoMailbox", guest.ID, mailBody("diego.siciliani@contoso.com"), 404, "MailboxNotEnabledForRESTAPI"},
		{"ErrNoMailAddress", noMail.UserPrincipalName, mailBody("diego.siciliani@contoso.com"), 404, "MailboxNotEnabledForRESTAPI"},
		{"ErrNoRecipient", graphtest.AdeleUPN, `{"message":{"subject":"x","toRecipients":[]}}`, 400, "ErrorInvalidRecipients"},
		{"ErrBadRecipient", graphtest.AdeleUPN, mailBody("not-an-address"), 400, "ErrorInvalidRecipients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := c.do("POST", "/v1.0/users/"+tt.sender+"/sendMail", tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %v", st, tt.status, body)
			}
			if tt.code != "" {
				if got := body["error"].(map[string]any)["code"]; got != tt.code {
					t.Fatalf("code %v, want %s", got, tt.code)
				}
			}
		})
	}
	mails := c.s.MailsTo("DIEGO.SICILIANI@contoso.com")
	if len(mails) != 1 || mails[0].From != graphtest.AdeleUPN || mails[0].Subject != "Register for MFA" ||
		mails[0].ContentType != "Text" || mails[0].SaveToSent {
		t.Fatalf("mails = %+v", mails)
	}
	if n := c.s.Count(graphtest.OpSendMail, mustUser(t, tenant, graphtest.AdeleUPN).ID); n != 1 {
		t.Fatalf("recorded %d sends from Adele", n)
	}

	tenant.SetGranted(graphtest.DefaultGranted())
	if st, _, body := c.do("POST", "/v1.0/users/"+graphtest.AdeleUPN+"/sendMail", mailBody("diego.siciliani@contoso.com")); st != 403 {
		t.Fatalf("without Mail.Send: %d %v", st, body)
	}
}

// A mailbox sends at most 30 messages a minute (Exchange Online); the 31st is a 429 with
// Retry-After, and another mailbox is not held back.
func TestSendMailRateLimitPerMailbox(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 40})
	tenant.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	var mu sync.Mutex
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newClient(t, tenant, graphtest.Options{Limits: graphtest.Limits{Mail: 30, MailWindow: time.Minute}, Now: clock})
	for i := range 30 {
		if st, _, body := c.do("POST", "/v1.0/users/"+graphtest.AdeleUPN+"/sendMail", mailBody(fmt.Sprintf("u%d@contoso.com", i))); st != 202 {
			t.Fatalf("message %d: %d %v", i+1, st, body)
		}
	}
	st, h, _ := c.do("POST", "/v1.0/users/"+graphtest.AdeleUPN+"/sendMail", mailBody("late@contoso.com"))
	if st != 429 || h.Get("Retry-After") != "60" {
		t.Fatalf("31st message: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	if st, _, _ := c.do("POST", "/v1.0/users/"+graphtest.MeganUPN+"/sendMail", mailBody("x@contoso.com")); st != 202 {
		t.Fatalf("another mailbox was held back: %d", st)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if st, _, _ := c.do("POST", "/v1.0/users/"+graphtest.AdeleUPN+"/sendMail", mailBody("late@contoso.com")); st != 202 {
		t.Fatalf("a minute later: %d", st)
	}
}

func mustUser(t *testing.T, tenant *graphtest.Tenant, ref string) graphtest.User {
	t.Helper()
	u, ok := tenant.User(ref)
	if !ok {
		t.Fatalf("no user %s", ref)
	}
	return u
}
