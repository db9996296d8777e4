package graph

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/reports"

	"github.com/mfabot/mfabot/approvals"
)

// notRegisteredFilter is the registration report's documented filter for users who have
// not registered a method for multifactor authentication.
const notRegisteredFilter = "isMfaRegistered eq false"

// NotRegistered streams the registration report's entries of users not registered for
// MFA ($filter=isMfaRegistered eq false), page by page under the reports limit (5 requests
// per 10 s per app and tenant), so that a campaign reads only the people it concerns. A
// tenant without Microsoft Entra ID P1/P2 gets an error for which IsLicenceError is true.
func (c *Client) NotRegistered(ctx context.Context, fn func([]approvals.Registration) error) error {
	top := int32(pageSize)
	filter := notRegisteredFilter
	builder := c.sdk.Reports().AuthenticationMethods().UserRegistrationDetails()
	resp, err := builder.Get(withPacing(ctx, c.reports, 1),
		&reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetRequestConfiguration{
			QueryParameters: &reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetQueryParameters{Top: &top, Filter: &filter},
		})
	for {
		if err != nil {
			return mapError(opRegistration, "", err)
		}
		page := make([]approvals.Registration, 0, len(resp.GetValue()))
		for _, d := range resp.GetValue() {
			page = append(page, toRegistration(d))
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			return nil
		}
		resp, err = builder.WithUrl(*next).Get(withPacing(ctx, c.reports, 1), nil)
	}
}
