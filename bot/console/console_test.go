package console_test

import (
	"bufio"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/console"
)

var update = flag.Bool("update", false, "rewrite golden files")

type dispatcher struct {
	mu     sync.Mutex
	events []bot.Event
}

func (d *dispatcher) Handle(_ context.Context, ev bot.Event) bot.Response {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, ev)
	return bot.Response{Reply: &bot.Message{Text: "got " + ev.Text}}
}

func newConsole(t *testing.T) (*console.Adapter, *dispatcher, *httptest.Server) {
	t.Helper()
	d := &dispatcher{}
	c, err := console.New(console.Config{People: []console.Person{
		{ID: "ann", Name: "Ann Admin"}, {ID: "nina", Name: "Nina Newhire"},
	}}, d)
	if err != nil {
		t.Fatal(err)
	}
	return c, d, newServer(t, c)
}

// newServer serves c until the test ends.
func newServer(t *testing.T, c *console.Adapter) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { c.Close(); srv.Close() })
	return srv
}

func TestRenderGolden(t *testing.T) {
	m := bot.Message{Title: "Reset MFA for adele.vance@contoso.com", Tone: bot.TonePending, RequestID: "R-7K2QXA",
		Text:     "Deletes every method except the password.",
		Facts:    []bot.Fact{{Label: "Reason", Value: `<script>alert(1)</script> <!channel>`}},
		Progress: &bot.Progress{Done: 3200, Failed: 2, Total: 10000},
		Sections: []bot.Section{{Title: "Methods to delete", Lines: []string{"phone (mobile) +1 ••• 5555"}, More: 3}},
		Buttons: []bot.Button{{Label: "Approve", Command: "approve R-7K2QXA", Style: bot.ButtonPrimary},
			{Label: "Deny", Command: "deny R-7K2QXA", Style: bot.ButtonDanger, NeedsReason: true}},
		Footer: "R-7K2QXA"}
	html, err := console.RenderMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), "<script>") || !strings.Contains(string(html), "&lt;script&gt;") {
		t.Fatalf("user text not escaped: %s", html)
	}
	path := filepath.Join("testdata", "pending.golden.html")
	if *update {
		if err := os.WriteFile(path, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != string(html) {
		t.Fatalf("rendering differs from %s:\n%s", path, html)
	}
}

// A link button is an anchor opening a new tab without a referrer; a script URL is never
// rendered as a link.
func TestRenderLinkButton(t *testing.T) {
	html, err := console.RenderMessage(bot.Message{Title: "Sign in", Buttons: []bot.Button{
		{Label: "Sign in to approve", URL: "http://127.0.0.1:8080/stepup/tok", Style: bot.ButtonPrimary},
		{Label: "Evil", URL: "javascript:alert(1)"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<a class="btn btn-primary" href="http://127.0.0.1:8080/stepup/tok" target="_blank" rel="noopener noreferrer">Sign in to approve</a>`, `href="#ZgotmplZ"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("no %s in\n%s", want, html)
		}
	}
	if strings.Contains(string(html), "data-command") || strings.Contains(string(html), "javascript:") {
		t.Errorf("link rendered as a command or a script:\n%s", html)
	}
}

func post(t *testing.T, srv *httptest.Server, form url.Values, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/command", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCommandAndLiveUpdates(t *testing.T) {
	c, d, srv := newConsole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?as=ann", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	next := func(event string) string {
		for lines.Scan() {
			if lines.Text() == "event: "+event && lines.Scan() {
				return lines.Text()
			}
		}
		t.Fatalf("no %s event", event)
		return ""
	}
	next("reset")

	if r := post(t, srv, url.Values{"as": {"ann"}, "text": {"/mfa status adele.vance@contoso.com"}}, ""); r.StatusCode != 200 {
		t.Fatalf("command: %d", r.StatusCode)
	}
	d.mu.Lock()
	ev := d.events[0]
	d.mu.Unlock()
	want := approvals.Actor{Platform: "console", ID: "ann", Name: "Ann Admin"}
	if ev.Actor != want || ev.Text != "status adele.vance@contoso.com" || ev.Button {
		t.Fatalf("event = %+v", ev)
	}
	if data := next("append"); !strings.Contains(data, "got status") {
		t.Fatalf("reply event = %s", data)
	}
	ref, err := c.Post(ctx, bot.Message{Title: "card", RequestID: "R-1"})
	if err != nil {
		t.Fatal(err)
	}
	next("append")
	if err := c.Update(ctx, ref, bot.Message{Title: "card succeeded", RequestID: "R-1"}); err != nil {
		t.Fatal(err)
	}
	if data := next("replace"); !strings.Contains(data, "card succeeded") {
		t.Fatalf("replace event = %s", data)
	}
}

func TestRefusals(t *testing.T) {
	_, d, srv := newConsole(t)
	if r := post(t, srv, url.Values{"as": {"ann"}, "text": {"/mfa reset x@y.z"}}, "http://evil.example"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", r.StatusCode)
	}
	if r := post(t, srv, url.Values{"as": {"mallory"}, "text": {"/mfa reset x@y.z"}}, ""); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown person: %d", r.StatusCode)
	}
	if len(d.events) != 0 {
		t.Fatalf("dispatcher called for refused posts: %+v", d.events)
	}
	resp, err := http.Get(srv.URL + "/?as=ann")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
}
