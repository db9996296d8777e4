package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/approvals"
)

// Names of the checks Check reports. They are part of mfabot doctor's --json contract
// (docs/deployment.md): automation may match on them.
const (
	CheckToken        = "graph.token"
	CheckPermissions  = "graph.permissions"
	CheckLicence      = "graph.licence"
	CheckPolicyGroups = "policy.groups"
	CheckMailbox      = "graph.mailbox"
)

// Reporter receives the outcome of each check: OK, a warning (mfabot works, with less or
// with more privilege than it needs) or a failure (it cannot work as configured). fix
// says what to do, "" when there is nothing to do.
//
// It is declared here, where it is used, as storage, bot/slack and bot/teams declare the
// same one: a shared result type would need a package all of them may import, and the
// only one is approvals, the domain core, which has no business with diagnostics.
type Reporter interface {
	OK(check, msg, fix string)
	Warn(check, msg, fix string)
	Fail(check, msg, fix string)
}

// CheckConfig is what Check needs: the credential and the Graph serve would use.
type CheckConfig struct {
	// Credential chooses the credential as serve does (NewCredential); its TenantID and
	// ClientID name the app registration. Its HTTPClient is replaced by HTTPClient.
	Credential CredentialOptions
	// BaseURL is Graph's root (Config.BaseURL); the token is asked for its resource.
	BaseURL string
	// Enforce reports whether enforce is on: only then is its permission needed, and a
	// grant of it without enforce is more than needed.
	Enforce bool
	// TAP reports whether --tap is on (policy.tap_enabled), with the terms of its passes:
	// only then is the tenant's Temporary Access Pass policy checked, and Policy.Read.All
	// needed to read it.
	TAP         bool
	TAPLifetime time.Duration
	TAPOneTime  bool
	// MailFrom is the mailbox nudges and notices are mailed from (notify.mail_from); only
	// when it is set is Mail.Send needed, and the mailbox checked.
	MailFrom string
	// Policy, when not nil, has its groups pinned to object ids as serve does at start;
	// nil skips that check (the policy itself is invalid, which the caller reports).
	Policy *approvals.Policy
	// HTTPClient carries the token requests and the Graph calls; nil means the defaults.
	HTTPClient *http.Client
	// StepUpRedirectURI, when set (step-up is on), is the web redirect URI the app
	// registration must list for the step-up sign-in (CheckRedirectURI).
	StepUpRedirectURI string
}

// checkTimeout bounds each remote check, so that one unreachable service leaves time
// for the others.
const checkTimeout = 30 * time.Second

// Check reports whether Entra ID issues a token with the configured credential, whether
// the app has exactly the permissions mfabot needs (RequiredPermissions), whether the
// tenant has the licence the registration report needs, and the object ids the policy's
// groups are pinned to. It changes nothing in the tenant. The messages name mfabot's
// settings as operators know them (README).
func Check(ctx context.Context, cfg CheckConfig, r Reporter) {
	o := cfg.Credential
	if o.TenantID == "" || o.ClientID == "" {
		return // the configuration check named them
	}
	o.HTTPClient = cfg.HTTPClient
	cred, err := NewCredential(o)
	if err != nil {
		r.Fail(CheckToken, errText(err), "set a client secret (AZURE_CLIENT_SECRET) or certificate (AZURE_CLIENT_CERTIFICATE_PATH), or run with a workload or managed identity")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	scope := strings.TrimRight(cfg.BaseURL, "/") + "/.default"
	tok, err := cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		msg, fix := ExplainTokenError(err, "graph.client_id (AZURE_CLIENT_ID)", "graph.tenant_id (AZURE_TENANT_ID)")
		r.Fail(CheckToken, fmt.Sprintf("Entra ID refused a token to app %s in tenant %s (%s): %s", o.ClientID, o.TenantID, credentialKind(o), msg), fix)
		return
	}
	r.OK(CheckToken, fmt.Sprintf("token for %s obtained with the %s of app %s", cfg.BaseURL, credentialKind(o), o.ClientID), "")

	g, err := New(Config{TenantID: o.TenantID, ClientID: o.ClientID, Credential: cred, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient})
	if err != nil {
		r.Fail(CheckPermissions, errText(err), "")
		return
	}
	g.checkPermissions(ctx, tok.Token, map[string]bool{"enforce": cfg.Enforce, "tap": cfg.TAP, "mail": cfg.MailFrom != ""}, r)
	g.checkLicence(ctx, r)
	if cfg.TAP {
		g.checkTAP(ctx, cfg.TAPLifetime, cfg.TAPOneTime, r)
	}
	if cfg.MailFrom != "" {
		g.checkMailbox(ctx, cfg.MailFrom, r)
	}
	if cfg.Policy != nil {
		g.checkPinned(ctx, *cfg.Policy, r)
	}
	if cfg.StepUpRedirectURI != "" {
		g.checkRedirectURI(ctx, cfg.StepUpRedirectURI, r)
	}
}

// credentialKind names the credential NewCredential picks for o (same precedence).
func credentialKind(o CredentialOptions) string {
	switch {
	case o.ClientSecret != "":
		return "client secret"
	case o.CertificatePath != "":
		return "certificate " + o.CertificatePath
	case o.FederatedTokenFile != "":
		return "workload identity"
	case o.ManagedIdentity:
		return "managed identity"
	}
	return "default credential chain"
}

// checkPermissions compares the application permissions granted to the app with
// RequiredPermissions: a missing one fails, one more than needed warns.
func (c *Client) checkPermissions(ctx context.Context, token string, features map[string]bool, r Reporter) {
	pctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	granted, err := c.GrantedPermissions(pctx)
	source := "the app's service principal"
	if err != nil {
		// Reading the service principal needs Application.Read.All, which mfabot itself
		// does not; an app-only token lists the same grants in its roles claim.
		roles, rerr := tokenRoles(token)
		if rerr != nil {
			r.Warn(CheckPermissions, "cannot read the granted permissions: "+errText(err),
				"grant Application.Read.All so that doctor can check them, or compare the app's API permissions with docs/deployment.md by hand")
			return
		}
		granted, source = roles, "the access token's roles"
	}
	have := map[string]bool{}
	for _, p := range granted {
		have[p] = true
	}
	needed := map[string]bool{}
	missing := 0
	for _, p := range RequiredPermissions {
		if p.Feature != "" && !features[p.Feature] {
			continue // not needed, and a grant of it is reported as more than needed
		}
		needed[p.Name] = true
		if have[p.Name] || p.Optional {
			continue
		}
		missing++
		r.Fail(CheckPermissions, fmt.Sprintf("%s is missing: needed for %s", p.Name, p.Needed),
			fmt.Sprintf("Entra admin center → App registrations → %s → API permissions → Add a permission → Microsoft Graph → Application permissions → %s, then Grant admin consent", c.clientID, p.Name))
	}
	for _, p := range granted {
		if !needed[p] {
			r.Warn(CheckPermissions, fmt.Sprintf("%s is granted but mfabot does not need it (least privilege)", p),
				fmt.Sprintf("remove %s from the app's API permissions (⋯ → Remove permission), then Grant admin consent again", p))
		}
	}
	if missing == 0 {
		r.OK(CheckPermissions, fmt.Sprintf("every permission mfabot needs is granted (read from %s)", source), "")
	}
}

// tokenRoles reads the roles claim of an app-only access token: the application
// permissions granted when it was issued. The token came straight from the authority
// over TLS, so its signature is not checked here.
func tokenRoles(token string) ([]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode access token: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("decode access token: %w", err)
	}
	slices.Sort(claims.Roles)
	return claims.Roles, nil
}

// checkLicence asks the registration report, which needs Microsoft Entra ID P1 or P2.
func (c *Client) checkLicence(ctx context.Context, r Reporter) {
	lctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := c.CheckReports(lctx)
	switch {
	case err == nil:
		r.OK(CheckLicence, "the registration report answers (Microsoft Entra ID P1/P2)", "")
	case IsLicenceError(err):
		r.Warn(CheckLicence, "the tenant has no Microsoft Entra ID P1/P2: status and the summary will lack registration details (MFA registered, capable, default method) until it has",
			"license the tenant with Microsoft Entra ID P1 or P2; everything else works without it")
	case IsAccessDenied(err):
		r.Warn(CheckLicence, "cannot read the registration report: access denied", "grant AuditLog.Read.All (see graph.permissions)")
	default:
		r.Warn(CheckLicence, "cannot read the registration report: "+errText(err), "")
	}
}

// checkPinned resolves the policy's groups as serve does at start and reports the object
// ids they are pinned to: an ambiguous or unknown name stops serve from starting.
func (c *Client) checkPinned(ctx context.Context, pol approvals.Policy, r Reporter) {
	pctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	pinned, err := approvals.PinPolicy(pctx, c, pol)
	if err != nil {
		r.Fail(CheckPolicyGroups, errText(err),
			"name the group by its object id (Entra admin center → Groups → the group → Object ID); display names must be unique, and mail nicknames are never accepted")
		return
	}
	if len(pinned.Pinned) == 0 {
		return
	}
	var lines []string
	for _, p := range pinned.Pinned {
		lines = append(lines, fmt.Sprintf("%s %q = %s (%s)", p.Use, p.Ref, p.ID, p.Name))
	}
	r.OK(CheckPolicyGroups, "groups pinned to object ids: "+strings.Join(lines, "; "), "")
}

// ExplainTokenError says why Entra ID refused a token — the OAuth error with its AADSTS
// description ("invalid_client (AADSTS7000215: Invalid client secret provided.)") — and
// what to change, naming the settings that hold the application and its tenant
// ("graph.client_id (AZURE_CLIENT_ID)"). Any error from an azidentity credential will do;
// one that is not a refusal is explained by its first line.
func ExplainTokenError(err error, appSetting, tenantSetting string) (msg, fix string) {
	code, msg := tokenError(err)
	return msg, tokenFix(code, appSetting, tenantSetting)
}

// tokenError returns the OAuth error code and a one-line description of a token
// failure: "invalid_client", "AADSTS7000215: Invalid client secret provided.".
func tokenError(err error) (code, msg string) {
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) && af.RawResponse != nil && af.RawResponse.Body != nil {
		var body struct {
			Error string `json:"error"`
			Desc  string `json:"error_description"`
		}
		if b, rerr := io.ReadAll(io.LimitReader(af.RawResponse.Body, 64<<10)); rerr == nil && json.Unmarshal(b, &body) == nil && body.Error != "" {
			desc, _, _ := strings.Cut(body.Desc, "\n")
			desc = strings.TrimSpace(desc)
			aadsts, _, _ := strings.Cut(desc, ":")
			if !strings.HasPrefix(aadsts, "AADSTS") {
				aadsts = ""
			}
			if desc == "" {
				return body.Error, body.Error
			}
			if aadsts != "" {
				return aadsts, body.Error + " (" + desc + ")"
			}
			return body.Error, body.Error + " (" + desc + ")"
		}
	}
	return "", errText(err)
}

// tokenFix says what to do about an Entra ID error code, naming the settings involved.
func tokenFix(code, appSetting, tenantSetting string) string {
	switch code {
	case "AADSTS7000215":
		return "the client secret is wrong: copy the secret's Value (not its Secret ID) from the app registration's Certificates & secrets, or create a new one"
	case "AADSTS7000222":
		return "the client secret has expired: create a new one under Certificates & secrets"
	case "AADSTS700016":
		return "no such application in that tenant: check " + appSetting + " and " + tenantSetting
	case "AADSTS90002", "AADSTS900023":
		return "no such tenant: check " + tenantSetting + " (and AZURE_AUTHORITY_HOST for a national cloud)"
	case "AADSTS700027", "AADSTS700023":
		return "the certificate is not one the app registration knows: upload its public part under Certificates & secrets"
	case "AADSTS7000112":
		return "the application is disabled in the tenant: enable its enterprise application"
	}
	return "check " + appSetting + ", " + tenantSetting + " and the secret or certificate against the app registration"
}

// errText is the first line of an error: a check's message is one line.
func errText(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
