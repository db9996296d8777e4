package approvals

import (
	"context"
	"strings"
)

// GroupLister resolves groups and lists their transitive user members; Directory has both.
type GroupLister interface {
	ResolveGroup(ctx context.Context, ref string) (Group, error)
	GroupMembers(ctx context.Context, groupID string, fn func([]User) error) error
}

// Excluded is the set of accounts left out of "missing" (summary.exclude): service and
// shared accounts that cannot register for MFA, and whose absence a campaign must not
// chase. The summary counts them apart; nudges and revoke-group --unregistered leave them
// out.
type Excluded struct {
	ids   IDSet
	names map[string]bool // lower-cased UPNs and mail addresses
}

// Has reports whether u is excluded, by object id, UPN or mail address.
func (x Excluded) Has(u User) bool {
	if x.ids.guids == nil {
		return false
	}
	if x.ids.Has(u.ID) {
		return true
	}
	return (u.UPN != "" && x.names[strings.ToLower(u.UPN)]) || (u.Mail != "" && x.names[strings.ToLower(u.Mail)])
}

// Len is the number of accounts excluded by id or name (members of excluded groups
// included).
func (x Excluded) Len() int { return x.ids.Len() + len(x.names) }

// ValidExclusion reports what is wrong with one summary.exclude entry, "" when it is an
// object id or a UPN.
func ValidExclusion(ref string) string {
	ref = strings.TrimSpace(ref)
	switch {
	case IsObjectID(ref):
		return ""
	case strings.Count(ref, "@") >= 1 && !strings.HasPrefix(ref, "@") && !strings.HasSuffix(ref, "@") && !strings.ContainsAny(ref, " \t,"):
		return ""
	}
	return "is neither an object id nor a UPN (groups are named by object id)"
}

// ResolveExclusions resolves the configured exclusions now: users by object id or UPN, and
// groups by object id, whose transitive members are read now, so that an account added to
// an excluded group later is left out too. An object id that is no group's is a user's.
func ResolveExclusions(ctx context.Context, dir GroupLister, refs []string) (Excluded, error) {
	x := Excluded{ids: NewIDSet(), names: map[string]bool{}}
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		if why := ValidExclusion(ref); why != "" {
			return Excluded{}, Errorf(EINVALID, "summary.exclude: %q %s", ref, why)
		}
		if !IsObjectID(ref) {
			x.names[strings.ToLower(ref)] = true
			continue
		}
		g, err := dir.ResolveGroup(ctx, ref)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			x.ids.Add(ref)
			continue
		case err != nil:
			return Excluded{}, WrapError(EUPSTREAM, err, "could not read the excluded group %s", ref)
		}
		err = dir.GroupMembers(ctx, g.ID, func(us []User) error {
			for _, u := range us {
				x.ids.Add(u.ID)
			}
			return nil
		})
		if err != nil {
			return Excluded{}, WrapError(EUPSTREAM, err, "could not list the excluded group %s", firstNonEmpty(g.DisplayName, g.ID))
		}
	}
	return x, nil
}
