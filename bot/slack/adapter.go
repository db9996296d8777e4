package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// PlatformName is the name of this platform in Actor.Platform and MessageRef.Platform.
const PlatformName = "slack"

// UserResolver links a Slack profile e-mail to an Entra user (graph.Client implements it).
type UserResolver interface {
	ResolveUser(ctx context.Context, ref string) (approvals.User, error)
}

var _ bot.Platform = (*Adapter)(nil)

// Adapter connects mfabot to one Slack workspace: it serves Slack's requests (HTTP or
// Socket Mode), hands verified events to the bot.Handler, and implements bot.Platform.
type Adapter struct {
	cfg   Config
	api   *slackapi.Client
	d     bot.Handler
	log   *slog.Logger
	links *linker

	// rejects counts and logs the HTTP requests refused before they are parsed.
	rejects *bot.Rejects

	// allowed is the workspace/organisation/app requests must come from; nil until
	// configured or learned by Connect, and then every request is refused.
	allowed atomic.Pointer[origin]
	// socketUp is whether the Socket Mode connection is open (Socket Mode only).
	socketUp atomic.Bool

	updates *throttle
	limit   pacer
	members *directory // bulk direct messages: the member directory and the pace

	bg *bot.Background // work that outlives a request: commands after the ack, card updates
}

// origin names where requests may come from. Empty fields are not checked.
type origin struct {
	team, enterprise, app string
}

// New returns an adapter for cfg. d handles every verified event; users resolves profile
// e-mails to Entra users and is required only when cfg.LinkByEmail is set.
func New(cfg Config, d bot.Handler, users UserResolver) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, approvals.Errorf(approvals.EINVALID, "slack adapter: no dispatcher")
	}
	if cfg.LinkByEmail && users == nil {
		return nil, approvals.Errorf(approvals.EINVALID, "slack config: LinkByEmail: needs a user resolver")
	}
	cfg = cfg.withDefaults()
	a := &Adapter{
		cfg:   cfg,
		api:   newAPI(cfg),
		d:     d,
		log:   cfg.Logger.With("platform", PlatformName),
		limit: pacer{clk: approvals.PaceClock{}},
	}
	a.rejects = bot.NewRejects(cfg.OnReject, a.log, cfg.Clock.Now)
	a.bg = bot.NewBackground(a.log)
	a.links = newLinker(cfg, users, a.userInfo, a.log)
	a.updates = newThrottle(cfg.UpdateInterval)
	a.members = newDirectory(cfg.Direct, approvals.PaceClock{})
	if cfg.TeamID != "" || cfg.EnterpriseID != "" {
		a.allowed.Store(&origin{team: cfg.TeamID, enterprise: cfg.EnterpriseID, app: cfg.AppID})
	}
	return a, nil
}

// newAPI is the Web API client of cfg (with its defaults): the bot token, and the
// app-level token for Socket Mode. The adapter and Check share it.
func newAPI(cfg Config) *slackapi.Client {
	opts := []slackapi.Option{
		slackapi.OptionAPIURL(cfg.APIURL),
		slackapi.OptionHTTPClient(cfg.HTTPClient),
		slackapi.OptionLog(slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)),
	}
	if cfg.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(cfg.AppToken))
	}
	return slackapi.New(cfg.BotToken, opts...)
}

// Ready reports whether the adapter can serve: Connect has learned (or the config names)
// the workspace, and in Socket Mode the socket is connected. GET /readyz asks it.
func (a *Adapter) Ready() error {
	if a.allowed.Load() == nil {
		return errors.New("not connected to Slack yet (auth.test pending or failed)")
	}
	if a.cfg.AppToken != "" && !a.socketUp.Load() {
		return errors.New("the Socket Mode connection is not open")
	}
	return nil
}

// Name returns "slack".
func (a *Adapter) Name() string { return PlatformName }

// Connect checks the bot token (auth.test) and, where Config leaves them empty, learns the
// workspace and organisation the token belongs to and the app it was issued for
// (bots.info). Until the workspace is known every request is refused, so call Connect
// before serving unless Config names TeamID or EnterpriseID.
func (a *Adapter) Connect(ctx context.Context) error {
	var auth *slackapi.AuthTestResponse
	err := a.retry(ctx, "auth.test", func() (err error) {
		auth, err = a.api.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		return upstream("auth.test", err)
	}
	o := origin{team: a.cfg.TeamID, enterprise: a.cfg.EnterpriseID, app: a.cfg.AppID}
	if o.team == "" && o.enterprise == "" {
		o.team, o.enterprise = auth.TeamID, auth.EnterpriseID
	} else if a.cfg.TeamID != "" && auth.TeamID != "" && auth.TeamID != a.cfg.TeamID {
		return approvals.Errorf(approvals.EINVALID, "slack config: TeamID: the bot token belongs to workspace %s, not %s", auth.TeamID, a.cfg.TeamID)
	}
	if o.team == "" && o.enterprise == "" {
		return approvals.Errorf(approvals.EUPSTREAM, "slack auth.test named no workspace")
	}
	if o.app == "" && auth.BotID != "" {
		var b *slackapi.Bot
		err := a.retry(ctx, "bots.info", func() (err error) {
			b, err = a.api.GetBotInfoContext(ctx, slackapi.GetBotInfoParameters{Bot: auth.BotID})
			return err
		})
		if err != nil {
			return upstream("bots.info", err)
		}
		o.app = b.AppID
	}
	a.allowed.Store(&o)
	a.log.Info("slack connected", "team_id", o.team, "enterprise_id", o.enterprise, "app_id", o.app, "bot_user_id", auth.UserID)
	return nil
}

// Close stops accepting Slack requests and waits for the commands and clicks being
// handled and the card updates still queued. When ctx ends first it cancels them and
// returns ctx's error.
func (a *Adapter) Close(ctx context.Context) error { return a.bg.Close(ctx) }

// background runs fn on its own goroutine with a context detached from the request that
// started it, bounded by timeout. It reports false, running nothing, after Close.
func (a *Adapter) background(timeout time.Duration, fn func(ctx context.Context)) bool {
	return a.bg.Go(timeout, fn)
}

// upstream wraps an error of a Slack Web API method as EUPSTREAM.
func upstream(method string, err error) error {
	if err == nil {
		return nil
	}
	var e *approvals.Error
	if errors.As(err, &e) {
		return fmt.Errorf("slack %s: %w", method, err)
	}
	return approvals.WrapError(approvals.EUPSTREAM, err, "slack %s", method)
}

// slackError returns the error code of a Slack Web API error response ("users_not_found"),
// or "" for other errors.
func slackError(err error) string {
	var e slackapi.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	return ""
}
