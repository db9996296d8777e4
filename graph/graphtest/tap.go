package graphtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// OpCreateTAP is a POST of temporaryAccessPassMethods in Calls; Target is the new pass's
// method id (never its value).
const OpCreateTAP = "createTemporaryAccessPass"

// TAPPolicy is the tenant's Temporary Access Pass policy
// (temporaryAccessPassAuthenticationMethodConfiguration). A new tenant has Entra's
// default: disabled, passes of 60 min (from 60 min to 8 h), 8 characters, multi-use
// allowed, for all users once enabled.
type TAPPolicy struct {
	Enabled                  bool
	DefaultLifetimeInMinutes int
	MinimumLifetimeInMinutes int
	MaximumLifetimeInMinutes int
	DefaultLength            int
	IsUsableOnce             bool     // every pass is one-time
	IncludeGroups            []string // group object ids; empty means all users ("all_users")
	ExcludeGroups            []string // group object ids
}

// DefaultTAPPolicy is Entra's Temporary Access Pass policy before anyone changes it
// (disabled).
func DefaultTAPPolicy() TAPPolicy {
	return TAPPolicy{DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: 60, MaximumLifetimeInMinutes: 480, DefaultLength: 8}
}

// EnabledTAPPolicy is Entra's default policy switched on for all users.
func EnabledTAPPolicy() TAPPolicy {
	p := DefaultTAPPolicy()
	p.Enabled = true
	return p
}

// SetTAPPolicy replaces the tenant's Temporary Access Pass policy.
func (t *Tenant) SetTAPPolicy(p TAPPolicy) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.IncludeGroups, p.ExcludeGroups = slices.Clone(p.IncludeGroups), slices.Clone(p.ExcludeGroups)
	t.tap = &p
}

// TAPPolicy returns the tenant's Temporary Access Pass policy.
func (t *Tenant) TAPPolicy() TAPPolicy {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.tapPolicyLocked()
}

func (t *Tenant) tapPolicyLocked() TAPPolicy {
	if t.tap == nil {
		return DefaultTAPPolicy()
	}
	return *t.tap
}

// TemporaryAccessPass returns the user's Temporary Access Pass, with its secret value in
// Pass, as tests need it to look for the value where it must not be.
func (t *Tenant) TemporaryAccessPass(userID string) (Method, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return Method{}, false
	}
	for _, m := range t.users[i].methods {
		if m.Type == MethodTemporaryAccessPass {
			return m, true
		}
	}
	return Method{}, false
}

// tapFault is why a pass was refused.
type tapFault struct {
	status        int
	code, message string
}

// createTAPLocked applies Entra's rules for creating a pass and stores it, replacing the
// user's current pass (documented: "the previous Temporary Access Pass will be deleted").
// Messages: the guest and policy refusals are Graph's words as it answers them (the
// policy refusal covers both a disabled policy and a user outside it); the lifetime and
// one-time refusals are modeled.
func (t *Tenant) createTAPLocked(i int32, lifetime *int, once *bool) (Method, *tapFault) {
	u := &t.users[i]
	pol := t.tapPolicyLocked()
	if u.UserType == Guest {
		return Method{}, &tapFault{400, "badRequest", "Temporary Access Pass cannot be added to an external guest user."}
	}
	if !pol.Enabled || !t.inTAPScopeLocked(i, pol) {
		return Method{}, &tapFault{400, "badRequest", "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass]."}
	}
	minutes := pol.DefaultLifetimeInMinutes
	if lifetime != nil {
		minutes = *lifetime
	}
	if minutes < 10 || minutes > 43200 {
		return Method{}, &tapFault{400, "badRequest", "lifetimeInMinutes must be between 10 and 43200."}
	}
	if minutes < pol.MinimumLifetimeInMinutes || minutes > pol.MaximumLifetimeInMinutes {
		return Method{}, &tapFault{400, "badRequest", fmt.Sprintf("The lifetime of the Temporary Access Pass must be between %d and %d minutes, as the Temporary Access Pass policy sets.",
			pol.MinimumLifetimeInMinutes, pol.MaximumLifetimeInMinutes)}
	}
	oneTime := pol.IsUsableOnce
	if once != nil {
		oneTime = *once
	}
	if pol.IsUsableOnce && !oneTime {
		return Method{}, &tapFault{400, "badRequest", "The Temporary Access Pass policy allows one-time passes only."}
	}
	u.methods = slices.DeleteFunc(u.methods, func(m Method) bool { return m.Type == MethodTemporaryAccessPass })
	m := Method{ID: t.newID(), Type: MethodTemporaryAccessPass, Created: t.now(), LifetimeMinutes: minutes, UsableOnce: oneTime,
		Pass: newPass(max(pol.DefaultLength, 8))}
	u.methods = append(u.methods, m)
	u.updated = t.now()
	return m, nil
}

// inTAPScopeLocked reports whether the policy includes the user: all users or a member of
// an included group, and no member of an excluded one.
func (t *Tenant) inTAPScopeLocked(i int32, pol TAPPolicy) bool {
	member := func(groupID string) bool {
		gi, ok := t.groupByID[strings.ToLower(groupID)]
		return ok && slices.Contains(t.transitiveLocked(gi), i)
	}
	for _, g := range pol.ExcludeGroups {
		if member(g) {
			return false
		}
	}
	if len(pol.IncludeGroups) == 0 {
		return true
	}
	return slices.ContainsFunc(pol.IncludeGroups, member)
}

// passAlphabet is what passes are made of: letters, digits and the symbols Entra uses.
const passAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%&*+=?"

// newPass is a fresh random pass of n characters, from crypto/rand: passes are secrets
// tests look for, so no two may be alike.
func newPass(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(passAlphabet))))
		if err != nil {
			panic(err) // only a broken crypto/rand
		}
		b[i] = passAlphabet[k.Int64()]
	}
	return string(b)
}

// tapJSON fills a pass's temporaryAccessPassAuthenticationMethod shape (without its
// value, which Graph returns only to the create call). Generated passes without terms
// are old ones: expired.
func tapJSON(out map[string]any, m Method, now time.Time) {
	lifetime, once := m.LifetimeMinutes, m.UsableOnce
	if lifetime == 0 {
		lifetime, once = 60, true
	}
	usable, reason := true, "EnabledByPolicy"
	if now.After(m.Created.Add(time.Duration(lifetime) * time.Minute)) {
		usable, reason = false, "Expired"
	}
	out["createdDateTime"], out["startDateTime"], out["lifetimeInMinutes"] = ts(m.Created), ts(m.Created), lifetime
	out["isUsableOnce"], out["isUsable"], out["methodUsabilityReason"] = once, usable, reason
}

// routeTAP serves the pass and policy endpoints; mine is false for any other request.
func (s *Server) routeTAP(r request, segs []string, ctx func(string) string) (rt route, rep reply, ok, mine bool) {
	n := len(segs)
	switch {
	case segs[0] == "users" && n == 4 && segs[2] == "authentication" && segs[3] == MethodTemporaryAccessPass.Segment() && r.method == http.MethodPost:
		return route{perms: permMethodsW, cost: 1, write: true, handle: func() reply {
			return s.createTAP(segs[1], r.body, ctx("users('"+segs[1]+"')/authentication/temporaryAccessPassMethods/$entity"))
		}}, reply{}, true, true
	case segs[0] == "policies" && n == 4 && segs[1] == "authenticationMethodsPolicy" && segs[2] == "authenticationMethodConfigurations" && r.method == http.MethodGet:
		return route{perms: permReqR, cost: 1, handle: func() reply {
			if !strings.EqualFold(segs[3], "TemporaryAccessPass") {
				return graphError(404, "itemNotFound", fmt.Sprintf("The authentication method configuration '%s' was not found.", segs[3]))
			}
			return s.tapPolicyReply(ctx("authenticationMethodConfigurations/$entity"))
		}}, reply{}, true, true
	}
	return route{}, reply{}, false, false
}

// createTAP is POST /users/{id}/authentication/temporaryAccessPassMethods: 201 with the
// new pass, its value included (the only time Graph returns it).
func (s *Server) createTAP(userRef string, body []byte, odctx string) reply {
	var in struct {
		LifetimeInMinutes *int       `json:"lifetimeInMinutes"`
		IsUsableOnce      *bool      `json:"isUsableOnce"`
		StartDateTime     *time.Time `json:"startDateTime"`
		OData             string     `json:"@odata.type"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return graphError(400, "BadRequest", "Invalid request body.")
		}
	}
	s.t.mu.Lock()
	i, found := s.t.lookupUser(userRef)
	var m Method
	var f *tapFault
	userID := userRef
	if found {
		userID = s.t.users[i].ID
		m, f = s.t.createTAPLocked(i, in.LifetimeInMinutes, in.IsUsableOnce)
	}
	s.t.mu.Unlock()
	switch {
	case !found:
		s.record(Call{Op: OpCreateTAP, UserID: userRef, Status: 404})
		return notFound("user", userRef)
	case f != nil:
		s.record(Call{Op: OpCreateTAP, UserID: userID, Status: f.status})
		return graphError(f.status, f.code, f.message)
	}
	s.record(Call{Op: OpCreateTAP, UserID: userID, Target: m.ID, Status: 201})
	out := map[string]any{"@odata.context": odctx, "@odata.type": MethodTemporaryAccessPass.ODataType(), "id": m.ID, "temporaryAccessPass": m.Pass}
	tapJSON(out, m, time.Now())
	return reply{status: 201, body: out}
}

// tapPolicyReply is the temporaryAccessPassAuthenticationMethodConfiguration, in the
// shape of Microsoft's example.
func (s *Server) tapPolicyReply(odctx string) reply {
	p := s.t.TAPPolicy()
	state := "disabled"
	if p.Enabled {
		state = "enabled"
	}
	include := []any{}
	if len(p.IncludeGroups) == 0 {
		include = append(include, map[string]any{"targetType": "group", "id": "all_users", "isRegistrationRequired": false})
	}
	for _, g := range p.IncludeGroups {
		include = append(include, map[string]any{"targetType": "group", "id": g, "isRegistrationRequired": false})
	}
	exclude := []any{}
	for _, g := range p.ExcludeGroups {
		exclude = append(exclude, map[string]any{"targetType": "group", "id": g})
	}
	return reply{status: 200, body: map[string]any{
		"@odata.context": odctx, "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
		"id": "TemporaryAccessPass", "state": state,
		"defaultLifetimeInMinutes": p.DefaultLifetimeInMinutes, "defaultLength": p.DefaultLength,
		"minimumLifetimeInMinutes": p.MinimumLifetimeInMinutes, "maximumLifetimeInMinutes": p.MaximumLifetimeInMinutes,
		"isUsableOnce": p.IsUsableOnce, "includeTargets": include, "excludeTargets": exclude,
	}}
}
