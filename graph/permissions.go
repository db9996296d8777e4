package graph

import (
	"context"
	"sort"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// GraphAppID is the application id of Microsoft Graph's service principal in every tenant.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// Permission is a Microsoft Graph application permission mfabot needs, and why.
type Permission struct {
	Name     string // "UserAuthenticationMethod.ReadWrite.All"
	Needed   string // the commands that need it
	Optional bool   // mfabot works without it, with less
	// Feature names the configuration switch that needs it ("enforce": policy.enforce_enabled,
	// "mail": notify.mail_from); "" means always.
	Feature string
}

// RequiredPermissions are the least-privileged application permissions for everything
// mfabot does, each with the commands that need it (from each API's documented
// least-privileged application permission).
var RequiredPermissions = []Permission{
	{Name: "User.Read.All", Needed: "resolving users for status, reset and enforce; counting users for the summary"},
	{Name: "UserAuthenticationMethod.ReadWrite.All", Needed: "status (list methods), reset (delete methods, read and move the default sign-in method)"},
	{Name: "User.RevokeSessions.All", Needed: "reset, revoke and revoke-group (revokeSignInSessions)"},
	{Name: "GroupMember.Read.All", Needed: "revoke-group (transitive members), entra-group: approvers and protected groups"},
	{Name: "AuditLog.Read.All", Needed: "status and the daily summary (the registration report; also needs Entra ID P1/P2)"},
	// It can also rewrite the tenant's authentication methods policy: grant it only with
	// enforce turned on (policy.enforce_enabled).
	{Name: "Policy.ReadWrite.AuthenticationMethod", Needed: "enforce and the per-user MFA state in status (beta authentication/requirements)", Feature: "enforce"},
	// It lets the app send mail as any user of the tenant: grant it only with a mailbox
	// configured (notify.mail_from), and consider an application access policy that holds
	// it to that mailbox.
	{Name: "Mail.Send", Needed: "nudges and notices by e-mail from the mailbox notify.mail_from (sendMail)", Feature: "mail"},
	// Creating a pass needs UserAuthenticationMethod.ReadWrite.All, which reset has.
	{Name: "Policy.Read.All", Needed: "mfabot doctor's check of the Temporary Access Pass policy (reset --tap, policy.tap_enabled)", Feature: "tap"},
	{Name: "Application.Read.All", Needed: "mfabot doctor only (reading which permissions are granted, and the step-up redirect URI)", Optional: true},
}

// GrantedPermissions reads the application permissions granted (with admin consent) to
// this app on Microsoft Graph, from its service principal's app role assignments.
func (c *Client) GrantedPermissions(ctx context.Context) ([]string, error) {
	filter := "appId eq " + quote(c.clientID)
	sps, err := c.sdk.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "appId"}},
	})
	if err != nil {
		return nil, mapError(opServicePrinc, c.clientID, err)
	}
	if len(sps.GetValue()) == 0 {
		return nil, mapError(opServicePrinc, c.clientID, failure{status: 404})
	}
	spID := deref(sps.GetValue()[0].GetId())
	graphFilter := "appId eq " + quote(GraphAppID)
	gsps, err := c.sdk.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &graphFilter, Select: []string{"id", "appId", "appRoles"}},
	})
	if err != nil {
		return nil, mapError(opServicePrinc, "Microsoft Graph", err)
	}
	roles := map[string]string{} // app role id -> permission name
	graphSP := ""
	for _, sp := range gsps.GetValue() {
		graphSP = deref(sp.GetId())
		for _, r := range sp.GetAppRoles() {
			if r.GetId() != nil {
				roles[strings.ToLower(r.GetId().String())] = deref(r.GetValue())
			}
		}
	}
	assigned, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignments().Get(ctx, nil)
	if err != nil {
		return nil, mapError(opServicePrinc, c.clientID, err)
	}
	var out []string
	for {
		for _, a := range assigned.GetValue() {
			if a.GetResourceId() == nil || !strings.EqualFold(a.GetResourceId().String(), graphSP) || a.GetAppRoleId() == nil {
				continue
			}
			if name := roles[strings.ToLower(a.GetAppRoleId().String())]; name != "" {
				out = append(out, name)
			}
		}
		next := assigned.GetOdataNextLink()
		if next == nil || *next == "" {
			break
		}
		assigned, err = c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignments().WithUrl(*next).Get(ctx, nil)
		if err != nil {
			return nil, mapError(opServicePrinc, c.clientID, err)
		}
	}
	sort.Strings(out)
	return out, nil
}
