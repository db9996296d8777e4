package graph

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfabot/mfabot/approvals"
)

// Exchange Online lets one mailbox send 30 messages a minute (and 10,000 recipients a
// day); Graph's sendMail is held to the same.
const (
	DefaultMailLimit  = 30
	DefaultMailWindow = time.Minute
)

var opSendMail = op{what: "send mail", permission: "Mail.Send",
	notFound: "the mailbox %s cannot send: it does not exist or has no Exchange Online mailbox (notify.mail_from)"}

// Mailbox sends mail from one user's mailbox through Graph's sendMail (permission
// Mail.Send): nudges and notices to people no chat platform reaches.
type Mailbox struct {
	c    *Client
	from string
}

// Mailbox returns the mailbox of the user from (a UPN, mail address or object id).
func (c *Client) Mailbox(from string) Mailbox { return Mailbox{c: c, from: strings.TrimSpace(from)} }

// SendMail sends a plain-text message to one address. Messages from one mailbox are paced
// under Exchange Online's limit (30 a minute), and none is saved to Sent Items: mfabot's
// audit log records each one. A message is never sent twice: only the answers Graph
// documents as "not run" (429, 503) are repeated, never a timeout after which the mail may
// already be on its way. Within a nudge, the send is begun (approvals.BeginSend) once the
// mailbox's turn has come.
func (m Mailbox) SendMail(ctx context.Context, to, subject, text string) error {
	if m.from == "" {
		return approvals.Errorf(approvals.EINVALID, "no mailbox to send from is configured (notify.mail_from)")
	}
	if !strings.Contains(to, "@") {
		return approvals.Errorf(approvals.EINVALID, "%q is not a mail address", to)
	}
	msg := models.NewMessage()
	msg.SetSubject(&subject)
	body := models.NewItemBody()
	ct := models.TEXT_BODYTYPE
	body.SetContentType(&ct)
	body.SetContent(&text)
	msg.SetBody(body)
	addr := models.NewEmailAddress()
	addr.SetAddress(&to)
	rcpt := models.NewRecipient()
	rcpt.SetEmailAddress(addr)
	msg.SetToRecipients([]models.Recipientable{rcpt})
	req := users.NewItemSendMailPostRequestBody()
	req.SetMessage(msg)
	save := false
	req.SetSaveToSentItems(&save)
	// The mailbox's turn is taken before the send is begun (approvals.BeginSend), so that
	// shutting down while it waits leaves the message unsent rather than of unknown fate.
	w := m.c.mailbox(m.from)
	if err := w.wait(ctx, 1, false); err != nil {
		return mapError(opSendMail, m.from, err)
	}
	sctx, cancel, err := approvals.BeginSend(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := m.c.sdk.Users().ByUserId(m.from).SendMail().Post(withOnce(withPacing(sctx, w, 0)), req, nil); err != nil {
		return mapError(opSendMail, m.from, err)
	}
	return nil
}

// mailboxes paces sendMail per sending mailbox.
type mailboxes struct {
	mu     sync.Mutex
	n      int
	length time.Duration
	clk    clock
	by     map[string]*window
}

func (c *Client) mailbox(from string) *window {
	mb := c.mail
	mb.mu.Lock()
	defer mb.mu.Unlock()
	k := strings.ToLower(from)
	w, ok := mb.by[k]
	if !ok {
		w = newWindow(mb.n, mb.length, mb.clk)
		mb.by[k] = w
	}
	return w
}

// checkMailbox reports whether notify.mail_from names a user who can send mail: an
// enabled member with a mail address (a mailbox). It sends nothing.
func (c *Client) checkMailbox(ctx context.Context, from string, r Reporter) {
	mctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	const fix = "set notify.mail_from (MFABOT_NOTIFY_MAIL_FROM) to the UPN of a licensed mailbox, a shared mailbox such as it-helpdesk@contoso.com"
	u, err := c.ResolveUser(mctx, from)
	switch {
	case err != nil:
		r.Fail(CheckMailbox, fmt.Sprintf("notify.mail_from %s: %s", from, errText(err)), fix)
	case !u.Enabled || u.Guest || u.Mail == "":
		r.Fail(CheckMailbox, fmt.Sprintf("notify.mail_from %s is a disabled account, a guest or a user without a mail address: it has no mailbox to send from", from), fix)
	default:
		r.OK(CheckMailbox, fmt.Sprintf("nudges and notices are mailed from %s (%s) where no chat platform reaches the person", u.Mail, u.Name()), "")
	}
}
