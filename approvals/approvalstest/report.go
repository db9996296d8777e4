package approvalstest

import (
	"context"
	"sync"

	"github.com/mfabot/mfabot/approvals"
)

// Report is an in-memory approvals.Report over a Directory's users: the users in
// Unregistered are those the registration report lists as not registered for MFA.
type Report struct {
	Dir *Directory
	// Err, when set, fails NotRegistered (approvals.ErrLicence in its chain for an
	// unlicensed tenant).
	Err error

	mu           sync.Mutex
	unregistered map[string]bool
}

// NewReport returns a report over dir in which the given users are not registered.
func NewReport(dir *Directory, unregistered ...string) *Report {
	r := &Report{Dir: dir, unregistered: map[string]bool{}}
	for _, id := range unregistered {
		r.unregistered[id] = true
	}
	return r
}

// SetRegistered marks a user registered (true) or not.
func (r *Report) SetRegistered(userID string, registered bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if registered {
		delete(r.unregistered, userID)
	} else {
		r.unregistered[userID] = true
	}
}

// NotRegistered implements approvals.Report, in pages of 100.
func (r *Report) NotRegistered(_ context.Context, fn func([]approvals.Registration) error) error {
	if r.Err != nil {
		return r.Err
	}
	r.Dir.mu.Lock()
	users := append([]approvals.User(nil), r.Dir.Users...)
	r.Dir.mu.Unlock()
	r.mu.Lock()
	var page []approvals.Registration
	var pages [][]approvals.Registration
	for _, u := range users {
		if !r.unregistered[u.ID] {
			continue
		}
		page = append(page, approvals.Registration{UserID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName})
		if len(page) == 100 {
			pages, page = append(pages, page), nil
		}
	}
	r.mu.Unlock()
	if len(page) > 0 {
		pages = append(pages, page)
	}
	for _, p := range pages {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// Users implements approvals.Report: every user of the directory, in pages of 100.
func (r *Report) Users(_ context.Context, fn func([]approvals.User) error) error {
	r.Dir.mu.Lock()
	users := append([]approvals.User(nil), r.Dir.Users...)
	r.Dir.mu.Unlock()
	for len(users) > 0 {
		n := min(100, len(users))
		if err := fn(users[:n]); err != nil {
			return err
		}
		users = users[n:]
	}
	return nil
}

var _ approvals.Report = (*Report)(nil)
