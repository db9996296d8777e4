package console

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"strings"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// A bot.Form is shown as an HTML form in the asker's own timeline, where nobody else sees
// it; the page script posts it to /command with form=1 and each value as f.<field id>.

// maxFormBody bounds a form post: a list of 1,000 users with its reason fits easily.
const maxFormBody = 256 << 10

var formTemplate = template.Must(template.New("form").Funcs(template.FuncMap{
	"paragraphs": paragraphs,
	"chosen": func(values, v string) bool {
		for _, x := range strings.Split(values, ",") {
			if strings.TrimSpace(x) == v {
				return true
			}
		}
		return false
	},
}).ParseFS(assets, "assets/form.html"))

// RenderForm renders f as an HTML form fragment.
func RenderForm(f bot.Form) (template.HTML, error) {
	if f.Submit == "" {
		f.Submit = "Submit"
	}
	var b bytes.Buffer
	if err := formTemplate.ExecuteTemplate(&b, "form.html", f); err != nil {
		return "", fmt.Errorf("render form: %w", err)
	}
	return template.HTML(b.String()), nil //nolint:gosec // produced by html/template
}

// replyForm shows f to one person only, below the command they typed.
func (a *Adapter) replyForm(p Person, echo string, f bot.Form) error {
	card, err := RenderForm(f)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	it := a.newItemLocked(kindReply, bot.Message{Title: f.Title}, card)
	it.echo = echo
	rs := append(a.replies[p.ID], it)
	if over := len(rs) - maxEphemeral; over > 0 {
		rs = append([]*item(nil), rs[over:]...)
	}
	a.replies[p.ID] = rs
	a.publishLocked(p.ID, event{Name: "append", Data: a.itemEventLocked(it, "timeline")})
	return nil
}

// formValues are the f.<field id> values of a form post.
func formValues(values map[string][]string) map[string]string {
	out := map[string]string{}
	for k, vs := range values {
		if id, ok := strings.CutPrefix(k, "f."); ok && id != "" {
			out[id] = strings.Join(vs, ",")
		}
	}
	return out
}

// TellPrivately puts msg into the person's direct messages, which only they see on the
// page (bot.PrivateTeller).
func (a *Adapter) TellPrivately(ctx context.Context, to approvals.Actor, msg bot.Message) (string, error) {
	if err := a.Tell(ctx, bot.Recipient{Actor: &to}, msg); err != nil {
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "the console cannot reach %s", to.Key())
	}
	return "a direct message in the demo console", nil
}

var _ bot.PrivateTeller = (*Adapter)(nil)
