package approvals

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Principal names who may do something: one chat account ("slack:U024BE7LH",
// "teams:<aad object id>", "console:ann"), one Entra user ("entra:<object id>"), or every
// member of an Entra group ("entra-group:<object id or name>").
type Principal struct {
	Kind  string // "slack", "teams", "console", "entra", "entra-group"
	Value string
}

func (p Principal) String() string { return p.Kind + ":" + p.Value }

// ParsePrincipal parses "kind:value".
func ParsePrincipal(s string) (Principal, error) {
	kind, value, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || value == "" {
		return Principal{}, Errorf(EINVALID, "%q is not an identity: use slack:U…, teams:<object id>, entra:<object id> or entra-group:<id or name>", s)
	}
	kind = strings.ToLower(kind)
	switch kind {
	case "slack", "teams", "console", "entra", "entra-group":
		return Principal{Kind: kind, Value: value}, nil
	}
	return Principal{}, Errorf(EINVALID, "%q: unknown identity kind %q (slack, teams, console, entra, entra-group)", s, kind)
}

// ParsePrincipals parses a comma-separated list of principals.
func ParsePrincipals(s string) ([]Principal, error) {
	var out []Principal
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		p, err := ParsePrincipal(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Policy is who may do what, and the limits on it. Its rules:
//   - only Requesters may make requests and use the read-only commands (status, summary,
//     pending); Approvers may too;
//   - only Approvers may approve or deny, and never a request of their own: the same
//     person on another platform, linked through the Entra object id, counts as the same;
//   - a request needs RequiredApprovals approvals from different people;
//   - protected users, and members of protected groups, can never be reset, enforced or
//     revoked; protected groups can never be the target of revoke-group;
//   - revoke-group on a group of more than ConfirmAbove members must carry --confirm with
//     the exact member count, so nobody revokes 20,000 users by a typo;
//   - a pending request expires after Expiry (per kind).
type Policy struct {
	Requesters        []Principal
	Approvers         []Principal
	RequiredApprovals int                    // default 1
	Expiry            map[Kind]time.Duration // default DefaultExpiry for kinds not listed
	ProtectedUsers    []string               // UPN, mail or object id
	ProtectedGroups   []string               // object id, mail nickname or display name
	ConfirmAbove      int                    // default 500; 0 after defaults means always confirm
}

// DefaultExpiry is how long a request waits for approval unless configured.
const DefaultExpiry = 60 * time.Minute

// DefaultConfirmAbove is the revoke-group size above which --confirm is required.
const DefaultConfirmAbove = 500

func (p Policy) required() int {
	if p.RequiredApprovals < 1 {
		return 1
	}
	return p.RequiredApprovals
}

func (p Policy) expiry(k Kind) time.Duration {
	if d, ok := p.Expiry[k]; ok && d > 0 {
		return d
	}
	return DefaultExpiry
}

// Validate reports the first problem with the policy.
func (p Policy) Validate() error {
	if len(p.Requesters) == 0 {
		return Errorf(EINVALID, "policy: no requesters configured (MFABOT_REQUESTERS)")
	}
	if len(p.Approvers) == 0 {
		return Errorf(EINVALID, "policy: no approvers configured (MFABOT_APPROVERS)")
	}
	if p.RequiredApprovals < 0 {
		return Errorf(EINVALID, "policy: required approvals must be 1 or more")
	}
	for k, d := range p.Expiry {
		if d < time.Minute {
			return Errorf(EINVALID, "policy: expiry for %s must be at least a minute", k)
		}
	}
	return nil
}

// matches reports whether a is one of ps, asking dir for group membership.
func matches(ctx context.Context, dir Directory, ps []Principal, a Actor) (bool, error) {
	var groups []string
	for _, p := range ps {
		switch p.Kind {
		case "entra":
			if a.EntraID != "" && strings.EqualFold(p.Value, a.EntraID) {
				return true, nil
			}
		case "entra-group":
			groups = append(groups, p.Value)
		default:
			if p.Kind == a.Platform && p.Value == a.ID {
				return true, nil
			}
		}
	}
	if a.EntraID == "" {
		return false, nil
	}
	for _, g := range groups {
		group, err := dir.ResolveGroup(ctx, g)
		if err != nil {
			return false, fmt.Errorf("resolve group %s: %w", g, err)
		}
		ok, err := dir.IsMemberOf(ctx, a.EntraID, group.ID)
		if err != nil {
			return false, fmt.Errorf("check membership of %s: %w", g, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// describe names the principals for a refusal message.
func describe(ps []Principal) string {
	var names []string
	for _, p := range ps {
		if p.Kind == "entra-group" {
			names = append(names, "the Entra group "+p.Value)
		}
	}
	if len(names) == 0 {
		return "the configured list"
	}
	return strings.Join(names, " or ")
}
