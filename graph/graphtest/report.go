package graphtest

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// registrationBool are the boolean properties of userRegistrationDetails that the list's
// $filter takes with eq, as documented ("isMfaRegistered eq false" lists who still has to
// register; isSsprRegistered the same for self-service password reset).
var registrationBool = map[string]func(Registration) bool{
	"isAdmin":               func(r Registration) bool { return r.IsAdmin },
	"isMfaCapable":          func(r Registration) bool { return r.IsMfaCapable },
	"isMfaRegistered":       func(r Registration) bool { return r.IsMfaRegistered },
	"isPasswordlessCapable": func(r Registration) bool { return r.IsPasswordlessCapable },
	"isSsprCapable":         func(r Registration) bool { return r.IsSsprCapable },
	"isSsprEnabled":         func(r Registration) bool { return r.IsSsprEnabled },
	"isSsprRegistered":      func(r Registration) bool { return r.IsSsprRegistered },
	"isSystemPreferredAuthenticationMethodEnabled": func(r Registration) bool { return r.IsSystemPreferredAuthenticationMethodEnabled },
}

// registrationString are the string properties the list's $filter takes with eq.
var registrationString = map[string]func(Registration) string{
	"userType":          func(r Registration) string { return r.UserType },
	"userPrincipalName": func(r Registration) string { return r.UserPrincipalName },
	"userDisplayName":   func(r Registration) string { return r.UserDisplayName },
	"id":                func(r Registration) string { return r.ID },
}

var (
	clauseRE = regexp.MustCompile(`^\s*(\w+)\s+eq\s+(true|false|'(?:[^']|'')*')\s*$`)
	andRE    = regexp.MustCompile(`(?i)\s+and\s+`)
)

// registrationFilter parses a $filter of one or more "property eq value" clauses joined
// by "and"; ok is false for anything else, which Graph refuses.
func registrationFilter(f string) (match func(Registration) bool, bad string, ok bool) {
	var preds []func(Registration) bool
	for _, clause := range andRE.Split(f, -1) {
		m := clauseRE.FindStringSubmatch(clause)
		if m == nil {
			return nil, strings.TrimSpace(clause), false
		}
		prop, val := m[1], m[2]
		if get, found := registrationBool[prop]; found && (val == "true" || val == "false") {
			want := val == "true"
			preds = append(preds, func(r Registration) bool { return get(r) == want })
			continue
		}
		if get, found := registrationString[prop]; found && strings.HasPrefix(val, "'") {
			want := strings.ReplaceAll(val[1:len(val)-1], "''", "'")
			preds = append(preds, func(r Registration) bool { return strings.EqualFold(get(r), want) })
			continue
		}
		return nil, prop, false
	}
	return func(r Registration) bool {
		for _, p := range preds {
			if !p(r) {
				return false
			}
		}
		return true
	}, "", true
}

// filterRegistrations lists the report entries a $filter selects, page by page. The
// $skiptoken of a filtered page is the position in the tenant where the next page's scan
// starts, so a page costs what it scans and the whole report is never copied.
func (s *Server) filterRegistrations(q url.Values, u *url.URL, odctx string) reply {
	match, bad, ok := registrationFilter(q.Get("$filter"))
	if !ok {
		return graphError(400, "BadRequest", "Invalid filter clause: '"+bad+"' is not a supported filter on userRegistrationDetails.")
	}
	top := 1000
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return graphError(400, "Request_BadRequest", "invalid $top")
		}
		top = min(n, 1000)
	}
	from := 0
	if v := q.Get("$skiptoken"); v != "" {
		n, ok := parseSkipToken(v)
		if !ok {
			return graphError(400, "Request_BadRequest", "Skip token is invalid.")
		}
		from = n
	}
	total := s.t.UserCount()
	items := make([]any, 0, min(top, 64))
	at := from
	for at < total && len(items) < top {
		end := min(at+top, total)
		for i, r := range s.t.registrations(at, end) {
			if match(r) {
				items = append(items, registrationJSON(r))
				if len(items) == top {
					end = at + i + 1
					break
				}
			}
		}
		at = end
	}
	body := map[string]any{"@odata.context": odctx, "value": items}
	if at < total {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", skipToken(at))
		nq.Set("$top", strconv.Itoa(top))
		nu := *u
		nu.Scheme, nu.Host = "", ""
		nu.RawQuery = nq.Encode()
		body["@odata.nextLink"] = s.abs(nu.String(), versionOf(u))
	}
	return reply{status: 200, body: body}
}
