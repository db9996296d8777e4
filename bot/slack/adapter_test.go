package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const secret = "test-signing-secret"

// recorder is a func-field fake dispatcher that remembers the events it was given.
type recorder struct {
	mu     sync.Mutex
	events []bot.Event
	reply  func(bot.Event) bot.Response
	seen   chan struct{}
}

func newRecorder(reply func(bot.Event) bot.Response) *recorder {
	return &recorder{reply: reply, seen: make(chan struct{}, 100)}
}

func (r *recorder) Handle(_ context.Context, ev bot.Event) bot.Response {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.seen <- struct{}{}
	if r.reply == nil {
		return bot.Response{}
	}
	return r.reply(ev)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

type fixture struct {
	slack  *slacktest.Server
	ad     *slack.Adapter
	sender slacktest.Sender
	d      *recorder
	ann    slacktest.User
}

func newFixture(t *testing.T, d *recorder) *fixture {
	t.Helper()
	return newFixtureWith(t, d, nil, nil)
}

// newFixtureWith starts a fake Slack and an adapter serving HTTP against it; configure
// adjusts the config first, and users resolves profile e-mails.
func newFixtureWith(t *testing.T, d *recorder, users slack.UserResolver, configure func(*slack.Config)) *fixture {
	t.Helper()
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"}
	fake.AddUser(ann)
	cfg := slack.Config{
		BotToken: slacktest.BotToken, SigningSecret: secret, APIURL: fake.APIURL(), Channel: slacktest.Channel,
		UserMap: map[string]string{"UANN": "oid-ann"}, UpdateInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(&cfg)
	}
	ad, err := slack.New(cfg, d, users)
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ad.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = ad.Close(context.Background()) })
	sender := slacktest.Sender{URL: srv.URL, Secret: secret}
	if cfg.Clock != nil {
		sender.Now = cfg.Clock.Now
	}
	return &fixture{slack: fake, ad: ad, sender: sender, d: d, ann: ann}
}

func (f *fixture) waitEvent(t *testing.T) bot.Event {
	t.Helper()
	select {
	case <-f.d.seen:
	case <-time.After(5 * time.Second):
		t.Fatal("the dispatcher was not called")
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	return f.d.events[len(f.d.events)-1]
}

// TestSlashCommand: the command is acknowledged while the dispatcher is still working
// (Slack gives up after 3 s), the verified user and the text reach the dispatcher
// unchanged, and the reply arrives later through response_url, ephemeral and escaped.
func TestSlashCommand(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newRecorder(func(ev bot.Event) bot.Response {
		<-release
		return bot.Response{Reply: &bot.Message{Title: "Done", Text: "reason: <!channel> <http://evil|ok>"}}
	})
	f := newFixture(t, slow)
	cmd := f.slack.Command(f.ann, slacktest.Channel, "reset adele.vance@contoso.com lost phone")
	ans, err := f.sender.Command(context.Background(), cmd)
	close(release) // only now may the dispatcher finish: the ack did not wait for it
	if err != nil {
		t.Fatal(err)
	}
	if ans.Status != 200 || len(ans.Body) != 0 {
		t.Fatalf("ack = %d %q, want an empty 200", ans.Status, ans.Body)
	}
	ev := f.waitEvent(t)
	want := approvals.Actor{Platform: "slack", ID: "UANN", Name: "ann", EntraID: "oid-ann"}
	if ev.Actor != want || ev.Text != "reset adele.vance@contoso.com lost phone" || ev.Button {
		t.Fatalf("event = %+v", ev)
	}
	if ev.Conversation != (bot.Conversation{Platform: "slack", ID: slacktest.Channel, Name: "approvals"}) {
		t.Fatalf("conversation = %+v", ev.Conversation)
	}
	calls := f.slack.WaitCalls(t, "response_url", 1)
	if calls[0].Args["url"] != cmd.ResponseURL || calls[0].Error != "" {
		t.Fatalf("reply went to %s (%s), want the command's response_url", calls[0].Args["url"], calls[0].Error)
	}
	body := calls[0].Args["blocks"] + calls[0].Args["text"]
	if strings.Contains(body, "<!channel>") || strings.Contains(body, "<http://evil|ok>") || !strings.Contains(body, "&lt;!channel&gt;") {
		t.Fatalf("reply not escaped for mrkdwn: %s", body)
	}
	if calls[0].Args["response_type"] != "ephemeral" {
		t.Fatalf("response_type = %q, want ephemeral", calls[0].Args["response_type"])
	}
}

func TestRefusedRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	ctx := context.Background()
	good := f.slack.Command(f.ann, slacktest.Channel, "status ann@contoso.com")
	body := good.Form()
	stale := slacktest.SignRequest(secret, time.Now().Add(-6*time.Minute), body)
	forged := slacktest.SignRequest("not-the-secret", time.Now(), body)
	tampered := slacktest.SignRequest(secret, time.Now(), body)
	for name, tc := range map[string]struct {
		body []byte
		h    map[string][]string
	}{
		"ErrStale":    {body, stale},
		"ErrForged":   {body, forged},
		"ErrTampered": {append(append([]byte{}, body...), "&x=1"...), tampered},
		"ErrUnsigned": {body, map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}},
	} {
		t.Run(name, func(t *testing.T) {
			ans, err := f.sender.Post(ctx, "/slack/commands", tc.body, tc.h)
			if err != nil {
				t.Fatal(err)
			}
			if ans.Status != 401 {
				t.Fatalf("status = %d, want 401", ans.Status)
			}
		})
	}
	other := good
	other.TeamID = "T0THER"
	ans, err := f.sender.Command(ctx, other)
	if err != nil || ans.Status != 200 || !strings.Contains(string(ans.Body), "workspace") {
		t.Fatalf("foreign workspace: %d %s %v", ans.Status, ans.Body, err)
	}
	otherApp := good
	otherApp.AppID = "A0THER"
	if ans, _ := f.sender.Command(ctx, otherApp); ans.Status != 200 || len(ans.Body) == 0 {
		t.Fatalf("foreign app: %d %s", ans.Status, ans.Body)
	}
	// Close waits for every dispatch started; then the count is final.
	if err := f.ad.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.d.count(); n != 0 {
		t.Fatalf("the dispatcher was called %d times for refused requests", n)
	}
}

// approvalCard is a pending approval card with Approve and Deny.
func approvalCard() bot.Message {
	return bot.Message{Title: "Reset MFA for adele.vance@contoso.com", Tone: bot.TonePending, RequestID: "R-7K2QXA",
		Facts: []bot.Fact{{Label: "Reason", Value: "<!channel>"}},
		Buttons: []bot.Button{{Label: "Approve", Command: "approve R-7K2QXA", Style: bot.ButtonPrimary},
			{Label: "Deny", Command: "deny R-7K2QXA", Style: bot.ButtonDanger, NeedsReason: true}}}
}

func TestApprovalCardButtonsAndDenyModal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(func(ev bot.Event) bot.Response {
		if strings.HasPrefix(ev.Text, "approve") {
			return bot.Response{Reply: &bot.Message{Text: "you cannot approve or deny your own request", Tone: bot.ToneBad}}
		}
		return bot.Response{}
	}))
	ctx := context.Background()
	card := bot.Message{Title: "Reset MFA for adele.vance@contoso.com", Tone: bot.TonePending, RequestID: "R-7K2QXA",
		Facts: []bot.Fact{{Label: "Reason", Value: "<!channel>"}},
		Buttons: []bot.Button{{Label: "Approve", Command: "approve R-7K2QXA", Style: bot.ButtonPrimary},
			{Label: "Deny", Command: "deny R-7K2QXA", Style: bot.ButtonDanger, NeedsReason: true}}}
	ref, err := f.ad.Post(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	press, err := f.slack.Press(f.ann, ref.Channel, ref.MessageID, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := f.sender.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("press: %v %v", ans, err)
	}
	ev := f.waitEvent(t)
	if !ev.Button || ev.Text != "approve R-7K2QXA" || ev.Actor.ID != "UANN" {
		t.Fatalf("event = %+v", ev)
	}
	refusal := f.slack.WaitCalls(t, "response_url", 1)[0]
	if refusal.Args["replace_original"] == "true" || !strings.Contains(refusal.Args["text"]+refusal.Args["blocks"], "your own request") {
		t.Fatalf("refusal = %+v", refusal.Args)
	}
	if m, _ := f.slack.Message(ref.Channel, ref.MessageID); m.Updates != 0 {
		t.Fatal("a refused click changed the card")
	}

	deny, err := f.slack.Press(f.ann, ref.Channel, ref.MessageID, "Deny")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sender.Interaction(ctx, deny.Payload()); err != nil {
		t.Fatal(err)
	}
	f.slack.WaitCalls(t, "views.open", 1)
	views := f.slack.Views()
	if len(views) != 1 {
		t.Fatalf("views = %d", len(views))
	}
	var blockID, actionID string
	var v struct {
		Blocks []struct {
			Type    string `json:"type"`
			BlockID string `json:"block_id"`
			Element struct {
				ActionID string `json:"action_id"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(views[0].JSON, &v); err != nil {
		t.Fatal(err)
	}
	for _, b := range v.Blocks {
		if b.Type == "input" {
			blockID, actionID = b.BlockID, b.Element.ActionID
		}
	}
	sub, err := f.slack.Submit(f.ann, views[0].ID, map[string]map[string]string{blockID: {actionID: "not during\nthe freeze"}})
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := f.sender.Interaction(ctx, sub.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("submit: %v %v", ans, err)
	}
	ev = f.waitEvent(t)
	// The reason travels beside the command; the dispatcher applies it.
	if ev.Text != "deny R-7K2QXA" || ev.Reason != "not during\nthe freeze" {
		t.Fatalf("deny event text = %q, reason %q", ev.Text, ev.Reason)
	}
}

func TestUpdateKeepsFinalState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	ctx := context.Background()
	ref, err := f.ad.Post(ctx, bot.Message{Title: "running"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := f.ad.Update(ctx, ref, bot.Message{Title: "running", Progress: &bot.Progress{Done: i, Total: 100}}); err != nil {
			t.Fatal(err)
		}
	}
	f.slack.RateLimit("chat.update", 1, time.Second)
	if err := f.ad.Update(ctx, ref, bot.Message{Title: "succeeded", Progress: &bot.Progress{Done: 100, Total: 100}}); err != nil {
		t.Fatal(err)
	}
	m, _ := f.slack.Message(ref.Channel, ref.MessageID)
	if !strings.Contains(m.Text+string(m.Blocks), "succeeded") {
		t.Fatalf("final card = %s", m.Blocks)
	}
	if m.Updates >= 50 {
		t.Fatalf("%d updates: progress was not coalesced", m.Updates)
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	cards := map[string]bot.Message{
		"pending": {Title: "Reset MFA for adele.vance@contoso.com", Tone: bot.TonePending,
			Text:     "Deletes every method except the password.",
			Facts:    []bot.Fact{{Label: "Requested by", Value: "Ann (slack)"}, {Label: "Reason", Value: "<!channel> <http://evil|ok> & *bold*"}},
			Sections: []bot.Section{{Title: "Methods to delete", Lines: []string{"microsoftAuthenticator iPhone", "phone (mobile) +1 ••• 5555"}}},
			Buttons: []bot.Button{{Label: "Approve", Command: "approve R-7K2QXA", Style: bot.ButtonPrimary},
				{Label: "Deny", Command: "deny R-7K2QXA", Style: bot.ButtonDanger, NeedsReason: true}},
			Footer: "R-7K2QXA · expires 10:00 UTC"},
		"running": {Title: "Revoke sessions of All Staff", Tone: bot.TonePending,
			Progress: &bot.Progress{Done: 3200, Failed: 12, Total: 10000}},
		"partly-failed": {Title: "Revoke sessions of All Staff", Tone: bot.ToneWarning,
			Progress: &bot.Progress{Done: 10000, Failed: 2, Total: 10000},
			Sections: []bot.Section{{Title: "Failed", Lines: []string{"gone@contoso.com — no user"}, More: 40}}},
		"status": {Title: "Adele Vance (adele.vance@contoso.com)", Tone: bot.ToneNeutral,
			Facts: []bot.Fact{{Label: "MFA registered", Value: "yes"}, {Label: "Default method", Value: "microsoftAuthenticatorPush"},
				{Label: "Per-user MFA", Value: "enforced"}, {Label: "Account", Value: "enabled"}},
			Sections: []bot.Section{{Title: "Methods", Lines: []string{"password", "microsoftAuthenticator iPhone 15", "phone (mobile) +1 ••• 5555"}}},
			Footer:   "as of 2026-11-22 09:00 UTC"},
		"refusal": {Title: "Not allowed", Tone: bot.ToneBad,
			Text: "You cannot approve or deny your own request R-7K2QXA: a second admin has to."},
	}
	for name, m := range cards {
		t.Run(name, func(t *testing.T) {
			got, err := renderJSON(m)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s differs from %s; review with go test -update:\n%s", name, path, got)
			}
			if strings.Contains(string(got), "<!channel>") || strings.Contains(string(got), "<http://evil") {
				t.Fatal("user text reached mrkdwn unescaped")
			}
		})
	}
}

// renderJSON is the rendered blocks as Slack receives them, without Go's HTML escaping so
// that a raw "<" from user text would show (Slack does not read \u003c as an escape).
func renderJSON(m bot.Message) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(slack.Render(m))
	return b.Bytes(), err
}
