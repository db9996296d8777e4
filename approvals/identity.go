package approvals

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// CheckTTL bounds how long a role check or an actor's account state is reused. Every
// command and click is checked; within this bound the answer may come from the cache, so a
// burst of clicks costs Graph one lookup, and a removed approver or a disabled account is
// refused at most this long after the change.
const CheckTTL = 60 * time.Second

// ErrUnlinked is in the chain of the refusal of an actor whose chat account is not linked
// to an Entra user while the policy needs links; the chat side words how to link.
var ErrUnlinked = errors.New("chat account not linked to an Entra user")

// ErrDisabled is in the chain of the refusal of an actor whose Entra account is disabled
// or gone.
var ErrDisabled = errors.New("Entra account disabled")

// role is what an actor is checked for.
type role int

const (
	roleAdmin    role = iota // requesters and approvers: may request and read
	roleApprover             // may approve, deny and cancel others' requests
)

// checks caches role and account answers for CheckTTL.
type checks struct {
	mu      sync.Mutex
	answers map[string]checked
}

type checked struct {
	ok    bool
	until time.Time
}

func (c *checks) get(key string, now time.Time) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, found := c.answers[key]
	if !found || !now.Before(a.until) {
		return false, false
	}
	return a.ok, true
}

func (c *checks) put(key string, ok bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answers == nil {
		c.answers = map[string]checked{}
	}
	// Drop what has lapsed now and then, so the map stays the size of the active admins.
	if len(c.answers) > 1024 {
		for k, a := range c.answers {
			if !now.Before(a.until) {
				delete(c.answers, k)
			}
		}
	}
	c.answers[key] = checked{ok: ok, until: now.Add(CheckTTL)}
}

// authorize checks that a may act in the role: linked when the policy needs it, enabled
// in Entra, and one of the role's principals. A lookup that fails is a refusal (EUPSTREAM),
// never a pass; refusals of the actor are audited under requestID.
func (s *Service) authorize(ctx context.Context, a Actor, r role, requestID string) error {
	err := s.checkActor(ctx, a, r)
	if err != nil && ErrorCode(err) == EFORBIDDEN {
		s.refused(ctx, a, requestID, ErrorMessage(err))
	}
	return err
}

func (s *Service) checkActor(ctx context.Context, a Actor, r role) error {
	if a.ID == "" || a.Platform == "" {
		return Errorf(EFORBIDDEN, "mfabot could not tell who you are")
	}
	if a.LinkError != "" {
		return Errorf(EUPSTREAM, "mfabot could not confirm who you are in Microsoft Entra ID (%s); try again in a minute", a.LinkError)
	}
	if s.policy.RequireLink && a.EntraID == "" {
		return WrapError(EFORBIDDEN, ErrUnlinked,
			"mfabot cannot tell who you are in Microsoft Entra ID: your %s account is not linked to an Entra user, so it may not request or decide. Ask an mfabot operator to link it, then try again", a.Platform)
	}
	if a.EntraID != "" {
		if err := s.checkEnabled(ctx, a); err != nil {
			return err
		}
	}
	ps, what := s.policy.Requesters, "admins"
	if r == roleApprover {
		ps, what = s.policy.Approvers, "approvers"
	}
	ok, err := s.cachedMatch(ctx, what, ps, a)
	if err == nil && !ok && r == roleAdmin {
		ok, err = s.cachedMatch(ctx, "approvers", s.policy.Approvers, a)
	}
	if err != nil {
		return WrapError(EUPSTREAM, err, "could not check whether you are an mfabot %s; try again", strings.TrimSuffix(what, "s"))
	}
	if !ok {
		if r == roleApprover {
			return Errorf(EFORBIDDEN, "only members of %s may approve or deny requests", s.policy.describe(s.policy.Approvers))
		}
		return Errorf(EFORBIDDEN, "only mfabot admins may use this command; ask an identity admin to add %s to MFABOT_REQUESTERS", a.Key())
	}
	return nil
}

func (s *Service) cachedMatch(ctx context.Context, what string, ps []Principal, a Actor) (bool, error) {
	key := what + "|" + a.Key() + "|" + strings.ToLower(a.EntraID)
	now := s.clock.Now()
	if ok, hit := s.checks.get(key, now); hit {
		return ok, nil
	}
	ok, err := matches(ctx, s.dir, ps, a)
	if err != nil {
		return false, err
	}
	s.checks.put(key, ok, now)
	return ok, nil
}

// checkEnabled refuses an actor whose Entra account is disabled (left the company) or
// deleted, even while their chat session lives.
func (s *Service) checkEnabled(ctx context.Context, a Actor) error {
	key := "enabled|" + strings.ToLower(a.EntraID)
	now := s.clock.Now()
	ok, hit := s.checks.get(key, now)
	if !hit {
		u, err := s.dir.ResolveUser(ctx, a.EntraID)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			ok = false
		case err != nil:
			return WrapError(EUPSTREAM, err, "could not check your Entra account; try again")
		default:
			ok = u.Enabled && strings.EqualFold(u.ID, a.EntraID)
		}
		s.checks.put(key, ok, now)
	}
	if !ok {
		return WrapError(EFORBIDDEN, ErrDisabled,
			"your Entra account (%s) is disabled or deleted; mfabot takes no requests or decisions from it", a.EntraID)
	}
	return nil
}

// refused audits a refusal of an actor. A failure to audit is logged, not returned: the
// refusal stands either way.
func (s *Service) refused(ctx context.Context, a Actor, requestID, why string) {
	ev := AuditEvent{Time: s.clock.Now(), RequestID: requestID, Type: EventRefused, Actor: a, Detail: why}
	if err := s.store.Audit(context.WithoutCancel(ctx), ev); err != nil {
		s.log.ErrorContext(ctx, "audit refusal", LogActor, a.Key(), LogRequestID, requestID, LogErr, err)
	}
	s.log.InfoContext(ctx, "refused", LogActor, a.Key(), LogRequestID, requestID, "why", why)
}
