package commands

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mfabot/mfabot/approvals"
)

// Command names.
const (
	CmdStatus      = "status"
	CmdReset       = "reset"
	CmdRevokeGroup = "revoke-group"
	CmdEnforce     = "enforce"
	CmdSummary     = "summary"
	CmdPending     = "pending"
	CmdShow        = "show"
	CmdCancel      = "cancel"
	CmdApprove     = "approve"
	CmdDeny        = "deny"
	CmdHelp        = "help"
)

// Command is a parsed /mfa command.
type Command struct {
	Name    string
	User    string // status, reset, enforce
	Group   string // revoke-group
	Request string // show, cancel, approve, deny (canonical upper case)
	State   string // enforce: enabled, enforced, disabled
	Confirm int    // revoke-group --confirm N
	Reason  string // reset, revoke-group, enforce, cancel, deny
	Topic   string // help <command>
}

// usage is each command's usage line, shown with every error about it.
var usage = map[string]string{
	CmdStatus:      "status <user>",
	CmdReset:       "reset <user> [reason…]",
	CmdRevokeGroup: "revoke-group <group> [--confirm N] [reason…]",
	CmdEnforce:     "enforce <user> enabled|enforced|disabled [reason…]",
	CmdSummary:     "summary",
	CmdPending:     "pending",
	CmdShow:        "show <request>",
	CmdCancel:      "cancel <request> [reason…]",
	CmdApprove:     "approve <request>",
	CmdDeny:        "deny <request> <reason…>",
	CmdHelp:        "help [command]",
}

// order is how help lists the commands.
var order = []string{CmdStatus, CmdReset, CmdRevokeGroup, CmdEnforce, CmdSummary, CmdPending, CmdShow, CmdCancel, CmdApprove, CmdDeny, CmdHelp}

var aliases = map[string]string{
	"revokegroup": CmdRevokeGroup, "revoke_group": CmdRevokeGroup, "list": CmdPending, "?": CmdHelp,
}

func usageErr(cmd, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if u, ok := usage[cmd]; ok {
		msg += "\nUsage: /mfa " + u
	}
	return approvals.Errorf(approvals.EINVALID, "%s", msg)
}

var (
	guidRE      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	upnRE       = regexp.MustCompile(`^[^\s@<>()\[\],;:"']+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	requestRE   = regexp.MustCompile(`^[Rr]-?[0-9A-Za-z]{4,12}$`)
	slackMailRE = regexp.MustCompile(`^<mailto:([^|>]+)(?:\|[^>]*)?>$`)
	htmlMailRE  = regexp.MustCompile(`(?i)<a\s[^>]*href="mailto:([^"]+)"[^>]*>.*?</a>`)
)

// Parse parses the text after "/mfa" (a leading "mfa" or "/mfa" is ignored). Invalid input
// is an EINVALID *approvals.Error saying which part is wrong, with the usage line.
func Parse(text string) (Command, error) {
	words, err := split(unwrapMail(text))
	if err != nil {
		return Command{}, approvals.Errorf(approvals.EINVALID, "%s\nType /mfa help for the commands.", err)
	}
	if len(words) > 0 && (strings.EqualFold(words[0], "mfa") || strings.EqualFold(words[0], "/mfa")) {
		words = words[1:]
	}
	if len(words) == 0 {
		return Command{Name: CmdHelp}, nil
	}
	name := strings.ToLower(words[0])
	if a, ok := aliases[name]; ok {
		name = a
	}
	args := words[1:]
	c := Command{Name: name}
	switch name {
	case CmdHelp:
		if len(args) > 1 {
			return c, usageErr(name, "help takes at most one command name")
		}
		if len(args) == 1 {
			c.Topic = strings.ToLower(args[0])
			if a, ok := aliases[c.Topic]; ok {
				c.Topic = a
			}
			if _, ok := usage[c.Topic]; !ok {
				return c, usageErr(name, "there is no command %q", args[0])
			}
		}
	case CmdSummary, CmdPending:
		if len(args) > 0 {
			return c, usageErr(name, "%s takes no arguments, but got %q", name, strings.Join(args, " "))
		}
	case CmdStatus:
		if len(args) == 0 {
			return c, usageErr(name, "which user? give a UPN, mail address or object id")
		}
		if len(args) > 1 {
			return c, usageErr(name, "status takes one user, but got %q as well", strings.Join(args[1:], " "))
		}
		if c.User, err = user(name, args[0]); err != nil {
			return c, err
		}
	case CmdReset:
		if len(args) == 0 {
			return c, usageErr(name, "which user? give a UPN, mail address or object id")
		}
		if c.User, err = user(name, args[0]); err != nil {
			return c, err
		}
		c.Reason = strings.Join(args[1:], " ")
	case CmdEnforce:
		if len(args) == 0 {
			return c, usageErr(name, "which user? give a UPN, mail address or object id")
		}
		if c.User, err = user(name, args[0]); err != nil {
			return c, err
		}
		if len(args) < 2 {
			return c, usageErr(name, "which per-user MFA state? enabled, enforced or disabled")
		}
		c.State = strings.ToLower(args[1])
		switch c.State {
		case approvals.MFAEnabled, approvals.MFAEnforced, approvals.MFADisabled:
		default:
			return c, usageErr(name, "%q is not a per-user MFA state: use enabled, enforced or disabled", args[1])
		}
		c.Reason = strings.Join(args[2:], " ")
	case CmdRevokeGroup:
		var rest []string
		for i := 0; i < len(args); i++ {
			a := args[i]
			lower := strings.ToLower(a)
			switch {
			case lower == "--confirm":
				if i+1 >= len(args) {
					return c, usageErr(name, "--confirm needs the group's member count")
				}
				i++
				if c.Confirm, err = confirm(name, args[i]); err != nil {
					return c, err
				}
			case strings.HasPrefix(lower, "--confirm="):
				if c.Confirm, err = confirm(name, a[len("--confirm="):]); err != nil {
					return c, err
				}
			case strings.HasPrefix(a, "--") && len(rest) <= 1:
				return c, usageErr(name, "unknown option %q", a)
			default:
				rest = append(rest, a)
			}
		}
		if len(rest) == 0 {
			return c, usageErr(name, "which group? give an object id, mail nickname or display name (quote names with spaces)")
		}
		c.Group = rest[0]
		c.Reason = strings.Join(rest[1:], " ")
	case CmdShow, CmdCancel, CmdApprove, CmdDeny:
		if len(args) == 0 {
			return c, usageErr(name, "which request? give its id, such as R-7K2QXA (see /mfa pending)")
		}
		if !requestRE.MatchString(args[0]) {
			return c, usageErr(name, "%q is not a request id; ids look like R-7K2QXA", args[0])
		}
		c.Request = canonicalRequest(args[0])
		switch name {
		case CmdShow, CmdApprove:
			if len(args) > 1 {
				return c, usageErr(name, "%s takes one request id, but got %q as well", name, strings.Join(args[1:], " "))
			}
		case CmdDeny:
			c.Reason = strings.Join(args[1:], " ")
			if strings.TrimSpace(c.Reason) == "" {
				return c, usageErr(name, "say why you deny it")
			}
		default:
			c.Reason = strings.Join(args[1:], " ")
		}
	default:
		return c, approvals.Errorf(approvals.EINVALID, "unknown command %q. Commands: %s. Type /mfa help for details.", words[0], strings.Join(order, ", "))
	}
	// Reasons are free text; white space is folded so the canonical form is stable.
	c.Reason = strings.Join(strings.Fields(c.Reason), " ")
	return c, nil
}

func confirm(cmd, s string) (int, error) {
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil || n <= 0 {
		return 0, usageErr(cmd, "--confirm takes the group's member count as a whole number, not %q", s)
	}
	return n, nil
}

// user checks that s looks like a UPN, mail address or object id.
func user(cmd, s string) (string, error) {
	if guidRE.MatchString(s) || upnRE.MatchString(s) {
		return s, nil
	}
	if !strings.Contains(s, "@") {
		return "", usageErr(cmd, "%q is not a user: give a UPN or mail address (ann@contoso.com) or an object id", s)
	}
	return "", usageErr(cmd, "%q is not a valid UPN or mail address", s)
}

func canonicalRequest(s string) string {
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "R-") {
		s = "R-" + s[1:]
	}
	return s
}

// unwrapMail undoes the links chat clients make of mail addresses: Slack's
// <mailto:a@b|a@b> and Teams' <a href="mailto:a@b">a@b</a>.
func unwrapMail(text string) string {
	text = htmlMailRE.ReplaceAllString(text, "$1")
	fields := strings.Fields(text)
	changed := false
	for i, f := range fields {
		if m := slackMailRE.FindStringSubmatch(f); m != nil {
			fields[i], changed = m[1], true
		}
	}
	if changed {
		return strings.Join(fields, " ")
	}
	return text
}

// split splits text into words; double, single and typographic quotes group words, and
// a backslash escapes the next character.
func split(text string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	closing := map[rune]rune{'"': '"', '\'': '\'', '“': '”', '”': '”', '‘': '’', '’': '’', '„': '“'}
	for _, r := range text {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped, inWord = false, true
		case r == '\\':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote || (quote == '”' && r == '"') {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case closing[r] != 0 && !inWord:
			quote, inWord = closing[r], true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("a quote is not closed")
	}
	if escaped {
		cur.WriteRune('\\')
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// quoteArg quotes a word for Canonical when it needs it.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\“”‘’„\u00a0\n\r") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// Canonical is the command as canonical text, parsed back by Parse to the same Command.
// Buttons carry it.
func Canonical(c Command) string {
	parts := []string{c.Name}
	switch c.Name {
	case CmdStatus:
		parts = append(parts, quoteArg(c.User))
	case CmdReset:
		parts = append(parts, quoteArg(c.User))
	case CmdEnforce:
		parts = append(parts, quoteArg(c.User), c.State)
	case CmdRevokeGroup:
		parts = append(parts, quoteArg(c.Group))
		if c.Confirm > 0 {
			parts = append(parts, "--confirm", strconv.Itoa(c.Confirm))
		}
	case CmdShow, CmdCancel, CmdApprove, CmdDeny:
		parts = append(parts, c.Request)
	case CmdHelp:
		if c.Topic != "" {
			parts = append(parts, c.Topic)
		}
	}
	if c.Reason != "" {
		for _, w := range strings.Fields(c.Reason) {
			parts = append(parts, quoteArg(w))
		}
	}
	return strings.Join(parts, " ")
}
