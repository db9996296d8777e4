package commands

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Command names.
const (
	CmdStatus      = "status"
	CmdReset       = "reset"
	CmdResetBulk   = "reset-bulk"
	CmdRevoke      = "revoke"
	CmdRevokeGroup = "revoke-group"
	CmdEnforce     = "enforce"
	CmdNudge       = "nudge"
	CmdSummary     = "summary"
	CmdPending     = "pending"
	CmdShow        = "show"
	CmdCancel      = "cancel"
	CmdApprove     = "approve"
	CmdDeny        = "deny"
	CmdHelp        = "help"
)

// Command is a parsed /mfa command. Parse fills only the fields its command takes.
type Command struct {
	Name    string
	User    string   // status, reset, revoke, enforce: a UPN or mail address as typed, or a lower-case object id
	Group   string   // revoke-group, nudge, summary: object id, mail nickname or display name
	Request string   // show, cancel, approve, deny: canonical "R-7K2QXA"
	State   string   // enforce: enabled, enforced or disabled
	Confirm int      // revoke-group --confirm N
	Only    []string // reset --only: selection names (approvals.Selections), in the order typed
	TAP     bool     // reset, reset-bulk --tap: a Temporary Access Pass for the requester after
	Reason  string   // reset, revoke-group, enforce, cancel, deny: free text, white space folded
	Topic   string   // help <command>
	// Everyone is nudge everyone, revoke-group everyone --unregistered: the whole tenant.
	Everyone bool
	// Unregistered is revoke-group --unregistered: only the members not registered for MFA.
	Unregistered bool
}

// Limits on what Parse accepts, so that a card never carries a novel.
const (
	maxText   = 16 << 10 // bytes, before cleaning
	maxReason = bot.MaxReason
	maxGroup  = 256
	maxUser   = 256
	// maxConfirm bounds --confirm well above any real group, so a typo of extra digits is
	// caught here rather than compared with the member count.
	maxConfirm = 10_000_000
)

// usage is each command's usage line, shown with every error about it.
var usage = map[string]string{
	CmdStatus:      "status <user>",
	CmdReset:       "reset <user> [--only authenticator,phone,oath,fido2,email,hello,platform,tap] [--tap] [reason…]",
	CmdResetBulk:   "reset-bulk [--only TYPES] [--tap] [reason…]",
	CmdRevoke:      "revoke <user> [reason…]",
	CmdRevokeGroup: "revoke-group <group> [--unregistered] [--confirm N] [reason…]",
	CmdEnforce:     "enforce <user> enabled|enforced|disabled [reason…]",
	CmdNudge:       "nudge <group>|everyone [--confirm N] [message…]",
	CmdSummary:     "summary [group]",
	CmdPending:     "pending",
	CmdShow:        "show <request>",
	CmdCancel:      "cancel <request> [reason…]",
	CmdApprove:     "approve <request>",
	CmdDeny:        "deny <request> <reason…>",
	CmdHelp:        "help [command]",
}

// order is how help lists the commands.
var order = []string{CmdStatus, CmdReset, CmdResetBulk, CmdRevoke, CmdRevokeGroup, CmdEnforce, CmdNudge, CmdSummary, CmdPending, CmdShow, CmdCancel, CmdApprove, CmdDeny, CmdHelp}

var aliases = map[string]string{
	"revokegroup": CmdRevokeGroup, "revoke_group": CmdRevokeGroup, "list": CmdPending, "?": CmdHelp,
	"resetbulk": CmdResetBulk, "reset_bulk": CmdResetBulk, "bulk-reset": CmdResetBulk,
}

// Usage is the usage line of a command, "reset <user> [reason…]", or "" for an unknown one.
func Usage(name string) string { return usage[name] }

func usageErr(cmd, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if u, ok := usage[cmd]; ok {
		msg += "\nUsage: /mfa " + u
	}
	return approvals.Errorf(approvals.EINVALID, "%s", msg)
}

// Parse parses the text after "/mfa" (a leading "mfa" or "/mfa" is ignored). Empty text
// asks for help. Invalid input is an EINVALID *approvals.Error that names the part that is
// wrong and gives the command's usage line.
//
// Arguments may be quoted with double or single quotes, straight or typographic (as
// Teams, Slack and macOS turn them), with a backslash escaping the next character or a
// doubled quote standing for itself. Mail addresses that chat clients turned into links
// (Slack's <mailto:…|…>, Teams' <a href="mailto:…">) and HTML entities are undone first.
// A reason is the rest of the line, taken as typed (an apostrophe needs no quoting),
// with its white space folded.
func Parse(text string) (Command, error) {
	if len(text) > maxText {
		return Command{}, approvals.Errorf(approvals.EINVALID, "that command is too long (%s bytes; at most %s)\nType /mfa help for the commands.",
			bot.Thousands(len(text)), bot.Thousands(maxText))
	}
	p := &parser{s: clean(text)}
	first, ok, err := p.word()
	if err != nil {
		return Command{}, p.quoteErr("", err)
	}
	if ok && !first.quoted && (strings.EqualFold(first.text, "mfa") || strings.EqualFold(first.text, "/mfa")) {
		first, ok, err = p.word()
		if err != nil {
			return Command{}, p.quoteErr("", err)
		}
	}
	if !ok {
		return Command{Name: CmdHelp}, nil
	}
	name := strings.ToLower(first.text)
	if a, ok := aliases[name]; ok {
		name = a
	}
	if _, known := usage[name]; !known {
		return Command{}, unknownCommand(first.text)
	}
	c := Command{Name: name}
	switch name {
	case CmdHelp:
		w, ok, err := p.word()
		if err != nil {
			return c, p.quoteErr(name, err)
		}
		if ok {
			c.Topic = strings.ToLower(strings.TrimPrefix(w.text, "/"))
			if a, ok := aliases[c.Topic]; ok {
				c.Topic = a
			}
			if _, known := usage[c.Topic]; !known {
				return c, usageErr(name, "there is no command %q; the commands are %s", w.text, strings.Join(order, ", "))
			}
		}
		if err := p.end(name, "help takes at most one command name"); err != nil {
			return c, err
		}
	case CmdPending:
		if err := p.end(name, name+" takes no arguments"); err != nil {
			return c, err
		}
	case CmdSummary:
		if err := p.summary(&c); err != nil {
			return c, err
		}
	case CmdNudge:
		if err := p.nudge(&c); err != nil {
			return c, err
		}
	case CmdStatus, CmdReset, CmdRevoke, CmdEnforce:
		w, ok, err := p.word()
		if err != nil {
			return c, p.quoteErr(name, err)
		}
		if !ok || w.text == "" {
			return c, usageErr(name, "which user? give a UPN, mail address or object id")
		}
		if c.User, err = user(name, w.text); err != nil {
			return c, err
		}
		switch name {
		case CmdStatus:
			if err := p.end(name, "status takes one user"); err != nil {
				return c, err
			}
		case CmdEnforce:
			w, ok, err := p.word()
			if err != nil {
				return c, p.quoteErr(name, err)
			}
			if !ok {
				return c, usageErr(name, "which per-user MFA state? enabled, enforced or disabled")
			}
			c.State = strings.ToLower(w.text)
			switch c.State {
			case approvals.MFAEnabled, approvals.MFAEnforced, approvals.MFADisabled:
			default:
				return c, usageErr(name, "%q is not a per-user MFA state: use enabled, enforced or disabled", w.text)
			}
			fallthrough
		default:
			if name == CmdReset {
				if err := p.resetOptions(&c); err != nil {
					return c, err
				}
			}
			if c.Reason, err = p.reason(name); err != nil {
				return c, err
			}
		}
	case CmdRevokeGroup:
		if err := p.revokeGroup(&c); err != nil {
			return c, err
		}
	case CmdResetBulk:
		if err := p.resetOptions(&c); err != nil {
			return c, err
		}
		if c.Reason, err = p.reason(name); err != nil {
			return c, err
		}
	case CmdShow, CmdCancel, CmdApprove, CmdDeny:
		w, ok, err := p.word()
		if err != nil {
			return c, p.quoteErr(name, err)
		}
		if !ok || w.text == "" {
			return c, usageErr(name, "which request? give its id, such as R-7K2QXA (see /mfa pending)")
		}
		if c.Request, err = requestID(name, w.text); err != nil {
			return c, err
		}
		switch name {
		case CmdShow, CmdApprove:
			if err := p.end(name, name+" takes only the request id"); err != nil {
				return c, err
			}
		default:
			if c.Reason, err = p.reason(name); err != nil {
				return c, err
			}
			if name == CmdDeny && c.Reason == "" {
				return c, usageErr(name, "say why you deny it: the requester is told your reason")
			}
		}
	}
	return c, nil
}

func unknownCommand(word string) error {
	hint := ""
	if s := suggest(strings.ToLower(word)); s != "" {
		hint = " (did you mean " + s + "?)"
	}
	return approvals.Errorf(approvals.EINVALID, "unknown command %q%s. Commands: %s.\nType /mfa help for details.",
		shorten(word, 40), hint, strings.Join(order, ", "))
}

// suggest returns the command nearest to a mistyped word, if any is near.
func suggest(word string) string {
	best, bestD := "", 3
	for _, c := range order {
		if d := distance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > len(word)/2 {
		return ""
	}
	return best
}

// distance is the Levenshtein distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 {
		return len(ra)
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// only parses reset's "--only authenticator,oath" (or "--only=…"), right after the user.
func (p *parser) only(c *Command) error {
	save := p.pos
	w, ok, err := p.word()
	if err != nil {
		return p.quoteErr(c.Name, err)
	}
	lower := strings.ToLower(w.text)
	var list string
	switch {
	case !ok || w.quoted:
		p.pos = save
		return nil
	case lower == "--only":
		v, ok, err := p.word()
		if err != nil {
			return p.quoteErr(c.Name, err)
		}
		if !ok {
			return usageErr(c.Name, "--only needs the methods to delete, such as --only authenticator,oath")
		}
		list = v.text
	case strings.HasPrefix(lower, "--only="):
		list = w.text[len("--only="):]
	default:
		p.pos = save
		return nil
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		if _, err := approvals.SelectionTypes([]string{n}); err != nil {
			return usageErr(c.Name, "--only: %q is not a method; use %s", shorten(n, 30), strings.Join(approvals.SelectionNames(), ", "))
		}
		if !seen[n] {
			seen[n] = true
			c.Only = append(c.Only, n)
		}
	}
	if len(c.Only) == 0 {
		return usageErr(c.Name, "--only needs the methods to delete, such as --only authenticator,oath")
	}
	return nil
}

// revokeGroup parses "<group> [--unregistered] [--confirm N] [reason…]" (nudge: "<group>
// [--confirm N] [message…]"); the options may also come before the group, and --confirm
// at the very end of the line.
func (p *parser) revokeGroup(c *Command) error {
	name := c.Name
	setConfirm := func(v string) error {
		if c.Confirm != 0 {
			return usageErr(name, "--confirm is given twice")
		}
		n, err := confirm(name, v)
		c.Confirm = n
		return err
	}
	haveGroup, groupQuoted := false, false
	for {
		save := p.pos
		w, ok, err := p.word()
		if err != nil {
			return p.quoteErr(name, err)
		}
		if !ok {
			break
		}
		lower := strings.ToLower(w.text)
		switch {
		case !w.quoted && lower == "--confirm":
			v, ok, err := p.word()
			if err != nil {
				return p.quoteErr(name, err)
			}
			if !ok {
				return usageErr(name, "--confirm needs the group's member count, as shown when you asked without it")
			}
			if err := setConfirm(v.text); err != nil {
				return err
			}
			continue
		case !w.quoted && strings.HasPrefix(lower, "--confirm="):
			if err := setConfirm(w.text[len("--confirm="):]); err != nil {
				return err
			}
			continue
		case !w.quoted && lower == "--unregistered" && name == CmdRevokeGroup:
			c.Unregistered = true
			continue
		case !w.quoted && isOption(w.text):
			return usageErr(name, "unknown option %q; %s", shorten(w.text, 40), optionsOf(name))
		}
		if haveGroup {
			p.pos = save
			break
		}
		if w.text == "" {
			return usageErr(name, "the group name is empty")
		}
		if n := utf8.RuneCountInString(w.text); n > maxGroup {
			return usageErr(name, "that group name is too long (%d characters; at most %d)", n, maxGroup)
		}
		c.Group, haveGroup, groupQuoted = w.text, true, w.quoted
	}
	if !haveGroup {
		return usageErr(name, "%s", whichGroup(name))
	}
	if err := everyone(c, groupQuoted); err != nil {
		return err
	}
	reason, quoted, err := p.reasonText(name)
	if err != nil {
		return err
	}
	if m := trailingConfirm.FindStringSubmatchIndex(reason); m != nil && !quoted {
		if err := setConfirm(reason[m[4]:m[5]]); err != nil {
			return err
		}
		reason = strings.TrimSpace(reason[:m[0]])
	}
	c.Reason = reason
	return nil
}

// trailingConfirm finds "--confirm N" at the end of a reason: people add it last after a
// first attempt told them the count.
var trailingConfirm = regexp.MustCompile(`(?i)(?:^|\s)--confirm(=|\s+)(\S+)$`)

// isOption reports whether an unquoted word is meant as an option: "--" and a letter.
func isOption(w string) bool {
	return len(w) > 2 && strings.HasPrefix(w, "--") && unicode.IsLetter(rune(w[2]))
}

// confirmRE is a member count as people write it: 12000, 12,000, 12.000, 12_000, 12'000.
var confirmRE = regexp.MustCompile(`^(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,3}(?:_[0-9]{3})+|[0-9]{1,3}(?:['’][0-9]{3})+)$`)

func confirm(cmd, s string) (int, error) {
	if s == "" {
		return 0, usageErr(cmd, "--confirm needs the group's member count, as shown when you asked without it")
	}
	if !confirmRE.MatchString(s) {
		return 0, usageErr(cmd, "--confirm takes the group's member count as a whole number, not %q", shorten(s, 40))
	}
	n, err := strconv.Atoi(strings.NewReplacer(",", "", "_", "", ".", "", "’", "", "'", "").Replace(s))
	switch {
	case err != nil || n > maxConfirm:
		return 0, usageErr(cmd, "--confirm %s is more than any group has", shorten(s, 20))
	case n == 0:
		return 0, usageErr(cmd, "--confirm takes the group's member count, which is at least 1")
	}
	return n, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

var (
	hexDashRE = regexp.MustCompile(`^[0-9a-fA-F-]{20,}$`)
	requestRE = regexp.MustCompile(`^[Rr]-?[0-9A-Za-z]{4,12}$`)
	// labelRE is one label of a domain name; internationalised names are allowed.
	labelRE = regexp.MustCompile(`^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$`)
)

// user checks that s is a UPN or mail address (guests' #EXT# UPNs included) or an object
// id, and returns it in canonical form: object ids lower case, addresses as typed.
func user(cmd, s string) (string, error) {
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	if approvals.IsObjectID(s) {
		return strings.ToLower(s), nil
	}
	if n := utf8.RuneCountInString(s); n > maxUser {
		return "", usageErr(cmd, "that user is too long to be a UPN (%d characters)", n)
	}
	if strings.HasPrefix(s, "<@") || strings.HasPrefix(strings.ToLower(s), "<at>") {
		return "", usageErr(cmd, "%q is a chat mention, not a user: give their UPN or mail address (ann@contoso.com) or object id", shorten(s, 60))
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		if hexDashRE.MatchString(s) && strings.Contains(s, "-") {
			return "", usageErr(cmd, "%q is not a valid object id: object ids have 8-4-4-4-12 hex digits", s)
		}
		return "", usageErr(cmd, "%q is not a user: give a UPN or mail address (ann@contoso.com) or an object id", shorten(s, 60))
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return "", usageErr(cmd, "%q is not a valid UPN or mail address: nothing before the @", shorten(s, 60))
	}
	if i := strings.IndexAny(local, "@<>()[],;:\"\\ "); i >= 0 {
		return "", usageErr(cmd, "%q is not a valid UPN or mail address: %q cannot appear before the @", shorten(s, 60), local[i:i+1])
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", usageErr(cmd, "%q is not a valid UPN or mail address: misplaced dot before the @", shorten(s, 60))
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", usageErr(cmd, "%q is not a valid UPN or mail address: the domain needs a dot (contoso.com)", shorten(s, 60))
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return "", usageErr(cmd, "%q is not a valid UPN or mail address: %q is not a domain name", shorten(s, 60), shorten(domain, 60))
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return "", usageErr(cmd, "%q is not a valid UPN or mail address: %q is not a domain name", shorten(s, 60), shorten(domain, 60))
	}
	return s, nil
}

// requestID checks a request id and returns its canonical form, "R-7K2QXA".
func requestID(cmd, s string) (string, error) {
	if !requestRE.MatchString(s) {
		return "", usageErr(cmd, "%q is not a request id; ids look like R-7K2QXA (see /mfa pending)", shorten(s, 40))
	}
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "R-") {
		s = "R-" + s[1:]
	}
	return s, nil
}

// word is one argument as the parser saw it.
type word struct {
	text   string
	quoted bool // some of it was quoted: never an option, never the "mfa" prefix
}

// parser reads words from the cleaned text one at a time, so that whatever follows the
// fixed arguments can be taken as typed.
type parser struct {
	s   string
	pos int
}

// errUnclosed is a quote without its closing partner; at says where it was opened.
type errUnclosed struct{ at int }

func (e errUnclosed) Error() string { return "unclosed quote" }

func (p *parser) quoteErr(cmd string, err error) error {
	at := 0
	if u, ok := err.(errUnclosed); ok {
		at = u.at
	}
	msg := "a quote is not closed: " + shorten(p.s[at:], 30)
	if cmd == "" {
		return approvals.Errorf(approvals.EINVALID, "%s\nType /mfa help for the commands.", msg)
	}
	return usageErr(cmd, "%s", msg)
}

// Quote families: an opening quote is closed by any closing quote of its family, so
// “…", "…” and ”…” all work as pasted.
var (
	doubleOpen  = "\"“”„"
	doubleClose = "\"“”"
	singleOpen  = "'‘’‚"
	singleClose = "'’‘"
)

func closers(open rune) string {
	if strings.ContainsRune(doubleOpen, open) {
		return doubleClose
	}
	if strings.ContainsRune(singleOpen, open) {
		return singleClose
	}
	return ""
}

// word reads the next word. ok is false at the end of the text.
func (p *parser) word() (word, bool, error) {
	s := p.s
	i := p.pos
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	if i >= len(s) {
		p.pos = i
		return word{}, false, nil
	}
	var b strings.Builder
	w := word{}
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			break
		}
		cl := closers(r)
		if cl == "" || (b.Len() > 0 && !w.quoted) {
			// Quotes inside a word (it's, O’Brien) are just characters.
			b.WriteRune(r)
			i += n
			continue
		}
		// A quoted stretch: up to the closing quote; a backslash escapes the next
		// character and a doubled closing quote stands for itself.
		open := i
		i += n
		closed := false
		for i < len(s) {
			q, m := utf8.DecodeRuneInString(s[i:])
			if q == '\\' && i+m < len(s) {
				e, k := utf8.DecodeRuneInString(s[i+m:])
				b.WriteRune(e)
				i += m + k
				continue
			}
			if strings.ContainsRune(cl, q) {
				if next, k := utf8.DecodeRuneInString(s[i+m:]); i+m < len(s) && next == q {
					b.WriteRune(q)
					i += m + k
					continue
				}
				i += m
				closed = true
				break
			}
			b.WriteRune(q)
			i += m
		}
		if !closed {
			return word{}, false, errUnclosed{at: open}
		}
		w.quoted = true
	}
	p.pos = i
	w.text = b.String()
	return w, true, nil
}

// end checks that nothing follows.
func (p *parser) end(cmd, what string) error {
	rest := strings.TrimSpace(p.s[p.pos:])
	if rest == "" {
		return nil
	}
	return usageErr(cmd, "%s, but %q follows", what, shorten(rest, 60))
}

// reason takes the rest of the line as the reason, refusing options.
func (p *parser) reason(cmd string) (string, error) {
	save := p.pos
	if w, ok, err := p.word(); err == nil && ok && !w.quoted && isOption(w.text) {
		lower := strings.ToLower(w.text)
		switch {
		case strings.HasPrefix(lower, "--confirm"):
			return "", usageErr(cmd, "--confirm is only for revoke-group")
		case (strings.HasPrefix(lower, "--only") || lower == "--tap") && cmd == CmdReset:
			return "", usageErr(cmd, "%s comes right after the user: reset <user> [--only authenticator,oath] [--tap] [reason…]", shorten(w.text, 20))
		case strings.HasPrefix(lower, "--only") || lower == "--tap":
			return "", usageErr(cmd, "%s is only for reset and reset-bulk", shorten(w.text, 20))
		case cmd == CmdReset || cmd == CmdResetBulk:
			return "", usageErr(cmd, "unknown option %q; %s takes only --only and --tap", shorten(w.text, 40), cmd)
		}
		return "", usageErr(cmd, "unknown option %q; %s takes none", shorten(w.text, 40), cmd)
	}
	p.pos = save
	r, _, err := p.reasonText(cmd)
	return r, err
}

// reasonText is the rest of the line as typed, white space folded; a reason that is one
// quoted stretch loses its quotes, and quoted says so.
func (p *parser) reasonText(cmd string) (reason string, quoted bool, err error) {
	rest := strings.TrimSpace(p.s[p.pos:])
	p.pos = len(p.s)
	if rest == "" {
		return "", false, nil
	}
	if r, _ := utf8.DecodeRuneInString(rest); closers(r) != "" {
		q := &parser{s: rest}
		if w, ok, err := q.word(); err == nil && ok && q.pos == len(rest) {
			rest, quoted = w.text, true
		}
	}
	rest = strings.Join(strings.Fields(rest), " ")
	if n := utf8.RuneCountInString(rest); n > maxReason {
		return "", false, usageErr(cmd, "the reason is too long (%s characters; at most %s)", bot.Thousands(n), bot.Thousands(maxReason))
	}
	return rest, quoted, nil
}

var (
	// Slack sends mail addresses and links as <mailto:a@b|a@b> and <https://…|label>.
	slackLinkRE = regexp.MustCompile(`<(mailto:[^|<>\s]+|https?://[^|<>\s]+)(?:\|([^<>]*))?>`)
	// Teams sends them as HTML anchors, and wraps text in paragraphs.
	htmlLinkRE = regexp.MustCompile(`(?is)<a\s[^>]*?href\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)[^>]*>(.*?)</a\s*>`)
	htmlTagRE  = regexp.MustCompile(`(?i)</?(?:p|div|span|br|b|i|strong|em|font)(?:\s[^<>]*)?/?>`)
)

// clean undoes what chat clients do to typed text: links around mail addresses, HTML
// paragraphs and entities; it drops invisible and control characters, and bidirectional
// overrides that could make a card read differently from what it says.
func clean(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = htmlLinkRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := htmlLinkRE.FindStringSubmatch(m)
		href := strings.Trim(sub[1], `"'`)
		if len(href) > 7 && strings.EqualFold(href[:7], "mailto:") {
			return html.UnescapeString(href[7:])
		}
		return sub[2]
	})
	text = slackLinkRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := slackLinkRE.FindStringSubmatch(m)
		if len(sub[1]) > 7 && strings.EqualFold(sub[1][:7], "mailto:") {
			return sub[1][7:]
		}
		if sub[2] != "" {
			return sub[2]
		}
		return sub[1]
	})
	text = htmlTagRE.ReplaceAllString(text, " ")
	text = html.UnescapeString(text)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff':
			return -1
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f':
			return -1
		case unicode.IsSpace(r):
			return r
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, text)
}

// escapeArg writes a word so that clean and word read it back unchanged.
func escapeArg(s string, option bool) string {
	s = escapeMarkup(s)
	if s == "" || needsQuotes(s) || (option && strings.HasPrefix(s, "--")) {
		return quote(s)
	}
	return s
}

// quote puts s in double quotes, escaping every character that would end them early.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '\\' || strings.ContainsRune(doubleClose, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// escapeMarkup hides what clean would take for markup.
func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func needsQuotes(s string) bool {
	if r, _ := utf8.DecodeRuneInString(s); closers(r) != "" {
		return true
	}
	return strings.IndexFunc(s, unicode.IsSpace) >= 0
}

// Canonical is the command as canonical text, which Parse reads back to the same Command.
// Buttons carry it ("approve R-7K2QXA").
func Canonical(c Command) string {
	parts := []string{c.Name}
	switch c.Name {
	case CmdStatus, CmdRevoke:
		parts = append(parts, escapeArg(c.User, true))
	case CmdReset:
		parts = append(parts, escapeArg(c.User, true))
		if len(c.Only) > 0 {
			parts = append(parts, "--only", strings.Join(c.Only, ","))
		}
		if c.TAP {
			parts = append(parts, "--tap")
		}
	case CmdResetBulk:
		if len(c.Only) > 0 {
			parts = append(parts, "--only", strings.Join(c.Only, ","))
		}
		if c.TAP {
			parts = append(parts, "--tap")
		}
	case CmdEnforce:
		parts = append(parts, escapeArg(c.User, true), c.State)
	case CmdRevokeGroup, CmdNudge:
		parts = append(parts, campaignTarget(c))
		if c.Unregistered {
			parts = append(parts, "--unregistered")
		}
		if c.Confirm > 0 {
			parts = append(parts, "--confirm", strconv.Itoa(c.Confirm))
		}
	case CmdSummary:
		if c.Group != "" {
			parts = append(parts, escapeArg(c.Group, true))
		}
	case CmdShow, CmdCancel, CmdApprove, CmdDeny:
		parts = append(parts, c.Request)
	case CmdHelp:
		if c.Topic != "" {
			parts = append(parts, c.Topic)
		}
	}
	if c.Reason != "" {
		parts = append(parts, canonicalReason(c))
	}
	return strings.Join(parts, " ")
}

// canonicalReason writes a reason as typed unless Parse would read part of it as
// something else: an option, a quoted stretch, a trailing --confirm.
func canonicalReason(c Command) string {
	r := escapeMarkup(c.Reason)
	first, _ := utf8.DecodeRuneInString(r)
	if closers(first) != "" || strings.HasPrefix(r, "--") || ((c.Name == CmdRevokeGroup || c.Name == CmdNudge) && trailingConfirm.MatchString(r)) {
		return quote(r)
	}
	return r
}

// shorten cuts s to at most n runes for quoting it back in a message.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
