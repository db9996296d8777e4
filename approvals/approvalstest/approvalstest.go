// Package approvalstest provides in-memory fakes of the interfaces the approvals core
// consumes, for unit tests of its logic. Integration tests use storage and graph/graphtest
// instead.
package approvalstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

// Directory is an in-memory approvals.Directory. Fields may be filled directly before
// use; calls are counted.
type Directory struct {
	mu        sync.Mutex
	Users     []approvals.User
	Groups    map[string][]string // group id -> member user ids
	GroupsBy  []approvals.Group
	MethodsOf map[string][]approvals.Method
	States    map[string]string
	// Defaults is each user's default second factor (approvals.DefaultPush, …). AddUser
	// sets it to what the first method that can be a default provides, as Entra does.
	Defaults map[string]string
	// Fail, when set, is consulted before every mutating call; a non-nil error fails it.
	Fail func(op, userID string) error
	// MemberErr, when set, fails every membership check.
	MemberErr error
	// SetStateHook, when set, says which per-user MFA state the directory shows after
	// SetMFAState(state): Entra shows "enforced" for a user with methods set to "enabled".
	SetStateHook func(userID, state string) string

	// Passes is each user's current Temporary Access Pass (CreateTemporaryAccessPass).
	Passes map[string]approvals.Pass
	seq    int

	Deleted  map[string][]string // user id -> deleted method ids
	Revoked  map[string]int      // user id -> revoke calls
	SetState map[string]string
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{
		Groups: map[string][]string{}, MethodsOf: map[string][]approvals.Method{}, States: map[string]string{}, Defaults: map[string]string{},
		Deleted: map[string][]string{}, Revoked: map[string]int{}, SetState: map[string]string{},
	}
}

// AddUser adds a user with methods.
func (d *Directory) AddUser(u approvals.User, ms ...approvals.Method) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Users = append(d.Users, u)
	d.MethodsOf[u.ID] = ms
	d.Defaults[u.ID] = approvals.DefaultNone
	for _, m := range ms {
		if p := m.DefaultFor(); p != "" {
			d.Defaults[u.ID] = p
			break
		}
	}
}

// AddGroup adds a group with members.
func (d *Directory) AddGroup(g approvals.Group, memberIDs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.GroupsBy = append(d.GroupsBy, g)
	d.Groups[g.ID] = memberIDs
}

// AddMember adds a user to a group.
func (d *Directory) AddMember(groupID, userID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Groups[groupID] = append(d.Groups[groupID], userID)
}

// RemoveMember takes a user out of a group.
func (d *Directory) RemoveMember(groupID, userID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.Groups[groupID]
	for i, id := range ids {
		if id == userID {
			d.Groups[groupID] = append(ids[:i:i], ids[i+1:]...)
			return
		}
	}
}

// SetEnabled enables or disables a user's account.
func (d *Directory) SetEnabled(userID string, enabled bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.Users {
		if strings.EqualFold(d.Users[i].ID, userID) {
			d.Users[i].Enabled = enabled
		}
	}
}

// AddMethod registers one more method for a user.
func (d *Directory) AddMethod(userID string, m approvals.Method) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.MethodsOf[userID] = append(d.MethodsOf[userID], m)
}

// RevokeCount returns how often a user's sessions were revoked.
func (d *Directory) RevokeCount(userID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.Revoked[userID]
}

// ResolveUser implements approvals.Directory.
func (d *Directory) ResolveUser(_ context.Context, ref string) (approvals.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.Users {
		if strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UPN, ref) || (u.Mail != "" && strings.EqualFold(u.Mail, ref)) {
			return u, nil
		}
	}
	return approvals.User{}, approvals.Errorf(approvals.ENOTFOUND, "no user %s in the directory", ref)
}

// ResolveGroup implements approvals.Directory.
func (d *Directory) ResolveGroup(_ context.Context, ref string) (approvals.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.GroupsBy {
		if strings.EqualFold(g.ID, ref) || strings.EqualFold(g.DisplayName, ref) || strings.EqualFold(g.MailNickname, ref) {
			return g, nil
		}
	}
	return approvals.Group{}, approvals.Errorf(approvals.ENOTFOUND, "no group %s in the directory", ref)
}

// GroupsNamed implements approvals.Directory: display names only, never nicknames.
func (d *Directory) GroupsNamed(_ context.Context, name string) ([]approvals.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []approvals.Group
	for _, g := range d.GroupsBy {
		if strings.EqualFold(g.DisplayName, name) {
			out = append(out, g)
		}
	}
	return out, nil
}

// DefaultMethod implements approvals.Directory.
func (d *Directory) DefaultMethod(_ context.Context, userID string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.Defaults[userID]; ok {
		return p, nil
	}
	return approvals.DefaultNone, nil
}

// SetDefaultMethod implements approvals.Directory; like Graph, it needs a method that
// provides the new default.
func (d *Directory) SetDefaultMethod(_ context.Context, userID, pref string) error {
	if err := d.fail("set-default", userID); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.MethodsOf[userID] {
		if m.Backs(pref) {
			d.Defaults[userID] = pref
			return nil
		}
	}
	return approvals.Errorf(approvals.EINVALID, "%s has no method that provides %s", userID, pref)
}

// Methods implements approvals.Directory.
func (d *Directory) Methods(_ context.Context, userID string) ([]approvals.Method, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]approvals.Method(nil), d.MethodsOf[userID]...), nil
}

func (d *Directory) fail(op, userID string) error {
	if d.Fail == nil {
		return nil
	}
	return d.Fail(op, userID)
}

// DeleteMethod implements approvals.Directory.
func (d *Directory) DeleteMethod(_ context.Context, userID string, m approvals.Method) error {
	if err := d.fail("delete", userID); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ms := d.MethodsOf[userID]
	for i := range ms {
		if ms[i].ID != m.ID {
			continue
		}
		// Graph's rule: the method behind the default second factor cannot go while
		// other methods (the password aside) remain, unless another one backs it too.
		if pref := d.Defaults[userID]; ms[i].Backs(pref) {
			others, alsoBacks := 0, false
			for j, o := range ms {
				if j == i || o.Type == approvals.MethodPassword {
					continue
				}
				others++
				alsoBacks = alsoBacks || o.Backs(pref)
			}
			if others > 0 && !alsoBacks {
				return approvals.WrapError(approvals.EUPSTREAM, approvals.ErrDefaultMethod,
					"Graph refused to delete authentication method: it is the user's default sign-in method and other methods remain")
			}
			if !alsoBacks {
				d.Defaults[userID] = approvals.DefaultNone
			}
		}
		d.MethodsOf[userID] = append(ms[:i:i], ms[i+1:]...)
		break
	}
	d.Deleted[userID] = append(d.Deleted[userID], m.ID)
	return nil
}

// RevokeSessions implements approvals.Directory.
func (d *Directory) RevokeSessions(_ context.Context, userIDs []string) []error {
	errs := make([]error, len(userIDs))
	for i, id := range userIDs {
		if err := d.fail("revoke", id); err != nil {
			errs[i] = err
			continue
		}
		d.mu.Lock()
		d.Revoked[id]++
		d.mu.Unlock()
	}
	return errs
}

// SetMFAState implements approvals.Directory.
func (d *Directory) SetMFAState(_ context.Context, userID, state string) error {
	if err := d.fail("enforce", userID); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.SetState[userID] = state
	if d.SetStateHook != nil {
		state = d.SetStateHook(userID, state)
	}
	d.States[userID] = state
	return nil
}

// MFAState implements approvals.Directory.
func (d *Directory) MFAState(_ context.Context, userID string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.States[userID]; ok {
		return s, nil
	}
	return approvals.MFADisabled, nil
}

// GroupMembers implements approvals.Directory, in pages of 100.
func (d *Directory) GroupMembers(ctx context.Context, groupID string, fn func([]approvals.User) error) error {
	d.mu.Lock()
	ids := append([]string(nil), d.Groups[groupID]...)
	d.mu.Unlock()
	var page []approvals.User
	for _, id := range ids {
		u, err := d.ResolveUser(ctx, id)
		if err != nil {
			continue
		}
		page = append(page, u)
		if len(page) == 100 {
			if err := fn(page); err != nil {
				return err
			}
			page = nil
		}
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}

// IsMemberOf implements approvals.Directory.
func (d *Directory) IsMemberOf(_ context.Context, userID, groupID string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.MemberErr != nil {
		return false, d.MemberErr
	}
	for _, id := range d.Groups[groupID] {
		if id == userID {
			return true, nil
		}
	}
	return false, nil
}

// CreateTemporaryAccessPass implements approvals.Directory: Fail("tap", id) refuses it;
// otherwise the pass is a fresh random value, kept in Passes (the user's current pass,
// replacing one they had) and among the user's methods.
func (d *Directory) CreateTemporaryAccessPass(_ context.Context, userID string, lifetime time.Duration, oneTime bool) (approvals.Pass, error) {
	if err := d.fail("tap", userID); err != nil {
		return approvals.Pass{}, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Passes == nil {
		d.Passes = map[string]approvals.Pass{}
	}
	d.seq++
	p := approvals.Pass{UserID: userID, MethodID: fmt.Sprintf("tap-%d", d.seq), Value: "tap-" + hex.EncodeToString(b[:]),
		Start: time.Now().UTC(), Lifetime: lifetime, OneTime: oneTime}
	ms := d.MethodsOf[userID][:0:0]
	for _, m := range d.MethodsOf[userID] {
		if m.Type != approvals.MethodTemporaryAccessPass {
			ms = append(ms, m)
		}
	}
	d.MethodsOf[userID] = append(ms, approvals.Method{ID: p.MethodID, ODataType: "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
		Type: approvals.MethodTemporaryAccessPass, Deletable: true})
	d.Passes[userID] = p
	return p, nil
}

var _ approvals.Directory = (*Directory)(nil)

// TransientError is an upstream failure worth retrying, as the graph package reports
// throttling and outages (approvals.Transient holds for it).
func TransientError(msg string) error {
	return approvals.WrapError(approvals.EUPSTREAM, transient{}, "%s", msg)
}

type transient struct{}

func (transient) Error() string   { return "transient" }
func (transient) Transient() bool { return true }

// NoSleep is an executor Sleep that returns at once, so retries cost no wall-clock time.
func NoSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// SkipClock is fake time in which every Sleep returns at once, moving the time forward by
// what it waited. A paced component and the fake it talks to share one, so that
// Retry-After, backoff and pacing are honoured in fake time and take no wall-clock time.
// Concurrent sleepers each move it forward, so fake time runs faster than the waits it
// served: every wait is still at least as long as asked.
type SkipClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewSkipClock returns a skip clock at start.
func NewSkipClock(start time.Time) *SkipClock { return &SkipClock{now: start.UTC()} }

// Now returns the clock's time.
func (c *SkipClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock forward by d at once, unless ctx has ended.
func (c *SkipClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.mu.Lock()
		c.now = c.now.Add(d)
		c.mu.Unlock()
	}
	return nil
}

// ManualClock is fake time that moves only when a test says so: a Sleep waits until
// WakeNext passes its deadline. A component and the fake it talks to share one, so that
// the fake judges the component's pace in the time it paces by, and a wait of a second
// takes none. When the test ends, sleepers give up.
type ManualClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*sleeper
	changed  chan struct{} // closed and replaced whenever sleepers come or go
	done     chan struct{} // closed when the test ends
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

// Cleaner is the part of testing.TB that NewManualClock needs; declared here so that
// this package imports no testing.
type Cleaner interface{ Cleanup(func()) }

// NewManualClock returns a clock standing at start until the test moves it.
func NewManualClock(tb Cleaner, start time.Time) *ManualClock {
	c := &ManualClock{now: start.UTC(), changed: make(chan struct{}), done: make(chan struct{})}
	tb.Cleanup(func() { close(c.done) })
	return c
}

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *ManualClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Sleep waits until the clock passes now+d, ctx ends or the test ends.
func (c *ManualClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()
	var err error
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.done:
		err = fmt.Errorf("the test's clock stopped")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.sleepers {
		if x == s {
			c.sleepers = append(c.sleepers[:i], c.sleepers[i+1:]...)
			c.notifyLocked()
			break
		}
	}
	return err
}

// AtLeast is closed once n or more goroutines sleep on the clock (never, if the test
// ends first).
func (c *ManualClock) AtLeast(n int) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		for {
			c.mu.Lock()
			k, ch := len(c.sleepers), c.changed
			c.mu.Unlock()
			if k >= n {
				close(out)
				return
			}
			select {
			case <-ch:
			case <-c.done:
				return
			}
		}
	}()
	return out
}

// Sleepers returns when each goroutine sleeping on the clock will wake.
func (c *ManualClock) Sleepers() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := make([]time.Time, 0, len(c.sleepers))
	for _, s := range c.sleepers {
		until = append(until, s.until)
	}
	return until
}

// WakeNext moves the time to the earliest sleeper's deadline and wakes every sleeper due.
func (c *ManualClock) WakeNext() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sleepers) == 0 {
		return
	}
	next := c.sleepers[0].until
	for _, s := range c.sleepers {
		if s.until.Before(next) {
			next = s.until
		}
	}
	if next.After(c.now) {
		c.now = next
	}
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if s.until.After(c.now) {
			kept = append(kept, s)
		} else {
			close(s.wake)
		}
	}
	c.sleepers = kept
	c.notifyLocked()
}

// RunUntil wakes the next sleeper whenever someone sleeps on the clock, until done is
// closed: fake time that runs exactly as fast as the waits it serves.
func (c *ManualClock) RunUntil(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-c.done:
			return
		case <-c.AtLeast(1):
			c.WakeNext()
		}
	}
}
