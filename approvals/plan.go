package approvals

import (
	"slices"
	"sort"
	"strings"
)

// Selections are the names `reset --only` takes, and the method types each covers. The
// runbook mfabot replaces removed only the Authenticator and software OATH: a lost phone
// should not cost the user their security key.
var Selections = map[string][]string{
	"authenticator": {MethodAuthenticator},
	"phone":         {MethodPhone},
	"oath":          {MethodSoftwareOath, MethodHardwareOath},
	"fido2":         {MethodFido2},
	"email":         {MethodEmail},
	"hello":         {MethodWindowsHello},
	"platform":      {MethodPlatformCredential},
	"tap":           {MethodTemporaryAccessPass},
}

// SelectionNames lists the names of Selections in a stable order, for usage messages.
func SelectionNames() []string {
	return []string{"authenticator", "phone", "oath", "fido2", "email", "hello", "platform", "tap"}
}

// SelectionTypes turns selection names into the method types they cover, sorted and
// without repeats. An unknown name is EINVALID.
func SelectionTypes(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		ts, ok := Selections[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, Errorf(EINVALID, "%q is not a method selection; use %s", n, strings.Join(SelectionNames(), ", "))
		}
		out = append(out, ts...)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// selected reports whether m is in a reset's selection (every type but the password when
// only is empty).
func selected(m Method, only []string) bool {
	if m.Type == MethodPassword {
		return false
	}
	return len(only) == 0 || slices.Contains(only, m.Type)
}

// resetPlan is what a reset will do to one user, worked out from their methods and default.
type resetPlan struct {
	setDefault string   // a default second factor to move to first, or ""
	del        []Method // methods to delete, in order
	kept       []Method // methods left registered, Note saying why
}

// planReset orders a reset. Graph refuses to delete the method behind the default second
// factor while others remain, and a mobile phone while an alternate mobile remains, so:
// the default goes last, phones in the order alternate, office, mobile before it. When the
// default would otherwise block, the plan moves the default first: to a method the reset
// keeps (a selective reset), or to the mobile phone when the default is the alternate
// mobile (which can only go after it otherwise).
func planReset(ms []Method, def string, only []string) resetPlan {
	var p resetPlan
	for _, m := range ms {
		switch {
		case m.Type == MethodPassword:
			m.Note = "the password is never removed"
			p.kept = append(p.kept, m)
		case !selected(m, only):
			m.Note = "not selected"
			p.kept = append(p.kept, m)
		case !m.Deletable:
			if m.Note == "" {
				m.Note = "mfabot cannot remove this type through Microsoft Graph"
			}
			p.kept = append(p.kept, m)
		default:
			p.del = append(p.del, m)
		}
	}
	backsDefault := func(m Method) bool { return def != "" && def != DefaultNone && m.Backs(def) }
	deleting := func(pred func(Method) bool) bool { return slices.ContainsFunc(p.del, pred) }

	if deleting(backsDefault) {
		// A kept method that can be the default takes over, so the deleted one can go.
		if to := bestDefault(p.kept); to != "" {
			p.setDefault, def = to, to
		} else if def == DefaultVoiceAlternateMobile && deleting(func(m Method) bool { return m.Type == MethodPhone && m.PhoneType == PhoneMobile }) {
			p.setDefault, def = DefaultSMS, DefaultSMS
		}
	}
	rank := func(m Method) int {
		r := 0
		if m.Type == MethodPhone {
			switch m.PhoneType {
			case PhoneAlternateMobile:
				r = 1
			case PhoneOffice:
				r = 2
			default:
				r = 3
			}
		}
		if backsDefault(m) {
			r += 10
		}
		return r
	}
	sort.SliceStable(p.del, func(i, j int) bool { return rank(p.del[i]) < rank(p.del[j]) })
	return p
}

// bestDefault is the default second factor the best of ms can provide: the Authenticator
// before an OATH token before a phone, "" when none can be a default.
func bestDefault(ms []Method) string {
	best, bestRank := "", 99
	for _, m := range ms {
		if !m.Deletable && m.Type != MethodPassword {
			continue
		}
		d := m.DefaultFor()
		r := slices.Index([]string{DefaultPush, DefaultOath, DefaultSMS, DefaultVoiceMobile, DefaultVoiceAlternateMobile, DefaultVoiceOffice}, d)
		if d != "" && r >= 0 && r < bestRank {
			best, bestRank = d, r
		}
	}
	return best
}

// remaining lists the methods of ms a reset with selection only should have removed.
func remaining(ms []Method, only []string) []Method {
	var out []Method
	for _, m := range ms {
		if selected(m, only) {
			out = append(out, m)
		}
	}
	return out
}
