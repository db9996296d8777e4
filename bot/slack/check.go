package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Names of the checks Check reports. They are part of mfabot doctor's --json contract
// (docs/deployment.md): automation may match on them.
const (
	CheckToken         = "slack.token"
	CheckScopes        = "slack.scopes"
	CheckChannel       = "slack.channel"
	CheckSigningSecret = "slack.signing_secret"
	CheckAppToken      = "slack.app_token"
)

// Reporter receives the outcome of each check: OK, a warning (mfabot works, with less or
// with more privilege than it needs) or a failure (it cannot work as configured). fix
// says what to do, "" when there is nothing to do.
//
// It is declared here, where it is used, as storage, graph and bot/teams declare the
// same one: a shared result type would need a package all of them may import, and the
// only one is approvals, the domain core, which has no business with diagnostics.
type Reporter interface {
	OK(check, msg, fix string)
	Warn(check, msg, fix string)
	Fail(check, msg, fix string)
}

// checkTimeout bounds each Web API call of a check, so that an unreachable Slack leaves
// time for the other checks.
const checkTimeout = 30 * time.Second

// scopeUse says what each bot scope in RequiredScopes is used for.
var scopeUse = map[string]string{
	"commands":         "the /mfa command",
	"chat:write":       "posting and updating cards",
	"im:write":         "direct messages to requesters and reset users",
	"users:read":       "knowing who typed or clicked (users.info, bots.info)",
	"users:read.email": "linking Slack users to Entra users by e-mail",
	"files:write":      "the summary's chart and CSV",
}

// checkOnlyScopes are not needed by the adapter; with them Check can look at the
// approvals channel (conversations.info), so they are not reported as more than needed.
var checkOnlyScopes = []string{"channels:read", "groups:read"}

// appTokenShape is an app-level token: xapp-<version>-<app id>-<number>-<secret>.
var appTokenShape = regexp.MustCompile(`^xapp-\d+-(A[A-Z0-9]+)-\d+-[A-Za-z0-9]+$`)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Check reports, with the adapter's own Web API client and without posting anything,
// whether the bot token works and belongs to the configured workspace, organisation and
// app, whether it has exactly the scopes RequiredScopes lists, whether the bot is in the
// approvals channel, and whether the Socket Mode token is accepted (or, in HTTP mode, the
// signing secret has Slack's shape). It runs on an invalid cfg too, checking what it can,
// but sends no token that is not a bot token, nor any token to an API URL Validate
// refuses. The messages name mfabot's settings as operators know them (README).
func Check(ctx context.Context, cfg Config, r Reporter) {
	if !isBotToken(cfg.BotToken) || (cfg.APIURL != "" && checkAPIURL(cfg.APIURL) != nil) {
		return // the configuration check named it; send no token where it does not belong
	}
	cfg = cfg.withDefaults()
	c := &checker{cfg: cfg, api: newAPI(cfg), r: r}
	c.run(ctx)
}

// checker is one run of Check.
type checker struct {
	cfg Config
	api *slackapi.Client
	r   Reporter
}

func (c *checker) run(ctx context.Context) {
	cfg := c.cfg
	var auth *slackapi.AuthTestResponse
	err := c.call(ctx, "auth.test", func(ctx context.Context) (err error) {
		auth, err = c.api.AuthTestContext(ctx)
		return err
	})
	if code, refused := refusal(err); refused {
		fix := "copy the Bot User OAuth Token (xoxb-…) again from the app's OAuth & Permissions page"
		if code == "token_revoked" || code == "account_inactive" || code == "team_access_not_granted" {
			fix = "reinstall the app to the workspace (OAuth & Permissions → Reinstall) and set the new bot token"
		}
		c.r.Fail(CheckToken, "auth.test refused the bot token: "+code, fix)
		return
	} else if err != nil {
		c.r.Fail(CheckToken, "Slack is unreachable: "+errText(err), "allow outbound https to slack.com (or check slack.api_url, MFABOT_SLACK_API_URL)")
		return
	}
	c.r.OK(CheckToken, fmt.Sprintf("bot token valid: workspace %s (%s), bot user %s", auth.Team, auth.TeamID, auth.UserID), "")
	if cfg.TeamID != "" && auth.TeamID != cfg.TeamID {
		c.r.Fail(CheckToken, fmt.Sprintf("the token belongs to workspace %s, but slack.team_id is %s: every request would be refused", auth.TeamID, cfg.TeamID),
			"set slack.team_id (MFABOT_SLACK_TEAM_ID) to "+auth.TeamID+", or use the token of the right workspace")
	}
	if cfg.EnterpriseID != "" && auth.EnterpriseID != cfg.EnterpriseID {
		c.r.Fail(CheckToken, fmt.Sprintf("the token belongs to organisation %q, but slack.enterprise_id is %s", auth.EnterpriseID, cfg.EnterpriseID),
			"set slack.enterprise_id (MFABOT_SLACK_ENTERPRISE_ID) to the organisation the app is installed in")
	}
	c.scopes(auth.Header)
	botName := auth.User
	if botName == "" {
		botName = "mfabot"
	}
	c.channel(ctx, botName)
	appID := ""
	if auth.BotID != "" {
		var bot *slackapi.Bot
		err := c.call(ctx, "bots.info", func(ctx context.Context) (err error) {
			bot, err = c.api.GetBotInfoContext(ctx, slackapi.GetBotInfoParameters{Bot: auth.BotID})
			return err
		})
		if err == nil {
			appID = bot.AppID
		}
	}
	if cfg.AppID != "" && appID != "" && appID != cfg.AppID {
		c.r.Fail(CheckToken, fmt.Sprintf("the bot token belongs to app %s, but slack.app_id is %s: every request would be refused", appID, cfg.AppID),
			"set slack.app_id (MFABOT_SLACK_APP_ID) to "+appID)
	}
	if cfg.AppToken != "" {
		c.appToken(ctx, appID)
	} else {
		c.signingSecret()
	}
}

// call runs one Web API call under checkTimeout and words an error that is not Slack's
// answer as "method: what happened" ("auth.test: HTTP 503 Service Unavailable").
func (c *checker) call(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := fn(ctx)
	if _, refused := refusal(err); err == nil || refused {
		return err
	}
	var status slackapi.StatusCodeError
	var limited *slackapi.RateLimitedError
	switch {
	case errors.As(err, &status):
		return fmt.Errorf("%s: HTTP %s", method, status.Status)
	case errors.As(err, &limited):
		return fmt.Errorf("%s: HTTP %d %s", method, http.StatusTooManyRequests, http.StatusText(http.StatusTooManyRequests))
	}
	return fmt.Errorf("%s: %w", method, err)
}

// refusal returns Slack's error code when err is Slack's answer {"ok":false,"error":…}.
func refusal(err error) (code string, refused bool) {
	var e slackapi.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err, true
	}
	return "", false
}

// scopes compares the token's scopes (X-OAuth-Scopes on every Web API answer) with
// RequiredScopes: a missing one fails, one more than needed warns.
func (c *checker) scopes(hdr http.Header) {
	raw, ok := hdr["X-Oauth-Scopes"]
	if !ok {
		c.r.Warn(CheckScopes, "Slack did not say which scopes the token has (no X-OAuth-Scopes header)", "compare the app's bot token scopes with manifests/slack/manifest.yaml by hand")
		return
	}
	granted := map[string]bool{}
	var order []string
	for _, s := range strings.Split(strings.Join(raw, ","), ",") {
		if s = strings.TrimSpace(s); s != "" && !granted[s] {
			granted[s] = true
			order = append(order, s)
		}
	}
	required := RequiredScopes()
	missing := 0
	for _, s := range required {
		if !granted[s] {
			missing++
			c.r.Fail(CheckScopes, fmt.Sprintf("bot scope %s is missing: needed for %s", s, scopeUse[s]),
				"add it under OAuth & Permissions → Bot Token Scopes (or recreate the app from manifests/slack), reinstall the app and set the new bot token")
		}
	}
	for _, s := range order {
		if !slices.Contains(required, s) && !slices.Contains(checkOnlyScopes, s) {
			c.r.Warn(CheckScopes, fmt.Sprintf("bot scope %s is granted but mfabot does not need it (least privilege)", s),
				"remove it under OAuth & Permissions → Bot Token Scopes and reinstall the app")
		}
	}
	if missing == 0 {
		c.r.OK(CheckScopes, "every bot scope mfabot needs is granted: "+strings.Join(required, ", "), "")
	}
}

// channel checks that the approvals channel exists and the bot is in it.
func (c *checker) channel(ctx context.Context, botName string) {
	ch := c.cfg.Channel
	if ch == "" {
		return
	}
	var info *slackapi.Channel
	err := c.call(ctx, "conversations.info", func(ctx context.Context) (err error) {
		info, err = c.api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: ch})
		return err
	})
	invite := "in Slack, open the channel and type /invite @" + botName
	var refused slackapi.SlackErrorResponse
	switch {
	case errors.As(err, &refused) && refused.Err == "missing_scope":
		needed := refused.Needed
		if needed == "" {
			needed = "channels:read"
		}
		c.r.Warn(CheckChannel, fmt.Sprintf("channel %s not checked: conversations.info needs %s, which mfabot itself does not", ch, needed),
			"make sure the bot is in the channel ("+invite+"), or add channels:read (groups:read for a private channel) so that doctor can check")
	case errors.As(err, &refused) && refused.Err == "channel_not_found":
		c.r.Fail(CheckChannel, fmt.Sprintf("channel %s does not exist or the bot cannot see it", ch),
			"set slack.channel (MFABOT_SLACK_CHANNEL) to the channel's id (C…, from the channel's details), not its name; for a private channel, invite the bot first")
	case errors.As(err, &refused):
		c.r.Warn(CheckChannel, fmt.Sprintf("cannot check channel %s: %s", ch, refused.Err), invite)
	case err != nil:
		c.r.Warn(CheckChannel, "cannot check the approvals channel: "+errText(err), invite)
	case info.IsArchived:
		c.r.Fail(CheckChannel, fmt.Sprintf("channel #%s (%s) is archived", info.Name, ch), "unarchive it or choose another approvals channel")
	case !info.IsMember:
		c.r.Fail(CheckChannel, fmt.Sprintf("the bot is not a member of #%s (%s): it cannot post approval cards there", info.Name, ch), invite)
	default:
		c.r.OK(CheckChannel, fmt.Sprintf("the bot is a member of #%s (%s)", info.Name, ch), "")
	}
}

// appToken checks the Socket Mode token: its shape, that it belongs to the same app as
// the bot token, and that Slack accepts it (apps.connections.open hands out a socket URL,
// which Check does not open).
func (c *checker) appToken(ctx context.Context, botAppID string) {
	m := appTokenShape.FindStringSubmatch(c.cfg.AppToken)
	if m == nil {
		c.r.Fail(CheckAppToken, "the app-level token does not look like one (xapp-1-A…-…-…)",
			"Basic Information → App-Level Tokens → Generate Token with connections:write; set MFABOT_SLACK_APP_TOKEN to it")
		return
	}
	if botAppID != "" && m[1] != botAppID {
		c.r.Fail(CheckAppToken, fmt.Sprintf("the app-level token belongs to app %s, the bot token to app %s", m[1], botAppID),
			"use the app-level token and the bot token of the same Slack app")
		return
	}
	err := c.call(ctx, "apps.connections.open", func(ctx context.Context) error {
		_, _, err := c.api.StartSocketModeContext(ctx)
		return err
	})
	if code, refused := refusal(err); refused {
		c.r.Fail(CheckAppToken, "apps.connections.open refused the app-level token: "+code,
			"Basic Information → App-Level Tokens: generate a token with connections:write, and turn Socket Mode on")
	} else if err != nil {
		c.r.Fail(CheckAppToken, "cannot open Socket Mode: "+errText(err), "allow outbound https and wss to slack.com")
	} else {
		c.r.OK(CheckAppToken, fmt.Sprintf("app-level token of app %s accepted: Socket Mode can connect", m[1]), "")
	}
}

// signingSecret can only check the secret's shape: only a request from Slack proves it
// right.
func (c *checker) signingSecret() {
	if c.cfg.SigningSecret == "" {
		return // the configuration check named it
	}
	if !hex32.MatchString(c.cfg.SigningSecret) {
		c.r.Warn(CheckSigningSecret, "the signing secret is not 32 hexadecimal characters, as Slack's are",
			"copy Basic Information → App Credentials → Signing Secret (not the Client Secret or Verification Token)")
		return
	}
	c.r.OK(CheckSigningSecret, "the signing secret has the right shape (only a request from Slack proves it right)", "")
}

// errText is the first line of an error: a check's message is one line.
func errText(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
