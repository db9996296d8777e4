package slack_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// clock is a settable approvals.Clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Slack's example request from "Verifying requests from Slack".
const (
	slackExampleSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	slackExampleTimestamp = "1531420618"
	slackExampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	slackExampleBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)

// TestSlackExampleThroughHandler: Slack's published request, sent byte for byte to the
// endpoint with the adapter's clock at its timestamp, is accepted and dispatched as the
// user it names; the same request five minutes and a second later is refused with 401
// and reaches nobody.
func TestSlackExampleThroughHandler(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	clk := &clock{t: time.Unix(1531420618, 0)}
	d := newRecorder(nil) // no reply: the example's response_url is the real Slack's
	ad, err := slack.New(slack.Config{BotToken: slacktest.BotToken, SigningSecret: slackExampleSecret,
		APIURL: fake.APIURL(), Channel: slacktest.Channel, TeamID: "T1DC2JH3J", Clock: clk}, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ad.Close(context.Background()) })
	srv := httptest.NewServer(ad.Handler())
	t.Cleanup(srv.Close)
	send := func() int {
		h := http.Header{}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("X-Slack-Request-Timestamp", slackExampleTimestamp)
		h.Set("X-Slack-Signature", slackExampleSignature)
		ans, err := slacktest.Sender{URL: srv.URL}.Post(context.Background(), slack.CommandsPath, []byte(slackExampleBody), h)
		if err != nil {
			t.Fatal(err)
		}
		return ans.Status
	}
	if st := send(); st != http.StatusOK {
		t.Fatalf("Slack's example got %d, want 200", st)
	}
	f := &fixture{d: d}
	ev := f.waitEvent(t)
	if ev.Actor.ID != "U2CERLKJA" || ev.Actor.Name != "roadrunner" || ev.Conversation.ID != "G8PSS9T3V" || ev.Text != "" {
		t.Fatalf("event = %+v", ev)
	}
	clk.Add(5*time.Minute + time.Second)
	if st := send(); st != http.StatusUnauthorized {
		t.Fatalf("the example replayed after the window got %d, want 401", st)
	}
	if err := ad.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := d.count(); n != 1 {
		t.Fatalf("dispatcher called %d times, want 1", n)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Fatalf("Slack was called: %+v", calls)
	}
}

// TestForgedRequestsDoNothing: a request that fails the signature check gets 401 and
// causes no dispatch and no call to Slack at all.
func TestForgedRequestsDoNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	before := len(f.slack.Calls())
	ctx := context.Background()
	press := slacktest.Press{TeamID: slacktest.TeamID, AppID: slacktest.AppID, UserID: "UANN", ChannelID: slacktest.Channel,
		ActionID: "mfa_cmd_0", BlockID: "mfa_actions_0", Value: "approve R-1", ResponseURL: f.slack.NewResponseURL()}
	body := []byte("payload=" + string(press.Payload()))
	for name, h := range map[string]http.Header{
		"ErrForged":  slacktest.SignRequest("guessed", time.Now(), body),
		"ErrStale":   slacktest.SignRequest(secret, time.Now().Add(-10*time.Minute), body),
		"ErrFuture":  slacktest.SignRequest(secret, time.Now().Add(10*time.Minute), body),
		"ErrNoSig":   {"Content-Type": {"application/x-www-form-urlencoded"}},
		"ErrBadHead": {"X-Slack-Request-Timestamp": {"now"}, "X-Slack-Signature": {"v0=00"}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{slack.CommandsPath, slack.InteractionsPath} {
				ans, err := f.sender.Post(ctx, path, body, h)
				if err != nil {
					t.Fatal(err)
				}
				if ans.Status != http.StatusUnauthorized {
					t.Fatalf("%s: status %d, want 401", path, ans.Status)
				}
			}
		})
	}
	big := make([]byte, 2<<20)
	if ans, _ := f.sender.Post(ctx, slack.CommandsPath, big, slacktest.SignRequest(secret, time.Now(), big)); ans.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: status %d, want 413", ans.Status)
	}
	if err := f.ad.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.d.count(); n != 0 {
		t.Fatalf("dispatcher called %d times", n)
	}
	if calls := f.slack.Calls(); len(calls) != before {
		t.Fatalf("Slack was called: %+v", calls[before:])
	}
}

// TestRefusedOrigins: requests from another workspace, organisation or app, and clicks by
// a member of another organisation in a shared channel, are answered with a clear refusal
// and never dispatched.
func TestRefusedOrigins(t *testing.T) {
	t.Parallel()
	const org = "E0MFAORG01"
	f := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) {
		c.TeamID, c.EnterpriseID, c.AppID = slacktest.TeamID, org, slacktest.AppID
	})
	ctx := context.Background()
	ref, err := f.ad.Post(ctx, approvalCard())
	if err != nil {
		t.Fatal(err)
	}
	commands := map[string]func(c *slacktest.Command){
		"ErrOtherWorkspace":    func(c *slacktest.Command) { c.TeamID, c.EnterpriseID = "T0THER", org },
		"ErrOtherOrganisation": func(c *slacktest.Command) { c.EnterpriseID = "E0THER" },
		"ErrNoOrganisation":    func(c *slacktest.Command) { c.EnterpriseID = "" },
		"ErrOtherApp":          func(c *slacktest.Command) { c.AppID, c.EnterpriseID = "A0THER", org },
	}
	for name, change := range commands {
		t.Run("Command/"+name, func(t *testing.T) {
			cmd := f.slack.Command(f.ann, slacktest.Channel, "reset adele.vance@contoso.com")
			change(&cmd)
			ans, err := f.sender.Command(ctx, cmd)
			if err != nil {
				t.Fatal(err)
			}
			var ack struct {
				ResponseType string `json:"response_type"`
				Text         string `json:"text"`
			}
			if err := json.Unmarshal(ans.Body, &ack); err != nil || ans.Status != 200 {
				t.Fatalf("ack %d %s: %v", ans.Status, ans.Body, err)
			}
			if ack.ResponseType != "ephemeral" || !strings.Contains(ack.Text, "refused") {
				t.Fatalf("refusal = %+v", ack)
			}
		})
	}
	t.Run("Press/ErrSharedChannelGuest", func(t *testing.T) {
		guest := slacktest.User{ID: "UGUEST", Name: "guest", TeamID: "T0THER"}
		f.slack.AddUser(guest)
		press, err := f.slack.Press(guest, ref.Channel, ref.MessageID, "Approve")
		if err != nil {
			t.Fatal(err)
		}
		press.EnterpriseID = org
		if ans, err := f.sender.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
			t.Fatalf("press: %+v %v", ans, err)
		}
		for _, c := range f.slack.WaitCalls(t, "response_url", 1) {
			if c.Args["url"] == press.ResponseURL {
				if !strings.Contains(c.Args["text"], "refused") || c.Args["response_type"] != "ephemeral" || c.Args["replace_original"] != "false" {
					t.Fatalf("refusal = %+v", c.Args)
				}
				return
			}
		}
		t.Fatal("no refusal at the press's response_url")
	})
	t.Run("Submission/ErrOtherWorkspace", func(t *testing.T) {
		sub := slacktest.Submission{TeamID: "T0THER", EnterpriseID: org, AppID: slacktest.AppID, UserID: "UANN",
			CallbackID: "mfa_reason", PrivateMetadata: `{"c":"deny R-7K2QXA"}`,
			Values: map[string]map[string]string{"reason": {"reason": "no"}}}
		ans, err := f.sender.Interaction(ctx, sub.Payload())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(ans.Body), `"response_action":"errors"`) || !strings.Contains(string(ans.Body), "refused") {
			t.Fatalf("ack = %s", ans.Body)
		}
	})
	if err := f.ad.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.d.count(); n != 0 {
		t.Fatalf("the dispatcher was called %d times for refused requests", n)
	}
	t.Run("OK", func(t *testing.T) {
		g := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) {
			c.TeamID, c.EnterpriseID, c.AppID = slacktest.TeamID, org, slacktest.AppID
		})
		cmd := g.slack.Command(g.ann, slacktest.Channel, "help")
		cmd.EnterpriseID = org
		if ans, err := g.sender.Command(ctx, cmd); err != nil || ans.Status != 200 || len(ans.Body) != 0 {
			t.Fatalf("own workspace: %+v %v", ans, err)
		}
		if ev := g.waitEvent(t); ev.Text != "help" {
			t.Fatalf("event = %+v", ev)
		}
	})
}

// TestNotConnectedRefuses: without a configured or learned workspace the adapter serves
// nobody, rather than everybody.
func TestNotConnectedRefuses(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	d := newRecorder(nil)
	ad, err := slack.New(slack.Config{BotToken: slacktest.BotToken, SigningSecret: secret, APIURL: fake.APIURL(), Channel: slacktest.Channel}, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ad.Close(context.Background()) })
	if ad.Ready() == nil {
		t.Fatal("ready before Connect")
	}
	srv := httptest.NewServer(ad.Handler())
	t.Cleanup(srv.Close)
	ans, err := slacktest.Sender{URL: srv.URL, Secret: secret}.Command(context.Background(), fake.Command(slacktest.User{ID: "UANN"}, slacktest.Channel, "help"))
	if err != nil || !strings.Contains(string(ans.Body), "connecting") {
		t.Fatalf("ack = %s %v", ans.Body, err)
	}
	if err := ad.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.count() != 0 {
		t.Fatal("dispatched before the workspace was known")
	}
}

// TestReasonModalValidation: an empty or overlong reason keeps the modal open with an
// error under the input, and nothing is dispatched; a good one is dispatched on one line.
func TestReasonModalValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	ctx := context.Background()
	ref, err := f.ad.Post(ctx, approvalCard())
	if err != nil {
		t.Fatal(err)
	}
	press, err := f.slack.Press(f.ann, ref.Channel, ref.MessageID, "Deny")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sender.Interaction(ctx, press.Payload()); err != nil {
		t.Fatal(err)
	}
	opened := f.slack.WaitCalls(t, "views.open", 1)
	if opened[0].Error != "" {
		t.Fatalf("views.open: %s", opened[0].Error)
	}
	view := f.slack.Views()[0]
	if view.CallbackID != "mfa_reason" || !strings.Contains(view.PrivateMetadata, "deny R-7K2QXA") {
		t.Fatalf("view = %+v", view)
	}
	tests := []struct {
		name, reason, wantErr, wantReason string
	}{
		{"ErrEmpty", "   \n\t ", "A reason is required.", ""},
		{"ErrTooLong", strings.Repeat("é", 1001), "under 1000", ""},
		// The reason travels as typed beside the command; the dispatcher folds it.
		{"OK", "  travel\n\nfreeze <!here> ", "", "  travel\n\nfreeze <!here> "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := f.slack.Submit(f.ann, view.ID, map[string]map[string]string{"reason": {"reason": tt.reason}})
			if err != nil {
				t.Fatal(err)
			}
			before := f.d.count()
			ans, err := f.sender.Interaction(ctx, sub.Payload())
			if err != nil || ans.Status != 200 {
				t.Fatalf("submit: %+v %v", ans, err)
			}
			if tt.wantErr != "" {
				var resp struct {
					Action string            `json:"response_action"`
					Errors map[string]string `json:"errors"`
				}
				if err := json.Unmarshal(ans.Body, &resp); err != nil || resp.Action != "errors" || !strings.Contains(resp.Errors["reason"], tt.wantErr) {
					t.Fatalf("ack = %s (%v)", ans.Body, err)
				}
				if f.d.count() != before {
					t.Fatal("an invalid reason was dispatched")
				}
				return
			}
			if len(ans.Body) != 0 {
				t.Fatalf("ack = %s, want empty (closes the modal)", ans.Body)
			}
			ev := f.waitEvent(t)
			if ev.Text != "deny R-7K2QXA" || ev.Reason != tt.wantReason || !ev.Button || ev.Actor.ID != "UANN" || ev.Conversation.ID != ref.Channel {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

// TestReplies: a public reply goes in_channel; a reply whose response_url no longer works
// falls back to chat.postEphemeral; attachments of a private reply go by direct message.
func TestReplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("OKPublic", func(t *testing.T) {
		f := newFixture(t, newRecorder(func(bot.Event) bot.Response {
			return bot.Response{Reply: &bot.Message{Title: "Pending requests"}, Public: true}
		}))
		if _, err := f.sender.Command(ctx, f.slack.Command(f.ann, slacktest.Channel, "pending")); err != nil {
			t.Fatal(err)
		}
		c := f.slack.WaitCalls(t, "response_url", 1)[0]
		if c.Args["response_type"] != "in_channel" || c.Error != "" {
			t.Fatalf("reply = %+v", c)
		}
	})
	t.Run("OKFallbackEphemeral", func(t *testing.T) {
		f := newFixture(t, newRecorder(func(bot.Event) bot.Response {
			return bot.Response{Reply: &bot.Message{Text: "no such request"}}
		}))
		cmd := f.slack.Command(f.ann, slacktest.Channel, "show R-NOPE")
		cmd.ResponseURL = f.slack.URL + "/response/expired"
		if _, err := f.sender.Command(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		c := f.slack.WaitCalls(t, "chat.postEphemeral", 1)[0]
		if c.Args["channel"] != slacktest.Channel || c.Args["user"] != "UANN" || c.Error != "" || !strings.Contains(c.Args["text"], "no such request") {
			t.Fatalf("fallback = %+v", c)
		}
	})
	t.Run("OKAttachmentsByDM", func(t *testing.T) {
		f := newFixture(t, newRecorder(func(bot.Event) bot.Response {
			return bot.Response{Reply: &bot.Message{Title: "Enrollment", Text: "72% registered",
				Files: []bot.File{{Name: "unregistered.csv", ContentType: "text/csv", Data: []byte("upn\nann@contoso.com\n")}}}}
		}))
		if _, err := f.sender.Command(ctx, f.slack.Command(f.ann, slacktest.Channel, "summary")); err != nil {
			t.Fatal(err)
		}
		f.slack.WaitCalls(t, "response_url", 1)
		f.slack.WaitCalls(t, "files.completeUploadExternal", 1)
		files := f.slack.Files()
		if len(files) != 1 || files[0].Channel != "DANN" || string(files[0].Data) != "upn\nann@contoso.com\n" {
			t.Fatalf("files = %+v", files)
		}
	})
}

// TestShutdown: Shutdown waits for a command being handled, and afterwards requests are
// turned away with 503.
func TestShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFixture(t, newRecorder(func(bot.Event) bot.Response {
		<-release
		return bot.Response{Reply: &bot.Message{Text: "done"}}
	}))
	ctx := context.Background()
	if _, err := f.sender.Command(ctx, f.slack.Command(f.ann, slacktest.Channel, "status ann")); err != nil {
		t.Fatal(err)
	}
	f.waitEvent(t)
	type closed struct {
		err     error
		replies int // response_url calls when Close returned
	}
	stopped := make(chan closed, 1)
	go func() {
		err := f.ad.Close(ctx)
		stopped <- closed{err, len(f.slack.Calls("response_url"))}
	}()
	// Polled: Close announces nothing before it returns, and it must not return yet.
	waitUntil(t, "Close to begin", f.ad.Closing)
	ans, err := f.sender.Command(ctx, f.slack.Command(f.ann, slacktest.Channel, "status ann"))
	if err != nil || ans.Status != http.StatusServiceUnavailable {
		t.Fatalf("during shutdown: %d %v, want 503", ans.Status, err)
	}
	select {
	case c := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a command was being handled", c.err)
	default:
	}
	close(release)
	c := <-stopped
	if c.err != nil {
		t.Fatal(c.err)
	}
	if c.replies != 1 {
		t.Fatalf("the reply of the command in flight was not delivered before Shutdown returned: %d", c.replies)
	}
}

type nopDispatcher struct{}

func (nopDispatcher) Handle(context.Context, bot.Event) bot.Response { return bot.Response{} }

// BenchmarkCommandAck measures what Slack waits for before its 3-second deadline: a signed
// slash command over HTTP until the acknowledgement (signature, parse, origin check,
// background start).
func BenchmarkCommandAck(b *testing.B) {
	fake := slacktest.Start(b)
	ad, err := slack.New(slack.Config{BotToken: slacktest.BotToken, SigningSecret: secret, APIURL: fake.APIURL(),
		Channel: slacktest.Channel, TeamID: slacktest.TeamID, Logger: slog.New(slog.DiscardHandler)}, nopDispatcher{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(ad.Handler())
	b.Cleanup(srv.Close)
	b.Cleanup(func() { _ = ad.Close(context.Background()) })
	sender := slacktest.Sender{URL: srv.URL, Secret: secret}
	cmd := fake.Command(slacktest.User{ID: "UANN", Name: "ann"}, slacktest.Channel, "status adele.vance@contoso.com")
	ctx := context.Background()
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		ans, err := sender.Command(ctx, cmd)
		if err != nil || ans.Status != http.StatusOK {
			b.Fatalf("ack %d %v", ans.Status, err)
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms/ack")
}
