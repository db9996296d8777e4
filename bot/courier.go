package bot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// ChannelMail is the name of the e-mail channel in a nudge item's result, next to the
// platforms' names ("slack", "teams").
const ChannelMail = "mail"

// Mailer sends plain-text mail from the configured mailbox (notify.mail_from);
// graph.Mailbox implements it.
type Mailer interface {
	SendMail(ctx context.Context, to, subject, text string) error
}

// DirectMessenger is a platform that reaches many people it has never talked to, paced for
// it: Slack finds them in its member directory rather than one lookup each. The courier
// prefers it to Tell for nudges.
type DirectMessenger interface {
	DirectMessage(ctx context.Context, to Recipient, msg Message) error
}

// NudgeWords is what a nudge says to one person; commands.Dispatcher implements it.
type NudgeWords interface {
	Nudge(r *approvals.Request, u approvals.User) Message
}

// UserLookup finds an Entra user's mail address; graph.Client implements it.
type UserLookup interface {
	ResolveUser(ctx context.Context, ref string) (approvals.User, error)
}

// CourierOptions are the optional parts of a Courier.
type CourierOptions struct {
	Mail    Mailer     // nil: no e-mail
	Users   UserLookup // nil: the mail address of an affected user is not looked up
	Logger  *slog.Logger
	Timeout time.Duration // bounds a notice on one channel; default 30 s
}

// Courier reaches people directly, outside any conversation with the bot: the people a
// nudge asks to register, and the user a reset, revoke or enforce changed. It tries the
// chat platforms in the order given (Slack by mail address or UPN, Teams where its app can
// reach the person) and e-mail last.
//
//   - Nudge (approvals.Messenger) stops at the first channel that reaches the person, so
//     everyone is asked once. A channel that cannot reach them is passed over; one that
//     fails otherwise ends the delivery there, since the message may have gone.
//   - Announce tells the person on every channel that reaches them, chat and e-mail: a
//     change to their sign-in security must not wait for them to look in one place.
type Courier struct {
	platforms []Platform
	words     NudgeWords
	o         CourierOptions
}

// NewCourier returns a Courier that says what words says on platforms, in that order.
func NewCourier(platforms []Platform, words NudgeWords, o CourierOptions) *Courier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Courier{platforms: platforms, words: words, o: o}
}

// recipient is how each platform finds u.
func recipient(u approvals.User) Recipient {
	return Recipient{Email: u.Mail, UPN: u.UPN, EntraID: u.ID}
}

// Nudge implements approvals.Messenger: request r's message to u, on the first channel
// that reaches them.
func (c *Courier) Nudge(ctx context.Context, r *approvals.Request, u approvals.User) (string, error) {
	msg := c.words.Nudge(r, u)
	to := recipient(u)
	var why []string
	for _, p := range c.platforms {
		var err error
		if dm, ok := p.(DirectMessenger); ok {
			err = dm.DirectMessage(ctx, to, msg)
		} else {
			err = p.Tell(ctx, to, msg)
		}
		switch {
		case err == nil:
			return p.Name(), nil
		case errors.Is(err, ErrUnreachable):
			why = append(why, p.Name()+": "+reason(err))
			continue
		case ctx.Err() != nil:
			return "", ctx.Err()
		}
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "%s failed: %s", p.Name(), reason(err))
	}
	if c.o.Mail != nil && u.Mail != "" {
		if err := c.o.Mail.SendMail(ctx, u.Mail, msg.Title, msg.PlainText()); err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", approvals.WrapError(approvals.EUPSTREAM, err, "e-mail failed: %s", reason(err))
		}
		return ChannelMail, nil
	}
	switch {
	case c.o.Mail == nil:
		why = append(why, "e-mail: no mailbox configured")
	default:
		why = append(why, "e-mail: no mail address in the directory")
	}
	return "", approvals.WrapError(approvals.ENOTFOUND, approvals.ErrUnreachable, "not reachable (%s)", strings.Join(why, "; "))
}

// reason is an error in a few chat-safe words.
func reason(err error) string {
	var ae *approvals.Error
	if errors.As(err, &ae) && ae.Code != approvals.EINTERNAL {
		return ae.Message
	}
	if errors.Is(err, ErrUnreachable) {
		return "not reachable"
	}
	return "failed"
}

// Announce tells the affected user (their object id and UPN as a request's Target holds
// them) msg on every chat platform that reaches them and by e-mail, and returns the
// channels that did. Failures are logged: nobody is left to return them to.
func (c *Courier) Announce(ctx context.Context, target approvals.Target, msg Message) []string {
	u := approvals.User{ID: target.ID, UPN: target.Name}
	if c.o.Users != nil {
		if found, err := c.o.Users.ResolveUser(ctx, target.ID); err == nil {
			u = found
		} else {
			c.o.Logger.WarnContext(ctx, "look up the affected user's mail address", approvals.LogUser, target.Name, approvals.LogErr, err)
		}
	}
	to := recipient(u)
	var mu sync.Mutex
	var reached []string
	var wg sync.WaitGroup
	try := func(name string, send func(ctx context.Context) error) {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
		err := send(ctx)
		switch {
		case err == nil:
			mu.Lock()
			reached = append(reached, name)
			mu.Unlock()
		case errors.Is(err, ErrUnreachable):
			c.o.Logger.DebugContext(ctx, "affected user not reachable", approvals.LogPlatform, name, approvals.LogErr, err)
		default:
			c.o.Logger.WarnContext(ctx, "tell affected user", approvals.LogPlatform, name, approvals.LogErr, err)
		}
	}
	for _, p := range c.platforms {
		wg.Add(1)
		go try(p.Name(), func(ctx context.Context) error { return p.Tell(ctx, to, msg) })
	}
	if c.o.Mail != nil && u.Mail != "" {
		wg.Add(1)
		go try(ChannelMail, func(ctx context.Context) error { return c.o.Mail.SendMail(ctx, u.Mail, msg.Title, msg.PlainText()) })
	}
	wg.Wait()
	if len(reached) == 0 {
		c.o.Logger.WarnContext(ctx, "the affected user could not be told on any channel", approvals.LogUser, target.Name)
	}
	return reached
}

var _ approvals.Messenger = (*Courier)(nil)
