package approvals

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// A bulk reset (KindResetBulk) resets every user of a list — a CSV given to the mfabot
// CLI, a list pasted into chat — under one request: one approval for the whole list, one
// item per user when it runs, so that a crash resumes at the first unfinished user and no
// user is reset twice. Its rules:
//   - the list names each user once and at most Policy.BulkMax users; otherwise nothing
//     is created and the error names the line;
//   - rows that cannot be reset are refused before the request is made, each with why,
//     and shown on the card: unknown users, protected accounts, the same user named twice
//     in different ways (a UPN and an object id), users with a reset already open;
//   - protection is checked again for each user when it runs;
//   - the request's target is the list itself (Target.Type "users", ID a hash of the
//     sorted object ids): the unique index on open requests then refuses the same list
//     twice, and the per-user check above and Service.inOpenBulk refuse overlapping
//     resets, which the index cannot see.

// DefaultBulkMax is how many users one bulk reset takes unless configured.
const DefaultBulkMax = 5000

// bulkLookups is how many users are looked up at once while a list is resolved: reads
// are not paced by the write budget, and Graph's read limits are far above this.
const bulkLookups = 8

// BulkRow is one row of a bulk reset's input.
type BulkRow struct {
	Line  int    // line in the input, counted from 1 (a CSV's header is line 1)
	Value string // a UPN, mail address or object id
}

// BulkInput is a bulk reset as asked for.
type BulkInput struct {
	Source string // where the rows come from, for the card: "users.csv", "a list pasted in Slack"
	Rows   []BulkRow
	Only   []string // method types to delete (SelectionTypes); empty means all but the password
	TAP    bool     // create a Temporary Access Pass for each user after their reset
	Reason string
	// PassHolder is the owner name of the executor that will hand the passes over, when
	// that is the requester's mfabot CLI writing them to a file; "" hands them over in
	// the requester's chat (TAPPlan.Holder).
	PassHolder string
}

// BulkPreview is the list a bulk reset acts on, as resolved when it was asked for.
type BulkPreview struct {
	Source  string        `json:"source,omitempty"`
	Users   []BulkUser    `json:"users"`
	Refused []BulkRefusal `json:"refused,omitempty"`
}

// BulkUser is one user a bulk reset resets.
type BulkUser struct {
	ID   string `json:"id"`
	UPN  string `json:"upn"`
	Line int    `json:"line"`
}

// BulkRefusal is a row refused before the request was made.
type BulkRefusal struct {
	Line  int    `json:"line"`
	Value string `json:"value"`
	Why   string `json:"why"`
}

// BulkPlan is what a bulk reset would do, without asking for it (--dry-run).
type BulkPlan struct {
	Preview BulkPreview
	Users   []BulkUserPlan // one per user of Preview.Users, in the same order
	TAP     *TAPPlan
}

// BulkUserPlan is what a bulk reset would do to one user.
type BulkUserPlan struct {
	User    BulkUser
	Delete  []Method // in the order they would go
	Kept    []Method // with why in Note
	Default string
	Err     string // why the methods could not be read, when they could not
}

type bulkKey struct{}

// WithBulk marks ctx as bulk work: the directory paces its writes behind single-user
// work, as it does revoke-group's batches, so that a lost-phone reset approved during a
// 5,000-user bulk reset does not wait for it.
func WithBulk(ctx context.Context) context.Context { return context.WithValue(ctx, bulkKey{}, true) }

// IsBulk reports whether ctx is bulk work (WithBulk).
func IsBulk(ctx context.Context) bool { b, _ := ctx.Value(bulkKey{}).(bool); return b }

func (p Policy) bulkMax() int {
	if p.BulkMax <= 0 {
		return DefaultBulkMax
	}
	return p.BulkMax
}

// BulkMaxUsers is the most users one bulk reset takes under the policy.
func (p Policy) BulkMaxUsers() int { return p.bulkMax() }

// CreateBulkReset checks the policy, resolves every row and stores one pending request
// for the users that can be reset, with the refused rows on its preview. Bad input (no
// rows, too many, a user named twice) and a directory that cannot answer create nothing.
func (s *Service) CreateBulkReset(ctx context.Context, a Actor, in BulkInput) (*Request, error) {
	if err := s.authorize(ctx, a, roleAdmin, ""); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	r := &Request{
		Kind:      KindResetBulk,
		State:     StatePending,
		Requester: a,
		Reason:    strings.TrimSpace(in.Reason),
		CreatedAt: now,
		ExpiresAt: now.Add(s.policy.expiry(KindResetBulk)),
	}
	plan, err := s.resolveBulk(ctx, a, in, false)
	if err != nil {
		return nil, err
	}
	r.Preview = Preview{At: now, Only: in.Only, Bulk: &plan.Preview, TAP: plan.TAP}
	r.Target = bulkTarget(plan.Preview.Users)
	ev := AuditEvent{Time: now, Type: EventRequested, Actor: a, Detail: requestedDetail(r)}
	if err := s.store.CreateRequest(ctx, r, ev); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, err
		}
		return nil, fmt.Errorf("store request: %w", err)
	}
	s.log.InfoContext(ctx, "request created", LogRequestID, r.ID, "kind", r.Kind, "users", len(plan.Preview.Users),
		"refused", len(plan.Preview.Refused), "requester", a.Key())
	s.notify(ctx, r, EventRequested)
	return r, nil
}

// PlanBulkReset is what CreateBulkReset would ask for, with each user's methods to delete
// and keep, and creates nothing: the CLI's --dry-run. The requester must be allowed to
// ask for it.
func (s *Service) PlanBulkReset(ctx context.Context, a Actor, in BulkInput) (*BulkPlan, error) {
	if err := s.authorize(ctx, a, roleAdmin, ""); err != nil {
		return nil, err
	}
	plan, err := s.resolveBulk(ctx, a, in, true)
	if err != nil {
		return nil, err
	}
	return &plan, nil
}

// CheckBulkRows refuses a list that names nobody, more than the policy's limit or the
// same user twice, naming the line; the CLI and chat call it before anything is looked up.
func (p Policy) CheckBulkRows(rows []BulkRow) error {
	if len(rows) == 0 {
		return Errorf(EINVALID, "the list names no user")
	}
	if limit := p.bulkMax(); len(rows) > limit {
		return Errorf(EINVALID, "the list names %d users; one bulk reset takes at most %d (policy.bulk_max): line %d is the first one over; split the list",
			len(rows), limit, rows[limit].Line)
	}
	seen := make(map[string]int, len(rows))
	for _, row := range rows {
		k := strings.ToLower(strings.TrimSpace(row.Value))
		if k == "" {
			return Errorf(EINVALID, "line %d names no user", row.Line)
		}
		if first, dup := seen[k]; dup {
			return Errorf(EINVALID, "line %d names the same user as line %d (%s): name each user once", row.Line, first, strings.TrimSpace(row.Value))
		}
		seen[k] = row.Line
	}
	return nil
}

// lookup is one row's user, or why it has none.
type lookup struct {
	user User
	err  error
	plan *BulkUserPlan
}

// resolveBulk checks the rows and looks every user up, refusing the rows that cannot be
// reset; with details, it also reads what a reset would delete for each user.
func (s *Service) resolveBulk(ctx context.Context, a Actor, in BulkInput, details bool) (BulkPlan, error) {
	var out BulkPlan
	if err := s.policy.CheckBulkRows(in.Rows); err != nil {
		return out, err
	}
	if in.TAP {
		plan, err := s.policy.tapPlan(in.PassHolder)
		if err != nil {
			s.refused(ctx, a, "", "reset-bulk --tap: "+ErrorMessage(err))
			return out, err
		}
		out.TAP = plan
	}
	prot, err := s.protectedSet(ctx)
	if err != nil {
		return out, err
	}
	open, err := s.openResets(ctx)
	if err != nil {
		return out, err
	}
	found := s.lookupRows(ctx, in, details)
	if err := ctx.Err(); err != nil {
		return out, err
	}
	out.Preview.Source = in.Source
	byID := map[string]BulkUser{}
	var protectedRows []string
	for i, row := range in.Rows {
		l := found[i]
		refuse := func(why string) {
			out.Preview.Refused = append(out.Preview.Refused, BulkRefusal{Line: row.Line, Value: strings.TrimSpace(row.Value), Why: why})
		}
		if l.err != nil {
			switch ErrorCode(l.err) {
			case ENOTFOUND, EINVALID:
				refuse(ErrorMessage(l.err))
				continue
			}
			return BulkPlan{}, WrapError(ErrorCode(l.err), l.err, "could not look up line %d (%s): %s; nothing was created",
				row.Line, strings.TrimSpace(row.Value), ErrorMessage(l.err))
		}
		u := l.user
		id := strings.ToLower(u.ID)
		name := firstNonEmpty(u.UPN, u.ID)
		if first, dup := byID[id]; dup {
			refuse(fmt.Sprintf("the same user as line %d (%s)", first.Line, first.UPN))
			continue
		}
		if err := prot.check(u); err != nil {
			refuse(ErrorMessage(err))
			protectedRows = append(protectedRows, fmt.Sprintf("line %d %s", row.Line, name))
			continue
		}
		if r := open[id]; r != nil {
			refuse(fmt.Sprintf("%s is already in %s, which is %s", name, r.ID, strings.ReplaceAll(string(r.State), "_", " ")))
			continue
		}
		bu := BulkUser{ID: u.ID, UPN: name, Line: row.Line}
		byID[id] = bu
		out.Preview.Users = append(out.Preview.Users, bu)
		if details && l.plan != nil {
			p := *l.plan
			p.User = bu
			out.Users = append(out.Users, p)
		}
	}
	if len(protectedRows) > 0 {
		s.refused(ctx, a, "", "reset-bulk: protected accounts refused: "+strings.Join(protectedRows, ", "))
	}
	if len(out.Preview.Users) == 0 {
		var why []string
		for _, f := range out.Preview.Refused[:min(len(out.Preview.Refused), 3)] {
			why = append(why, fmt.Sprintf("line %d: %s", f.Line, f.Why))
		}
		return BulkPlan{}, Errorf(EINVALID, "no user on the list can be reset; nothing was created (%s)", strings.Join(why, "; "))
	}
	return out, nil
}

// lookupRows resolves every row, bulkLookups at a time; with details, it also reads each
// user's methods and default method and plans their reset.
func (s *Service) lookupRows(ctx context.Context, in BulkInput, details bool) []lookup {
	found := make([]lookup, len(in.Rows))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(bulkLookups, len(in.Rows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				u, err := s.dir.ResolveUser(ctx, strings.TrimSpace(in.Rows[i].Value))
				found[i] = lookup{user: u, err: err}
				if err != nil || !details {
					continue
				}
				p := &BulkUserPlan{}
				ms, err := s.dir.Methods(ctx, u.ID)
				if err == nil {
					def, derr := s.dir.DefaultMethod(ctx, u.ID)
					if derr != nil {
						def = ""
					}
					plan := planReset(ms, def, in.Only)
					p.Delete, p.Kept, p.Default = plan.del, plan.kept, def
				} else {
					p.Err = ErrorMessage(err)
				}
				found[i].plan = p
			}
		}()
	}
feed:
	for i := range in.Rows {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return found
}

// openResets maps the object id (lower case) of every user with a reset open (pending,
// approved or running, single or in a list) to that request.
func (s *Service) openResets(ctx context.Context) (map[string]*Request, error) {
	rs, err := s.store.Requests(ctx, RequestFilter{States: []State{StatePending, StateApproved, StateRunning}, Limit: 10000})
	if err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	open := map[string]*Request{}
	for _, r := range rs {
		switch {
		case r.Kind == KindReset:
			open[strings.ToLower(r.Target.ID)] = r
		case r.Kind == KindResetBulk && r.Preview.Bulk != nil:
			for _, u := range r.Preview.Bulk.Users {
				open[strings.ToLower(u.ID)] = r
			}
		}
	}
	return open, nil
}

// inOpenBulk refuses a single reset of a user who is on an open bulk reset's list: the
// unique index sees only requests of one kind and target.
func (s *Service) inOpenBulk(ctx context.Context, u User) error {
	open, err := s.openResets(ctx)
	if err != nil {
		return err
	}
	if r := open[strings.ToLower(u.ID)]; r != nil && r.Kind == KindResetBulk {
		return Errorf(ECONFLICT, "%s is on the list of the bulk reset %s, which is %s; wait for it, or cancel it first",
			firstNonEmpty(u.UPN, u.ID), r.ID, strings.ReplaceAll(string(r.State), "_", " "))
	}
	return nil
}

// bulkTarget is the target of a bulk reset: the list itself, named by a hash of its
// users' sorted object ids, so that the same list is one target.
func bulkTarget(users []BulkUser) Target {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = strings.ToLower(u.ID)
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	name := fmt.Sprintf("%d users", len(users))
	if len(users) == 1 {
		name = "1 user"
	}
	return Target{Type: "users", ID: "users:" + hex.EncodeToString(sum[:16]), Name: name}
}

// bulkDetail is what the audit's "requested" entry says of a bulk reset: every user, so
// that the log shows who was to be reset even when the request is never approved, and
// every refused row with why.
func bulkDetail(r *Request) string {
	b := r.Preview.Bulk
	if b == nil {
		return ""
	}
	names := make([]string, len(b.Users))
	for i, u := range b.Users {
		names[i] = u.UPN
	}
	d := fmt.Sprintf("; %d users", len(b.Users))
	if b.Source != "" {
		d += " from " + b.Source
	}
	d += ": " + strings.Join(names, ", ")
	if len(b.Refused) > 0 {
		var refused []string
		for _, f := range b.Refused {
			refused = append(refused, fmt.Sprintf("line %d %s (%s)", f.Line, f.Value, f.Why))
		}
		d += fmt.Sprintf("; %d rows refused: %s", len(b.Refused), strings.Join(refused, ", "))
	}
	if len(r.Preview.Only) > 0 {
		d += " (only " + strings.Join(r.Preview.Only, ", ") + ")"
	}
	return d
}

// expandBulk is the items of a bulk reset: one per user, in the list's order.
func expandBulk(r *Request) []Item {
	if r.Preview.Bulk == nil {
		return nil
	}
	only := strings.Join(r.Preview.Only, ",")
	items := make([]Item, 0, len(r.Preview.Bulk.Users))
	for _, u := range r.Preview.Bulk.Users {
		items = append(items, Item{RequestID: r.ID, Seq: len(items) + 1, Op: OpResetUser, UserID: u.ID, UserName: u.UPN, Arg: only, State: ItemPending})
	}
	return items
}

// runBulkResets resets the users of a bulk reset, Concurrency users at a time, each user
// one item recorded as soon as it ends. Its writes are paced as bulk work (WithBulk), and
// protection is read again now, for every user.
func (e *Executor) runBulkResets(ctx context.Context, r *Request) error {
	prot, err := resolveProtected(ctx, e.dir, e.policy)
	if err != nil {
		return err
	}
	ctx = WithBulk(ctx)
	err = e.fanOut(ctx, r, e.o.Concurrency, 1, e.o.Concurrency*16, func(b []Item) error {
		it, _ := e.attempt(ctx, b[0], func(ctx context.Context, it *Item) error { return e.resetUser(ctx, r, prot, it) })
		if ctx.Err() != nil && it.State != ItemDone {
			return nil // shutting down: left pending for the next executor
		}
		return e.record(context.WithoutCancel(ctx), r, []Item{it})
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// resetUser is one user's whole reset, as a single-user reset does it in several items:
// the default moved when needed, the selected methods deleted (the default last, once
// more after the others if Graph still calls it the default), the sessions revoked, and
// a check that nothing selected is left; then the pass, when the request asks for one.
// Every step is idempotent, so a user whose item was cut short by a crash is simply
// reset again. A pass Graph refuses fails the item with Graph's reason; the reset stays
// done, and the item's Result says so.
func (e *Executor) resetUser(ctx context.Context, r *Request, prot protected, it *Item) error {
	u, err := e.dir.ResolveUser(ctx, it.UserID)
	if err != nil {
		return err
	}
	if err := prot.check(u); err != nil {
		return WrapError(EFORBIDDEN, err, "%s; nothing was changed", ErrorMessage(err))
	}
	var only []string
	if it.Arg != "" {
		only = strings.Split(it.Arg, ",")
	}
	ms, err := e.dir.Methods(ctx, u.ID)
	if err != nil {
		return err
	}
	def, err := e.dir.DefaultMethod(ctx, u.ID)
	if err != nil {
		e.o.Logger.WarnContext(ctx, "read default method; Graph's answers will order the deletions", LogRequestID, r.ID, LogUser, it.UserName, LogErr, err)
		def = ""
	}
	plan := planReset(ms, def, only)
	if plan.setDefault != "" {
		if err := e.dir.SetDefaultMethod(ctx, u.ID, plan.setDefault); err != nil {
			return WrapError(ErrorCode(err), err, "change the default sign-in method to %s: %s", plan.setDefault, ErrorMessage(err))
		}
	}
	var aside []Method
	deleted := 0
	for _, m := range plan.del {
		err := e.dir.DeleteMethod(ctx, u.ID, m)
		switch {
		case errors.Is(err, ErrDefaultMethod):
			aside = append(aside, m)
			continue
		case err != nil:
			return WrapError(ErrorCode(err), err, "delete %s: %s", m.Label(), ErrorMessage(err))
		}
		deleted++
	}
	for _, m := range aside {
		if err := e.dir.DeleteMethod(ctx, u.ID, m); err != nil {
			return WrapError(ErrorCode(err), err, "delete %s: %s", m.Label(), ErrorMessage(err))
		}
		deleted++
	}
	if err := e.dir.RevokeSessions(ctx, []string{u.ID})[0]; err != nil {
		return WrapError(ErrorCode(err), err, "revoke sessions: %s", ErrorMessage(err))
	}
	after, err := e.dir.Methods(ctx, u.ID)
	if err != nil {
		return WrapError(ErrorCode(err), err, "check that nothing is left: %s", ErrorMessage(err))
	}
	if left := remaining(after, only); len(left) > 0 {
		var names []string
		for _, m := range left {
			names = append(names, m.Label())
		}
		return Errorf(EUPSTREAM, "still registered after the reset: %s", strings.Join(names, "; "))
	}
	it.Result = fmt.Sprintf("%d method(s) deleted, sessions revoked", deleted)
	if r.Preview.TAP == nil {
		return nil
	}
	res, err := e.issuePass(ctx, r, u.ID, it.UserName)
	if err != nil {
		return WrapError(ErrorCode(err), err, "reset done (%s), but no Temporary Access Pass: %s", it.Result, ErrorMessage(err))
	}
	it.Result += "; " + res
	return nil
}
