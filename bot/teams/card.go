package teams

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mfabot/mfabot/bot"
)

// Adaptive Card rendering of bot.Message: schema 1.5, so that Action.Execute (Universal
// Actions) and refresh work; every Action.Execute carries an Action.Submit fallback for
// clients without Universal Actions. Every piece of text in a Message is plain text and is
// escaped here for the Markdown subset TextBlock and FactSet render.

// Size limits.
const (
	// MaxCardBytes is the budget for a rendered card, inline image data excluded (Teams
	// does not count base64 images against its message size limit). Sections are cut to fit,
	// well under 28 KB, the smallest limit Teams has documented for a whole bot message.
	MaxCardBytes = 24 * 1024
	// MaxInlineImageBytes is the largest PNG shown inline as a data: URI; a larger image is
	// replaced by a note.
	MaxInlineImageBytes = 128 * 1024
	// MaxRefreshUsers is the number of users Teams refreshes a card for automatically.
	MaxRefreshUsers = 60
)

const (
	cardSchema  = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion = "1.5"

	verbCommand = "command"
	verbRefresh = "refresh"

	reasonInputID = "reason"
)

type obj = map[string]any

// CardOptions adjust a card to the place and person it is shown to.
type CardOptions struct {
	// RefreshUserIDs are the Teams user ids (MRIs, "29:…") whose clients refresh the card
	// automatically when they show it; at most MaxRefreshUsers are used. When empty the
	// userIds property is left out, and Teams refreshes automatically for everyone in
	// conversations of up to 60 members and offers a manual refresh elsewhere.
	RefreshUserIDs []string
	// Note, when set, is shown at the top of the card: a refusal meant for the one person
	// an invoke response is shown to.
	Note *bot.Message
}

// RenderCard renders msg as an Adaptive Card. It is a pure function of its arguments;
// sections are cut ("… and N more") until the card fits MaxCardBytes.
func RenderCard(msg bot.Message, opts CardOptions) json.RawMessage {
	msg = preTrim(msg)
	for {
		card, imageBytes := buildCard(msg, opts)
		b, err := json.Marshal(card)
		if err != nil {
			// Only strings, numbers, bools, maps and slices go in: cannot happen.
			panic(fmt.Sprintf("marshal adaptive card: %v", err))
		}
		if len(b)-imageBytes <= MaxCardBytes || !shrink(&msg) {
			return b
		}
	}
}

func buildCard(msg bot.Message, opts CardOptions) (obj, int) {
	var body []any
	if opts.Note != nil {
		body = append(body, noteContainer(*opts.Note))
	}
	header := []any{}
	if msg.Title != "" {
		header = append(header, obj{
			"type": "TextBlock", "text": escapeLine(msg.Title), "weight": "Bolder",
			"size": "Medium", "wrap": true, "color": toneColor(msg.Tone),
		})
	}
	header = append(header, textBlocks(msg.Text)...)
	if len(header) > 0 {
		body = append(body, obj{"type": "Container", "style": toneStyle(msg.Tone), "bleed": true, "items": header})
	}
	if len(msg.Facts) > 0 {
		facts := make([]any, 0, len(msg.Facts))
		for _, f := range msg.Facts {
			facts = append(facts, obj{"title": escapeLine(f.Label), "value": escapeLine(f.Value)})
		}
		body = append(body, obj{"type": "FactSet", "facts": facts})
	}
	if msg.Progress != nil {
		body = append(body, progressBlocks(*msg.Progress)...)
	}
	for _, s := range msg.Sections {
		body = append(body, sectionBlocks(s)...)
	}
	imageBytes := 0
	if img := msg.Image; img != nil {
		if img.ContentType == "image/png" && len(img.Data) > 0 && len(img.Data) <= MaxInlineImageBytes {
			uri := "data:image/png;base64," + base64.StdEncoding.EncodeToString(img.Data)
			imageBytes = len(uri)
			body = append(body, obj{"type": "Image", "url": uri, "altText": plain(img.Alt), "size": "Stretch"})
		} else {
			note := "The chart is too large to show in Teams."
			if img.Alt != "" {
				note += " " + img.Alt
			}
			body = append(body, subtle(escapeLine(note)))
		}
	}
	for _, f := range msg.Files {
		body = append(body, subtle(escapeLine(fmt.Sprintf(
			"%s (%s) is not attached: Teams bots cannot attach files to channel messages.",
			f.Name, formatBytes(len(f.Data))))))
	}
	if len(msg.Buttons) > 0 {
		actions := make([]any, 0, len(msg.Buttons))
		for _, b := range msg.Buttons {
			actions = append(actions, buttonAction(b))
		}
		body = append(body, obj{"type": "ActionSet", "actions": actions})
	}
	if msg.Footer != "" {
		body = append(body, obj{"type": "TextBlock", "text": escapeLine(msg.Footer), "size": "Small", "isSubtle": true, "wrap": true})
	}
	if body == nil {
		body = []any{}
	}
	card := obj{
		"type":    "AdaptiveCard",
		"$schema": cardSchema,
		"version": cardVersion,
		"msteams": obj{"width": "Full"},
		"body":    body,
	}
	if msg.RequestID != "" {
		refresh := obj{"action": obj{
			"type": "Action.Execute", "title": "Refresh", "verb": verbRefresh,
			"data": obj{"requestId": msg.RequestID},
		}}
		if ids := opts.RefreshUserIDs; len(ids) > 0 {
			if len(ids) > MaxRefreshUsers {
				ids = ids[:MaxRefreshUsers]
			}
			refresh["userIds"] = append([]string{}, ids...)
		}
		card["refresh"] = refresh
	}
	return card, imageBytes
}

func noteContainer(n bot.Message) obj {
	items := []any{}
	if n.Title != "" {
		items = append(items, obj{"type": "TextBlock", "text": escapeLine(n.Title), "weight": "Bolder", "wrap": true, "color": "Attention"})
	}
	items = append(items, textBlocks(n.Text)...)
	if len(items) == 0 {
		items = append(items, obj{"type": "TextBlock", "text": "Refused.", "wrap": true, "color": "Attention"})
	}
	// A note's link buttons (a step-up sign-in) are for the presser alone, like the note.
	var links []any
	for _, b := range n.Buttons {
		if b.URL != "" {
			links = append(links, buttonAction(b))
		}
	}
	if len(links) > 0 {
		items = append(items, obj{"type": "ActionSet", "actions": links})
	}
	style := "attention"
	if n.Tone == bot.TonePending {
		style = "emphasis"
	}
	return obj{"type": "Container", "style": style, "items": items}
}

// textBlocks renders paragraphs ("\n\n") and lines as separate TextBlocks: Markdown would
// otherwise fold single newlines.
func textBlocks(text string) []any {
	var out []any
	for i, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		for j, line := range strings.Split(para, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			tb := obj{"type": "TextBlock", "text": escapeMarkdown(line), "wrap": true}
			if j > 0 {
				tb["spacing"] = "None"
			} else if i > 0 {
				tb["spacing"] = "Medium"
			}
			out = append(out, tb)
		}
	}
	return out
}

func progressBlocks(p bot.Progress) []any {
	var status string
	switch {
	case p.Total <= 0:
		status = "Preparing…"
	default:
		pct := p.Done * 100 / p.Total
		status = fmt.Sprintf("%s / %s done (%d%%)", bot.Thousands(p.Done), bot.Thousands(p.Total), pct)
	}
	if p.Failed > 0 {
		status += fmt.Sprintf(" · %s failed", bot.Thousands(p.Failed))
	}
	blocks := []any{obj{"type": "TextBlock", "text": escapeLine(status), "wrap": true, "weight": "Bolder"}}
	if p.Total > 0 {
		const cells = 20
		done := min(cells, max(0, p.Done*cells/p.Total))
		bar := strings.Repeat("█", done) + strings.Repeat("░", cells-done)
		blocks = append(blocks, obj{"type": "TextBlock", "text": bar, "fontType": "Monospace", "spacing": "None"})
	}
	return blocks
}

func sectionBlocks(s bot.Section) []any {
	var out []any
	if s.Title != "" {
		out = append(out, obj{"type": "TextBlock", "text": escapeLine(s.Title), "weight": "Bolder", "wrap": true, "spacing": "Medium"})
	}
	if len(s.Lines) > 0 {
		items := make([]string, len(s.Lines))
		for i, l := range s.Lines {
			items[i] = "- " + escapeLine(l)
		}
		out = append(out, obj{"type": "TextBlock", "text": strings.Join(items, "\r"), "wrap": true, "spacing": "Small"})
	}
	if s.More > 0 {
		out = append(out, obj{"type": "TextBlock", "text": "… and " + bot.Thousands(s.More) + " more", "isSubtle": true, "wrap": true, "spacing": "None"})
	}
	return out
}

func subtle(text string) obj {
	return obj{"type": "TextBlock", "text": text, "isSubtle": true, "wrap": true}
}

// buttonAction renders a button. A button that needs a reason opens an inline form whose
// required Input.Text must be filled before its own Action.Execute fires; inputs inside a
// ShowCard are not submitted by the other buttons.
func buttonAction(b bot.Button) obj {
	if b.URL != "" {
		return obj{"type": "Action.OpenUrl", "title": plain(b.Label), "url": b.URL}
	}
	data := obj{"command": b.Command}
	if !b.NeedsReason {
		return executeAction(plain(b.Label), b.Style, data)
	}
	form := obj{
		"type": "AdaptiveCard",
		"body": []any{
			obj{
				"type": "Input.Text", "id": reasonInputID, "label": "Reason", "isRequired": true,
				"errorMessage": "A reason is required.", "placeholder": "Why?", "maxLength": bot.MaxReason,
			},
			obj{"type": "ActionSet", "actions": []any{executeAction(plain(b.Label), b.Style, data)}},
		},
	}
	return obj{"type": "Action.ShowCard", "title": plain(b.Label) + "…", "card": form}
}

func executeAction(title string, style bot.ButtonStyle, data obj) obj {
	submit := obj{"type": "Action.Submit", "title": title, "data": data}
	a := obj{"type": "Action.Execute", "title": title, "verb": verbCommand, "data": data, "fallback": submit}
	if s := actionStyle(style); s != "" {
		a["style"] = s
		submit["style"] = s
	}
	return a
}

func actionStyle(s bot.ButtonStyle) string {
	switch s {
	case bot.ButtonPrimary:
		return "positive"
	case bot.ButtonDanger:
		return "destructive"
	}
	return ""
}

func toneColor(t bot.Tone) string {
	switch t {
	case bot.TonePending:
		return "Accent"
	case bot.ToneGood:
		return "Good"
	case bot.ToneWarning:
		return "Warning"
	case bot.ToneBad:
		return "Attention"
	}
	return "Default"
}

func toneStyle(t bot.Tone) string {
	switch t {
	case bot.TonePending:
		return "accent"
	case bot.ToneGood:
		return "good"
	case bot.ToneWarning:
		return "warning"
	case bot.ToneBad:
		return "attention"
	}
	return "emphasis"
}

// preTrim cuts section lines beyond what could fit at all, so that a list of thousands
// of users costs one or two renderings rather than a dozen.
func preTrim(m bot.Message) bot.Message {
	budget := MaxCardBytes
	cut := false
	sections := append([]bot.Section{}, m.Sections...)
	for i := range sections {
		s := &sections[i]
		for j, l := range s.Lines {
			budget -= len(l) + 4
			if budget < 0 {
				s.More += len(s.Lines) - j
				s.Lines = s.Lines[:j]
				cut = true
				break
			}
		}
	}
	if cut {
		m.Sections = sections
	}
	return m
}

// shrink cuts msg once toward a smaller card: a quarter of the lines of the biggest section, else
// half of a long text, else long fact values. It reports false when nothing is left to cut.
func shrink(m *bot.Message) bool {
	best, bestSize := -1, 0
	for i, s := range m.Sections {
		size := 0
		for _, l := range s.Lines {
			size += len(l) + 8
		}
		if len(s.Lines) > 0 && size > bestSize {
			best, bestSize = i, size
		}
	}
	if best >= 0 {
		m.Sections = append([]bot.Section{}, m.Sections...)
		s := &m.Sections[best]
		keep := len(s.Lines) * 3 / 4
		s.More += len(s.Lines) - keep
		s.Lines = s.Lines[:keep]
		return true
	}
	if len(m.Text) > 256 {
		m.Text = truncate(m.Text, len(m.Text)/2)
		return true
	}
	cut := false
	facts := append([]bot.Fact{}, m.Facts...)
	for i := range facts {
		if len(facts[i].Value) > 256 {
			facts[i].Value = truncate(facts[i].Value, 256)
			cut = true
		}
	}
	m.Facts = facts
	return cut
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// plain cleans text shown where no Markdown applies (button titles, alt text).
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if dropRune(r) {
			return -1
		}
		return r
	}, s)
}

// escapeLine escapes s as one line of Markdown.
func escapeLine(s string) string {
	return escapeMarkdown(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}

// escapeMarkdown makes user text render as itself in a TextBlock or FactSet: emphasis,
// code, links ("[ok](http://evil)"), autolinks and HTML-like tags ("<at>…</at>"),
// entities, headings and list markers are backslash-escaped (CommonMark escapes, which the
// Adaptive Card renderers honour), and invisible bidi and control characters that could
// disguise text are dropped.
func escapeMarkdown(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	lineStart := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == '\n' {
			b.WriteRune(r)
			lineStart = true
			continue
		}
		if dropRune(r) {
			continue
		}
		if lineStart {
			// Leading spaces would make an indented code block.
			if r == ' ' || r == '\t' {
				continue
			}
			switch {
			case r == '#' || r == '-' || r == '+':
				b.WriteByte('\\')
			case r >= '0' && r <= '9':
				// "1." or "1)" would start an ordered list.
				j := i
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				if j < len(s) && (s[j] == '.' || s[j] == ')') {
					b.WriteString(s[i-size : j])
					b.WriteByte('\\')
					b.WriteByte(s[j])
					i = j + 1
					lineStart = false
					continue
				}
			}
		}
		lineStart = false
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '&', '~':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dropRune reports invisible characters that have no business in chat text: controls and
// bidirectional overrides, which can make "moc.otsoc@" read as "contoso.com".
func dropRune(r rune) bool {
	switch {
	case r == '\t':
		return false
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == utf8.RuneError:
		return true
	}
	return false
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// messageText flattens a message to plain text, for invoke responses that show a message
// instead of a card.
func messageText(m bot.Message) string {
	parts := []string{}
	if m.Title != "" {
		parts = append(parts, plain(m.Title))
	}
	if t := strings.TrimSpace(m.Text); t != "" {
		parts = append(parts, strings.Map(func(r rune) rune {
			if r != '\n' && dropRune(r) {
				return -1
			}
			return r
		}, t))
	}
	return strings.Join(parts, "\n\n")
}
