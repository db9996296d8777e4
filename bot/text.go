package bot

import (
	"fmt"
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
