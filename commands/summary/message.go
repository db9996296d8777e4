package summary

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mfabot/mfabot/bot"
)

// Message renders s as the neutral chat message every platform shows; the chart (Chart) is
// attached by the caller. Which facts appear, and in which order, is decided here once.
// The figures are the enabled members'; the text says so, and which numbers include
// guests, so that the member count and the attached list never seem to disagree.
func Message(s *Summary) bot.Message {
	m := bot.Message{Title: title(s), Tone: tone(s)}
	var text []string
	switch {
	case !s.Report:
		text = append(text, "MFA registration could not be read today: see what is missing below.")
	case s.Members.Enabled == 0:
		text = append(text, "The registration report lists no enabled members.")
	case s.NotRegisteredMembers == 0:
		text = append(text, fmt.Sprintf("Every enabled member has registered MFA (%s); %s have registered SSPR (%s).",
			bot.Thousands(s.Members.Enabled), pct(s.Members.SSPRRegistered, s.Members.Enabled), bot.Thousands(s.Members.SSPRRegistered)))
	default:
		text = append(text, fmt.Sprintf("%s of enabled members have registered MFA (%s of %s) and %s SSPR (%s). %s members have not registered MFA.",
			pct(s.Members.MFARegistered, s.Members.Enabled), bot.Thousands(s.Members.MFARegistered), bot.Thousands(s.Members.Enabled),
			pct(s.Members.SSPRRegistered, s.Members.Enabled), bot.Thousands(s.Members.SSPRRegistered), bot.Thousands(s.NotRegisteredMembers)))
	}
	if s.Report {
		text = append(text, whoIsCounted(s))
	}
	for _, g := range s.Gaps {
		text = append(text, fmt.Sprintf("Missing: %s. %s\nTo fix: %s", g.What, g.Why, g.Fix))
	}
	m.Text = strings.Join(text, "\n\n")

	m.Facts = facts(s)
	if s.Report {
		m.Sections = sections(s)
	}
	if s.Report && s.CSVRows > 0 {
		name := "mfa-not-registered-" + fileScope(s) + s.Day + ".csv"
		who := fmt.Sprintf("all %s enabled users without MFA: %s and %s", bot.Thousands(s.CSVRows),
			plural(s.CSVMembers, "member", "members"), plural(s.CSVGuests, "guest", "guests"))
		m.Files = []bot.File{{
			Name:        name,
			ContentType: "text/csv",
			Data:        s.CSV,
			Alt:         upper(who) + ", by object id",
		}}
		m.Footer = fmt.Sprintf("Attached: %s, %s (with their object ids).", name, who)
		if s.Excluded.Enabled > 0 {
			m.Footer += " Excluded accounts are not in it."
		}
	}
	return m
}

// title names the summary's day and, for a group, the group.
func title(s *Summary) string {
	if s.Scope != nil {
		return "MFA enrollment of " + s.Scope.DisplayName + " — " + longDay(s.Day)
	}
	return "MFA enrollment — " + longDay(s.Day)
}

// whoIsCounted says whom the figures count and which numbers include guests.
func whoIsCounted(s *Summary) string {
	var b strings.Builder
	if s.Scope != nil {
		fmt.Fprintf(&b, "This summary counts the transitive members of %s (id %s) only. ", s.Scope.DisplayName, s.Scope.ID)
	}
	b.WriteString("The percentages are of enabled members. Guests, who register MFA in their home tenant, are counted on their own line and are in the attached list; disabled accounts are left out.")
	if n := s.Excluded.Enabled; n > 0 {
		fmt.Fprintf(&b, " The %s excluded in summary.exclude (service and shared accounts) are left out of every figure and of the list (%s of them without MFA).",
			plural(n, "account", "accounts"), bot.Thousands(n-s.Excluded.MFARegistered))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return bot.Thousands(n) + " " + many
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func tone(s *Summary) bot.Tone {
	switch {
	case len(s.AdminsWithoutMFA) > 0 || len(s.Gaps) > 0:
		return bot.ToneWarning
	case s.Report && s.Members.Enabled > 0 && s.NotRegisteredMembers == 0:
		return bot.ToneGood
	}
	return bot.ToneNeutral
}

func facts(s *Summary) []bot.Fact {
	var f []bot.Fact
	if s.Scope != nil {
		f = append(f, bot.Fact{Label: "Group", Value: s.Scope.DisplayName + " (id " + s.Scope.ID + ")"})
	}
	members, guests := s.DirectoryMembers, s.DirectoryGuests
	if s.Report {
		members, guests = s.Members.Enabled, s.Guests.Enabled
	}
	switch {
	case s.Directory:
		f = append(f, bot.Fact{Label: "Users counted", Value: fmt.Sprintf("%s · %s (enabled)", plural(members, "member", "members"), plural(guests, "guest", "guests"))})
	case s.Report:
		f = append(f, bot.Fact{Label: "Users counted", Value: fmt.Sprintf("%s · %s (disabled accounts not excluded)", plural(members, "member", "members"), plural(guests, "guest", "guests"))})
	}
	if n := s.Excluded.Enabled; n > 0 {
		f = append(f, bot.Fact{Label: "Excluded (summary.exclude)", Value: fmt.Sprintf("%s · %s without MFA (not counted)",
			plural(n, "account", "accounts"), bot.Thousands(n-s.Excluded.MFARegistered))})
	}
	if s.Directory {
		f = append(f, bot.Fact{Label: "Disabled accounts", Value: bot.Thousands(s.Disabled) + " (not counted)"})
	}
	if !s.Report {
		return f
	}
	c := s.Members
	f = append(f,
		bot.Fact{Label: "MFA registered (members)", Value: countPct(c.MFARegistered, c.Enabled)},
		bot.Fact{Label: "SSPR registered (members)", Value: countPct(c.SSPRRegistered, c.Enabled)},
		bot.Fact{Label: "MFA capable (members)", Value: countPct(c.MFACapable, c.Enabled)},
		bot.Fact{Label: "Passwordless capable (members)", Value: countPct(c.PasswordlessCapable, c.Enabled)},
		bot.Fact{Label: "Guests with MFA", Value: fmt.Sprintf("%s of %s · %s (not in the member figures)", bot.Thousands(s.Guests.MFARegistered), bot.Thousands(s.Guests.Enabled), pct(s.Guests.MFARegistered, s.Guests.Enabled))},
	)
	admins := "none"
	if n := len(s.AdminsWithoutMFA); n > 0 {
		admins = bot.Thousands(n) + " (members and guests)"
	}
	f = append(f, bot.Fact{Label: "Admins without MFA", Value: admins})
	if len(s.Changes) > 0 {
		f = append(f, bot.Fact{Label: "Change in MFA registered", Value: changes(s.Changes, func(c Change) float64 { return c.Points })})
		f = append(f, bot.Fact{Label: "Change in SSPR registered", Value: changes(s.Changes, func(c Change) float64 { return c.SSPRPoints })})
	}
	return f
}

// changes writes the changes of one figure: "+1.5 pp since yesterday · …".
func changes(cs []Change, points func(Change) float64) string {
	parts := make([]string, 0, len(cs))
	known := false
	for _, c := range cs {
		c.Points = points(c)
		parts = append(parts, change(c))
		known = known || c.Known
	}
	if !known {
		return "no earlier data yet"
	}
	return strings.Join(parts, " · ")
}

func sections(s *Summary) []bot.Section {
	var out []bot.Section
	if len(s.AdminsWithoutMFA) > 0 {
		sec := bot.Section{Title: fmt.Sprintf("Admins without MFA (%s)", bot.Thousands(len(s.AdminsWithoutMFA)))}
		for _, p := range s.AdminsWithoutMFA {
			line := personLine(p)
			if p.Guest {
				line += " · guest"
			}
			sec.Lines = append(sec.Lines, line)
		}
		out = append(out, sec)
	}
	if ms := methodMix(s); len(ms) > 0 {
		sec := bot.Section{Title: "Methods registered by enabled members"}
		for _, m := range ms {
			sec.Lines = append(sec.Lines, fmt.Sprintf("%s: %s", m.label, countPct(m.count, s.Members.Enabled)))
		}
		out = append(out, sec)
	}
	if s.NotRegisteredMembers > 0 {
		sec := bot.Section{
			Title: fmt.Sprintf("Enabled members without MFA: first %s of %s", bot.Thousands(len(s.NotRegistered)), bot.Thousands(s.NotRegisteredMembers)),
			More:  s.NotRegisteredMembers - len(s.NotRegistered),
		}
		if len(s.NotRegistered) == s.NotRegisteredMembers {
			sec.Title = fmt.Sprintf("Enabled members without MFA (%s)", bot.Thousands(s.NotRegisteredMembers))
		}
		for _, p := range s.NotRegistered {
			line := personLine(p)
			if p.Admin {
				line += " · admin"
			}
			sec.Lines = append(sec.Lines, line)
		}
		out = append(out, sec)
	}
	return out
}

func personLine(p Person) string {
	switch {
	case p.DisplayName != "" && p.UPN != "":
		return p.DisplayName + " — " + p.UPN
	case p.UPN != "":
		return p.UPN
	case p.DisplayName != "":
		return p.DisplayName + " — " + p.ID
	}
	return p.ID
}

// methodCount is one line of the method mix: values with the same label are merged
// (fido2 and fido2SecurityKey).
type methodCount struct {
	label string
	count int
}

// methodMix is the method mix, most registered first, ties by label.
func methodMix(s *Summary) []methodCount {
	byLabel := map[string]int{}
	for m, n := range s.Methods {
		if n > 0 {
			byLabel[MethodLabel(m)] += n
		}
	}
	out := make([]methodCount, 0, len(byLabel))
	for l, n := range byLabel {
		out = append(out, methodCount{l, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count > out[j].count
		}
		return out[i].label < out[j].label
	})
	return out
}

func change(c Change) string {
	span := fmt.Sprintf("over %d days", c.Days)
	if c.Days == 1 {
		span = "since yesterday"
	}
	if !c.Known {
		if c.Days == 1 {
			return "no data from yesterday"
		}
		return fmt.Sprintf("no data %d days ago", c.Days)
	}
	return signedPoints(c.Points) + " " + span
}

// signedPoints writes percentage points with one decimal and a sign, without "-0.0".
func signedPoints(p float64) string {
	r := math.Round(p*10) / 10
	if r == 0 {
		return "±0.0 pp"
	}
	return fmt.Sprintf("%+.1f pp", r)
}

func countPct(part, whole int) string {
	return bot.Thousands(part) + " · " + pct(part, whole)
}

func pct(part, whole int) string {
	if whole == 0 {
		return "–"
	}
	p := Percent(part, whole)
	if part > 0 && p < 0.05 {
		return "<0.1%" // not "0.0%": someone has it
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

func longDay(day string) string {
	d, err := time.Parse(dayLayout, day)
	if err != nil {
		return day
	}
	return d.Format("Mon 2 Jan 2006")
}
