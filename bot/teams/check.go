package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/jwks"
)

// Names of the checks Check reports. They are part of mfabot doctor's --json contract
// (docs/deployment.md): automation may match on them.
const (
	CheckToken   = "teams.token"
	CheckOpenID  = "teams.openid"
	CheckChannel = "teams.channel"
)

// Reporter receives the outcome of each check: OK, a warning (mfabot works, with less)
// or a failure (it cannot work as configured). fix says what to do, "" when there is
// nothing to do.
//
// It is declared here, where it is used, as storage, graph and bot/slack declare the
// same one: a shared result type would need a package all of them may import, and the
// only one is approvals, the domain core, which has no business with diagnostics.
type Reporter interface {
	OK(check, msg, fix string)
	Warn(check, msg, fix string)
	Fail(check, msg, fix string)
}

// CheckOptions are what Check needs besides the configuration.
type CheckOptions struct {
	// Store holds the conversation references the bot stored (storage.DB, opened
	// read-only); nil skips the approvals channel check.
	Store ConversationReader
	// ExplainTokenError words a token request Entra ID refused, and what to change,
	// naming the settings given (graph.ExplainTokenError: teams does not import graph);
	// nil reports the error's first line.
	ExplainTokenError func(err error, appSetting, tenantSetting string) (msg, fix string)
}

// checkTimeout bounds each remote step of a check, so that one unreachable service
// leaves time for the others.
const checkTimeout = 30 * time.Second

// Check reports, as the adapter would find things and without sending anything to
// Teams, whether the bot's credential gets a Bot Framework token, whether the Bot
// Framework signing keys that verify every inbound request are readable, and whether the
// bot knows the approvals channel's address. It runs on an invalid cfg too, checking
// what it can. The messages name mfabot's settings as operators know them (README).
func Check(ctx context.Context, cfg Config, o CheckOptions, r Reporter) {
	cfg.setDefaults()
	if cfg.Credential != nil || (cfg.AppPassword != "" && (cfg.TenantID != "" || cfg.MultiTenant)) {
		checkToken(ctx, cfg, o, r)
	}
	checkOpenID(ctx, newValidator(cfg).keys, r)
	if cfg.Channel != "" && o.Store != nil {
		checkChannel(ctx, cfg.Channel, o.Store, r)
	}
}

// checkToken gets the token the bot presents to the Bot Connector, with the credential
// the adapter builds.
func checkToken(ctx context.Context, cfg Config, o CheckOptions, r Reporter) {
	tenant := cfg.TenantID
	if cfg.MultiTenant {
		tenant = multiTenantAuthority
	}
	var cred azcore.TokenCredential = cfg.Credential
	if cred == nil {
		c, err := newSecretCredential(cfg)
		if err != nil {
			r.Fail(CheckToken, errText(err), "check teams.app_id and teams.tenant_id")
			return
		}
		cred = c
	}
	tctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if _, err := cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{BotFrameworkScope}}); err != nil {
		const app, ten = "teams.app_id (MFABOT_TEAMS_APP_ID)", "teams.tenant_id (MFABOT_TEAMS_TENANT_ID)"
		msg, fix := errText(err), "check "+app+", "+ten+" and the password"
		if o.ExplainTokenError != nil {
			msg, fix = o.ExplainTokenError(err, app, ten)
		}
		r.Fail(CheckToken, fmt.Sprintf("Entra ID refused a Bot Framework token to app %s in tenant %s: %s", cfg.AppID, tenant, msg),
			fix+"; the password is a client secret of the Azure Bot's app registration (Configuration → Manage Password)")
		return
	}
	r.OK(CheckToken, fmt.Sprintf("Bot Framework token obtained for app %s from tenant %s", cfg.AppID, tenant), "")
}

// checkOpenID reads the Bot Framework metadata and signing keys as the adapter's key
// cache does: every inbound request is verified with them.
func checkOpenID(ctx context.Context, k *keyCache, r Reporter) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	fix := "allow outbound https to login.botframework.com: without its keys mfabot refuses every request from Teams"
	var meta openIDMetadata
	if err := jwks.GetJSON(ctx, k.client, k.metadataURL, &meta); err != nil {
		r.Fail(CheckOpenID, "cannot read the Bot Framework OpenID metadata: "+errText(err), fix)
		return
	}
	if meta.JWKSURI == "" {
		r.Fail(CheckOpenID, k.metadataURL+" names no jwks_uri", "check teams.openid_url (MFABOT_TEAMS_OPENID_URL); the default is "+DefaultOpenIDURL)
		return
	}
	if err := meta.check(); err != nil {
		r.Fail(CheckOpenID, "the Bot Framework OpenID metadata at "+k.metadataURL+" is not usable: "+errText(err),
			"check teams.openid_url (MFABOT_TEAMS_OPENID_URL); the default is "+DefaultOpenIDURL)
		return
	}
	keys, err := k.keySet(ctx, meta.JWKSURI)
	switch {
	case err != nil:
		r.Fail(CheckOpenID, "cannot read the Bot Framework signing keys: "+errText(err), fix)
	case len(keys) == 0:
		r.Fail(CheckOpenID, "no signing keys at "+meta.JWKSURI, fix)
	default:
		r.OK(CheckOpenID, fmt.Sprintf("%d Bot Framework signing keys readable: inbound requests can be verified", len(keys)), "")
	}
}

// checkChannel checks that the approvals channel's address is known: Teams posts need
// the serviceUrl the bot learns when it is added to the team.
func checkChannel(ctx context.Context, ch string, store ConversationReader, r Reporter) {
	raw, err := store.Conversation(ctx, PlatformName, ch)
	switch {
	case err == nil:
		var ref ConversationRef
		_ = json.Unmarshal(raw, &ref)
		where := ch
		if ref.TeamName != "" || ref.Name != "" {
			where = fmt.Sprintf("%s (%q in team %q)", ch, ref.Name, ref.TeamName)
		}
		r.OK(CheckChannel, "the bot knows the approvals channel "+where, "")
	case approvals.ErrorCode(err) == approvals.ENOTFOUND:
		fix := "add the mfabot app to the team that holds the channel (Teams → Apps → Manage your apps → mfabot → Add to a team); the bot stores the channel's address then"
		if known := knownChannels(ctx, store); len(known) > 0 {
			fix += "; channels the bot knows: " + strings.Join(known, ", ")
		}
		r.Warn(CheckChannel, fmt.Sprintf("the bot has not been added to the approvals channel %s yet: it cannot post approval cards there", ch), fix)
	default:
		r.Warn(CheckChannel, "cannot read the stored Teams conversations: "+errText(err), "")
	}
}

// knownChannels lists the channels the bot has stored references for, to help the
// operator find the approvals channel's id.
func knownChannels(ctx context.Context, store ConversationReader) []string {
	raws, err := store.Conversations(ctx, PlatformName)
	if err != nil {
		return nil
	}
	var out []string
	for _, raw := range raws {
		var ref ConversationRef
		if json.Unmarshal(raw, &ref) == nil && ref.Kind == RefConversation && ref.ConversationType == "channel" {
			out = append(out, fmt.Sprintf("%s (%q in team %q)", ref.ConversationID, ref.Name, ref.TeamName))
		}
	}
	return out
}

// errText is the first line of an error: a check's message is one line.
func errText(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
