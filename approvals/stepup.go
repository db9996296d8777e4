package approvals

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Step-up: a chat session is not proof of who presses Approve (a stolen Slack session, an
// unlocked laptop), so for the kinds the policy names an approval counts only after the
// approver has just signed in to Microsoft Entra ID with MFA, as themselves. The chat side
// turns ErrStepUpRequired into a one-time sign-in link; the browser side (bot/stepup)
// verifies the ID token and hands what it proves, a SignIn, to ApproveSignedIn. The rules
// about what a sign-in must prove live here, next to the two-person rule they strengthen.

// DefaultStepUpMaxAge is how fresh a step-up sign-in must be unless configured.
const DefaultStepUpMaxAge = 5 * time.Minute

// Bounds of StepUp.MaxAge.
const (
	MinStepUpMaxAge = time.Minute
	MaxStepUpMaxAge = time.Hour
)

// stepUpSkew is how far in the future a sign-in's auth_time may lie: the authority's clock
// and ours disagree by a little.
const stepUpSkew = 2 * time.Minute

// EventStepUpRequired records that an approver pressed Approve on a request of a kind that
// needs step-up: the approval waits for their sign-in. The approval itself, when it comes,
// is an EventApproved whose detail carries the sign-in's evidence.
const EventStepUpRequired = "step_up_required"

// ErrStepUpRequired is in the chain of the refusal of an approval that needs a fresh Entra
// sign-in with MFA first (StepUp): the chat side answers it with a one-time sign-in link.
var ErrStepUpRequired = errors.New("a fresh Microsoft Entra sign-in with MFA is required")

// ErrStepUpUnlinked is in the chain of the refusal of an approver whose approval needs
// step-up while their chat account is not linked to an Entra user: there is nobody to
// expect at the sign-in. It wraps ErrUnlinked, so the chat side also says how to link.
var ErrStepUpUnlinked = fmt.Errorf("step-up: %w", ErrUnlinked)

// StepUp is the policy's rule for high-impact approvals: an approval of one of Kinds counts
// only with a SignIn that
//   - is the approver's own: its object id is the Entra user their chat account is linked
//     to (an unlinked approver cannot approve these kinds at all);
//   - is fresh: it happened at most MaxAge before the approval;
//   - proves MFA: its acrs claim holds the Conditional Access authentication context
//     Context (a tenant policy that demands MFA for it), or its amr claim holds "mfa".
//
// Deny never needs it: refusing changes nothing. Every other rule (approver, not the
// requester, pending, not expired) is checked first, as for any approval.
type StepUp struct {
	Kinds   []Kind
	MaxAge  time.Duration // default DefaultStepUpMaxAge
	Context string        // authentication context id, c1 … c99; "" accepts amr alone
}

// Needs reports whether approving a request of kind k needs a step-up sign-in.
func (p StepUp) Needs(k Kind) bool { return slices.Contains(p.Kinds, k) }

// Fresh is how old a step-up sign-in may be.
func (p StepUp) Fresh() time.Duration {
	if p.MaxAge <= 0 {
		return DefaultStepUpMaxAge
	}
	return p.MaxAge
}

// authContextID is the form of a Conditional Access authentication context id.
var authContextID = regexp.MustCompile(`^c[1-9][0-9]?$`)

// Validate reports the first problem with the rule.
func (p StepUp) Validate() error {
	for _, k := range p.Kinds {
		if !Claimable(k) {
			var names []string
			for _, k := range append(kindsWhere(false), kindsWhere(true)...) {
				names = append(names, string(k))
			}
			slices.Sort(names)
			return Errorf(EINVALID, "policy: step-up for %q: not a request kind (%s)", k, strings.Join(names, ", "))
		}
	}
	if p.MaxAge != 0 && (p.MaxAge < MinStepUpMaxAge || p.MaxAge > MaxStepUpMaxAge) {
		return Errorf(EINVALID, "policy: step-up max age must be between %s and %s, not %s", MinStepUpMaxAge, MaxStepUpMaxAge, p.MaxAge)
	}
	if p.Context != "" && !authContextID.MatchString(p.Context) {
		return Errorf(EINVALID, "policy: step-up context %q is not an authentication context id (c1 … c99)", p.Context)
	}
	return nil
}

// SignIn is what a verified Entra ID token says about one sign-in: whose it was, when the
// person last entered their credentials, how, and which token said so. bot/stepup fills it
// only from a token whose signature, issuer, audience, lifetime, nonce and tenant it has
// checked; the rules of StepUp are applied here.
type SignIn struct {
	ObjectID string    // oid: the Entra user who signed in
	TenantID string    // tid
	AuthTime time.Time // auth_time: when they last authenticated interactively
	AMR      []string  // amr: authentication methods ("pwd", "mfa")
	ACRS     []string  // acrs: authentication contexts satisfied ("c1")
	TokenID  string    // uti (or jti): names the token in Entra's sign-in logs
}

// Check applies the rule to a sign-in for an approval by a at now. It returns the proof of
// MFA ("acrs c1" or "amr mfa"), or an EFORBIDDEN refusal that says what is missing.
func (p StepUp) Check(a Actor, in SignIn, now time.Time) (proof string, err error) {
	if a.EntraID == "" {
		return "", WrapError(EFORBIDDEN, ErrStepUpUnlinked, "this approval needs a fresh Microsoft Entra sign-in as yourself, and your %s account is not linked to an Entra user. Ask an mfabot operator to link it", a.Platform)
	}
	if !strings.EqualFold(in.ObjectID, a.EntraID) {
		return "", Errorf(EFORBIDDEN, "you signed in to Microsoft Entra as another user (object id %s), not as the approver who pressed Approve (%s); nothing was approved. Sign in as yourself", orDefault(in.ObjectID, "none"), a.EntraID)
	}
	if in.AuthTime.IsZero() {
		return "", Errorf(EFORBIDDEN, "the sign-in does not say when you authenticated (no auth_time claim), so mfabot cannot tell that it is fresh; nothing was approved. An administrator must add the optional claim auth_time to the app registration's ID token")
	}
	if in.AuthTime.After(now.Add(stepUpSkew)) {
		return "", Errorf(EFORBIDDEN, "the sign-in claims to have happened at %s, in the future; nothing was approved", in.AuthTime.UTC().Format(time.RFC3339))
	}
	if age := now.Sub(in.AuthTime); age > p.Fresh() {
		return "", Errorf(EFORBIDDEN, "you last entered your credentials %s ago; this approval needs a sign-in at most %s old. Nothing was approved: press Approve again and sign in anew", age.Round(time.Second), p.Fresh())
	}
	if p.Context != "" && slices.Contains(in.ACRS, p.Context) {
		return "acrs " + p.Context, nil
	}
	if slices.ContainsFunc(in.AMR, func(m string) bool { return strings.EqualFold(m, "mfa") }) {
		return "amr mfa", nil
	}
	lacks := `no "mfa" in amr`
	if p.Context != "" {
		lacks = fmt.Sprintf(`neither the authentication context %s in acrs nor "mfa" in amr`, p.Context)
	}
	return "", Errorf(EFORBIDDEN, "the sign-in did not prove multifactor authentication (it carries %s); nothing was approved. Press Approve again and sign in with MFA", lacks)
}

// evidence is what the audit keeps of a step-up sign-in: never the token, only what it
// proved and the identifier that finds it in Entra's sign-in logs.
func (in SignIn) evidence(proof string) string {
	return fmt.Sprintf("step-up: signed in as %s (tenant %s) at %s, MFA proven by %s, token %s",
		in.ObjectID, orDefault(in.TenantID, "?"), in.AuthTime.UTC().Format(time.RFC3339), proof, orDefault(in.TokenID, "?"))
}

// ApproveSignedIn records a's approval of request id with the step-up sign-in in: the
// same checks as Approve (approver now, not the requester, pending, not expired, facts
// fresh), then the sign-in must satisfy the policy's StepUp rule, and then the same
// compare-and-set. The approval's audit entry carries the sign-in's evidence; a sign-in
// that does not satisfy the rule is refused, audited, and changes nothing.
func (s *Service) ApproveSignedIn(ctx context.Context, a Actor, id string, in SignIn) (*Request, error) {
	return s.approve(ctx, a, id, &in)
}

// StepUpRefused audits a step-up sign-in refused before it reached the core (a token that
// did not verify, a link used twice), under the approver it was bound to. Nothing changes.
func (s *Service) StepUpRefused(ctx context.Context, a Actor, requestID, why string) {
	s.refused(ctx, a, requestID, "step-up: "+why)
}

// stepUp applies the step-up rule to an approval of r by a: with no sign-in (a click), a
// request of a kind that needs one is refused with ErrStepUpRequired (audited as
// EventStepUpRequired); with a sign-in, it must satisfy the rule. It returns the audit
// detail of the approval: the evidence, "" for a plain click.
func (s *Service) stepUp(ctx context.Context, a Actor, r *Request, in *SignIn) (string, error) {
	rule := s.policy.StepUp
	if in != nil {
		proof, err := rule.Check(a, *in, s.clock.Now())
		if err != nil {
			s.refused(ctx, a, r.ID, "step-up: "+ErrorMessage(err))
			return "", err
		}
		return in.evidence(proof), nil
	}
	if !rule.Needs(r.Kind) {
		return "", nil
	}
	if a.EntraID == "" {
		err := WrapError(EFORBIDDEN, ErrStepUpUnlinked,
			"approving a %s needs a fresh Microsoft Entra sign-in with MFA as yourself, and your %s account is not linked to an Entra user. Ask an mfabot operator to link it", r.Kind, a.Platform)
		s.refused(ctx, a, r.ID, ErrorMessage(err))
		return "", err
	}
	detail := fmt.Sprintf("approve waits for a fresh Entra sign-in with MFA (at most %s old", rule.Fresh())
	if rule.Context != "" {
		detail += ", authentication context " + rule.Context
	}
	detail += ")"
	ev := AuditEvent{Time: s.clock.Now(), RequestID: r.ID, Type: EventStepUpRequired, Actor: a, Detail: detail}
	if err := s.store.Audit(ctx, ev); err != nil {
		return "", fmt.Errorf("audit step-up: %w", err)
	}
	s.log.InfoContext(ctx, "step-up required", LogRequestID, r.ID, LogActor, a.Key(), "kind", r.Kind)
	return "", WrapError(EFORBIDDEN, ErrStepUpRequired, "approving %s (%s) needs a fresh Microsoft Entra sign-in with MFA", r.ID, r.Kind)
}
