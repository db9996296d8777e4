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
func Message(s *Summary) bot.Message {
	m := bot.Message{
		Title: "MFA enrollment — " + longDay(s.Day),
		Tone:  tone(s),
	}
	var text []string
	switch {
	case !s.Report:
		text = append(text, "MFA registration could not be read today: see what is missing below.")
	case s.Members.Enabled == 0:
		text = append(text, "The registration report lists no enabled members.")
	case s.NotRegisteredMembers == 0:
		text = append(text, fmt.Sprintf("Every enabled member has registered MFA (%s).", bot.Thousands(s.Members.Enabled)))
	default:
		text = append(text, fmt.Sprintf("%s of enabled members have registered MFA: %s of %s. %s have not.",
			pct(s.Members.MFARegistered, s.Members.Enabled), bot.Thousands(s.Members.MFARegistered),
			bot.Thousands(s.Members.Enabled), bot.Thousands(s.NotRegisteredMembers)))
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
		name := "mfa-not-registered-" + s.Day + ".csv"
		m.Files = []bot.File{{
			Name:        name,
			ContentType: "text/csv",
			Data:        s.CSV,
			Alt:         fmt.Sprintf("All %s enabled users without MFA registered (members and guests)", bot.Thousands(s.CSVRows)),
		}}
		m.Footer = fmt.Sprintf("Attached: %s, all %s enabled users without MFA (members and guests).", name, bot.Thousands(s.CSVRows))
	}
	return m
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
	members, guests := s.DirectoryMembers, s.DirectoryGuests
	if s.Report {
		members, guests = s.Members.Enabled, s.Guests.Enabled
	}
	switch {
	case s.Directory:
		f = append(f, bot.Fact{Label: "Users counted", Value: fmt.Sprintf("%s members · %s guests (enabled)", bot.Thousands(members), bot.Thousands(guests))})
	case s.Report:
		f = append(f, bot.Fact{Label: "Users counted", Value: fmt.Sprintf("%s members · %s guests (disabled accounts not excluded)", bot.Thousands(members), bot.Thousands(guests))})
	}
	if s.Directory {
		f = append(f, bot.Fact{Label: "Disabled accounts", Value: bot.Thousands(s.Disabled) + " (not counted)"})
	}
	if !s.Report {
		return f
	}
	c := s.Members
	f = append(f,
		bot.Fact{Label: "MFA registered", Value: countPct(c.MFARegistered, c.Enabled)},
		bot.Fact{Label: "MFA capable", Value: countPct(c.MFACapable, c.Enabled)},
		bot.Fact{Label: "SSPR registered", Value: countPct(c.SSPRRegistered, c.Enabled)},
		bot.Fact{Label: "Passwordless capable", Value: countPct(c.PasswordlessCapable, c.Enabled)},
		bot.Fact{Label: "Guests with MFA", Value: fmt.Sprintf("%s of %s · %s", bot.Thousands(s.Guests.MFARegistered), bot.Thousands(s.Guests.Enabled), pct(s.Guests.MFARegistered, s.Guests.Enabled))},
	)
	admins := "none"
	if n := len(s.AdminsWithoutMFA); n > 0 {
		admins = bot.Thousands(n)
	}
	f = append(f, bot.Fact{Label: "Admins without MFA", Value: admins})
	if len(s.Changes) > 0 {
		parts := make([]string, 0, len(s.Changes))
		known := false
		for _, c := range s.Changes {
			parts = append(parts, change(c))
			known = known || c.Known
		}
		v := strings.Join(parts, " · ")
		if !known {
			v = "no earlier data yet"
		}
		f = append(f, bot.Fact{Label: "Change in MFA registered", Value: v})
	}
	return f
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
