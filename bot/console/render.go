package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/mfabot/mfabot/bot"
)

// cardTemplate renders one bot.Message. html/template escapes every value for its context
// (text, attribute, URL), which is the whole defence against a reason such as
// "<script>" or "<!channel>": it always arrives as text.
var cardTemplate = template.Must(template.New("card").Funcs(template.FuncMap{
	"paragraphs": paragraphs,
	"lines":      func(s string) []string { return strings.Split(s, "\n") },
	"thousands":  bot.Thousands,
	"percent":    percent,
	"fileURL":    FileURL,
	"size":       byteSize,
	"tone":       toneClass,
	"style":      styleClass,
	"plain":      isPlain,
}).ParseFS(assets, "assets/card.html"))

// RenderMessage renders m as an HTML fragment: an <article> with the title in the tone's
// colour, the text, the facts as a definition list, the progress bar, the inline image,
// each section as a list ending in "… and N more", file links, the buttons and the footer.
// It is a pure function of m: images and files are linked by FileURL, which is derived
// from their content, and buttons carry their command in data-command for the page script.
func RenderMessage(m bot.Message) (template.HTML, error) {
	var b bytes.Buffer
	if err := cardTemplate.ExecuteTemplate(&b, "card.html", m); err != nil {
		return "", fmt.Errorf("render message: %w", err)
	}
	return template.HTML(b.String()), nil //nolint:gosec // produced by html/template
}

// FileURL is the path under which the console serves f: /files/ and a hash of its
// content, so the same chart rendered twice has one URL and no URL can be guessed.
func FileURL(f bot.File) string { return "/files/" + fileID(f) }

func fileID(f bot.File) string {
	h := sha256.New()
	h.Write([]byte(f.Name))
	h.Write([]byte{0})
	h.Write([]byte(f.ContentType))
	h.Write([]byte{0})
	h.Write(f.Data)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// paragraphs splits text into paragraphs at blank lines, dropping empty ones.
func paragraphs(text string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if p = strings.Trim(p, "\n"); strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return out
}

// percent is how much of p is finished, 0–100, rounded down.
func percent(p bot.Progress) int {
	if p.Total <= 0 {
		return 0
	}
	return min(100, max(0, p.Done*100/p.Total))
}

func byteSize(n int) string {
	switch {
	case n < 1024:
		return strconv.Itoa(n) + " bytes"
	case n < 1024*1024:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KB"
	default:
		return strconv.FormatFloat(float64(n)/(1024*1024), 'f', 1, 64) + " MB"
	}
}

func toneClass(t bot.Tone) string {
	switch t {
	case bot.TonePending, bot.ToneGood, bot.ToneWarning, bot.ToneBad:
		return "tone-" + string(t)
	}
	return "tone-neutral"
}

func styleClass(s bot.ButtonStyle) string {
	switch s {
	case bot.ButtonPrimary, bot.ButtonDanger:
		return "btn-" + string(s)
	}
	return "btn-default"
}

// isPlain reports whether m is only text (a short reply), which is shown without a card frame.
func isPlain(m bot.Message) bool {
	return m.Title == "" && len(m.Facts) == 0 && len(m.Sections) == 0 && m.Progress == nil &&
		len(m.Buttons) == 0 && m.Image == nil && len(m.Files) == 0 && m.Footer == ""
}
