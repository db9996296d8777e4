package commands_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/commands"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want commands.Command
	}{
		{"OKHelpEmpty", "", commands.Command{Name: "help"}},
		{"OKHelpTopic", "help Reset", commands.Command{Name: "help", Topic: "reset"}},
		{"OKStatus", "status ann@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OKLeadingMfa", "/mfa STATUS ann@contoso.com", commands.Command{Name: "status", User: "ann@contoso.com"}},
		{"OKGuest", "status jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", commands.Command{Name: "status", User: "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"}},
		{"OKObjectID", "status 6e7b768e-07e2-4810-8459-485f84f8f204", commands.Command{Name: "status", User: "6e7b768e-07e2-4810-8459-485f84f8f204"}},
		{"OKSlackMailto", "reset <mailto:ann@contoso.com|ann@contoso.com> lost phone", commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "lost phone"}},
		{"OKTeamsMailto", `reset <a href="mailto:ann@contoso.com">ann@contoso.com</a> lost phone`, commands.Command{Name: "reset", User: "ann@contoso.com", Reason: "lost phone"}},
		{"OKResetNoReason", "reset ann@contoso.com", commands.Command{Name: "reset", User: "ann@contoso.com"}},
		{"OKQuotedGroup", `revoke-group "Sales EMEA" --confirm 2,345 enrollment push`, commands.Command{Name: "revoke-group", Group: "Sales EMEA", Confirm: 2345, Reason: "enrollment push"}},
		{"OKSmartQuotes", "revoke-group “Sales EMEA” --confirm=12", commands.Command{Name: "revoke-group", Group: "Sales EMEA", Confirm: 12}},
		{"OKSingleQuotes", `revoke-group 'it\'s ops'`, commands.Command{Name: "revoke-group", Group: "it's ops"}},
		{"OKEnforce", "enforce ann@contoso.com Enforced audit finding", commands.Command{Name: "enforce", User: "ann@contoso.com", State: "enforced", Reason: "audit finding"}},
		{"OKApprove", "approve r-7k2qxa", commands.Command{Name: "approve", Request: "R-7K2QXA"}},
		{"OKDeny", "deny R-7K2QXA not during the freeze", commands.Command{Name: "deny", Request: "R-7K2QXA", Reason: "not during the freeze"}},
		{"OKCancel", "cancel R-7K2QXA", commands.Command{Name: "cancel", Request: "R-7K2QXA"}},
		{"OKPending", "pending", commands.Command{Name: "pending"}},
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
	tests := []struct {
		name, in string
		says     []string
	}{
		{"ErrUnknownCommand", "rest ann@contoso.com", []string{`unknown command "rest"`, "/mfa help"}},
		{"ErrMissingUser", "reset", []string{"which user?", "Usage: /mfa reset <user> [reason…]"}},
		{"ErrNotAUser", "status ann", []string{`"ann" is not a user`, "Usage: /mfa status <user>"}},
		{"ErrBadUPN", "reset ann@contoso", []string{`"ann@contoso" is not a valid UPN`}},
		{"ErrStatusExtra", "status ann@contoso.com please", []string{`got "please" as well`}},
		{"ErrEnforceState", "enforce ann@contoso.com maybe", []string{`"maybe" is not a per-user MFA state`}},
		{"ErrEnforceNoState", "enforce ann@contoso.com", []string{"which per-user MFA state?"}},
		{"ErrConfirmNotNumber", "revoke-group Sales --confirm all", []string{"--confirm takes the group's member count"}},
		{"ErrConfirmMissing", "revoke-group Sales --confirm", []string{"--confirm needs"}},
		{"ErrUnknownOption", "revoke-group Sales --force", []string{`unknown option "--force"`}},
		{"ErrNoGroup", "revoke-group", []string{"which group?"}},
		{"ErrBadRequestID", "approve 123", []string{`"123" is not a request id`}},
		{"ErrDenyNoReason", "deny R-7K2QXA", []string{"say why"}},
		{"ErrUnclosedQuote", `revoke-group "Sales`, []string{"quote is not closed"}},
		{"ErrPendingArgs", "pending now", []string{"takes no arguments"}},
		{"ErrHelpTopic", "help frobnicate", []string{`no command "frobnicate"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := commands.Parse(tt.in)
			if approvals.ErrorCode(err) != approvals.EINVALID {
				t.Fatalf("Parse(%q) = %v, want EINVALID", tt.in, err)
			}
			for _, s := range tt.says {
				if !strings.Contains(approvals.ErrorMessage(err), s) {
					t.Errorf("message %q does not say %q", approvals.ErrorMessage(err), s)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"status ann@contoso.com", `revoke-group "Sales EMEA" --confirm 12 why`, "deny R-7K2QXA no",
		"enforce a@b.co enabled", "help reset", `reset a@b.co "quoted reason" \"x`, "“", "<mailto:a@b.co|a@b.co>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := commands.Parse(s)
		if err != nil {
			if approvals.ErrorCode(err) != approvals.EINVALID {
				t.Fatalf("Parse(%q) error has code %q", s, approvals.ErrorCode(err))
			}
			return
		}
		if c.Name == commands.CmdRevokeGroup && strings.Contains(c.Reason, "--") {
			return // a reason word that looks like an option is re-read as one
		}
		again, err := commands.Parse(commands.Canonical(c))
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", commands.Canonical(c), s, err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("%q → %q re-parses differently:\n%s", s, commands.Canonical(c), diff)
		}
	})
}
