package approvals

import (
	"context"
	"fmt"
	"log/slog"
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
	MFAState string // for KindEnforce
	Confirm  int    // the member count typed with --confirm, for KindRevokeGroup
}

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
}

// ServiceOptions are the optional collaborators of a Service.
type ServiceOptions struct {
	Clock    Clock
	Notifier Notifier
	Logger   *slog.Logger
	// Wake is called when a request becomes approved, so the executor starts at once
	// instead of at its next poll.
	Wake func()
}

// NewService returns a Service.
func NewService(store Store, dir Directory, policy Policy, o ServiceOptions) *Service {
	s := &Service{store: store, dir: dir, policy: policy, clock: o.Clock, notifier: o.Notifier, log: o.Logger, wake: o.Wake}
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

// IsAdmin reports whether a may use mfabot at all: make requests and run the read-only
// commands. Approvers count as admins.
func (s *Service) IsAdmin(ctx context.Context, a Actor) (bool, error) {
	ok, err := matches(ctx, s.dir, s.policy.Requesters, a)
	if err != nil || ok {
		return ok, err
	}
	return matches(ctx, s.dir, s.policy.Approvers, a)
}

// CheckAdmin returns EFORBIDDEN unless a is an admin.
func (s *Service) CheckAdmin(ctx context.Context, a Actor) error {
	ok, err := s.IsAdmin(ctx, a)
	if err != nil {
		return WrapError(EUPSTREAM, err, "could not check whether you are an mfabot admin")
	}
	if !ok {
		return Errorf(EFORBIDDEN, "only mfabot admins may use this command; ask an identity admin to add %s to MFABOT_REQUESTERS", a.Key())
	}
	return nil
}

// CheckApprover returns EFORBIDDEN unless a may approve requests.
func (s *Service) CheckApprover(ctx context.Context, a Actor) error {
	ok, err := matches(ctx, s.dir, s.policy.Approvers, a)
	if err != nil {
		return WrapError(EUPSTREAM, err, "could not check whether you may approve")
	}
	if !ok {
		return Errorf(EFORBIDDEN, "only members of %s may approve or deny requests", describe(s.policy.Approvers))
	}
	return nil
}

// Create checks the policy, resolves the target, builds the preview the approver will see
// and stores a pending request.
func (s *Service) Create(ctx context.Context, a Actor, in NewRequest) (*Request, error) {
	if err := s.CheckAdmin(ctx, a); err != nil {
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
	var err error
	switch in.Kind {
	case KindReset, KindEnforce:
		err = s.prepareUser(ctx, r, in)
	case KindRevokeGroup:
		err = s.prepareGroup(ctx, r, in)
	default:
		err = Errorf(EINVALID, "unknown request kind %q", in.Kind)
	}
	if err != nil {
		return nil, err
	}
	if dup, err := s.pendingFor(ctx, r.Kind, r.Target.ID); err != nil {
		return nil, err
	} else if dup != nil {
		return nil, Errorf(ECONFLICT, "%s is already waiting for approval for %s (asked by %s)", dup.ID, dup.Target.Name, dup.Requester.Name)
	}
	ev := AuditEvent{Time: now, Type: EventRequested, Actor: a, Detail: requestedDetail(r)}
	if err := s.store.CreateRequest(ctx, r, ev); err != nil {
		return nil, fmt.Errorf("store request: %w", err)
	}
	s.log.InfoContext(ctx, "request created", "request_id", r.ID, "kind", r.Kind, "target", r.Target.Name, "requester", a.Key())
	s.notify(ctx, r, EventRequested)
	return r, nil
}

func requestedDetail(r *Request) string {
	d := fmt.Sprintf("%s %s %s (%s)", r.Kind, r.Target.Type, r.Target.Name, r.Target.ID)
	switch r.Kind {
	case KindReset:
		d += fmt.Sprintf("; %d methods to delete", len(r.Preview.Methods))
	case KindRevokeGroup:
		d += fmt.Sprintf("; %d members", r.Preview.MemberCount)
	case KindEnforce:
		d += fmt.Sprintf("; %s -> %s", r.Preview.FromState, r.Preview.ToState)
	}
	if r.Reason != "" {
		d += "; reason: " + r.Reason
	}
	return d
}

func (s *Service) pendingFor(ctx context.Context, k Kind, targetID string) (*Request, error) {
	rs, err := s.store.Requests(ctx, RequestFilter{States: []State{StatePending, StateApproved, StateRunning}, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	for _, r := range rs {
		if r.Kind == k && r.Target.ID == targetID {
			return r, nil
		}
	}
	return nil, nil
}

func (s *Service) prepareUser(ctx context.Context, r *Request, in NewRequest) error {
	if strings.TrimSpace(in.Target) == "" {
		return Errorf(EINVALID, "which user? give a UPN, mail address or object id")
	}
	u, err := s.dir.ResolveUser(ctx, in.Target)
	if err != nil {
		return err
	}
	r.Target = Target{Type: "user", ID: u.ID, Name: firstNonEmpty(u.UPN, u.ID)}
	if err := s.checkUserNotProtected(ctx, u); err != nil {
		return err
	}
	switch r.Kind {
	case KindReset:
		ms, err := s.dir.Methods(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Deletable {
				r.Preview.Methods = append(r.Preview.Methods, m)
			} else {
				r.Preview.Kept = append(r.Preview.Kept, m)
			}
		}
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
		r.Preview.FromState, r.Preview.ToState = from, in.MFAState
	}
	return nil
}

func (s *Service) checkUserNotProtected(ctx context.Context, u User) error {
	for _, p := range s.policy.ProtectedUsers {
		if strings.EqualFold(p, u.ID) || strings.EqualFold(p, u.UPN) || (u.Mail != "" && strings.EqualFold(p, u.Mail)) {
			return Errorf(EFORBIDDEN, "%s is a protected account (emergency access); mfabot never changes it", firstNonEmpty(u.UPN, u.ID))
		}
	}
	for _, ref := range s.policy.ProtectedGroups {
		g, err := s.dir.ResolveGroup(ctx, ref)
		if err != nil {
			return WrapError(EUPSTREAM, err, "could not check protected group %s", ref)
		}
		in, err := s.dir.IsMemberOf(ctx, u.ID, g.ID)
		if err != nil {
			return WrapError(EUPSTREAM, err, "could not check protected group %s", g.DisplayName)
		}
		if in {
			return Errorf(EFORBIDDEN, "%s is a member of the protected group %s; mfabot never changes it", firstNonEmpty(u.UPN, u.ID), g.DisplayName)
		}
	}
	return nil
}

func (s *Service) prepareGroup(ctx context.Context, r *Request, in NewRequest) error {
	if strings.TrimSpace(in.Target) == "" {
		return Errorf(EINVALID, "which group? give an object id, mail nickname or display name")
	}
	g, err := s.dir.ResolveGroup(ctx, in.Target)
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
	n := 0
	err = s.dir.GroupMembers(ctx, g.ID, func(us []User) error {
		for _, u := range us {
			if !protected.has(u) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return Errorf(EINVALID, "%s has no members mfabot may revoke", r.Target.Name)
	}
	r.Preview.MemberCount = n
	limit := s.policy.ConfirmAbove
	if limit > 0 && n > limit && in.Confirm != n {
		if in.Confirm != 0 {
			return Errorf(EINVALID, "%s has %d members, not %d: check the group and repeat with --confirm %d", r.Target.Name, n, in.Confirm, n)
		}
		return Errorf(EINVALID, "%s has %d members (more than %d): to revoke them all, repeat the command with --confirm %d", r.Target.Name, n, limit, n)
	}
	return nil
}

// protected is the set of users and groups that can never be touched, resolved now.
type protected struct {
	users  map[string]bool // object ids, and lower-cased UPNs/mails as configured
	groups map[string]bool // object ids
}

func (p protected) has(u User) bool {
	return p.users[u.ID] || p.users[strings.ToLower(u.UPN)] || (u.Mail != "" && p.users[strings.ToLower(u.Mail)])
}

func (s *Service) protectedSet(ctx context.Context) (protected, error) {
	return resolveProtected(ctx, s.dir, s.policy)
}

func resolveProtected(ctx context.Context, dir Directory, pol Policy) (protected, error) {
	p := protected{users: map[string]bool{}, groups: map[string]bool{}}
	for _, u := range pol.ProtectedUsers {
		p.users[strings.ToLower(u)] = true
		p.users[u] = true
	}
	for _, ref := range pol.ProtectedGroups {
		g, err := dir.ResolveGroup(ctx, ref)
		if err != nil {
			return p, WrapError(EUPSTREAM, err, "could not resolve protected group %s", ref)
		}
		p.groups[g.ID] = true
		err = dir.GroupMembers(ctx, g.ID, func(us []User) error {
			for _, u := range us {
				p.users[u.ID] = true
			}
			return nil
		})
		if err != nil {
			return p, WrapError(EUPSTREAM, err, "could not list protected group %s", g.DisplayName)
		}
	}
	return p, nil
}

// Approve records a's approval. The refusals are specific: own request, not an approver,
// expired, already decided.
func (s *Service) Approve(ctx context.Context, a Actor, id string) (*Request, error) {
	r, err := s.decidable(ctx, a, id)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	ev := AuditEvent{Time: now, RequestID: r.ID, Type: EventApproved, Actor: a}
	r, err = s.store.Approve(ctx, r.ID, Decision{Actor: a, At: now}, s.policy.required(), ev)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "request approved", "request_id", r.ID, "approver", a.Key(), "state", r.State)
	s.notify(ctx, r, EventApproved)
	if r.State == StateApproved && s.wake != nil {
		s.wake()
	}
	return r, nil
}

// Deny refuses a request, with a reason.
func (s *Service) Deny(ctx context.Context, a Actor, id, reason string) (*Request, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, Errorf(EINVALID, "say why you deny it: deny %s <reason>", id)
	}
	r, err := s.decidable(ctx, a, id)
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
	s.log.InfoContext(ctx, "request denied", "request_id", r.ID, "approver", a.Key())
	s.notify(ctx, r, EventDenied)
	return r, nil
}

// decidable loads a request and checks that a may decide it now. Authorisation is
// checked at every decision, never remembered.
func (s *Service) decidable(ctx context.Context, a Actor, id string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != StatePending {
		return nil, Errorf(ECONFLICT, "%s", Standing(r))
	}
	if !s.clock.Now().Before(r.ExpiresAt) {
		return nil, Errorf(ECONFLICT, "request %s expired at %s", r.ID, clock(r.ExpiresAt))
	}
	if a.SamePerson(r.Requester) {
		return nil, Errorf(EFORBIDDEN, "you cannot approve or deny your own request")
	}
	for _, d := range r.Approvals {
		if a.SamePerson(d.Actor) {
			return nil, Errorf(ECONFLICT, "you already approved %s at %s", r.ID, clock(d.At))
		}
	}
	if err := s.CheckApprover(ctx, a); err != nil {
		return nil, err
	}
	return r, nil
}

// Cancel withdraws a pending request; the requester and any approver may.
func (s *Service) Cancel(ctx context.Context, a Actor, id, reason string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.SamePerson(r.Requester) {
		if err := s.CheckApprover(ctx, a); err != nil {
			return nil, Errorf(EFORBIDDEN, "only the requester or an approver may cancel %s", r.ID)
		}
	}
	if r.State != StatePending {
		return nil, Errorf(ECONFLICT, "%s; only pending requests can be cancelled", Standing(r))
	}
	now := s.clock.Now()
	d := Decision{Actor: a, At: now, Reason: strings.TrimSpace(reason)}
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

// FailedItems lists up to limit failed items of a request, for its report.
func (s *Service) FailedItems(ctx context.Context, id string, limit int) ([]Item, error) {
	return s.store.Items(ctx, id, ItemFailed, 0, limit)
}

// SweepExpired marks overdue pending requests expired and notifies about each.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	rs, err := s.store.ExpireDue(ctx, s.clock.Now())
	if err != nil {
		return 0, fmt.Errorf("expire due requests: %w", err)
	}
	for _, r := range rs {
		s.log.InfoContext(ctx, "request expired", "request_id", r.ID)
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
			s.log.ErrorContext(ctx, "sweep expired requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Standing says in one sentence where a request stands: "R-7K2QXA was approved by Ann at
// 09:14 UTC".
func Standing(r *Request) string {
	switch r.State {
	case StatePending:
		return fmt.Sprintf("%s is waiting for approval until %s", r.ID, clock(r.ExpiresAt))
	case StateApproved, StateRunning, StateSucceeded, StatePartlyFailed, StateFailed:
		by := ""
		if n := len(r.Approvals); n > 0 {
			last := r.Approvals[n-1]
			by = fmt.Sprintf(" by %s at %s", last.Actor.Name, clock(last.At))
		}
		switch r.State {
		case StateApproved:
			return fmt.Sprintf("%s was already approved%s", r.ID, by)
		case StateRunning:
			return fmt.Sprintf("%s was already approved%s and is running", r.ID, by)
		default:
			return fmt.Sprintf("%s was already approved%s and has %s", r.ID, by, strings.ReplaceAll(string(r.State), "_", " "))
		}
	case StateDenied:
		if r.Denial != nil {
			return fmt.Sprintf("%s was denied by %s at %s", r.ID, r.Denial.Actor.Name, clock(r.Denial.At))
		}
		return r.ID + " was denied"
	case StateCancelled:
		if r.Denial != nil {
			return fmt.Sprintf("%s was cancelled by %s at %s", r.ID, r.Denial.Actor.Name, clock(r.Denial.At))
		}
		return r.ID + " was cancelled"
	case StateExpired:
		return fmt.Sprintf("request %s expired at %s", r.ID, clock(r.ExpiresAt))
	}
	return fmt.Sprintf("%s is %s", r.ID, r.State)
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
