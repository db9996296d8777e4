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
//   - when people could be two accounts at once (RequireLink: more than one chat platform,
//     or an entra:/entra-group: principal), an actor whose chat account is not linked to
//     an Entra user may neither request nor decide, and an actor whose Entra account is
//     disabled never may;
//   - protected users, and members of protected groups, can never be reset, enforced or
//     revoked, checked when the request is made and again when it runs; protected groups
//     can never be the target of revoke-group;
//   - revoke-group on a group of more than ConfirmAbove members must carry --confirm with
//     the exact member count, so nobody revokes 20,000 users by a typo, and fails when the
//     group has grown by more than a tenth (or past ConfirmAbove) by the time it runs;
//   - a pending request expires after Expiry (per kind);
//   - an approval of a kind StepUp names counts only after a fresh Entra sign-in with MFA
//     by the approver themselves (see StepUp).
//   - a reset may create a Temporary Access Pass after it (--tap) only when TAPEnabled,
//     never for a protected account, and the pass goes to the requester alone (tap.go);
//   - a bulk reset names at most BulkMax users, each once (bulkreset.go).
//
// Group principals and protected groups are pinned to object ids once, at start (PinPolicy):
// from then on membership is checked by id, so a group created later with a look-alike
// name or alias changes nothing.
type Policy struct {
	Requesters        []Principal
	Approvers         []Principal
	RequiredApprovals int                    // default 1
	Expiry            map[Kind]time.Duration // default DefaultExpiry for kinds not listed
	ProtectedUsers    []string               // UPN, mail or object id
	ProtectedGroups   []string               // object ids once pinned
	ConfirmAbove      int                    // default 500; 0 after defaults means always confirm
	// RequireLink refuses actors without an Entra link (see the rules above).
	RequireLink bool
	// EnforceEnabled allows enforce requests. The per-user MFA state needs
	// Policy.ReadWrite.AuthenticationMethod, which can rewrite the tenant's authentication
	// methods policy, so the permission and the command are off unless configured.
	EnforceEnabled bool
	// StepUp names the kinds whose approval needs a fresh Entra sign-in with MFA.
	StepUp StepUp
	// Exclude lists the accounts campaigns leave out as the summary leaves them out of
	// "missing" (summary.exclude): object ids or UPNs of users, object ids of groups.
	Exclude []string
	// Pinned lists the groups PinPolicy resolved, for the startup log and doctor.
	Pinned []PinnedGroup

	// TAPEnabled allows --tap: a Temporary Access Pass of TAPLifetime (default
	// DefaultTAPLifetime), usable once when TAPOneTime, created after a reset.
	TAPEnabled  bool
	TAPLifetime time.Duration
	TAPOneTime  bool
	// BulkMax is the most users one bulk reset takes (default DefaultBulkMax).
	BulkMax int
}

// PinnedGroup is a configured group reference and the group it was pinned to.
type PinnedGroup struct {
	Use  string // "requesters", "approvers" or "protected"
	Ref  string // as configured: an object id or an exact display name
	ID   string
	Name string // display name
}

// groupName is the display name of a pinned group, for messages; the id otherwise.
func (p Policy) groupName(id string) string {
	for _, g := range p.Pinned {
		if strings.EqualFold(g.ID, id) {
			return g.Name
		}
	}
	return id
}

// PinPolicy resolves every group the policy names (entra-group principals and protected
// groups) to its object id, once. An object id must exist; a name must be the exact display
// name of exactly one group. Mail nicknames are never matched: any employee can create a
// Microsoft 365 group and choose its alias, so an alias cannot decide who approves or who
// is protected. An unknown or ambiguous name is an error, and mfabot refuses to start.
func PinPolicy(ctx context.Context, dir Directory, p Policy) (Policy, error) {
	p.Pinned = nil
	pin := func(use, ref string) (string, error) {
		g, err := pinGroup(ctx, dir, ref)
		if err != nil {
			return "", fmt.Errorf("%s group %q: %w", use, ref, err)
		}
		p.Pinned = append(p.Pinned, PinnedGroup{Use: use, Ref: ref, ID: g.ID, Name: firstNonEmpty(g.DisplayName, g.ID)})
		return g.ID, nil
	}
	var err error
	pinAll := func(use string, ps []Principal) []Principal {
		out := make([]Principal, len(ps))
		for i, pr := range ps {
			out[i] = pr
			if pr.Kind == "entra-group" && err == nil {
				out[i].Value, err = pin(use, pr.Value)
			}
		}
		return out
	}
	p.Requesters = pinAll("requesters", p.Requesters)
	p.Approvers = pinAll("approvers", p.Approvers)
	groups := make([]string, len(p.ProtectedGroups))
	for i, ref := range p.ProtectedGroups {
		if err == nil {
			groups[i], err = pin("protected", ref)
		}
	}
	p.ProtectedGroups = groups
	if err != nil {
		return Policy{}, err
	}
	return p, nil
}

func pinGroup(ctx context.Context, dir Directory, ref string) (Group, error) {
	if IsObjectID(ref) {
		g, err := dir.ResolveGroup(ctx, ref)
		if err != nil {
			return Group{}, err
		}
		if !strings.EqualFold(g.ID, ref) {
			return Group{}, Errorf(EINVALID, "the directory answered for %s with another group (%s)", ref, g.ID)
		}
		return g, nil
	}
	gs, err := dir.GroupsNamed(ctx, ref)
	if err != nil {
		return Group{}, err
	}
	switch len(gs) {
	case 0:
		return Group{}, Errorf(ENOTFOUND, "no group has the display name %q (mail nicknames are not accepted here; use the object id)", ref)
	case 1:
		return gs[0], nil
	}
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return Group{}, Errorf(EINVALID, "%d groups have the display name %q (%s); use the object id", len(gs), ref, strings.Join(ids, ", "))
}

// IsObjectID reports whether s has the form of an Entra object id (a GUID).
func IsObjectID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// HasEntraPrincipals reports whether any principal names an Entra user or group: then a
// chat account must be linked to Entra for the rule to mean anything.
func (p Policy) HasEntraPrincipals() bool {
	for _, ps := range [][]Principal{p.Requesters, p.Approvers} {
		for _, pr := range ps {
			if pr.Kind == "entra" || pr.Kind == "entra-group" {
				return true
			}
		}
	}
	return false
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
	if err := p.StepUp.Validate(); err != nil {
		return err
	}
	return p.validateBulkTAP()
}

// matches reports whether a is one of ps, asking dir for group membership by pinned id.
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
	for _, id := range groups {
		if !IsObjectID(id) {
			// Not pinned: never look a name up again at decision time.
			return false, Errorf(EINTERNAL, "group principal %q was not pinned to an object id", id)
		}
		ok, err := dir.IsMemberOf(ctx, a.EntraID, id)
		if err != nil {
			return false, fmt.Errorf("check membership of %s: %w", id, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// describe names the principals for a refusal message.
func (p Policy) describe(ps []Principal) string {
	var names []string
	for _, pr := range ps {
		if pr.Kind == "entra-group" {
			names = append(names, "the Entra group "+p.groupName(pr.Value))
		}
	}
	if len(names) == 0 {
		return "the configured list"
	}
	return strings.Join(names, " or ")
}
