package slack

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot"
)

// Block Kit limits (https://api.slack.com/reference/block-kit), counted in characters.
const (
	maxBlocks          = 50   // blocks in a message
	maxTextChars       = 3000 // a section's text, a context element
	maxFieldChars      = 2000 // one section field
	maxFields          = 10   // fields in a section
	maxHeaderChars     = 150  // header text
	maxButtonChars     = 75   // button text
	maxButtonValue     = 2000 // button value
	maxActionsElements = 25   // elements in an actions block
	maxFallbackChars   = 3000 // the notification text next to the blocks (Slack allows more)
)

// Action ids of rendered buttons: the prefix says whether the press is dispatched at once
// or asks for a reason first; the suffix keeps them unique within the message.
const (
	actionCommand = "mfa_cmd_"
	actionReason  = "mfa_reason_"
	// actionLink marks a link button: Slack opens its URL and still sends the press,
	// which the adapter acknowledges and ignores (it carries no command).
	actionLink = "mfa_link_"
)

// maxButtonURL is Slack's limit on a button's url.
const maxButtonURL = 3000

// Render turns msg into Block Kit blocks: a header with the tone's emoji, the text, the
// facts as fields, each section as a list, the progress bar, the buttons and the footer.
// Every piece of text is escaped for mrkdwn and marked verbatim, so user-supplied text
// (a reason, a display name) can neither mention anyone nor spoof a link. Texts are cut
// to Slack's limits, and a message that would exceed 50 blocks loses middle blocks
// (text, facts, lists) before the progress, buttons and footer. Image and Files are not
// blocks: Post uploads them.
func Render(msg bot.Message) []slackapi.Block {
	var head, body, tail []slackapi.Block
	if title := strings.TrimSpace(msg.Title); title != "" {
		if e := toneEmoji(msg.Tone); e != "" {
			title = e + " " + title
		}
		head = append(head, slackapi.NewHeaderBlock(plain(truncate(title, maxHeaderChars))))
	}
	for _, chunk := range textChunks(msg.Text) {
		body = append(body, slackapi.NewSectionBlock(mrkdwn(chunk), nil, nil))
	}
	body = append(body, factBlocks(msg.Facts)...)
	for _, s := range msg.Sections {
		if b := sectionBlock(s); b != nil {
			body = append(body, b)
		}
	}
	if msg.Progress != nil {
		tail = append(tail, slackapi.NewSectionBlock(mrkdwn(progressLine(*msg.Progress)), nil, nil))
	}
	tail = append(tail, actionBlocks(msg.Buttons)...)
	if f := strings.TrimSpace(msg.Footer); f != "" {
		tail = append(tail, slackapi.NewContextBlock("", mrkdwn(truncate(escape(f), maxTextChars))))
	}
	if room := maxBlocks - len(head) - len(tail); len(body) > room {
		keep := max(room-1, 0)
		note := fmt.Sprintf("… %d more blocks left out (Slack shows at most %d)", len(body)-keep, maxBlocks)
		body = append(body[:keep:keep], slackapi.NewContextBlock("", mrkdwn(note)))
	}
	blocks := append(append(head, body...), tail...)
	if len(blocks) > maxBlocks {
		// Only when buttons alone exceed the budget; Slack would refuse the whole message.
		blocks = blocks[:maxBlocks]
	}
	return blocks
}

// FallbackText is the plain notification text sent with the blocks: the title and the
// first paragraph, escaped like the blocks.
func FallbackText(msg bot.Message) string {
	title := strings.TrimSpace(msg.Title)
	first, _, _ := strings.Cut(strings.TrimSpace(msg.Text), "\n\n")
	var s string
	switch {
	case title != "" && first != "":
		s = title + ": " + first
	case title != "":
		s = title
	case first != "":
		s = first
	default:
		s = "mfabot"
	}
	return truncate(escape(s), maxFallbackChars)
}

// escape makes s safe as mrkdwn: Slack parses only &, < and > as control characters, so
// "<!channel>" and "<http://evil|ok>" become visible text.
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// exact renders s as inline code, where Slack applies no formatting: mrkdwn has no escape
// for *, _ or ~, so a pass like "*x7*Qp" would otherwise lose its asterisks to bold.
// Inline code cannot hold a backtick; such a value is shown as escaped text.
func exact(s string) string {
	if strings.Contains(s, "`") {
		return escape(s)
	}
	return "`" + escape(s) + "`"
}

// truncate cuts s to at most n characters, ending with "…" when it cut. On escaped text it
// never splits an entity such as "&amp;".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return prefix(s, n-1) + "…"
}

// prefix returns the longest start of s with at most n characters that does not end
// inside an entity.
func prefix(s string, n int) string {
	i := 0
	for count := 0; i < len(s) && count < n; count++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	out := s[:i]
	if i < len(s) {
		if amp := strings.LastIndexByte(out, '&'); amp >= 0 && !strings.Contains(out[amp:], ";") && isEntityStart(s[amp:]) {
			out = out[:amp]
		}
	}
	return out
}

func isEntityStart(s string) bool {
	return strings.HasPrefix(s, "&amp;") || strings.HasPrefix(s, "&lt;") || strings.HasPrefix(s, "&gt;")
}

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, true, false)
}

// mrkdwn returns a verbatim mrkdwn text object; s must already be escaped. Verbatim stops
// Slack from turning bare URLs, channel names and mentions into links.
func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, true)
}

func toneEmoji(t bot.Tone) string {
	switch t {
	case bot.TonePending:
		return "⏳"
	case bot.ToneGood:
		return "✅"
	case bot.ToneWarning:
		return "⚠️"
	case bot.ToneBad:
		return "⛔"
	}
	return ""
}

// textChunks escapes the paragraphs of text and packs them into section-sized chunks.
func textChunks(text string) []string {
	var chunks []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			chunks = append(chunks, cur.String())
			cur.Reset()
		}
	}
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		p = escape(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		for utf8.RuneCountInString(p) > maxTextChars {
			flush()
			head := prefix(p, maxTextChars)
			chunks = append(chunks, head)
			p = p[len(head):]
		}
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+2+utf8.RuneCountInString(p) > maxTextChars {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteString("\n\n")
		}
		cur.WriteString(p)
	}
	flush()
	return chunks
}

// factBlocks renders facts as "*Label*\nValue" fields, ten to a section.
func factBlocks(facts []bot.Fact) []slackapi.Block {
	var fields []*slackapi.TextBlockObject
	for _, f := range facts {
		label, value := strings.TrimSpace(f.Label), strings.TrimSpace(f.Value)
		if label == "" && value == "" {
			continue
		}
		if value == "" {
			value = "—"
		}
		s := escape(value)
		if f.Exact {
			s = exact(value)
		}
		if label != "" {
			s = "*" + escape(label) + "*\n" + s
		}
		fields = append(fields, mrkdwn(truncate(s, maxFieldChars)))
	}
	var blocks []slackapi.Block
	for len(fields) > 0 {
		n := min(len(fields), maxFields)
		blocks = append(blocks, slackapi.NewSectionBlock(nil, fields[:n:n], nil))
		fields = fields[n:]
	}
	return blocks
}

// sectionBlock renders a titled list, leaving out the lines that do not fit and counting
// them with the ones the caller already left out.
func sectionBlock(s bot.Section) slackapi.Block {
	title := strings.TrimSpace(s.Title)
	if title == "" && len(s.Lines) == 0 && s.More == 0 {
		return nil
	}
	var b strings.Builder
	if title != "" {
		b.WriteString("*" + truncate(escape(title), 200) + "*")
	}
	more := s.More
	// Room for the "… and N more" line however large N gets.
	const moreRoom = 40
	chars := utf8.RuneCountInString(b.String())
	for i, line := range s.Lines {
		l := "• " + truncate(escape(strings.TrimSpace(line)), 500)
		n := utf8.RuneCountInString(l)
		if chars+1+n > maxTextChars-moreRoom {
			more += len(s.Lines) - i
			break
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			chars++
		}
		b.WriteString(l)
		chars += n
	}
	if more > 0 {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("… and " + bot.Thousands(more) + " more")
	}
	return slackapi.NewSectionBlock(mrkdwn(b.String()), nil, nil)
}

// progressLine draws "▰▰▰▱▱▱▱▱▱▱ 3,200 / 10,000 done · 12 failed".
func progressLine(p bot.Progress) string {
	const width = 10
	filled := 0
	if p.Total > 0 {
		filled = min(max(p.Done*width/p.Total, 0), width)
	}
	s := strings.Repeat("▰", filled) + strings.Repeat("▱", width-filled) +
		" " + bot.Thousands(p.Done) + " / " + bot.Thousands(p.Total) + " done"
	if p.Failed > 0 {
		s += " · " + bot.Thousands(p.Failed) + " failed"
	}
	return s
}

// actionBlocks renders the buttons, 25 to an actions block. A button's value is its
// command; one whose command does not fit a button value is left out rather than cut,
// since a cut command would do something else.
func actionBlocks(buttons []bot.Button) []slackapi.Block {
	var elems []slackapi.BlockElement
	for i, btn := range buttons {
		if btn.URL != "" {
			if len(btn.URL) <= maxButtonURL {
				elems = append(elems, linkButton(actionLink+strconv.Itoa(i), btn))
			}
			continue
		}
		if btn.Command == "" || len(btn.Command) > maxButtonValue {
			continue
		}
		id := actionCommand + strconv.Itoa(i)
		if btn.NeedsReason {
			id = actionReason + strconv.Itoa(i)
		}
		label := strings.TrimSpace(btn.Label)
		if label == "" {
			label = btn.Command
		}
		e := slackapi.NewButtonBlockElement(id, btn.Command, plain(truncate(label, maxButtonChars)))
		switch btn.Style {
		case bot.ButtonPrimary:
			e.Style = slackapi.StylePrimary
		case bot.ButtonDanger:
			e.Style = slackapi.StyleDanger
		}
		elems = append(elems, e)
	}
	var blocks []slackapi.Block
	for k := 0; len(elems) > 0; k++ {
		n := min(len(elems), maxActionsElements)
		blocks = append(blocks, slackapi.NewActionBlock("mfa_actions_"+strconv.Itoa(k), elems[:n:n]...))
		elems = elems[n:]
	}
	return blocks
}

// linkButton renders a button that opens btn.URL in the presser's browser.
func linkButton(id string, btn bot.Button) *slackapi.ButtonBlockElement {
	e := slackapi.NewButtonBlockElement(id, "", plain(truncate(strings.TrimSpace(btn.Label), maxButtonChars)))
	e.URL = btn.URL
	if btn.Style == bot.ButtonPrimary {
		e.Style = slackapi.StylePrimary
	}
	return e
}
