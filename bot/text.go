package bot

import (
	"fmt"
	"strconv"
	"strings"
)

// PlainText renders m as plain text: for terminals (mfabot summary), notification
// previews and clients that show no cards.
func (m Message) PlainText() string {
	var b strings.Builder
	if m.Title != "" {
		b.WriteString(m.Title)
		b.WriteString("\n")
	}
	if m.Text != "" {
		b.WriteString(m.Text)
		b.WriteString("\n")
	}
	for _, f := range m.Facts {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	if p := m.Progress; p != nil {
		fmt.Fprintf(&b, "Progress: %d / %d", p.Done, p.Total)
		if p.Failed > 0 {
			fmt.Fprintf(&b, " (%d failed)", p.Failed)
		}
		b.WriteString("\n")
	}
	for _, s := range m.Sections {
		b.WriteString("\n")
		if s.Title != "" {
			b.WriteString(s.Title)
			b.WriteString("\n")
		}
		for _, l := range s.Lines {
			b.WriteString("  - ")
			b.WriteString(l)
			b.WriteString("\n")
		}
		if s.More > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", s.More)
		}
	}
	for _, f := range m.Files {
		fmt.Fprintf(&b, "\nAttachment: %s (%d bytes)\n", f.Name, len(f.Data))
	}
	if m.Footer != "" {
		b.WriteString("\n")
		b.WriteString(m.Footer)
		b.WriteString("\n")
	}
	return b.String()
}

// Thousands writes n with comma separators, 10000 as "10,000": every renderer shows
// counts the same way.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
