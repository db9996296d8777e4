package commands_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/commands"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const guid = "6e7b768e-07e2-4810-8459-485f84f8f204"
	tests := []struct {
		name string
		in   string
		want commands.Command
	}{
		{"OK_HelpEmpty", "", commands.Command{Name: "help"}},
		{"OK_HelpOnlyPrefix", "  /mfa  ", commands.Command{Name: "help"}},
		{"OK_HelpTopic", "help Reset", commands.Command{Name: "help", Topic: "reset"}},
		{"OK_HelpTopicAlias", "help revoke_group", commands.Command{Name: "help", Topic: "revoke-group"}},
		{"OK_QuestionMark", "?", commands.Command{Name: "help"}},
		{"OK_Status", "status ann@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OK_LeadingSlashMfa", "/mfa STATUS ann@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OK_LeadingMfa", "MFA status ann@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OK_Guest", "status jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", commands.Command{Name: "status", User: "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"}},
		{"OK_Apostrophe", "status o'brien@contoso.com", commands.Command{Name: "status", User: "o'brien@contoso.com"}},
		{"OK_PlusAddress", "status ann+it@contoso.co.uk", commands.Command{Name: "status", User: "ann+it@contoso.co.uk"}},
		{"OK_IDN", "status jörg@müller.de", commands.Command{Name: "status", User: "jörg@müller.de"}},
		{"OK_ObjectIDLowered", "status " + strings.ToUpper(guid), commands.Command{Name: "status", User: guid}},
		{"OK_MailtoPrefix", "status mailto:ann@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OK_SlackMailto", "reset <mailto:ann@contoso.com|ann@contoso.com> lost phone", commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "lost phone"}},
		{"OK_SlackMailtoNoLabel", "status <mailto:ann@contoso.com>", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OK_SlackEscapedReason", "reset ann@contoso.com R&amp;D asked &lt;urgent&gt;", commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "R&D asked <urgent>"}},
		{"OK_TeamsMailto", `reset <a href="mailto:ann@contoso.com">ann@contoso.com</a> lost phone`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "lost phone"}},
		{"OK_TeamsHTML", `<p>reset&nbsp;<a href='mailto:ann@contoso.com' title="x">ann@contoso.com</a> it&#39;s gone</p>`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "it's gone"}},
		{"OK_ZeroWidth", "status ann\u200b@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OK_ResetNoReason", "reset ann@contoso.com", commands.Command{Name: "reset", User: "ann@contoso.com"}},
		{"OK_ReasonAsTyped", `reset ann@contoso.com she's lost it — "again"`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: `she's lost it — "again"`}},
		{"OK_ReasonQuotedWhole", `reset ann@contoso.com "lost phone"`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "lost phone"}},
		{"OK_ReasonWhiteSpaceFolded", "reset ann@contoso.com  lost\n\tphone  ", commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "lost phone"}},
		{"OK_ReasonBackslash", `reset ann@contoso.com see C:\tickets\42`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: `see C:\tickets\42`}},
		{"OK_QuotedGroup", `revoke-group "Sales EMEA" --confirm 2,345 enrollment push`, commands.Command{Name: "revoke-group", Group: "Sales EMEA", Confirm: 2345, Reason: "enrollment push"}},
		{"OK_SmartQuotes", "revoke-group “Sales EMEA” --confirm=12", commands.Command{Name: "revoke-group", Group: "Sales EMEA", Confirm: 12}},
		{"OK_SmartSingleQuotes", "revoke-group ‘Sales EMEA’", commands.Command{Name: "revoke-group", Group: "Sales EMEA"}},
		{"OK_MixedSmartQuotes", "revoke-group “Sales EMEA\"", commands.Command{Name: "revoke-group", Group: "Sales EMEA"}},
		{"OK_SingleQuotesEscaped", `revoke-group 'it\'s ops'`, commands.Command{Name: "revoke-group", Group: "it's ops"}},
		{"OK_SingleQuotesDoubled", `revoke-group 'it''s ops'`, commands.Command{Name: "revoke-group", Group: "it's ops"}},
		{"OK_DoubleQuotesDoubled", `revoke-group "the ""A"" team"`, commands.Command{Name: "revoke-group", Group: `the "A" team`}},
		{"OK_ConfirmFirst", "revoke-group --confirm 1200 Sales", commands.Command{Name: "revoke-group", Group: "Sales", Confirm: 1200}},
		{"OK_ConfirmLast", "revoke-group Sales campaign week 3 --confirm 1.200", commands.Command{Name: "revoke-group", Group: "Sales", Confirm: 1200, Reason: "campaign week 3"}},
		{"OK_ConfirmUpperCase", "revoke-group Sales --CONFIRM=7", commands.Command{Name: "revoke-group", Group: "Sales", Confirm: 7}},
		{"OK_GroupQuotedDashes", `revoke-group "--odd name"`, commands.Command{Name: "revoke-group", Group: "--odd name"}},
		{"OK_RevokeGroupAlias", "revokegroup Sales", commands.Command{Name: "revoke-group", Group: "Sales"}},
		{"OK_Enforce", "enforce ann@contoso.com Enforced audit finding", commands.Command{Name: "enforce", User: "ann@contoso.com", State: "enforced", Reason: "audit finding"}},
		{"OK_EnforceDisabled", "enforce ann@contoso.com disabled moved to Conditional Access", commands.Command{Name: "enforce", User: "ann@contoso.com", State: "disabled", Reason: "moved to Conditional Access"}},
		{"OK_Approve", "approve r-7k2qxa", commands.Command{Name: "approve", Request: "R-7K2QXA"}},
		{"OK_ApproveNoDash", "APPROVE R7K2QXA", commands.Command{Name: "approve", Request: "R-7K2QXA"}},
		{"OK_Deny", "deny R-7K2QXA not during the freeze", commands.Command{Name: "deny", Request: "R-7K2QXA", Reason: "not during the freeze"}},
		{"OK_DenyButtonWithApostrophe", "deny R-7K2QXA don't, it's the CFO", commands.Command{Name: "deny", Request: "R-7K2QXA", Reason: "don't, it's the CFO"}},
		{"OK_Cancel", "cancel R-7K2QXA", commands.Command{Name: "cancel", Request: "R-7K2QXA"}},
		{"OK_CancelReason", "cancel R-7K2QXA wrong user", commands.Command{Name: "cancel", Request: "R-7K2QXA", Reason: "wrong user"}},
		{"OK_Show", "show R-7K2QXA", commands.Command{Name: "show", Request: "R-7K2QXA"}},
		{"OK_Pending", "pending", commands.Command{Name: "pending"}},
		{"OK_ListAlias", "list", commands.Command{Name: "pending"}},
		{"OK_Summary", "Summary", commands.Command{Name: "summary"}},
		{"OK_ResetTAP", "reset ann@contoso.com --tap new phone", commands.Command{Name: "reset", User: "ann@contoso.com", TAP: true, Reason: "new phone"}},
		{"OK_ResetTAPBeforeOnly", "reset ann@contoso.com --TAP --only=phone new phone", commands.Command{Name: "reset", User: "ann@contoso.com", TAP: true, Only: []string{"phone"}, Reason: "new phone"}},
		{"OK_ResetOnlyThenTAP", "reset ann@contoso.com --only authenticator,oath --tap", commands.Command{Name: "reset", User: "ann@contoso.com", TAP: true, Only: []string{"authenticator", "oath"}}},
		{"OK_ResetTAPQuotedReason", `reset ann@contoso.com "--tap is what she asked"`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "--tap is what she asked"}},
		{"OK_ResetBulk", "reset-bulk", commands.Command{Name: "reset-bulk"}},
		{"OK_ResetBulkOptions", "bulk-reset --tap --only authenticator phishing wave", commands.Command{Name: "reset-bulk", TAP: true, Only: []string{"authenticator"}, Reason: "phishing wave"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		says     []string
	}{
		{"ErrUnknownCommand", "rest ann@contoso.com", []string{`unknown command "rest"`, "did you mean reset?", "/mfa help"}},
		{"ErrUnknownCommandNoHint", "frobnicate", []string{`unknown command "frobnicate"`, "Commands: status, reset"}},
		{"ErrMissingUser", "reset", []string{"which user?", "Usage: /mfa reset <user> [--only authenticator,phone,oath,fido2,email,hello,platform,tap] [--tap] [reason…]"}},
		{"ErrEmptyUser", `status ""`, []string{"which user?"}},
		{"ErrNotAUser", "status ann", []string{`"ann" is not a user`, "Usage: /mfa status <user>"}},
		{"ErrNoDot", "reset ann@contoso", []string{`"ann@contoso" is not a valid UPN`, "needs a dot"}},
		{"ErrNothingBeforeAt", "reset @contoso.com", []string{"nothing before the @"}},
		{"ErrBadDomain", "reset ann@contoso..com", []string{"is not a domain name"}},
		{"ErrBadLocal", "reset ann(x)@contoso.com", []string{`"(" cannot appear before the @`}},
		{"ErrBadGUID", "status 6e7b768e-07e2-4810-8459-485f84f8f20", []string{"not a valid object id", "8-4-4-4-12"}},
		{"ErrSlackUserMention", "status <@U024BE7LH>", []string{"is a chat mention, not a user"}},
		{"ErrStatusExtra", "status ann@contoso.com please", []string{"status takes one user", `"please" follows`}},
		{"ErrResetOption", "reset ann@contoso.com --confirm 3", []string{"--confirm is only for revoke-group", "Usage: /mfa reset"}},
		{"ErrResetUnknownOption", "reset ann@contoso.com --now", []string{`unknown option "--now"`}},
		{"ErrEnforceState", "enforce ann@contoso.com maybe", []string{`"maybe" is not a per-user MFA state`, "Usage: /mfa enforce <user> enabled|enforced|disabled"}},
		{"ErrEnforceNoState", "enforce ann@contoso.com", []string{"which per-user MFA state?"}},
		{"ErrConfirmNotNumber", "revoke-group Sales --confirm all", []string{`--confirm takes the group's member count as a whole number, not "all"`}},
		{"ErrConfirmBadGrouping", "revoke-group Sales --confirm 1,20", []string{`not "1,20"`}},
		{"ErrConfirmZero", "revoke-group Sales --confirm 0", []string{"at least 1"}},
		{"ErrConfirmNegative", "revoke-group Sales --confirm=-5", []string{`not "-5"`}},
		{"ErrConfirmHuge", "revoke-group Sales --confirm 99999999999999999999999", []string{"more than any group has"}},
		{"ErrConfirmMissing", "revoke-group Sales --confirm", []string{"--confirm needs"}},
		{"ErrConfirmEmpty", "revoke-group Sales --confirm=", []string{"--confirm needs"}},
		{"ErrConfirmTwice", "revoke-group Sales --confirm 5 --confirm 5", []string{"--confirm is given twice"}},
		{"ErrConfirmTwiceTrailing", "revoke-group Sales --confirm 5 why --confirm 5", []string{"--confirm is given twice"}},
		{"ErrUnknownOption", "revoke-group Sales --force", []string{`unknown option "--force"`, "only --unregistered and --confirm N"}},
		{"ErrNoGroup", "revoke-group", []string{"which group?", "Usage: /mfa revoke-group <group> [--unregistered] [--confirm N] [reason…]"}},
		{"ErrNoGroupOnlyConfirm", "revoke-group --confirm 5", []string{"which group?"}},
		{"ErrEmptyGroup", `revoke-group ""`, []string{"the group name is empty"}},
		{"ErrLongGroup", "revoke-group " + strings.Repeat("g", 300), []string{"group name is too long"}},
		{"ErrBadRequestID", "approve 123", []string{`"123" is not a request id`, "R-7K2QXA"}},
		{"ErrMissingRequestID", "show", []string{"which request?"}},
		{"ErrApproveExtra", "approve R-7K2QXA because", []string{"approve takes only the request id", `"because" follows`}},
		{"ErrDenyNoReason", "deny R-7K2QXA", []string{"say why", "Usage: /mfa deny <request> <reason…>"}},
		{"ErrDenyBlankReason", "deny R-7K2QXA  \u200b ", []string{"say why"}},
		{"ErrUnclosedQuote", `revoke-group "Sales`, []string{`a quote is not closed: "Sales`, "Usage: /mfa revoke-group"}},
		{"ErrUnclosedSmartQuote", "status “ann@contoso.com", []string{"a quote is not closed"}},
		{"ErrPendingArgs", "pending now", []string{"pending takes no arguments", `"now" follows`}},
		{"ErrTAPTwice", "reset ann@contoso.com --tap --tap", []string{"--tap is given twice"}},
		{"ErrOnlyTwice", "reset-bulk --only phone --tap --only oath", []string{"--only is given twice"}},
		{"ErrTAPOnRevoke", "revoke ann@contoso.com --tap", []string{"--tap is only for reset and reset-bulk"}},
		{"ErrResetBulkUnknownOption", "reset-bulk --force", []string{`unknown option "--force"; reset-bulk takes only --only and --tap`}},
		{"ErrSummaryArgs", `summary "Sales EMEA" today`, []string{"summary takes one group"}},
		{"ErrHelpTopic", "help frobnicate", []string{`no command "frobnicate"`}},
		{"ErrHelpTwoTopics", "help reset status", []string{"help takes at most one command name"}},
		{"ErrLongReason", "reset ann@contoso.com " + strings.Repeat("why ", 300), []string{"the reason is too long", "at most 1,000"}},
		{"ErrTooLong", strings.Repeat("x", 20000), []string{"too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := commands.Parse(tt.in)
			if approvals.ErrorCode(err) != approvals.EINVALID {
				t.Fatalf("Parse(%q) = %+v, %v; want EINVALID", tt.in, c, err)
			}
			for _, s := range tt.says {
				if !strings.Contains(approvals.ErrorMessage(err), s) {
					t.Errorf("message %q does not say %q", approvals.ErrorMessage(err), s)
				}
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   commands.Command
		want string
	}{
		{"Approve", commands.Command{Name: "approve", Request: "R-7K2QXA"}, "approve R-7K2QXA"},
		{"Deny", commands.Command{Name: "deny", Request: "R-7K2QXA", Reason: "not now"}, "deny R-7K2QXA not now"},
		{"GroupWithSpaces", commands.Command{Name: "revoke-group", Group: "Sales EMEA", Confirm: 1200, Reason: "push"}, `revoke-group "Sales EMEA" --confirm 1200 push`},
		{"ReasonLooksLikeOption", commands.Command{Name: "reset", User: "a@b.co", Reason: "--now please"}, `reset a@b.co "--now please"`},
		{"ReasonWithTrailingConfirm", commands.Command{Name: "revoke-group", Group: "G", Reason: "x --confirm 3"}, `revoke-group G "x --confirm 3"`},
		{"ReasonStartsWithQuote", commands.Command{Name: "reset", User: "a@b.co", Reason: `"quoted" word`}, `reset a@b.co "\"quoted\" word"`},
		{"Markup", commands.Command{Name: "reset", User: "a@b.co", Reason: "R&D <urgent>"}, "reset a@b.co R&amp;D &lt;urgent&gt;"},
		{"Enforce", commands.Command{Name: "enforce", User: "a@b.co", State: "enabled"}, "enforce a@b.co enabled"},
		{"HelpTopic", commands.Command{Name: "help", Topic: "reset"}, "help reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := commands.Canonical(tt.in)
			if got != tt.want {
				t.Fatalf("Canonical = %q, want %q", got, tt.want)
			}
			back, err := commands.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.in, back); diff != "" {
				t.Fatalf("Parse(Canonical) (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"status ann@contoso.com", `revoke-group "Sales EMEA" --confirm 12 why`, "deny R-7K2QXA no",
		"enforce a@b.co enabled", "help reset", `reset a@b.co "quoted reason" \"x`, "“", "<mailto:a@b.co|a@b.co>", "",
		`revoke-group 'it''s' a --confirm 1 --confirm 2`, "reset a@b.co R&amp;D", `<p>reset <a href="mailto:a@b.co">a@b.co</a></p>`,
		"revoke-group --confirm=1,000 “A B” ‘x’", "cancel r7k2qxa \u202eevil", "status \xff@b.co",
		"nudge everyone --confirm 12 why", `nudge "everyone" x`, "revoke-group everyone --unregistered", `summary "Sales EMEA"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := commands.Parse(s)
		if err != nil {
			var e *approvals.Error
			if !errors.As(err, &e) || e.Code != approvals.EINVALID || e.Message == "" {
				t.Fatalf("Parse(%q) error %#v is not an *approvals.Error with code %s", s, err, approvals.EINVALID)
			}
			if !utf8.ValidString(e.Message) {
				t.Fatalf("Parse(%q) error message %q is not UTF-8", s, e.Message)
			}
			return
		}
		if commands.Usage(c.Name) == "" {
			t.Fatalf("Parse(%q) = unknown command %q", s, c.Name)
		}
		for _, f := range []string{c.User, c.Group, c.Reason, c.Request, c.Topic, c.State} {
			if !utf8.ValidString(f) || strings.ContainsFunc(f, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) {
				t.Fatalf("Parse(%q) left invalid text in %+v", s, c)
			}
		}
		if c.Reason != strings.Join(strings.Fields(c.Reason), " ") {
			t.Fatalf("Parse(%q) reason %q is not folded", s, c.Reason)
		}
		canon := commands.Canonical(c)
		again, err := commands.Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("%q → %q re-parses differently:\n%s", s, canon, diff)
		}
		// Canonical text is a fixed point: buttons carry it, and it must not drift.
		if again := commands.Canonical(again); again != canon {
			t.Fatalf("Canonical is not stable for %q: %q then %q", s, canon, again)
		}
		// A leading "/mfa" as typed in Slack changes nothing.
		if withPrefix, err := commands.Parse("/mfa " + canon); err != nil || !cmp.Equal(c, withPrefix) {
			t.Fatalf("\"/mfa %s\" parses to %+v, %v; want %+v", canon, withPrefix, err, c)
		}
	})
}
