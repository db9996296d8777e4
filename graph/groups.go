package graph

import (
	"context"
	"fmt"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfabot/mfabot/approvals"
)

var groupSelect = []string{"id", "displayName", "mailNickname"}

// ResolveGroup finds a group by object id, mail nickname or display name. A name shared
// by several groups is EINVALID with the candidates listed.
func (c *Client) ResolveGroup(ctx context.Context, ref string) (approvals.Group, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return approvals.Group{}, approvals.Errorf(approvals.EINVALID, "which group? give an object id, mail nickname or display name")
	}
	if approvals.IsObjectID(ref) {
		g, err := c.sdk.Groups().ByGroupId(ref).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupSelect},
		})
		if err != nil {
			return approvals.Group{}, mapError(opReadGroup, ref, err)
		}
		return toGroup(g), nil
	}
	// Mail nicknames are unique; display names are not.
	var found []models.Groupable
	matched := ""
	for _, prop := range []string{"mailNickname", "displayName"} {
		matched = prop
		filter := prop + " eq " + quote(ref)
		top := int32(10)
		resp, err := c.sdk.Groups().Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: groupSelect, Top: &top},
		})
		if err != nil {
			return approvals.Group{}, mapError(opReadGroup, ref, err)
		}
		if found = resp.GetValue(); len(found) > 0 {
			break
		}
	}
	switch len(found) {
	case 0:
		return approvals.Group{}, approvals.WrapError(approvals.ENOTFOUND, ErrNotFound, "no group %s in the directory", ref)
	case 1:
		return toGroup(found[0]), nil
	}
	var names []string
	for _, g := range found {
		names = append(names, fmt.Sprintf("%s (id %s)", deref(g.GetDisplayName()), deref(g.GetId())))
	}
	how := "are named"
	if matched == "mailNickname" {
		how = "have the mail nickname"
	}
	return approvals.Group{}, approvals.Errorf(approvals.EINVALID, "%d groups %s %s: %s; use the object id", len(found), how, ref, strings.Join(names, ", "))
}

// GroupsNamed lists the groups whose display name is name. Mail nicknames are never
// matched: a security decision must not rest on an alias anyone can choose.
func (c *Client) GroupsNamed(ctx context.Context, name string) ([]approvals.Group, error) {
	filter := "displayName eq " + quote(name)
	top := int32(10)
	resp, err := c.sdk.Groups().Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: groupSelect, Top: &top},
	})
	if err != nil {
		return nil, mapError(opReadGroup, name, err)
	}
	var out []approvals.Group
	for _, g := range resp.GetValue() {
		out = append(out, toGroup(g))
	}
	return out, nil
}

// GroupMemberCount counts the group's transitive user members with $count, for the
// preview of a revoke-group request; it does not page through the group. Graph's count of
// directory objects is an advanced query: it needs the ConsistencyLevel: eventual header,
// and may lag recent membership changes by a little.
func (c *Client) GroupMemberCount(ctx context.Context, groupID string) (int, error) {
	h := abstractions.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	n, err := c.sdk.Groups().ByGroupId(groupID).TransitiveMembers().GraphUser().Count().Get(ctx,
		&groups.ItemTransitiveMembersGraphUserCountRequestBuilderGetRequestConfiguration{Headers: h})
	if err != nil {
		return 0, mapError(opGroupMembers, groupID, err)
	}
	return int(deref(n)), nil
}

func toGroup(g models.Groupable) approvals.Group {
	return approvals.Group{ID: deref(g.GetId()), DisplayName: deref(g.GetDisplayName()), MailNickname: deref(g.GetMailNickname())}
}

// GroupMembers streams the group's transitive user members page by page (nested groups
// expanded, devices and service principals left out); only one page is held at a time.
func (c *Client) GroupMembers(ctx context.Context, groupID string, fn func([]approvals.User) error) error {
	top := int32(pageSize)
	builder := c.sdk.Groups().ByGroupId(groupID).TransitiveMembers().GraphUser()
	resp, err := builder.Get(ctx, &groups.ItemTransitiveMembersGraphUserRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.ItemTransitiveMembersGraphUserRequestBuilderGetQueryParameters{Select: userSelect, Top: &top},
	})
	for {
		if err != nil {
			return mapError(opGroupMembers, groupID, err)
		}
		page := make([]approvals.User, 0, len(resp.GetValue()))
		for _, u := range resp.GetValue() {
			page = append(page, toUser(u))
		}
		if err := fn(page); err != nil {
			return err
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			return nil
		}
		resp, err = builder.WithUrl(*next).Get(ctx, nil)
	}
}

// IsMemberOf reports whether the user is a transitive member of the group.
func (c *Client) IsMemberOf(ctx context.Context, userID, groupID string) (bool, error) {
	body := users.NewItemCheckMemberGroupsPostRequestBody()
	body.SetGroupIds([]string{groupID})
	resp, err := c.sdk.Users().ByUserId(userID).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body, nil)
	if err != nil {
		return false, mapError(opCheckMember, userID, err)
	}
	for _, id := range resp.GetValue() {
		if strings.EqualFold(id, groupID) {
			return true, nil
		}
	}
	return false, nil
}
