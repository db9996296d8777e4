package approvals

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Notifier hears about every change to a request so the chat side can re-render its cards
// and tell the people concerned. event is one of the Event* audit types or EventProgress.
// It must not block for long; the bot implements it.
type Notifier interface {
	Notify(ctx context.Context, r *Request, event string)
}

// EventProgress is passed to Notifier.Notify while a request runs; it is not audited.
const EventProgress = "progress"

// NewRequest is what a requester asks for.
type NewRequest struct {
	Kind     Kind
	Target   string // user or group reference as typed
	Reason   string
	MFAState string   // for KindEnforce
	Confirm  int      // the member count typed with --confirm, for KindRevokeGroup
	Only     []string // for KindReset: method types to delete (SelectionTypes); empty means all but the password
	TAP      bool     // for KindReset: a Temporary Access Pass for the requester after the reset (tap.go)
	// Unregistered limits a KindRevokeGroup to the members not registered for MFA.
	Unregistered bool
}

// RefreshAfter is how old a pending request's preview may be when an approval comes: an
// older one is gathered again first, so that nobody approves stale facts.
const RefreshAfter = 10 * time.Minute

// Service applies the policy to requests: creating, deciding, cancelling and expiring
// them. Execution is the Executor's.
type Service struct {
	store    Store
	dir      Directory
	policy   Policy
	clock    Clock
	notifier Notifier
	log      *slog.Logger
	wake     func()
	checks   checks
	report   Report
}

// ServiceOptions are the optional collaborators of a Service.
type ServiceOptions struct {
	Clock    Clock
	Notifier Notifier
	Logger   *slog.Logger
	// Wake is called when a request becomes approved, so the executor starts at once
	// instead of at its next poll.
	Wake func()
	// Report tells who is not registered for MFA, for nudges and revoke-group
	// --unregistered; without it they are refused.
	Report Report
}

// NewService returns a Service.
func NewService(store Store, dir Directory, policy Policy, o ServiceOptions) *Service {
	s := &Service{store: store, dir: dir, policy: policy, clock: o.Clock, notifier: o.Notifier, log: o.Logger, wake: o.Wake, report: o.Report}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// SetNotifier sets the notifier after construction (the bot and the service need each
// other).
func (s *Service) SetNotifier(n Notifier) { s.notifier = n }

// SetWake sets the function called when a request is approved.
func (s *Service) SetWake(f func()) { s.wake = f }

// Policy returns the policy in force.
func (s *Service) Policy() Policy { return s.policy }

func (s *Service) notify(ctx context.Context, r *Request, event string) {
	if s.notifier != nil && r != nil {
		s.notifier.Notify(ctx, r, event)
	}
}

// CheckAdmin returns nil when a may use mfabot at all: make requests and run the read-only
// commands (approvers count as admins). Otherwise EFORBIDDEN, audited, or EUPSTREAM when
// the directory could not answer.
func (s *Service) CheckAdmin(ctx context.Context, a Actor) error {
	return s.authorize(ctx, a, roleAdmin, "")
}

// CheckApprover returns nil when a may approve and deny requests.
func (s *Service) CheckApprover(ctx context.Context, a Actor) error {
	return s.authorize(ctx, a, roleApprover, "")
}

// Create checks the policy, resolves the target, builds the preview the approver will see
// and stores a pending request.
func (s *Service) Create(ctx context.Context, a Actor, in NewRequest) (*Request, error) {
	if err := s.authorize(ctx, a, roleAdmin, ""); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	r := &Request{
		Kind:      in.Kind,
		State:     StatePending,
		Requester: a,
		Reason:    strings.TrimSpace(in.Reason),
		CreatedAt: now,
		ExpiresAt: now.Add(s.policy.expiry(in.Kind)),
	}
	if err := s.gather(ctx, r, in.Target, in); err != nil {
		if ErrorCode(err) == EFORBIDDEN {
			s.refused(ctx, a, "", fmt.Sprintf("%s %s: %s", in.Kind, in.Target, ErrorMessage(err)))
		}
		return nil, err
	}
	if err := s.checkConfirm(r, in.Confirm); err != nil {
		return nil, err
	}
	ev := AuditEvent{Time: now, Type: EventRequested, Actor: a, Detail: requestedDetail(r)}
	if err := s.store.CreateRequest(ctx, r, ev); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, err
		}
		return nil, fmt.Errorf("store request: %w", err)
	}
	s.log.InfoContext(ctx, "request created", LogRequestID, r.ID, "kind", r.Kind, "target", r.Target.Name, "requester", a.Key())
	s.notify(ctx, r, EventRequested)
	return r, nil
}

func requestedDetail(r *Request) string {
	d := fmt.Sprintf("%s %s %s (%s)", r.Kind, r.Target.Type, r.Target.Name, r.Target.ID)
	switch r.Kind {
	case KindReset:
		d += fmt.Sprintf("; %d methods to delete", len(r.Preview.Methods))
		if len(r.Preview.Only) > 0 {
			d += " (only " + strings.Join(r.Preview.Only, ", ") + ")"
		}
	case KindRevokeGroup:
		d += fmt.Sprintf("; %d members", r.Preview.MemberCount)
		if r.Preview.Campaign != nil {
			d += " not registered for MFA"
		}
	case KindNudge:
		d += fmt.Sprintf("; %d recipients", r.Preview.MemberCount)
	case KindEnforce:
		d += fmt.Sprintf("; %s -> %s", r.Preview.FromState, r.Preview.ToState)
	case KindResetBulk:
		d += bulkDetail(r)
	}
	d += tapDetail(r)
	if r.Reason != "" {
		d += "; reason: " + r.Reason
	}
	return d
}

// gather resolves the target named by ref and reads the facts the approver will see into
// r.Target and r.Preview: what a reset deletes and keeps, how many members a revoke-group
// revokes, what an enforce changes. The same facts are gathered again when an old request
// is approved.
func (s *Service) gather(ctx context.Context, r *Request, ref string, in NewRequest) error {
	r.Preview = Preview{At: s.clock.Now()}
	switch r.Kind {
	case KindReset, KindRevoke, KindEnforce:
		return s.gatherUser(ctx, r, ref, in)
	case KindRevokeGroup:
		if in.Unregistered {
			return s.gatherCampaign(ctx, r, ref, in)
		}
		return s.gatherGroup(ctx, r, ref, in)
	case KindNudge:
		return s.gatherCampaign(ctx, r, ref, in)
	}
	return Errorf(EINVALID, "unknown request kind %q", r.Kind)
}

func (s *Service) gatherUser(ctx context.Context, r *Request, ref string, in NewRequest) error {
	if strings.TrimSpace(ref) == "" {
		return Errorf(EINVALID, "which user? give a UPN, mail address or object id")
	}
	if r.Kind == KindEnforce && !s.policy.EnforceEnabled {
		return Errorf(EFORBIDDEN, "enforce is turned off on this mfabot (policy.enforce_enabled): the per-user MFA state needs a permission that can rewrite the tenant's authentication methods policy")
	}
	u, err := s.dir.ResolveUser(ctx, ref)
	if err != nil {
		return err
	}
	r.Target = Target{Type: "user", ID: u.ID, Name: firstNonEmpty(u.UPN, u.ID)}
	prot, err := s.protectedSet(ctx)
	if err != nil {
		return err
	}
	if err := prot.check(u); err != nil {
		return err
	}
	switch r.Kind {
	case KindReset:
		if err := s.inOpenBulk(ctx, u); err != nil {
			return err
		}
		if in.TAP {
			if r.Preview.TAP, err = s.policy.tapPlan(""); err != nil {
				return err
			}
		}
		ms, err := s.dir.Methods(ctx, u.ID)
		if err != nil {
			return err
		}
		def, err := s.dir.DefaultMethod(ctx, u.ID)
		if err != nil {
			// The order is then Graph's to correct: the executor retries the default last.
			s.log.WarnContext(ctx, "read default method", "user", r.Target.Name, LogErr, err)
			def = ""
		}
		plan := planReset(ms, def, in.Only)
		r.Preview.Only = in.Only
		r.Preview.Methods, r.Preview.Kept, r.Preview.Default = plan.del, plan.kept, def
	case KindEnforce:
		switch in.MFAState {
		case MFADisabled, MFAEnabled, MFAEnforced:
		default:
			return Errorf(EINVALID, "per-user MFA state must be enabled, enforced or disabled, not %q", in.MFAState)
		}
		from, err := s.dir.MFAState(ctx, u.ID)
		if err != nil {
			return err
		}
		if from == in.MFAState {
			return Errorf(EINVALID, "per-user MFA for %s is already %s", r.Target.Name, from)
		}
		r.Preview.FromState, r.Preview.ToState, r.Preview.Becomes = from, in.MFAState, in.MFAState
		if in.MFAState == MFAEnabled {
			// Entra turns "enabled" into "enforced" for a user who has already registered a
			// second factor: say so before the approver approves "enabled".
			ms, err := s.dir.Methods(ctx, u.ID)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(ms, func(m Method) bool { return m.DefaultFor() != "" }) {
				r.Preview.Becomes = MFAEnforced
			}
		}
	}
	return nil
}

func (s *Service) gatherGroup(ctx context.Context, r *Request, ref string, in NewRequest) error {
	if strings.TrimSpace(ref) == "" {
		return Errorf(EINVALID, "which group? give an object id, mail nickname or display name")
	}
	g, err := s.dir.ResolveGroup(ctx, ref)
	if err != nil {
		return err
	}
	r.Target = Target{Type: "group", ID: g.ID, Name: firstNonEmpty(g.DisplayName, g.MailNickname, g.ID)}
	protected, err := s.protectedSet(ctx)
	if err != nil {
		return err
	}
	if protected.groups[g.ID] {
		return Errorf(EFORBIDDEN, "%s is a protected group; mfabot never revokes it", r.Target.Name)
	}
	n, err := s.countMembers(ctx, g.ID, protected)
	if err != nil {
		return err
	}
	if n == 0 {
		return Errorf(EINVALID, "%s has no members mfabot may revoke", r.Target.Name)
	}
	r.Preview.MemberCount = n
	return nil
}

// checkConfirm makes a large revoke-group carry --confirm with its exact member count.
func (s *Service) checkConfirm(r *Request, confirm int) error {
	if r.Preview.Campaign != nil {
		return s.checkCampaignConfirm(r, confirm)
	}
	n, limit := r.Preview.MemberCount, s.policy.ConfirmAbove
	if r.Kind != KindRevokeGroup || limit <= 0 || n <= limit || confirm == n {
		return nil
	}
	if confirm != 0 {
		return Errorf(EINVALID, "%s has %d members, not %d: check the group and repeat with --confirm %d", r.Target.Name, n, confirm, n)
	}
	return Errorf(EINVALID, "%s has %d members (more than %d): to revoke them all, repeat the command with --confirm %d", r.Target.Name, n, limit, n)
}

// countMembers counts the members of a group mfabot may revoke.
func (s *Service) countMembers(ctx context.Context, groupID string, prot protected) (int, error) {
	n := 0
	err := s.dir.GroupMembers(ctx, groupID, func(us []User) error {
		for _, u := range us {
			if !prot.has(u) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// protected is the set of users and groups that can never be touched, resolved now.
type protected struct {
	users  map[string]bool   // object ids, and lower-cased UPNs/mails as configured
	via    map[string]string // member object id -> the protected group's display name
	groups map[string]bool   // object ids
}

func (p protected) has(u User) bool {
	return p.users[strings.ToLower(u.ID)] || p.users[strings.ToLower(u.UPN)] || (u.Mail != "" && p.users[strings.ToLower(u.Mail)])
}

// check refuses a protected user, saying why.
func (p protected) check(u User) error {
	if !p.has(u) {
		return nil
	}
	name := firstNonEmpty(u.UPN, u.ID)
	if g := p.via[strings.ToLower(u.ID)]; g != "" {
		return Errorf(EFORBIDDEN, "%s is a member of the protected group %s; mfabot never changes it", name, g)
	}
	return Errorf(EFORBIDDEN, "%s is a protected account (emergency access); mfabot never changes it", name)
}

func (s *Service) protectedSet(ctx context.Context) (protected, error) {
	return resolveProtected(ctx, s.dir, s.policy)
}

// resolveProtected reads the members of the protected groups now, by their pinned ids: a
// user who joined one after a request was made is spared when it runs.
func resolveProtected(ctx context.Context, dir Directory, pol Policy) (protected, error) {
	p := protected{users: map[string]bool{}, via: map[string]string{}, groups: map[string]bool{}}
	for _, u := range pol.ProtectedUsers {
		p.users[strings.ToLower(u)] = true
	}
	for _, id := range pol.ProtectedGroups {
		if !IsObjectID(id) {
			return p, Errorf(EINTERNAL, "protected group %q was not pinned to an object id", id)
		}
		name := pol.groupName(id)
		p.groups[strings.ToLower(id)] = true
		p.groups[id] = true
		err := dir.GroupMembers(ctx, id, func(us []User) error {
			for _, u := range us {
				p.users[strings.ToLower(u.ID)] = true
				p.via[strings.ToLower(u.ID)] = name
			}
			return nil
		})
		if err != nil {
			return p, WrapError(EUPSTREAM, err, "could not list the protected group %s", name)
		}
	}
	return p, nil
}

// Approve records a's approval. The refusals are specific: own request, not an approver,
// expired, already decided, the facts changed while it waited.
// A request of a kind that needs step-up (Policy.StepUp) is refused with ErrStepUpRequired
// in its chain: ApproveSignedIn approves it.
func (s *Service) Approve(ctx context.Context, a Actor, id string) (*Request, error) {
	return s.approve(ctx, a, id, nil)
}

// approve is Approve, with the step-up sign-in when there is one (nil for a click).
func (s *Service) approve(ctx context.Context, a Actor, id string, in *SignIn) (*Request, error) {
	r, err := s.decidable(ctx, a, id, "approve")
	if err != nil {
		return nil, err
	}
	if err := s.refresh(ctx, r); err != nil {
		return nil, err
	}
	evidence, err := s.stepUp(ctx, a, r, in)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	ev := AuditEvent{Time: now, RequestID: r.ID, Type: EventApproved, Actor: a, Detail: evidence}
	r, err = s.store.Approve(ctx, r.ID, Decision{Actor: a, At: now}, s.policy.required(), ev)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "request approved", LogRequestID, r.ID, "approver", a.Key(), "state", r.State)
	s.notify(ctx, r, EventApproved)
	if r.State == StateApproved && s.wake != nil {
		s.wake()
	}
	return r, nil
}

// refresh gathers the facts of a request again when they are older than RefreshAfter.
// Facts that changed in a way that matters refuse this approval (ECONFLICT), after the
// card has been brought up to date, so the approver decides on what is true now.
func (s *Service) refresh(ctx context.Context, r *Request) error {
	at := r.Preview.At
	if at.IsZero() {
		at = r.CreatedAt
	}
	// A bulk reset's card shows its list, not each user's methods; what matters of each
	// user (existence, protection) is checked again when it runs.
	if s.clock.Now().Sub(at) <= RefreshAfter || r.Kind == KindResetBulk {
		return nil
	}
	fresh := &Request{Kind: r.Kind, Target: r.Target}
	in := NewRequest{Kind: r.Kind, Only: r.Preview.Only, MFAState: r.Preview.ToState, Confirm: r.Preview.MemberCount, TAP: r.Preview.TAP != nil,
		Unregistered: r.Preview.Campaign != nil && r.Preview.Campaign.Unregistered}
	err := s.gather(ctx, fresh, r.Target.ID, in)
	if err != nil && ErrorCode(err) != EINVALID {
		return err
	}
	var changed string
	if err != nil {
		changed = ErrorMessage(err)
	} else {
		changed = previewChange(r, fresh.Preview, s.policy)
	}
	if err == nil {
		ev := AuditEvent{Time: s.clock.Now(), RequestID: r.ID, Type: EventRefreshed, Detail: orDefault(changed, "unchanged")}
		cur, uerr := s.store.UpdatePreview(ctx, r.ID, fresh.Preview, ev)
		if uerr != nil {
			return uerr
		}
		*r = *cur
		if changed != "" {
			s.notify(ctx, r, EventRefreshed)
		}
	}
	if changed != "" {
		return Errorf(ECONFLICT, "the facts changed while %s waited: %s. The card shows them now; approve again if it is still right", r.ID, changed)
	}
	return nil
}

// previewChange says what changed between a request's preview and fresh facts, "" when
// nothing that matters did.
func previewChange(r *Request, fresh Preview, pol Policy) string {
	old := r.Preview
	switch r.Kind {
	case KindReset:
		ids := func(ms []Method) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.ID)
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(ids(old.Methods), ids(fresh.Methods)) {
			return fmt.Sprintf("%s now has %d methods to delete, not %d", r.Target.Name, len(fresh.Methods), len(old.Methods))
		}
	case KindRevokeGroup, KindNudge:
		if fresh.MemberCount != old.MemberCount && groupChanged(old.MemberCount, fresh.MemberCount, pol.ConfirmAbove) {
			return fmt.Sprintf("%s has %d members now, not %d", r.Target.Name, fresh.MemberCount, old.MemberCount)
		}
	case KindEnforce:
		if fresh.FromState != old.FromState || fresh.Becomes != old.Becomes {
			return fmt.Sprintf("per-user MFA of %s is %s now, not %s", r.Target.Name, fresh.FromState, old.FromState)
		}
	}
	return ""
}

// groupChanged reports whether a group that had approved members when approved and has
// now members now has grown too much to revoke without asking again: by more than a tenth,
// or past the size that needs --confirm.
func groupChanged(approved, now, confirmAbove int) bool {
	if now <= approved {
		return false
	}
	if confirmAbove > 0 && approved <= confirmAbove && now > confirmAbove {
		return true
	}
	return now*10 > approved*11
}

// Deny refuses a request, with a reason.
func (s *Service) Deny(ctx context.Context, a Actor, id, reason string) (*Request, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, Errorf(EINVALID, "say why you deny it: deny %s <reason>", id)
	}
	r, err := s.decidable(ctx, a, id, "deny")
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	d := Decision{Actor: a, At: now, Reason: reason}
	ev := AuditEvent{Time: now, RequestID: r.ID, Type: EventDenied, Actor: a, Detail: "reason: " + reason}
	r, err = s.store.Transition(ctx, r.ID, Transition{From: StatePending, To: StateDenied, Denial: &d, At: now}, ev)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "request denied", LogRequestID, r.ID, "approver", a.Key())
	s.notify(ctx, r, EventDenied)
	return r, nil
}

// decidable loads a request and checks that a may decide it now. Authorisation is
// checked at every decision (within CheckTTL), and every refusal of the actor is audited.
func (s *Service) decidable(ctx context.Context, a Actor, id, verb string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != StatePending || !s.clock.Now().Before(r.ExpiresAt) {
		return nil, Conflict(r)
	}
	if err := s.authorize(ctx, a, roleApprover, r.ID); err != nil {
		return nil, err
	}
	if a.SamePerson(r.Requester) {
		s.refused(ctx, a, r.ID, "tried to "+verb+" their own request")
		return nil, Errorf(EFORBIDDEN, "you cannot approve or deny your own request")
	}
	for _, d := range r.Approvals {
		if a.SamePerson(d.Actor) {
			s.refused(ctx, a, r.ID, "tried to "+verb+" a request they already approved")
			return nil, Errorf(ECONFLICT, "you already approved %s at %s", r.ID, d.At.UTC().Format("2006-01-02 15:04 UTC"))
		}
	}
	return r, nil
}

// Cancel withdraws a pending request. The requester may, with or without a reason;
// anyone else must be an approver and say why, and the requester is told.
func (s *Service) Cancel(ctx context.Context, a Actor, id, reason string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if a.SamePerson(r.Requester) {
		if err := s.authorize(ctx, a, roleAdmin, r.ID); err != nil {
			return nil, err
		}
	} else {
		if err := s.authorize(ctx, a, roleApprover, r.ID); err != nil {
			if ErrorCode(err) == EFORBIDDEN {
				return nil, WrapError(EFORBIDDEN, err, "only the requester or an approver may cancel %s", r.ID)
			}
			return nil, err
		}
		if reason == "" {
			return nil, Errorf(EINVALID, "say why you cancel someone else's request: cancel %s <reason>; the requester is told", r.ID)
		}
	}
	if r.State != StatePending {
		return nil, Conflict(r)
	}
	now := s.clock.Now()
	d := Decision{Actor: a, At: now, Reason: reason}
	ev := AuditEvent{Time: now, RequestID: r.ID, Type: EventCancelled, Actor: a, Detail: d.Reason}
	r, err = s.store.Transition(ctx, r.ID, Transition{From: StatePending, To: StateCancelled, Denial: &d, At: now}, ev)
	if err != nil {
		return nil, err
	}
	s.notify(ctx, r, EventCancelled)
	return r, nil
}

// Request loads one request.
func (s *Service) Request(ctx context.Context, id string) (*Request, error) {
	return s.store.Request(ctx, id)
}

// Open lists requests that are pending, approved or running, newest first.
func (s *Service) Open(ctx context.Context) ([]*Request, error) {
	return s.store.Requests(ctx, RequestFilter{States: []State{StatePending, StateApproved, StateRunning}, Limit: 50})
}

// Items lists up to limit items of a request in state (any state when ""; all of them
// when limit <= 0), for its card.
func (s *Service) Items(ctx context.Context, id string, state ItemState, limit int) ([]Item, error) {
	return s.store.Items(ctx, id, state, 0, limit)
}

// SweepExpired marks overdue pending requests expired and notifies about each.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	rs, err := s.store.ExpireDue(ctx, s.clock.Now())
	if err != nil {
		return 0, fmt.Errorf("expire due requests: %w", err)
	}
	for _, r := range rs {
		s.log.InfoContext(ctx, "request expired", LogRequestID, r.ID)
		s.notify(ctx, r, EventExpired)
	}
	return len(rs), nil
}

// RunSweeper calls SweepExpired every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sweep expired requests", LogErr, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
