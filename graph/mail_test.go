package graph_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// A mail sent through the real client arrives at graphtest as Graph documents it: plain
// text, one recipient, from the configured mailbox, not saved to Sent Items.
func TestMailboxSendMail(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 30, graphtest.Options{})
	srv.Tenant().SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	ctx := context.Background()
	mb := c.Mailbox(graphtest.AdeleUPN)
	if err := mb.SendMail(ctx, "diego.siciliani@contoso.com", "Register for MFA", "Please register at https://aka.ms/mfasetup <b>now</b>"); err != nil {
		t.Fatal(err)
	}
	got := srv.MailsTo("diego.siciliani@contoso.com")
	if len(got) != 1 || got[0].From != graphtest.AdeleUPN || got[0].ContentType != "text" && got[0].ContentType != "Text" ||
		got[0].Body != "Please register at https://aka.ms/mfasetup <b>now</b>" || got[0].SaveToSent {
		t.Fatalf("mails = %+v", got)
	}

	tests := []struct {
		name, from, to string
		code, says     string
	}{
		{"ErrNoMailbox", "nobody@contoso.com", "x@contoso.com", approvals.ENOTFOUND, "the mailbox nobody@contoso.com cannot send"},
		{"ErrNotAnAddress", graphtest.AdeleUPN, "diego", approvals.EINVALID, "not a mail address"},
		{"ErrNoSender", "", "x@contoso.com", approvals.EINVALID, "notify.mail_from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Mailbox(tt.from).SendMail(ctx, tt.to, "s", "b")
			if approvals.ErrorCode(err) != tt.code || !strings.Contains(approvals.ErrorMessage(err), tt.says) {
				t.Fatalf("err = %v (%s)", err, approvals.ErrorCode(err))
			}
		})
	}
	srv.Tenant().SetGranted(graphtest.DefaultGranted())
	err := mb.SendMail(ctx, "diego.siciliani@contoso.com", "s", "b")
	if !errors.Is(err, graph.ErrAccessDenied) || !strings.Contains(approvals.ErrorMessage(err), "Mail.Send") {
		t.Fatalf("without Mail.Send: %v", err)
	}
}

// One mailbox sends at most 30 messages a minute: the client paces itself (in fake time)
// and graphtest, which enforces Exchange's limit, never answers 429.
func TestMailboxPacedUnderExchangeLimit(t *testing.T) {
	t.Parallel()
	clk := newSkipClock()
	c, srv := startClock(t, 30, graphtest.Options{Limits: graphtest.Limits{Mail: 30, MailWindow: time.Minute}}, clk)
	srv.Tenant().SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	start := clk.Now()
	for i := range 75 {
		if err := c.Mailbox(graphtest.AdeleUPN).SendMail(context.Background(), fmt.Sprintf("u%d@contoso.com", i), "s", "b"); err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Stats(); st.Throttled != 0 {
		t.Fatalf("%d × 429", st.Throttled)
	}
	if took := clk.Now().Sub(start); took < 2*time.Minute {
		t.Fatalf("75 messages took %s of fake time; the limit needs at least 2 minutes", took)
	}
}

// A sendMail that reached Graph but whose answer was a gateway timeout (504) may have gone
// out: it is not sent again. A 503, which Graph documents as not run, is repeated.
func TestMailboxNeverSendsTwice(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		status int
		mails  int
		fails  bool
	}{
		{"GatewayTimeoutNotRepeated", http.StatusGatewayTimeout, 1, true},
		{"UnavailableRepeated", http.StatusServiceUnavailable, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tenant := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: 30})
			tenant.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
			srv := graphtest.Start(t, tenant, graphtest.Options{})
			base := srv.HTTPClient()
			// The first sendMail: a 504 after Graph sent it, or a 503 before it ran.
			var once sync.Once
			rt := roundTrip(func(r *http.Request) (*http.Response, error) {
				var fake *http.Response
				if strings.HasSuffix(r.URL.Path, "/sendMail") {
					once.Do(func() {
						fake = &http.Response{StatusCode: tt.status, Header: http.Header{"Content-Type": {"application/json"}},
							Body: io.NopCloser(strings.NewReader(`{"error":{"code":"UnknownError","message":"gateway"}}`)), Request: r}
					})
				}
				if fake != nil && tt.status == http.StatusServiceUnavailable {
					return fake, nil
				}
				resp, err := base.Transport.RoundTrip(r)
				if fake != nil {
					resp.Body.Close()
					return fake, nil
				}
				return resp, err
			})
			cred, err := graph.NewCredential(graph.CredentialOptions{TenantID: tenant.ID(), ClientID: srv.ClientID(),
				ClientSecret: srv.ClientSecret(), AuthorityHost: srv.AuthorityURL(), HTTPClient: base})
			if err != nil {
				t.Fatal(err)
			}
			c, err := graph.New(graph.Config{TenantID: tenant.ID(), ClientID: srv.ClientID(), Credential: cred,
				BaseURL: srv.URL(), HTTPClient: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			graph.SetClock(c, newSkipClock())
			err = c.Mailbox(graphtest.AdeleUPN).SendMail(context.Background(), "diego.siciliani@contoso.com", "s", "b")
			if (err != nil) != tt.fails {
				t.Fatalf("err = %v", err)
			}
			if n := len(srv.MailsTo("diego.siciliani@contoso.com")); n != tt.mails {
				t.Fatalf("%d mails arrived, want %d", n, tt.mails)
			}
		})
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// NotRegistered streams exactly the report entries of users without MFA, under the
// reports limit.
func TestNotRegistered(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 2500, graphtest.Options{Limits: graphtest.DocumentedLimits()})
	want := map[string]bool{}
	for _, u := range srv.Tenant().Users() {
		if r, ok := srv.Tenant().Registration(u.ID); ok && !r.IsMfaRegistered {
			want[u.ID] = true
		}
	}
	got := map[string]bool{}
	err := c.NotRegistered(context.Background(), func(page []approvals.Registration) error {
		for _, r := range page {
			if r.IsMfaRegistered || got[r.UserID] {
				t.Fatalf("%s listed registered or twice", r.UPN)
			}
			got[r.UserID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) < 400 {
		t.Fatalf("streamed %d, the tenant has %d without MFA", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("%s missing", id)
		}
	}
	if st := srv.Stats(); st.Throttled != 0 {
		t.Fatalf("%d × 429 under the reports limit", st.Throttled)
	}
	srv.Tenant().SetLicensed(false)
	err = c.NotRegistered(context.Background(), func([]approvals.Registration) error { return nil })
	if !graph.IsLicenceError(err) || !strings.Contains(approvals.ErrorMessage(err), "P1 or P2") {
		t.Fatalf("unlicensed: %v", err)
	}
}
