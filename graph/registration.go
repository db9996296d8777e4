package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/reports"

	"github.com/mfabot/mfabot/approvals"
)

// Registration reads a user's entry in the registration report
// (reports/authenticationMethods/userRegistrationDetails). A tenant without Microsoft
// Entra ID P1/P2 gets an error for which IsLicenceError is true.
func (c *Client) Registration(ctx context.Context, userID string) (approvals.Registration, error) {
	ctx = withPacing(ctx, c.reports, 1)
	d, err := c.sdk.Reports().AuthenticationMethods().UserRegistrationDetails().ByUserRegistrationDetailsId(userID).Get(ctx, nil)
	if err != nil {
		return approvals.Registration{}, mapError(opRegistration, userID, err)
	}
	return toRegistration(d), nil
}

// CheckReports reads the first entry of the registration report: mfabot doctor's test
// that the tenant is licensed and the permission granted.
func (c *Client) CheckReports(ctx context.Context) error {
	top := int32(1)
	ctx = withPacing(ctx, c.reports, 1)
	_, err := c.sdk.Reports().AuthenticationMethods().UserRegistrationDetails().Get(ctx,
		&reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetRequestConfiguration{
			QueryParameters: &reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetQueryParameters{Top: &top},
		})
	return mapError(opRegistration, "", err)
}

// Registrations streams the whole registration report page by page, paced under Graph's
// reports limit (5 requests per 10 s per app and tenant). Only one page is held at a time.
func (c *Client) Registrations(ctx context.Context, fn func([]approvals.Registration) error) error {
	top := int32(pageSize)
	builder := c.sdk.Reports().AuthenticationMethods().UserRegistrationDetails()
	resp, err := builder.Get(withPacing(ctx, c.reports, 1),
		&reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetRequestConfiguration{
			QueryParameters: &reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetQueryParameters{Top: &top},
		})
	for {
		if err != nil {
			return mapError(opRegistration, "", err)
		}
		page := make([]approvals.Registration, 0, len(resp.GetValue()))
		for _, d := range resp.GetValue() {
			page = append(page, toRegistration(d))
		}
		if err := fn(page); err != nil {
			return err
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			return nil
		}
		resp, err = builder.WithUrl(*next).Get(withPacing(ctx, c.reports, 1), nil)
	}
}

func toRegistration(d models.UserRegistrationDetailsable) approvals.Registration {
	r := approvals.Registration{
		UserID:                deref(d.GetId()),
		UPN:                   deref(d.GetUserPrincipalName()),
		DisplayName:           deref(d.GetUserDisplayName()),
		IsAdmin:               deref(d.GetIsAdmin()),
		IsMfaRegistered:       deref(d.GetIsMfaRegistered()),
		IsMfaCapable:          deref(d.GetIsMfaCapable()),
		IsSsprRegistered:      deref(d.GetIsSsprRegistered()),
		IsPasswordlessCapable: deref(d.GetIsPasswordlessCapable()),
		MethodsRegistered:     d.GetMethodsRegistered(),
		SystemPreferred:       d.GetSystemPreferredAuthenticationMethods(),
	}
	if t := d.GetUserType(); t != nil {
		r.UserType = t.String()
	}
	if p := d.GetUserPreferredMethodForSecondaryAuthentication(); p != nil && *p != models.NONE_USERDEFAULTAUTHENTICATIONMETHOD {
		r.PreferredMethod = p.String()
	}
	if t := d.GetLastUpdatedDateTime(); t != nil {
		r.LastUpdated = t.UTC()
	}
	return r
}

// MFAState reads the legacy per-user MFA state from the beta
// authentication/requirements endpoint, called through the v1.0 SDK's request adapter
// (there is no beta SDK here).
func (c *Client) MFAState(ctx context.Context, userID string) (string, error) {
	out, err := c.raw(ctx, abstractions.GET, "/beta/users/"+pathEscape(userID)+"/authentication/requirements", nil)
	if err != nil {
		return "", mapError(opReadMFA, userID, err)
	}
	var body struct {
		PerUserMfaState string `json:"perUserMfaState"`
	}
	if err := json.Unmarshal(out, &body); err != nil {
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "Graph answered the per-user MFA state in an unexpected shape")
	}
	return strings.ToLower(body.PerUserMfaState), nil
}

// SetMFAState sets the legacy per-user MFA state.
func (c *Client) SetMFAState(ctx context.Context, userID, state string) error {
	switch state {
	case approvals.MFADisabled, approvals.MFAEnabled, approvals.MFAEnforced:
	default:
		return approvals.Errorf(approvals.EINVALID, "per-user MFA state must be disabled, enabled or enforced, not %q", state)
	}
	body := fmt.Appendf(nil, `{"perUserMfaState":%q}`, state)
	_, err := c.raw(withPriority(ctx, c.writes), abstractions.PATCH, "/beta/users/"+pathEscape(userID)+"/authentication/requirements", body)
	if err != nil {
		return mapError(opWriteMFA, userID, err)
	}
	return nil
}
