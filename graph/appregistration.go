package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/applications"
)

// CheckRedirectURI is the name of the check of the app registration's step-up settings:
// part of mfabot doctor's --json contract (docs/deployment.md).
const CheckRedirectURI = "graph.redirect_uri"

var opReadApp = op{what: "read the app registration", permission: "Application.Read.All", notFound: "no app registration %s in the directory"}

// AppRegistration is what the step-up sign-in needs of the app registration: its web
// redirect URIs and the optional claims of its ID tokens.
type AppRegistration struct {
	RedirectURIs  []string
	IDTokenClaims []string
}

// AppRegistration reads the app's registration (GET /applications?$filter=appId eq …),
// which needs Application.Read.All.
func (c *Client) AppRegistration(ctx context.Context) (AppRegistration, error) {
	filter := "appId eq " + quote(c.clientID)
	apps, err := c.sdk.Applications().Get(ctx, &applications.ApplicationsRequestBuilderGetRequestConfiguration{
		QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "appId", "web", "optionalClaims"}},
	})
	if err != nil {
		return AppRegistration{}, mapError(opReadApp, c.clientID, err)
	}
	if len(apps.GetValue()) == 0 {
		return AppRegistration{}, mapError(opReadApp, c.clientID, failure{status: 404})
	}
	app := apps.GetValue()[0]
	var reg AppRegistration
	if w := app.GetWeb(); w != nil {
		reg.RedirectURIs = w.GetRedirectUris()
	}
	if oc := app.GetOptionalClaims(); oc != nil {
		for _, cl := range oc.GetIdToken() {
			reg.IDTokenClaims = append(reg.IDTokenClaims, deref(cl.GetName()))
		}
	}
	return reg, nil
}

// checkRedirectURI reports whether the app registration is set up for the step-up
// sign-in: redirectURI among its web redirect URIs (Entra refuses the sign-in otherwise,
// AADSTS50011) and auth_time among its ID token's optional claims (without it no sign-in
// can prove it is fresh, and every step-up is refused).
func (c *Client) checkRedirectURI(ctx context.Context, redirectURI string, r Reporter) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	where := fmt.Sprintf("Entra admin center → App registrations → %s → ", c.clientID)
	reg, err := c.AppRegistration(ctx)
	if err != nil {
		r.Warn(CheckRedirectURI, "cannot read the app registration to check the step-up sign-in: "+errText(err),
			"grant Application.Read.All so that doctor can check it, or check by hand: "+where+"Authentication lists the Web redirect URI "+
				redirectURI+", and Token configuration the ID token's optional claim auth_time")
		return
	}
	ok := true
	if !slices.Contains(reg.RedirectURIs, redirectURI) {
		ok = false
		have := "none"
		if len(reg.RedirectURIs) > 0 {
			have = strings.Join(reg.RedirectURIs, ", ")
		}
		r.Fail(CheckRedirectURI, fmt.Sprintf("the app registration lacks the Web redirect URI %s (it has %s): Entra refuses every step-up sign-in (AADSTS50011)", redirectURI, have),
			where+"Authentication → Add a platform → Web (or Add URI under Web) → "+redirectURI+" → Save")
	}
	if !slices.Contains(reg.IDTokenClaims, "auth_time") {
		ok = false
		r.Fail(CheckRedirectURI, "the app registration's ID token lacks the optional claim auth_time: no sign-in can show it is fresh, so every step-up is refused",
			where+"Token configuration → Add optional claim → ID → auth_time → Add")
	}
	if ok {
		r.OK(CheckRedirectURI, "the app registration has the Web redirect URI "+redirectURI+" and the ID token claim auth_time", "")
	}
}
