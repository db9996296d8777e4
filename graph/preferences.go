package graph

import (
	"context"
	"encoding/json"
	"fmt"

	abstractions "github.com/microsoft/kiota-abstractions-go"

	"github.com/mfabot/mfabot/approvals"
)

// signInPreferencesPath is the beta resource that holds a user's default second factor;
// there is no v1.0 equivalent, so it goes through the request adapter with a raw URL.
func signInPreferencesPath(userID string) string {
	return "/beta" + userPath(userID) + "/authentication/signInPreferences"
}

// DefaultMethod returns the user's default second factor from the live sign-in
// preferences. Where they cannot be read it falls back to the registration report's
// userPreferredMethodForSecondaryAuthentication, which lags by a few hours; a stale
// answer only costs the executor one retry at the end.
func (c *Client) DefaultMethod(ctx context.Context, userID string) (string, error) {
	out, err := c.raw(ctx, abstractions.GET, signInPreferencesPath(userID), nil)
	if err == nil {
		var body struct {
			Preferred string `json:"userPreferredMethodForSecondaryAuthentication"`
		}
		if jerr := json.Unmarshal(out, &body); jerr == nil {
			return orDefaultNone(body.Preferred), nil
		}
	}
	reg, rerr := c.Registration(ctx, userID)
	if rerr != nil {
		if err != nil {
			return "", mapError(opReadPreferences, userID, err)
		}
		return "", rerr
	}
	return orDefaultNone(reg.PreferredMethod), nil
}

func orDefaultNone(p string) string {
	if p == "" || p == "unknownFutureValue" {
		return approvals.DefaultNone
	}
	return p
}

// SetDefaultMethod sets the user's default second factor.
func (c *Client) SetDefaultMethod(ctx context.Context, userID, pref string) error {
	body := fmt.Appendf(nil, `{"userPreferredMethodForSecondaryAuthentication":%q}`, pref)
	_, err := c.raw(withPriority(ctx, c.writes), abstractions.PATCH, signInPreferencesPath(userID), body)
	if err != nil {
		return mapError(opWritePreferences, userID, err)
	}
	return nil
}
