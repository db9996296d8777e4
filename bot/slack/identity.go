package slack

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
)

// negativeLinkTTL is how long "this Slack user has no Entra link" is remembered; shorter
// than a found link so that a fixed profile or a new Entra account is picked up soon.
const negativeLinkTTL = time.Minute

// actor returns the verified Slack user as an Actor, linked to Entra as well as the
// configuration allows.
func (a *Adapter) actor(ctx context.Context, userID, name string) approvals.Actor {
	act := approvals.Actor{Platform: PlatformName, ID: userID, Name: name}
	l := a.links.link(ctx, userID)
	act.EntraID, act.LinkError = l.entraID, l.failed
	if l.name != "" {
		act.Name = l.name
	}
	return act
}

// LinkOf returns the Entra object id a Slack user is linked to, "" when they are not
// linked; an error when the lookup failed. serve checks every slack: principal with it
// before it starts.
func (a *Adapter) LinkOf(ctx context.Context, userID string) (string, error) {
	l := a.links.link(ctx, userID)
	if l.failed != "" {
		return "", fmt.Errorf("link %s: %s", userID, l.failed)
	}
	return l.entraID, nil
}

func (a *Adapter) userInfo(ctx context.Context, userID string) (*slackapi.User, error) {
	var u *slackapi.User
	err := a.retry(ctx, "users.info", func() (err error) {
		u, err = a.api.GetUserInfoContext(ctx, userID)
		return err
	})
	return u, err
}

// linker links Slack user ids to Entra object ids: the explicit map first, then, when
// enabled, the Slack profile e-mail resolved in Entra, cached for a while.
type linker struct {
	userMap map[string]string
	byEmail bool
	ttl     time.Duration
	clock   approvals.Clock
	users   UserResolver
	info    func(ctx context.Context, userID string) (*slackapi.User, error)
	log     *slog.Logger

	mu    sync.Mutex
	cache map[string]link
}

type link struct {
	entraID string
	failed  string // why the lookup failed (not cached); the actor is refused
	name    string // the Slack real name, when users.info was read
	until   time.Time
}

func newLinker(cfg Config, users UserResolver, info func(context.Context, string) (*slackapi.User, error), log *slog.Logger) *linker {
	return &linker{
		userMap: cfg.UserMap,
		byEmail: cfg.LinkByEmail,
		ttl:     cfg.LinkTTL,
		clock:   cfg.Clock,
		users:   users,
		info:    info,
		log:     log,
		cache:   map[string]link{},
	}
}

func (l *linker) link(ctx context.Context, userID string) link {
	if id, ok := l.userMap[userID]; ok {
		return link{entraID: id}
	}
	if !l.byEmail || userID == "" {
		return link{}
	}
	now := l.clock.Now()
	l.mu.Lock()
	c, ok := l.cache[userID]
	l.mu.Unlock()
	if ok && now.Before(c.until) {
		return c
	}
	res, ttl := l.lookup(ctx, userID)
	if ttl > 0 {
		res.until = now.Add(ttl)
		l.mu.Lock()
		l.cache[userID] = res
		l.mu.Unlock()
	}
	return res
}

// lookup reads the Slack profile and resolves its e-mail in Entra. It returns how long the
// result may be cached; zero for a transient failure, which is not cached.
func (l *linker) lookup(ctx context.Context, userID string) (link, time.Duration) {
	log := l.log.With("slack_user", userID)
	u, err := l.info(ctx, userID)
	if err != nil {
		log.Warn("slack user link: users.info", approvals.LogErr, err)
		return link{failed: "Slack did not answer users.info"}, 0
	}
	res := link{name: u.RealName}
	switch {
	case u.Deleted || u.IsBot:
		log.Warn("slack user link: deleted or bot user is not linked")
		return res, negativeLinkTTL
	case u.Profile.Email == "":
		log.Warn("slack user link: no e-mail in the Slack profile (is users:read.email granted?)")
		return res, negativeLinkTTL
	case !u.IsEmailConfirmed:
		log.Warn("slack user link: the Slack profile e-mail is not confirmed; not linking")
		return res, negativeLinkTTL
	}
	eu, err := l.users.ResolveUser(ctx, u.Profile.Email)
	switch {
	case approvals.ErrorCode(err) == approvals.ENOTFOUND:
		log.Warn("slack user link: no Entra user has the Slack profile e-mail")
		return res, negativeLinkTTL
	case err != nil:
		log.Warn("slack user link: resolve in Entra", approvals.LogErr, err)
		res.failed = "Microsoft Graph did not answer"
		return res, 0
	}
	res.entraID = eu.ID
	return res, l.ttl
}
