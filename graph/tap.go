package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mfabot/mfabot/approvals"
)

// Temporary Access Passes: POST /users/{id}/authentication/temporaryAccessPassMethods
// creates one (UserAuthenticationMethod.ReadWrite.All, which reset already needs), and
// the tenant's Temporary Access Pass policy
// (/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass,
// Policy.Read.All) says whether Graph will: doctor reads it, serve never does.

var (
	opCreateTAP = op{what: "create a Temporary Access Pass", permission: "UserAuthenticationMethod.ReadWrite.All", notFound: "no user %s in the directory"}
	opTAPPolicy = op{what: "read the Temporary Access Pass policy", permission: "Policy.Read.All", notFound: "no Temporary Access Pass policy %s in the tenant"}
)

// tapPolicyPath is the Temporary Access Pass configuration of the authentication methods
// policy (v1.0).
const tapPolicyPath = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"

// CreateTemporaryAccessPass creates a pass for the user (replacing one they have, as
// Graph does) and returns it with its value, which the caller must hand over and forget.
// It is a write: paced ahead of bulk work unless ctx is bulk work (approvals.WithBulk).
// Graph's refusal because the tenant's policy is off or leaves the user out carries
// approvals.ErrTAPPolicy.
func (c *Client) CreateTemporaryAccessPass(ctx context.Context, userID string, lifetime time.Duration, oneTime bool) (approvals.Pass, error) {
	body := models.NewTemporaryAccessPassAuthenticationMethod()
	minutes := int32(lifetime / time.Minute)
	body.SetLifetimeInMinutes(&minutes)
	body.SetIsUsableOnce(&oneTime)
	got, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().Post(withPriority(ctx, c.writes), body, nil)
	if err != nil {
		return approvals.Pass{}, mapTAPError(userID, err)
	}
	if got == nil || deref(got.GetTemporaryAccessPass()) == "" {
		return approvals.Pass{}, approvals.Errorf(approvals.EUPSTREAM, "Graph created a Temporary Access Pass for %s but did not return it", userID)
	}
	p := approvals.Pass{UserID: userID, MethodID: deref(got.GetId()), Value: deref(got.GetTemporaryAccessPass()),
		Lifetime: lifetime, OneTime: oneTime}
	if v := got.GetLifetimeInMinutes(); v != nil {
		p.Lifetime = time.Duration(*v) * time.Minute
	}
	if v := got.GetIsUsableOnce(); v != nil {
		p.OneTime = *v
	}
	switch {
	case got.GetStartDateTime() != nil:
		p.Start = got.GetStartDateTime().UTC()
	case got.GetCreatedDateTime() != nil:
		p.Start = got.GetCreatedDateTime().UTC()
	default:
		p.Start = c.clk.Now().UTC()
	}
	return p, nil
}

// mapTAPError is mapError with Graph's policy refusal of a pass told apart: Graph answers
// 400 "Converged UserCredentialPolicy does not allow creating or updating this
// authentication method" both when the policy is off and when it leaves the user out.
func mapTAPError(userID string, err error) error {
	if f, ok := failureOf(err); ok && f.status == http.StatusBadRequest && isTAPPolicyRefusal(f.message) {
		return approvals.WrapError(approvals.EUPSTREAM, &graphError{kind: approvals.ErrTAPPolicy, cause: err, f: &f},
			"Graph refused a Temporary Access Pass: the tenant's Temporary Access Pass policy is off or does not include this user (Entra admin center → Protection → Authentication methods → Temporary Access Pass)")
	}
	return mapError(opCreateTAP, userID, err)
}

func isTAPPolicyRefusal(msg string) bool {
	norm := strings.ToLower(strings.Join(strings.Fields(msg), " "))
	return strings.Contains(norm, "usercredentialpolicy does not allow")
}

// TAPPolicy is the tenant's Temporary Access Pass policy, as doctor reports it.
type TAPPolicy struct {
	Enabled                   bool
	DefaultLifetime           time.Duration
	MinLifetime, MaxLifetime  time.Duration
	OneTimeOnly               bool     // isUsableOnce: every pass is one-time
	IncludeAll                bool     // includeTargets has all_users
	IncludeGroups, ExcludeIDs []string // object ids of the groups included (besides all users) and excluded
}

// tapPolicyJSON is the temporaryAccessPassAuthenticationMethodConfiguration resource.
type tapPolicyJSON struct {
	State                    string `json:"state"`
	DefaultLifetimeInMinutes int    `json:"defaultLifetimeInMinutes"`
	MinimumLifetimeInMinutes int    `json:"minimumLifetimeInMinutes"`
	MaximumLifetimeInMinutes int    `json:"maximumLifetimeInMinutes"`
	IsUsableOnce             bool   `json:"isUsableOnce"`
	IncludeTargets           []struct {
		ID string `json:"id"`
	} `json:"includeTargets"`
	ExcludeTargets []struct {
		ID string `json:"id"`
	} `json:"excludeTargets"`
}

// ReadTAPPolicy reads the tenant's Temporary Access Pass policy (Policy.Read.All).
func (c *Client) ReadTAPPolicy(ctx context.Context) (TAPPolicy, error) {
	b, err := c.raw(ctx, abstractions.GET, tapPolicyPath, nil)
	if err != nil {
		return TAPPolicy{}, mapError(opTAPPolicy, "TemporaryAccessPass", err)
	}
	var in tapPolicyJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return TAPPolicy{}, approvals.WrapError(approvals.EUPSTREAM, err, "Graph answered the Temporary Access Pass policy in an unexpected shape")
	}
	p := TAPPolicy{
		Enabled:         strings.EqualFold(in.State, "enabled"),
		DefaultLifetime: time.Duration(in.DefaultLifetimeInMinutes) * time.Minute,
		MinLifetime:     time.Duration(in.MinimumLifetimeInMinutes) * time.Minute,
		MaxLifetime:     time.Duration(in.MaximumLifetimeInMinutes) * time.Minute,
		OneTimeOnly:     in.IsUsableOnce,
	}
	for _, t := range in.IncludeTargets {
		if strings.EqualFold(t.ID, "all_users") {
			p.IncludeAll = true
		} else {
			p.IncludeGroups = append(p.IncludeGroups, t.ID)
		}
	}
	for _, t := range in.ExcludeTargets {
		p.ExcludeIDs = append(p.ExcludeIDs, t.ID)
	}
	return p, nil
}

// CheckTAP is the name of doctor's check of the Temporary Access Pass policy.
const CheckTAP = "graph.tap_policy"

// checkTAP reports whether passes of the configured terms can be created: the policy is
// on, allows the lifetime and, for multi-use passes, multi-use. It runs only when --tap
// is turned on.
func (c *Client) checkTAP(ctx context.Context, lifetime time.Duration, oneTime bool, r Reporter) {
	tctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	p, err := c.ReadTAPPolicy(tctx)
	const where = "Entra admin center → Protection → Authentication methods → Policies → Temporary Access Pass"
	switch {
	case IsAccessDenied(err):
		r.Fail(CheckTAP, "cannot read the Temporary Access Pass policy: access denied", "grant Policy.Read.All (see graph.permissions); only --tap needs it")
		return
	case err != nil:
		r.Fail(CheckTAP, "cannot read the Temporary Access Pass policy: "+errText(err), "")
		return
	case !p.Enabled:
		r.Fail(CheckTAP, "the tenant's Temporary Access Pass policy is disabled: every pass --tap asks for would be refused (the resets would still be done)",
			where+": enable it for the users mfabot resets, or set policy.tap_enabled: false")
		return
	case p.OneTimeOnly && !oneTime:
		r.Fail(CheckTAP, "the policy allows one-time passes only, and policy.tap_one_time is false: Graph would refuse every pass",
			"set policy.tap_one_time: true (MFABOT_TAP_ONE_TIME), or allow multi-use passes in the policy")
		return
	case p.MinLifetime > 0 && lifetime < p.MinLifetime, p.MaxLifetime > 0 && lifetime > p.MaxLifetime:
		r.Fail(CheckTAP, fmt.Sprintf("policy.tap_lifetime %s is outside the policy's lifetimes (%s to %s): Graph would refuse every pass",
			lifetime, p.MinLifetime, p.MaxLifetime), "set policy.tap_lifetime (MFABOT_TAP_LIFETIME) within them, or widen the policy: "+where)
		return
	}
	msg := fmt.Sprintf("the Temporary Access Pass policy is enabled; passes of %s are allowed (policy %s to %s)",
		approvals.TAPPlan{Lifetime: lifetime, OneTime: oneTime}.Terms(), p.MinLifetime, p.MaxLifetime)
	if !p.IncludeAll || len(p.ExcludeIDs) > 0 {
		r.Warn(CheckTAP, msg+fmt.Sprintf(", but not for every user: it includes %s and excludes %d group(s); users outside it get no pass (their reset is still done)",
			includeWords(p), len(p.ExcludeIDs)), where+": include the users mfabot resets")
		return
	}
	r.OK(CheckTAP, msg+", for all users", "")
}

func includeWords(p TAPPolicy) string {
	if p.IncludeAll {
		return "all users"
	}
	if len(p.IncludeGroups) == 0 {
		return "nobody"
	}
	return "the groups " + strings.Join(p.IncludeGroups, ", ")
}
