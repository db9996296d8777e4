package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/console"
)

// formDispatcher answers a typed command with a form and records the submission.
type formDispatcher struct {
	mu     sync.Mutex
	events []bot.Event
}

func (d *formDispatcher) Handle(_ context.Context, ev bot.Event) bot.Response {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, ev)
	if ev.Form == nil {
		return bot.Response{Form: &bot.Form{Title: "Reset MFA for a list", Text: "Paste up to 1,000 users.", Command: "reset-bulk",
			Fields: []bot.Field{
				{ID: "users", Kind: bot.FieldLines, Label: "Users", Required: true, MaxChars: 100000},
				{ID: "only", Kind: bot.FieldChoice, Label: "Only", Value: "oath", Options: []bot.Option{{Value: "authenticator", Label: "Authenticator"}, {Value: "oath", Label: "OTP"}}},
				{ID: "tap", Kind: bot.FieldToggle, Label: "Temporary Access Pass"},
				{ID: "reason", Kind: bot.FieldText, Label: "Reason", Value: `<script>x</script>`},
			}}}
	}
	return bot.Response{Reply: &bot.Message{Text: "requested"}}
}

// TestForm: a form is shown to the asker alone, escaped; its post, with a list far
// longer than a command, reaches the dispatcher as Event.Form.
func TestForm(t *testing.T) {
	d := &formDispatcher{}
	c, err := console.New(console.Config{People: []console.Person{{ID: "ann", Name: "Ann Admin"}, {ID: "ben", Name: "Ben"}}}, d)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, c)
	if r := post(t, srv, url.Values{"as": {"ann"}, "text": {"/mfa reset-bulk"}}, ""); r.StatusCode != 200 {
		t.Fatalf("command: %d", r.StatusCode)
	}
	page := func(as string) string {
		resp, err := http.Get(srv.URL + "/?as=" + as)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	annPage := page("ann")
	for _, want := range []string{`data-form-command="reset-bulk"`, `<textarea name="users"`, `maxlength="100000"`, `value="oath" checked`,
		`data-toggle="true"`, `value="&lt;script&gt;x&lt;/script&gt;"`} {
		if !strings.Contains(annPage, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if strings.Contains(page("ben"), "data-form-command") {
		t.Error("Ben sees Ann's form")
	}
	list := strings.Repeat("adele.vance@contoso.com\n", 1000)
	form := url.Values{"as": {"ann"}, "text": {"reset-bulk"}, "button": {"true"}, "form": {"1"},
		"f.users": {list}, "f.only": {"authenticator", "oath"}, "f.tap": {"true"}, "f.reason": {"phishing"}}
	if r := post(t, srv, form, ""); r.StatusCode != 200 {
		t.Fatalf("form post: %d", r.StatusCode)
	}
	d.mu.Lock()
	ev := d.events[len(d.events)-1]
	d.mu.Unlock()
	if ev.Text != "reset-bulk" || ev.Actor != (approvals.Actor{Platform: "console", ID: "ann", Name: "Ann Admin"}) {
		t.Fatalf("event = %+v", ev)
	}
	if ev.Form["users"] != list || ev.Form["only"] != "authenticator,oath" || ev.Form["tap"] != "true" || ev.Form["reason"] != "phishing" {
		t.Fatalf("form = only %q tap %q reason %q, %d characters of users", ev.Form["only"], ev.Form["tap"], ev.Form["reason"], len(ev.Form["users"]))
	}
	// A plain command is still bounded as before.
	if r := post(t, srv, url.Values{"as": {"ann"}, "text": {"/mfa status " + strings.Repeat("x", 20000)}}, ""); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a long command: %d", r.StatusCode)
	}
	// A pass goes to Ann's direct messages only.
	how, err := c.TellPrivately(context.Background(), approvals.Actor{Platform: "console", ID: "ann"}, bot.Message{Facts: []bot.Fact{{Label: "Pass", Value: "Xy7!kQ2p"}}})
	if err != nil || how == "" {
		t.Fatal(how, err)
	}
	if strings.Contains(page("ben"), "Xy7!kQ2p") || !strings.Contains(page("ann"), "Xy7!kQ2p") {
		t.Fatal("the pass is not Ann's alone")
	}
}
