package commands

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands/summary"
)

// The enrollment campaign: nudge (a private message to everyone in a group, or the tenant,
// who has not registered for MFA), revoke-group --unregistered (sign exactly them out, so
// they meet the registration prompt) and summary <group>. Whom they reach is the core's
// rule (approvals.Campaign); the words are here.

// everyoneWord is the target that names the whole tenant, typed unquoted.
const everyoneWord = approvals.Everyone

// nudge parses "nudge <group>|everyone [--confirm N] [message…]".
func (p *parser) nudge(c *Command) error { return p.revokeGroup(c) }

// summary parses "summary [group]".
func (p *parser) summary(c *Command) error {
	w, ok, err := p.word()
	if err != nil {
		return p.quoteErr(c.Name, err)
	}
	if !ok {
		return nil
	}
	if !w.quoted && isOption(w.text) {
		return usageErr(c.Name, "unknown option %q; summary takes at most a group", shorten(w.text, 40))
	}
	if w.text == "" {
		return usageErr(c.Name, "the group name is empty")
	}
	if n := utf8.RuneCountInString(w.text); n > maxGroup {
		return usageErr(c.Name, "that group name is too long (%d characters; at most %d)", n, maxGroup)
	}
	if !w.quoted && strings.EqualFold(w.text, everyoneWord) {
		return p.end(c.Name, "summary without a group is everyone's")
	}
	c.Group = w.text
	return p.end(c.Name, "summary takes one group (quote names with spaces)")
}

// everyone turns an unquoted "everyone" into the whole tenant. revoke-group takes it only
// with --unregistered: mfabot never signs the whole tenant out.
func everyone(c *Command, quoted bool) error {
	if quoted || !strings.EqualFold(c.Group, everyoneWord) {
		return nil
	}
	if c.Name == CmdRevokeGroup && !c.Unregistered {
		return usageErr(c.Name, "revoke-group everyone needs --unregistered: mfabot signs out only the members not registered for MFA, never the whole tenant")
	}
	c.Group, c.Everyone = "", true
	return nil
}

// campaignTarget writes a campaign's target for Canonical: everyone, or the group, quoted
// when it would read as everyone.
func campaignTarget(c Command) string {
	if c.Everyone {
		return everyoneWord
	}
	if strings.EqualFold(c.Group, everyoneWord) {
		return quote(escapeMarkup(c.Group))
	}
	return escapeArg(c.Group, true)
}

func optionsOf(cmd string) string {
	if cmd == CmdNudge {
		return "nudge takes only --confirm N (it reaches only the members not registered for MFA)"
	}
	return "revoke-group takes only --unregistered and --confirm N"
}

func whichGroup(cmd string) string {
	if cmd == CmdNudge {
		return "whom? give a group (object id, mail nickname or display name; quote names with spaces) or everyone"
	}
	return "which group? give an object id, mail nickname or display name (quote names with spaces)"
}

// campaignRequest is the core's request for a parsed nudge or revoke-group --unregistered.
func campaignRequest(cmd Command) approvals.NewRequest {
	in := approvals.NewRequest{Reason: cmd.Reason, Confirm: cmd.Confirm, Target: cmd.Group, Unregistered: cmd.Unregistered}
	if cmd.Everyone {
		in.Target = approvals.Everyone
	}
	in.Kind = approvals.KindRevokeGroup
	if cmd.Name == CmdNudge {
		in.Kind = approvals.KindNudge
	}
	return in
}

// campaignWho names a campaign's target: "All Staff (id …)" or "everyone in the tenant".
func campaignWho(r *approvals.Request) string {
	if r.Target.Type == approvals.TargetTenant {
		return "everyone in the tenant"
	}
	return r.Target.Name + " (id " + r.Target.ID + ")"
}

// campaignReach says whom the campaign reaches, as the approver sees it: "118 of 2,640
// enabled members are not registered for MFA".
func campaignReach(r *approvals.Request) string {
	c := r.Preview.Campaign
	return fmt.Sprintf("%s of %s enabled members are not registered for MFA", bot.Thousands(r.Preview.MemberCount), bot.Thousands(c.Members))
}

// campaignLeftOut lists whom the campaign leaves alone, "" when nobody.
func campaignLeftOut(c *approvals.Campaign) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, bot.Thousands(n)+" "+what)
		}
	}
	add(c.Registered, "registered")
	add(c.Protected, "protected")
	add(c.Excluded, "excluded (summary.exclude)")
	add(c.Guests, "guests (they register in their home tenant)")
	add(c.Disabled, "disabled accounts")
	return strings.Join(parts, " · ")
}

// campaignFacts are the facts of a campaign's card.
func (c Cards) campaignFacts(r *approvals.Request) []bot.Fact {
	camp := r.Preview.Campaign
	label, count := "Members to revoke", campaignReach(r)
	if r.Kind == approvals.KindNudge {
		label = "People to message"
	}
	if limit := c.Policy.ConfirmAbove; limit > 0 && r.Preview.MemberCount > limit {
		count += fmt.Sprintf(" (more than %s: the requester confirmed the count with --confirm %d)", bot.Thousands(limit), r.Preview.MemberCount)
	}
	target := "Group"
	if r.Kind == approvals.KindNudge {
		target = "To"
	}
	facts := []bot.Fact{{Label: target, Value: campaignWho(r)}, {Label: label, Value: count}}
	if left := campaignLeftOut(camp); left != "" {
		facts = append(facts, bot.Fact{Label: "Left alone", Value: left})
	}
	return facts
}

// campaignTitle is the title of a campaign's card.
func campaignTitle(r *approvals.Request) string {
	who := r.Target.Name
	if r.Target.Type == approvals.TargetTenant {
		who = "everyone"
	}
	if r.Kind == approvals.KindNudge {
		return "Nudge " + who + " to register for MFA"
	}
	return "Revoke sessions of the unregistered members of " + who
}

// campaignWhat explains to the approver what approving a campaign does.
func campaignWhat(r *approvals.Request) string {
	n := bot.Thousands(r.Preview.MemberCount)
	if r.Kind == approvals.KindNudge {
		return fmt.Sprintf("Approving sends a private message to each of the %s people who have not registered for MFA, with the registration link (%s), "+
			"the reason and who sent it: a Slack direct message, else a Teams chat where mfabot can reach them, else an e-mail. "+
			"Everyone is messaged once; whoever no channel reaches is listed when it ends. "+
			"If more than a tenth more people are unregistered when it runs, nobody is messaged.", n, MFASetupURL)
	}
	return fmt.Sprintf("Approving revokes the sign-in sessions of the %s members who have not registered for MFA, and only theirs "+
		"(the registered, protected and excluded are left alone): they sign in again and meet the registration prompt. "+
		"Whoever registers before it runs is spared; if more than a tenth more are unregistered by then, nothing is revoked.", n)
}

// Channel names for people: how a nudge reached someone.
var channelNames = map[string]string{
	"slack":   "Slack direct message",
	"teams":   "Teams chat",
	"mail":    "e-mail",
	"console": "console direct message",
}

// nudgeReach counts a nudge's finished items by the channel that reached the person: "120
// by Slack direct message · 8 by Teams chat · 3 by e-mail".
func nudgeReach(items []approvals.Item) string {
	counts := map[string]int{}
	var order []string
	for _, it := range items {
		if it.Op != approvals.OpNudge || it.State != approvals.ItemDone {
			continue
		}
		if counts[it.Result] == 0 {
			order = append(order, it.Result)
		}
		counts[it.Result]++
	}
	rank := func(ch string) int {
		for i, c := range []string{"slack", "teams", "console", "mail"} {
			if c == ch {
				return i
			}
		}
		return 9
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && rank(order[j]) < rank(order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	var parts []string
	for _, ch := range order {
		parts = append(parts, fmt.Sprintf("%s by %s", bot.Thousands(counts[ch]), orText(channelNames[ch], ch)))
	}
	return strings.Join(parts, " · ")
}

// nudgeOutcome says how a finished nudge went, "" while it is not finished.
func nudgeOutcome(r *approvals.Request, items []approvals.Item) string {
	reach := nudgeReach(items)
	switch r.State {
	case approvals.StateSucceeded:
		return fmt.Sprintf("Done: messaged all %s people (%s).", bot.Thousands(r.Done), reach)
	case approvals.StatePartlyFailed, approvals.StateFailed:
		s := fmt.Sprintf("Messaged %s of %s people", bot.Thousands(r.Done), bot.Thousands(r.Total))
		if reach != "" {
			s += " (" + reach + ")"
		}
		s += fmt.Sprintf("; %s could not be reached (listed below: ask them in person).", bot.Thousands(r.Failed))
		if left := r.Total - r.Done - r.Failed; left > 0 {
			s += fmt.Sprintf(" %s were not attempted.", bot.Thousands(left))
		}
		if r.Error != "" && r.Total == 0 {
			return "Failed: " + strings.TrimSuffix(r.Error, ".") + "."
		}
		if r.Error != "" {
			s += " Stopped because: " + r.Error
		}
		return s
	}
	return ""
}

// campaignPreview is the sentence the requester is told about their campaign request.
func campaignPreview(r *approvals.Request) string {
	if r.Kind == approvals.KindNudge {
		return fmt.Sprintf("It messages the %s.", campaignReachShort(r))
	}
	return fmt.Sprintf("%s; only they are signed out.", upperFirst(campaignReach(r)))
}

func campaignReachShort(r *approvals.Request) string {
	return fmt.Sprintf("%s people (of %s enabled members) who have not registered for MFA", bot.Thousands(r.Preview.MemberCount),
		bot.Thousands(r.Preview.Campaign.Members))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// Nudge is what a nudge says to one person: that they have no MFA method yet, where to
// register, why, and who asked (the requester and who approved). It warns against
// phishing: mfabot never asks for a password or a code. Implements bot.NudgeWords.
func (d *Dispatcher) Nudge(r *approvals.Request, u approvals.User) bot.Message {
	name := orText(u.DisplayName, u.UPN)
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\nyour account %s has no multifactor authentication (MFA) method registered yet. "+
		"Please set one up now at %s: it takes a few minutes, and your account is far harder to break into with it.",
		name, orText(u.UPN, name), MFASetupURL)
	if r.Reason != "" {
		fmt.Fprintf(&b, "\n\nWhy now: %s", r.Reason)
	}
	fmt.Fprintf(&b, "\n\nSent by %s for IT", orText(r.Requester.Name, r.Requester.Key()))
	if n := len(r.Approvals); n > 0 {
		fmt.Fprintf(&b, ", approved by %s", orText(r.Approvals[n-1].Actor.Name, r.Approvals[n-1].Actor.Key()))
	}
	fmt.Fprintf(&b, " (request %s). IT will never ask you for your password or a sign-in code: "+
		"register only at %s, and if in doubt, ask your IT service desk.", r.ID, MFASetupURL)
	return bot.Message{Title: "Please set up multifactor authentication", Text: b.String()}
}

// campaignItems loads what a campaign's card shows: at the end of a nudge every item,
// to count who was reached on which channel; otherwise the failed ones, as for any bulk
// request.
func (d *Dispatcher) campaignItems(ctx context.Context, r *approvals.Request) ([]approvals.Item, error) {
	if r.Kind == approvals.KindNudge && r.State.Final() {
		return d.o.Service.Items(ctx, r.ID, "", 0)
	}
	return d.o.Service.Items(ctx, r.ID, approvals.ItemFailed, maxListed)
}

// GroupSummarizer posts the enrollment summary of one group's transitive members (summary
// <group>); the Summarizer implements it too where groups are supported.
type GroupSummarizer interface {
	PostGroup(ctx context.Context, group string) error
}

// groupSummary answers summary <group>.
func (d *Dispatcher) groupSummary(ctx context.Context, group string) (bot.Response, error) {
	gs, ok := d.o.Summary.(GroupSummarizer)
	if !ok {
		return bot.Response{}, approvals.Errorf(approvals.EINVALID, "the summary of one group is not configured on this mfabot")
	}
	if err := gs.PostGroup(ctx, group); err != nil {
		return bot.Response{}, err
	}
	m := bot.Message{Title: "Enrollment summary posted", Tone: bot.ToneGood, Text: "Posted the enrollment summary of " + group + " to the approvals channel."}
	return bot.Response{Reply: &m}, nil
}

// SummaryButtons are the buttons of an enrollment summary that finds members without MFA:
// they start the matching nudge and revoke-group --unregistered for the summary's scope
// (the group, or everyone), asking the presser for the message or reason first. The
// request itself counts whom it reaches and needs approval like any other; when it reaches
// more people than policy.confirm_above, the reply names the --confirm to repeat it with.
func SummaryButtons(s *summary.Summary) []bot.Button {
	if !s.Report || s.NotRegisteredMembers == 0 {
		return nil
	}
	target := func(name string) Command {
		c := Command{Name: name, Everyone: s.Scope == nil}
		if s.Scope != nil {
			c.Group = s.Scope.ID
		}
		return c
	}
	nudge := target(CmdNudge)
	revoke := target(CmdRevokeGroup)
	revoke.Unregistered = true
	n := bot.Thousands(s.NotRegisteredMembers)
	return []bot.Button{
		{Label: "Nudge the " + n + " to register", Command: Canonical(nudge), Style: bot.ButtonPrimary, NeedsReason: true},
		{Label: "Sign out the unregistered", Command: Canonical(revoke), Style: bot.ButtonDanger, NeedsReason: true},
	}
}
