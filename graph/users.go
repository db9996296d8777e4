package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfabot/mfabot/approvals"
)

// userSelect is every user property mfabot reads; userType and accountEnabled are
// returned only when selected.
var userSelect = []string{"id", "userPrincipalName", "displayName", "mail", "userType", "accountEnabled"}

const pageSize = int32(999) // the largest page Graph serves for directory objects

// quote makes s an OData string literal: single quotes, with ' doubled.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ResolveUser finds a user by object id, user principal name or e-mail address. A UPN is
// looked up as a key (the SDK percent-encodes it, so a guest's #EXT# survives); an address
// that is no one's UPN is then looked up as mail.
func (c *Client) ResolveUser(ctx context.Context, ref string) (approvals.User, error) {
	ref = strings.TrimSpace(ref)
	if !approvals.IsObjectID(ref) && !strings.Contains(ref, "@") {
		return approvals.User{}, approvals.Errorf(approvals.EINVALID,
			"%q is not a user principal name, e-mail address or object id", ref)
	}
	u, err := c.sdk.Users().ByUserId(ref).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userSelect},
	})
	if err == nil && u == nil {
		return approvals.User{}, approvals.Errorf(approvals.EUPSTREAM, "Graph answered the user %s with an empty body", ref)
	}
	if err == nil {
		return toUser(u), nil
	}
	err = mapError(opReadUser, ref, err)
	if approvals.ErrorCode(err) != approvals.ENOTFOUND || approvals.IsObjectID(ref) {
		return approvals.User{}, err
	}
	filter := "mail eq " + quote(ref)
	top := int32(2)
	resp, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: userSelect, Top: &top},
	})
	if err != nil {
		return approvals.User{}, mapError(opReadUser, ref, err)
	}
	found := resp.GetValue()
	switch len(found) {
	case 0:
		return approvals.User{}, approvals.WrapError(approvals.ENOTFOUND, ErrNotFound, "no user %s in the directory", ref)
	case 1:
		return toUser(found[0]), nil
	default:
		names := make([]string, len(found))
		for i, u := range found {
			names[i] = toUser(u).Name()
		}
		return approvals.User{}, approvals.Errorf(approvals.EINVALID,
			"more than one user has the e-mail address %s: %s; use the user principal name or object id",
			ref, strings.Join(names, ", "))
	}
}

// Users streams every user of the tenant to fn, one page (up to 999 users) at a time.
func (c *Client) Users(ctx context.Context, fn func([]approvals.User) error) error {
	top := pageSize
	resp, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: userSelect, Top: &top},
	})
	for {
		if err != nil {
			return mapError(opListUsers, "", err)
		}
		page := make([]approvals.User, 0, len(resp.GetValue()))
		for _, u := range resp.GetValue() {
			page = append(page, toUser(u))
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		resp, err = c.sdk.Users().WithUrl(next).Get(ctx, nil)
	}
}

func toUser(u models.Userable) approvals.User {
	return approvals.User{
		ID:          deref(u.GetId()),
		UPN:         deref(u.GetUserPrincipalName()),
		DisplayName: deref(u.GetDisplayName()),
		Mail:        deref(u.GetMail()),
		Guest:       strings.EqualFold(deref(u.GetUserType()), "Guest"),
		Enabled:     deref(u.GetAccountEnabled()),
	}
}

// userPath is the path segment of a user in a hand-built URL (batch items, beta calls).
func userPath(id string) string {
	return "/users/" + pathEscape(id)
}

// pathEscape escapes a key for a URL path the way Graph wants it: everything but
// unreserved characters and @ percent-encoded (so # in a guest UPN becomes %23).
func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '@' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}
