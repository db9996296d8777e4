package approvals

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Report is what an enrollment campaign reads of the tenant: who has not registered for
// MFA, and every user (for a campaign to everyone). graph.Client implements it.
type Report interface {
	// NotRegistered streams the registration report's entries of users not registered for
	// MFA, page by page. Without Microsoft Entra ID P1/P2 the error holds ErrLicence.
	NotRegistered(ctx context.Context, fn func([]Registration) error) error
	// Users streams every user of the tenant, page by page.
	Users(ctx context.Context, fn func([]User) error) error
}

// Everyone is the target of a nudge to the whole tenant ("nudge everyone").
const Everyone = "everyone"

// Target types of campaigns.
const (
	TargetGroup  = "group"
	TargetTenant = "tenant" // every user of the tenant: Target.ID and Name are Everyone
)

// Campaign is whom a campaign request reaches and whom it leaves alone, counted when its
// facts were read. A campaign is a nudge, or a revoke-group limited to the members not
// registered for MFA (--unregistered). Its rules:
//   - it reaches the enabled members (userType Member) of the group, or of the tenant for
//     everyone, that the registration report lists as not registered for MFA;
//   - guests are left out: they prove MFA in their home tenant, and mfabot can neither
//     reach them nor make them register there;
//   - disabled accounts are left out: they cannot sign in;
//   - protected accounts (Policy.ProtectedUsers, members of Policy.ProtectedGroups) and
//     the accounts the summary excludes (Policy.Exclude: service and shared accounts) are
//     left out and counted apart;
//   - a campaign that would reach nobody is refused, saying why;
//   - more than Policy.ConfirmAbove people need --confirm with the exact count, and when
//     it runs the people it reaches are counted again: more than a tenth more than were
//     approved (or past ConfirmAbove) and nothing happens, as with revoke-group.
type Campaign struct {
	Unregistered bool // revoke-group --unregistered
	Members      int  // enabled members looked at: of the group, or of the tenant
	Registered   int  // of them registered for MFA, left alone
	Protected    int  // of them protected, left out
	Excluded     int  // of them in summary.exclude, left out
	Guests       int  // guests left out
	Disabled     int  // disabled accounts left out
}

// Reached is the number of people the campaign reaches: the members neither registered,
// protected nor excluded.
func (c Campaign) Reached() int { return c.Members - c.Registered - c.Protected - c.Excluded }

// campaign gathers the facts of a nudge or of a revoke-group --unregistered: the target
// (a group, or everyone for a nudge) and whom it reaches. It refuses a campaign that
// reaches nobody, saying why.
func (s *Service) gatherCampaign(ctx context.Context, r *Request, ref string, in NewRequest) error {
	if strings.TrimSpace(ref) == "" {
		if r.Kind == KindNudge {
			return Errorf(EINVALID, "whom? give a group (object id, mail nickname or display name) or everyone")
		}
		return Errorf(EINVALID, "which group? give an object id, mail nickname or display name")
	}
	if s.report == nil {
		return Errorf(EINTERNAL, "this mfabot has no registration report to run campaigns from")
	}
	protected, err := s.protectedSet(ctx)
	if err != nil {
		return err
	}
	if r.Kind == KindNudge && strings.EqualFold(strings.TrimSpace(ref), Everyone) {
		r.Target = Target{Type: TargetTenant, ID: Everyone, Name: Everyone}
	} else {
		g, err := s.dir.ResolveGroup(ctx, ref)
		if err != nil {
			return err
		}
		r.Target = Target{Type: TargetGroup, ID: g.ID, Name: firstNonEmpty(g.DisplayName, g.MailNickname, g.ID)}
		if r.Kind == KindRevokeGroup && protected.groups[g.ID] {
			return Errorf(EFORBIDDEN, "%s is a protected group; mfabot never revokes it", r.Target.Name)
		}
	}
	c, err := reach(ctx, s.dir, s.report, s.policy, protected, r, nil)
	if err != nil {
		return err
	}
	c.Unregistered = r.Kind == KindRevokeGroup
	if c.Reached() == 0 {
		return Errorf(EINVALID, "%s; nothing to do", nobodyToReach(r, c))
	}
	r.Preview.Campaign = &c
	r.Preview.MemberCount = c.Reached()
	return nil
}

// nobodyToReach says why a campaign reaches nobody.
func nobodyToReach(r *Request, c Campaign) string {
	who := r.Target.Name + " has"
	if r.Target.Type == TargetTenant {
		who = "the tenant has"
	}
	if c.Members == 0 {
		return fmt.Sprintf("%s no enabled members (%d guests and %d disabled accounts are left out)", who, c.Guests, c.Disabled)
	}
	left := fmt.Sprintf("%d of %d enabled members are registered", c.Registered, c.Members)
	if n := c.Protected + c.Excluded; n > 0 {
		left += fmt.Sprintf(", %d protected or excluded", n)
	}
	return fmt.Sprintf("%s no unregistered members: %s", who, left)
}

// checkCampaignConfirm makes a campaign that reaches more than ConfirmAbove people carry
// --confirm with the exact number.
func (s *Service) checkCampaignConfirm(r *Request, confirm int) error {
	n, limit := r.Preview.MemberCount, s.policy.ConfirmAbove
	if limit <= 0 || n <= limit || confirm == n {
		return nil
	}
	what := fmt.Sprintf("%d members of %s are not registered for MFA", n, r.Target.Name)
	act := "sign them all out"
	if r.Kind == KindNudge {
		what = fmt.Sprintf("this nudge reaches %d people", n)
		act = "message them all"
	}
	if confirm != 0 {
		return Errorf(EINVALID, "%s, not %d: check the count and repeat with --confirm %d", what, confirm, n)
	}
	return Errorf(EINVALID, "%s (more than %d): to %s, repeat the command with --confirm %d", what, limit, act, n)
}

// reach counts whom a campaign reaches now and hands each of them to visit (when not nil),
// in the order the directory lists them.
func reach(ctx context.Context, dir Directory, rep Report, pol Policy, prot protected, r *Request, visit func(User)) (Campaign, error) {
	if rep == nil {
		return Campaign{}, Errorf(EINTERNAL, "no registration report to run campaigns from")
	}
	unregistered := NewIDSet()
	err := rep.NotRegistered(ctx, func(page []Registration) error {
		for _, reg := range page {
			if !reg.IsMfaRegistered {
				unregistered.Add(reg.UserID)
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrLicence) {
			return Campaign{}, WrapError(EUPSTREAM, err, "mfabot cannot tell who is not registered for MFA: the registration report needs Microsoft Entra ID P1 or P2 in this tenant")
		}
		return Campaign{}, WrapError(ErrorCode(err), err, "read who is not registered for MFA: %s", ErrorMessage(err))
	}
	excluded, err := ResolveExclusions(ctx, dir, pol.Exclude)
	if err != nil {
		return Campaign{}, err
	}
	var c Campaign
	each := func(us []User) error {
		for _, u := range us {
			switch {
			case !u.Enabled:
				c.Disabled++
				continue
			case u.Guest:
				c.Guests++
				continue
			}
			c.Members++
			switch {
			case prot.has(u):
				c.Protected++
			case excluded.Has(u):
				c.Excluded++
			case !unregistered.Has(u.ID):
				c.Registered++
			default:
				if visit != nil {
					visit(u)
				}
			}
		}
		return nil
	}
	if r.Target.Type == TargetTenant {
		err = rep.Users(ctx, each)
	} else {
		err = dir.GroupMembers(ctx, r.Target.ID, each)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("list the members of %s: %w", r.Target.Name, err)
	}
	return c, nil
}

// expandCampaign turns a campaign into one item per person it reaches now: a revocation
// or a nudge. Nothing runs when the campaign reaches more people than were approved by
// more than a tenth (or past ConfirmAbove): the request must be made again.
func (e *Executor) expandCampaign(ctx context.Context, r *Request, prot protected) ([]Item, error) {
	if r.Target.Type == TargetGroup && r.Kind == KindRevokeGroup && prot.groups[r.Target.ID] {
		return nil, Errorf(EFORBIDDEN, "%s became a protected group after the request was made; nothing was revoked", r.Target.Name)
	}
	var items []Item
	op := OpRevoke
	if r.Kind == KindNudge {
		op = OpNudge
	}
	_, err := reach(ctx, e.dir, e.o.Report, e.policy, prot, r, func(u User) {
		it := Item{RequestID: r.ID, Seq: len(items) + 1, Op: op, UserID: u.ID, UserName: firstNonEmpty(u.UPN, u.ID), State: ItemPending}
		if op == OpNudge {
			it.Arg = u.Mail
		}
		items = append(items, it)
	})
	if err != nil {
		return nil, err
	}
	if groupChanged(r.Preview.MemberCount, len(items), e.policy.ConfirmAbove) {
		verb := "nothing was revoked"
		if r.Kind == KindNudge {
			verb = "nobody was messaged"
		}
		return nil, Errorf(ECONFLICT, "the campaign changed: %d people are not registered in %s now, %d when it was approved; %s, request again",
			len(items), r.Target.Name, r.Preview.MemberCount, verb)
	}
	return items, nil
}

// IDSet is a compact set of object ids: GUIDs kept as 16 bytes, anything else as is
// (case-insensitively), so that the unregistered users of a 100,000-user tenant take a few
// megabytes at most. The campaign rules and the summary share it.
type IDSet struct {
	guids map[[16]byte]struct{}
	other map[string]struct{}
}

// NewIDSet returns an empty set.
func NewIDSet() IDSet {
	return IDSet{guids: map[[16]byte]struct{}{}, other: map[string]struct{}{}}
}

// Add puts id in the set.
func (s IDSet) Add(id string) {
	if g, ok := guidBytes(id); ok {
		s.guids[g] = struct{}{}
		return
	}
	s.other[strings.ToLower(id)] = struct{}{}
}

// Has reports whether id is in the set.
func (s IDSet) Has(id string) bool {
	if g, ok := guidBytes(id); ok {
		_, ok := s.guids[g]
		return ok
	}
	_, ok := s.other[strings.ToLower(id)]
	return ok
}

// Len is the number of ids in the set.
func (s IDSet) Len() int { return len(s.guids) + len(s.other) }

// guidBytes reads an object id ("8-4-4-4-12" hex, either case) without allocating: it runs
// once per user of a tenant.
func guidBytes(s string) ([16]byte, bool) {
	var g [16]byte
	if !IsObjectID(s) {
		return g, false
	}
	var h [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			h[n] = s[i]
			n++
		}
	}
	if _, err := hex.Decode(g[:], h[:]); err != nil {
		return g, false
	}
	return g, true
}
