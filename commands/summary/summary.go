package summary

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mfabot/mfabot/approvals"
)

// DefaultTopN is how many enabled members without MFA the message names by default.
const DefaultTopN = 15

// Counts are registration figures for one kind of enabled user (members or guests), from
// Graph's userRegistrationDetails report.
type Counts struct {
	Enabled             int `json:"enabled"`
	MFARegistered       int `json:"mfaRegistered"`
	MFACapable          int `json:"mfaCapable"`
	SSPRRegistered      int `json:"ssprRegistered"`
	PasswordlessCapable int `json:"passwordlessCapable"`
}

// Person is a user the summary names.
type Person struct {
	ID          string
	UPN         string
	DisplayName string
	Guest       bool
	Admin       bool
}

// Gap is something the summary could not read, said so that an admin can fix it.
type Gap struct {
	What string // what is missing from the summary
	Why  string // why Graph refused
	Fix  string // what to do about it
}

// Summary is where MFA enrollment stands on one day. Every figure counts enabled accounts
// only: disabled accounts cannot sign in and are left out (Disabled says how many).
// Members and guests are counted apart; the headline figures are the members', since
// guests usually prove MFA in their home tenant.
type Summary struct {
	Day string // the local day, "2026-11-22"
	// Scope is the group whose transitive members the summary counts (summary <group>);
	// nil for the whole tenant.
	Scope *approvals.Group

	// Report is true when the registration report was read. Without it (Gaps says why)
	// only the directory counts below are known.
	Report bool
	// Directory is true when /users was read, so disabled accounts could be left out.
	Directory bool

	Members Counts // enabled members in the registration report
	Guests  Counts // enabled guests in the registration report
	// DirectoryMembers and DirectoryGuests count enabled users in /users; they are what
	// the summary can still say when the report is missing.
	DirectoryMembers, DirectoryGuests int
	Disabled                          int // disabled accounts in /users, left out of every figure
	// Excluded counts the enabled accounts in the registration report that summary.exclude
	// names (service and shared accounts): left out of every other figure, of "missing"
	// and of the CSV, and counted here instead.
	Excluded Counts

	// Methods counts enabled members by registered method (methodsRegistered value; a
	// method Graph names twice is counted under one name).
	Methods map[string]int
	// AdminsWithoutMFA is every enabled admin, member or guest, without MFA registered,
	// by UPN: these accounts matter most and are never cut.
	AdminsWithoutMFA []Person
	// NotRegistered is the first TopN enabled members without MFA: admins first, then by
	// UPN. NotRegisteredMembers counts them all.
	NotRegistered        []Person
	NotRegisteredMembers int
	// CSV lists every enabled user (members and guests) without MFA registered, in report
	// order, with a header row; CSVRows counts the users in it.
	CSV     []byte
	CSVRows int
	// CSVMembers and CSVGuests split CSVRows, so that the message can say which of its
	// numbers include guests.
	CSVMembers, CSVGuests int

	Gaps []Gap

	// History and Changes come from stored snapshots (AddHistory).
	History []Point  // registered % of enabled members per day, oldest first; days without data are absent
	Changes []Change // since yesterday, 7 and 30 days ago
}

// Point is the MFA (Percent) and SSPR registered % of enabled members on one day.
type Point struct {
	Day     string
	Percent float64
	SSPR    float64
}

// Change is how the MFA (Points) and SSPR (SSPRPoints) registered % of enabled members
// moved over Days days, in percentage points. Known is false when there is no snapshot of
// that day.
type Change struct {
	Days       int
	Known      bool
	Points     float64
	SSPRPoints float64
}

// Percent is part of whole in percent, 0 when whole is 0.
func Percent(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// Options tune Collect.
type Options struct {
	Day  string // the day the summary is for, "2026-11-22"
	TopN int    // members named in NotRegistered; 0 means DefaultTopN
	// Group limits the summary to the group's transitive members, streamed from Members
	// instead of /users; nil summarises the tenant.
	Group   *approvals.Group
	Members Members
	// Exclude are the accounts summary.exclude names, left out and counted apart.
	Exclude approvals.Excluded
}

// Collect streams the tenant from src and summarises it. Users are read first, keeping only
// the ids of disabled accounts; the registration report is then aggregated page by page, so
// memory grows with the number of admins without MFA, TopN and the CSV, not with the
// tenant. A refused read (missing licence or permission) becomes a Gap, not an error;
// other failures are returned.
func Collect(ctx context.Context, src Source, opt Options) (*Summary, error) {
	if opt.TopN <= 0 {
		opt.TopN = DefaultTopN
	}
	s := &Summary{Day: opt.Day, Methods: map[string]int{}, Scope: opt.Group}

	disabled := approvals.NewIDSet()
	users, inScope, err := scope(src, opt)
	if err != nil {
		return nil, err
	}
	err = users(ctx, func(page []approvals.User) error {
		for _, u := range page {
			inScope.add(u)
			switch {
			case !u.Enabled:
				s.Disabled++
				disabled.Add(u.ID)
			case u.Guest:
				s.DirectoryGuests++
			default:
				s.DirectoryMembers++
			}
		}
		return nil
	})
	switch {
	case err == nil:
		s.Directory = true
	case refused(err) && opt.Group == nil:
		s.Gaps = append(s.Gaps, usersGap(err))
		s.Disabled, s.DirectoryMembers, s.DirectoryGuests = 0, 0, 0
		disabled = approvals.NewIDSet()
	case opt.Group != nil:
		return nil, approvals.WrapError(approvals.ErrorCode(err), err, "list the members of %s: %s", opt.Group.DisplayName, approvals.ErrorMessage(err))
	default:
		return nil, fmt.Errorf("list users: %w", err)
	}

	a := &aggregate{s: s, topN: opt.TopN, csv: newCSVList(), exclude: opt.Exclude}
	err = src.Registrations(ctx, func(page []approvals.Registration) error {
		for _, r := range page {
			if disabled.Has(r.UserID) || !inScope.has(r.UserID) {
				continue
			}
			a.add(r)
		}
		return nil
	})
	switch {
	case err == nil:
		s.Report = true
		s.CSV = a.csv.bytes()
		s.CSVRows, s.CSVMembers, s.CSVGuests = a.csv.rows, a.csv.members, a.csv.guests
		s.NotRegistered = a.top
		sortPeople(s.AdminsWithoutMFA)
	case refused(err):
		s.Gaps = append(s.Gaps, reportGap(err))
		s.Members, s.Guests, s.Excluded, s.Methods = Counts{}, Counts{}, Counts{}, map[string]int{}
		s.AdminsWithoutMFA, s.NotRegistered, s.NotRegisteredMembers = nil, nil, 0
	default:
		return nil, fmt.Errorf("read registration report: %w", err)
	}
	return s, nil
}

// aggregate folds registration rows into a Summary.
type aggregate struct {
	s       *Summary
	topN    int
	top     []Person // sorted by less, at most topN
	csv     *csvList
	exclude approvals.Excluded
}

func (a *aggregate) add(r approvals.Registration) {
	guest := strings.EqualFold(r.UserType, "guest")
	c := &a.s.Members
	if guest {
		c = &a.s.Guests
	}
	if a.exclude.Has(approvals.User{ID: r.UserID, UPN: r.UPN}) {
		c = &a.s.Excluded
	}
	c.Enabled++
	count(&c.MFARegistered, r.IsMfaRegistered)
	count(&c.MFACapable, r.IsMfaCapable)
	count(&c.SSPRRegistered, r.IsSsprRegistered)
	count(&c.PasswordlessCapable, r.IsPasswordlessCapable)
	if c == &a.s.Excluded {
		return // counted apart, and never "missing"
	}
	if !guest {
		for i, m := range r.MethodsRegistered {
			m = canonicalMethod(m)
			if !seenBefore(r.MethodsRegistered[:i], m) {
				a.s.Methods[m]++
			}
		}
	}
	if r.IsMfaRegistered {
		return
	}
	p := Person{ID: r.UserID, UPN: r.UPN, DisplayName: r.DisplayName, Guest: guest, Admin: r.IsAdmin}
	if r.IsAdmin {
		a.s.AdminsWithoutMFA = append(a.s.AdminsWithoutMFA, p)
	}
	a.csv.add(r)
	if guest {
		return
	}
	a.s.NotRegisteredMembers++
	a.keep(p)
}

// keep inserts p into the bounded, sorted top list.
func (a *aggregate) keep(p Person) {
	if len(a.top) == a.topN && !less(p, a.top[len(a.top)-1]) {
		return
	}
	i := sort.Search(len(a.top), func(i int) bool { return less(p, a.top[i]) })
	if len(a.top) < a.topN {
		a.top = append(a.top, Person{})
	}
	copy(a.top[i+1:], a.top[i:])
	a.top[i] = p
}

// seenBefore reports whether a user's earlier methods already counted m.
func seenBefore(earlier []string, m string) bool {
	for _, e := range earlier {
		if canonicalMethod(e) == m {
			return true
		}
	}
	return false
}

func count(n *int, b bool) {
	if b {
		*n++
	}
}

// less orders people as the summary lists them: admins first, then by UPN ignoring case,
// then by id so that the order never depends on the report's.
func less(a, b Person) bool {
	if a.Admin != b.Admin {
		return a.Admin
	}
	au, bu := strings.ToLower(a.UPN), strings.ToLower(b.UPN)
	if au != bu {
		return au < bu
	}
	return a.ID < b.ID
}

func sortPeople(ps []Person) {
	sort.Slice(ps, func(i, j int) bool { return less(ps[i], ps[j]) })
}
