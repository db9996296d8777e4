package bot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// mailer is a func-field fake of bot.Mailer that records every message.
type mailer struct {
	fail func(to string) error

	mu   sync.Mutex
	sent []string // "to|subject"
	body []string
}

func (m *mailer) SendMail(_ context.Context, to, subject, text string) error {
	if m.fail != nil {
		if err := m.fail(to); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, to+"|"+subject)
	m.body = append(m.body, text)
	return nil
}

type nudgeWords struct{}

func (nudgeWords) Nudge(r *approvals.Request, u approvals.User) bot.Message {
	return bot.Message{Title: "Please register for MFA", Text: "Hi " + u.UPN + ", go to https://aka.ms/mfasetup (" + r.Reason + ")"}
}

func unreachable(who string) error {
	return approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "%s is not reachable here", who)
}

// TestCourierNudge: the first channel that reaches the person carries the nudge; one that
// cannot is passed over with its reason kept; one that fails otherwise ends the delivery
// (the message may have gone); e-mail is the last resort.
func TestCourierNudge(t *testing.T) {
	t.Parallel()
	u := approvals.User{ID: "oid-1", UPN: "ann@contoso.com", Mail: "ann.mail@contoso.com"}
	tests := []struct {
		name        string
		slack       error
		teams       error
		mail        bool
		mailErr     error
		channel     string
		code        string
		says        []string
		unreachable bool
	}{
		{name: "OKSlack", channel: "slack", mail: true},
		{name: "OKTeamsWhenNotOnSlack", slack: unreachable("slack"), channel: "teams"},
		{name: "OKMailLast", slack: unreachable("slack"), teams: unreachable("teams"), mail: true, channel: bot.ChannelMail},
		{name: "ErrNobody", slack: unreachable("slack"), teams: unreachable("teams"), code: approvals.ENOTFOUND, unreachable: true,
			says: []string{"slack: slack is not reachable here", "teams: teams is not reachable here", "e-mail: no mailbox configured"}},
		{name: "ErrSlackFailsNoFallThrough", slack: approvals.Errorf(approvals.EUPSTREAM, "slack chat.postMessage"), mail: true,
			code: approvals.EUPSTREAM, says: []string{"slack failed: slack chat.postMessage"}},
		{name: "ErrMailFails", slack: unreachable("slack"), teams: unreachable("teams"), mail: true,
			mailErr: approvals.Errorf(approvals.EUPSTREAM, "Graph is throttling mfabot"), code: approvals.EUPSTREAM, says: []string{"e-mail failed: Graph is throttling mfabot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slack, teams := newPlatform("slack"), newPlatform("teams")
			slack.tell = func(context.Context, bot.Recipient, bot.Message) error { return tt.slack }
			teams.tell = func(context.Context, bot.Recipient, bot.Message) error { return tt.teams }
			o := bot.CourierOptions{}
			m := &mailer{fail: func(string) error { return tt.mailErr }}
			if tt.mail {
				o.Mail = m
			}
			c := bot.NewCourier([]bot.Platform{slack, teams}, nudgeWords{}, o)
			ch, err := c.Nudge(context.Background(), &approvals.Request{ID: "R-1", Reason: "deadline Friday"}, u)
			if ch != tt.channel || approvals.ErrorCode(err) != tt.code || errors.Is(err, approvals.ErrUnreachable) != tt.unreachable {
				t.Fatalf("Nudge = %q, %v", ch, err)
			}
			for _, s := range tt.says {
				if !strings.Contains(approvals.ErrorMessage(err), s) {
					t.Errorf("%q does not say %q", approvals.ErrorMessage(err), s)
				}
			}
			if tt.channel == bot.ChannelMail && (len(m.sent) != 1 || m.sent[0] != "ann.mail@contoso.com|Please register for MFA" ||
				!strings.Contains(m.body[0], "https://aka.ms/mfasetup")) {
				t.Fatalf("mail %v %v", m.sent, m.body)
			}
			if tt.channel == "slack" && (len(slack.told) != 1 || len(teams.told) != 0 || len(m.sent) != 0) {
				t.Fatalf("slack told %d, teams %d, mail %d", len(slack.told), len(teams.told), len(m.sent))
			}
			if len(slack.told) > 0 {
				to := slack.told[0].to
				if to.Email != u.Mail || to.UPN != u.UPN || to.EntraID != u.ID || to.Actor != nil {
					t.Fatalf("recipient %+v", to)
				}
			}
		})
	}
}

// TestCourierAnnounce: the affected user of a change is told on every channel that
// reaches them, e-mail included, at the mail address the directory has for them.
func TestCourierAnnounce(t *testing.T) {
	t.Parallel()
	slack, teams := newPlatform("slack"), newPlatform("teams")
	teams.tell = func(context.Context, bot.Recipient, bot.Message) error { return unreachable("teams") }
	m := &mailer{}
	users := lookup{"oid-1": {ID: "oid-1", UPN: "ann@contoso.com", Mail: "ann.mail@contoso.com", Enabled: true}}
	c := bot.NewCourier([]bot.Platform{slack, teams}, nudgeWords{}, bot.CourierOptions{Mail: m, Users: users})
	reached := c.Announce(context.Background(), approvals.Target{Type: "user", ID: "oid-1", Name: "ann@contoso.com"},
		bot.Message{Title: "Your sign-in sessions were revoked"})
	slices.Sort(reached)
	if strings.Join(reached, ",") != "mail,slack" {
		t.Fatalf("reached %v", reached)
	}
	if len(m.sent) != 1 || m.sent[0] != "ann.mail@contoso.com|Your sign-in sessions were revoked" {
		t.Fatalf("mail %v", m.sent)
	}
	if to := slack.told[0].to; to.Email != "ann.mail@contoso.com" || to.UPN != "ann@contoso.com" || to.EntraID != "oid-1" {
		t.Fatalf("slack recipient %+v", to)
	}
}

type lookup map[string]approvals.User

func (l lookup) ResolveUser(_ context.Context, ref string) (approvals.User, error) {
	if u, ok := l[ref]; ok {
		return u, nil
	}
	return approvals.User{}, approvals.Errorf(approvals.ENOTFOUND, "no user %s", ref)
}
