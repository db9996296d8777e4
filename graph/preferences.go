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
// preferences (DefaultNone when Graph names none). Where they cannot be read (refused,
// say for want of a permission, or unavailable) it falls back to the registration
// report's userPreferredMethodForSecondaryAuthentication, which lags by a few hours; a
// stale answer only costs the executor one retry at the end. A user who does not exist
// is ENOTFOUND at once. When both fail, the preferences' error is returned: it names
// the permission mfabot asks for.
func (c *Client) DefaultMethod(ctx context.Context, userID string) (string, error) {
	out, err := c.raw(ctx, abstractions.GET, signInPreferencesPath(userID), nil)
	if err == nil {
		var body struct {
			Preferred string `json:"userPreferredMethodForSecondaryAuthentication"`
		}
		if jerr := json.Unmarshal(out, &body); jerr == nil {
			return orDefaultNone(body.Preferred), nil
		}
		err = approvals.Errorf(approvals.EUPSTREAM, "Graph answered the sign-in preferences in an unexpected shape")
	}
	err = mapError(opReadPreferences, userID, err)
	if approvals.ErrorCode(err) == approvals.ENOTFOUND {
		return "", err
	}
	reg, rerr := c.Registration(ctx, userID)
	if rerr != nil {
		c.log.DebugContext(ctx, "default method unreadable from the report too", "user", userID, "error", rerr)
		return "", err
	}
	c.log.DebugContext(ctx, "default method from the registration report", "user", userID, "preferences_error", err)
	return orDefaultNone(reg.PreferredMethod), nil
}

func orDefaultNone(p string) string {
	if p == "" || p == "unknownFutureValue" {
		return approvals.DefaultNone
	}
	return p
}

// SetDefaultMethod sets the user's default second factor (beta signInPreferences). Graph
// refuses, with a 400, a default the user has no method for. It is a single-user write:
// paced, ahead of bulk work.
func (c *Client) SetDefaultMethod(ctx context.Context, userID, pref string) error {
	body := fmt.Appendf(nil, `{"userPreferredMethodForSecondaryAuthentication":%q}`, pref)
	_, err := c.raw(withPriority(ctx, c.writes), abstractions.PATCH, signInPreferencesPath(userID), body)
	if err != nil {
		return mapError(opWritePreferences, userID, err)
	}
	return nil
}
