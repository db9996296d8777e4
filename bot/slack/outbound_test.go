package slack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

func TestPostWithAttachments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 300)
	csv := []byte("upn,registered\nann@contoso.com,false\n")
	ref, err := f.ad.Post(context.Background(), bot.Message{Title: "Daily enrollment", Text: "72% registered",
		Image: &bot.File{Name: "enrollment.png", ContentType: "image/png", Data: png, Alt: "bar chart of MFA registration"},
		Files: []bot.File{{Name: "unregistered.csv", ContentType: "text/csv", Data: csv}}})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Platform != "slack" || ref.Channel != slacktest.Channel || ref.MessageID == "" {
		t.Fatalf("ref = %+v", ref)
	}
	m, ok := f.slack.Message(ref.Channel, ref.MessageID)
	if !ok || m.Text != "Daily enrollment: 72% registered" || len(m.Blocks) == 0 {
		t.Fatalf("message = %+v", m)
	}
	files := f.slack.Files()
	if len(files) != 2 {
		t.Fatalf("%d files shared, want 2", len(files))
	}
	chart, sheet := files[0], files[1]
	if !bytes.Equal(chart.Data, png) || chart.Channel != slacktest.Channel || chart.ThreadTS != "" || chart.AltText != "bar chart of MFA registration" {
		t.Fatalf("chart = %+v", chart)
	}
	if !bytes.Equal(sheet.Data, csv) || sheet.ThreadTS != ref.MessageID || sheet.Title != "unregistered.csv" {
		t.Fatalf("csv = %+v", sheet)
	}
	for _, c := range f.slack.Calls("files.getUploadURLExternal", "upload", "files.completeUploadExternal") {
		if c.Token != slacktest.BotToken || c.Error != "" {
			t.Fatalf("upload call %s: token %q, error %q", c.Method, c.Token, c.Error)
		}
	}
}

func TestTell(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	f.slack.AddUser(slacktest.User{ID: "UADELE", Name: "adele", Email: "Adele.Vance@contoso.com"})
	f.slack.AddUser(slacktest.User{ID: "UBOT", Name: "otherbot", Email: "bot@contoso.com", Bot: true})
	ctx := context.Background()
	msg := bot.Message{Title: "Register MFA again", Text: "Go to https://aka.ms/mfasetup"}
	tests := []struct {
		name        string
		to          bot.Recipient
		wantChannel string
		unreachable bool
	}{
		{"OKActor", bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "UANN"}}, "DANN", false},
		{"OKEmail", bot.Recipient{Email: "adele.vance@contoso.com"}, "DADELE", false},
		{"ErrUnknownEmail", bot.Recipient{Email: "nobody@contoso.com"}, "", true},
		{"ErrTeamsActor", bot.Recipient{Actor: &approvals.Actor{Platform: "teams", ID: "29:abc"}}, "", true},
		{"ErrUnknownUser", bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "UGONE"}}, "", true},
		{"ErrBot", bot.Recipient{Email: "bot@contoso.com"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.ad.Tell(ctx, tt.to, msg)
			if tt.unreachable {
				if !errors.Is(err, bot.ErrUnreachable) {
					t.Fatalf("err = %v, want ErrUnreachable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := f.slack.Messages(tt.wantChannel)
			if len(got) != 1 || !strings.Contains(got[0].Text, "Register MFA again") {
				t.Fatalf("messages in %s = %+v", tt.wantChannel, got)
			}
		})
	}
	if err := f.ad.Tell(ctx, bot.Recipient{}, msg); approvals.ErrorCode(err) != approvals.EINVALID {
		t.Fatalf("empty recipient: %v", err)
	}
}

// TestRateLimited: a 429 is waited out for the Retry-After Slack names and the call
// repeated; a call that keeps being refused fails as EUPSTREAM.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	ctx := context.Background()
	f.slack.RateLimit("chat.postMessage", 1, time.Second)
	start := time.Now()
	ref, err := f.ad.Post(ctx, bot.Message{Title: "after a 429"})
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %s, before Slack's Retry-After of 1s", waited)
	}
	calls := f.slack.Calls("chat.postMessage")
	if len(calls) != 2 || !calls[0].RateLimited || calls[1].RateLimited {
		t.Fatalf("calls = %+v", calls)
	}
	if _, ok := f.slack.Message(ref.Channel, ref.MessageID); !ok {
		t.Fatal("message not posted")
	}

	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	f.slack.RateLimit("chat.update", 100, time.Second)
	err = f.ad.Update(ctx, ref, bot.Message{Title: "final"})
	if approvals.ErrorCode(err) != approvals.EUPSTREAM {
		t.Fatalf("update under a lasting 429: %v, want EUPSTREAM", err)
	}
}

// TestUpdateCoalesces: progress reports far faster than chat.update allows are coalesced,
// at most one update per interval goes out, the latest report always follows, and a
// final state is sent even when it arrives in the middle of a burst.
func TestUpdateCoalesces(t *testing.T) {
	t.Parallel()
	const interval = 50 * time.Millisecond
	const bursts, perBurst = 4, 50
	f := newFixture(t, newRecorder(nil))
	ctx := context.Background()
	ref, err := f.ad.Post(ctx, bot.Message{Title: "running"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Bursts of reports, each as fast as Update returns; the next burst starts once the
	// last report of this one is on Slack, so the reports span several intervals.
	for b := range bursts {
		for i := range perBurst {
			done := b*perBurst + i + 1
			if err := f.ad.Update(ctx, ref, bot.Message{Title: "running", Progress: &bot.Progress{Done: done, Total: 1000}}); err != nil {
				t.Fatal(err)
			}
		}
		// The trailing report goes out once its interval has passed.
		waitUpdateShowing(t, f.slack, fmt.Sprintf(" %s / 1,000 done", bot.Thousands((b+1)*perBurst)))
	}
	elapsed := time.Since(start)
	calls := f.slack.Calls("chat.update")
	if limit := int(elapsed/interval) + 2; len(calls) > limit || len(calls) >= bursts*perBurst/2 {
		t.Fatalf("%d chat.update calls for %d reports in %s, want at most %d (one per %s)", len(calls), bursts*perBurst, elapsed, limit, interval)
	}
	for i := 1; i < len(calls); i++ {
		// Measured where Slack receives them, so allow for scheduling jitter.
		if gap := calls[i].At.Sub(calls[i-1].At); gap < interval/2 {
			t.Fatalf("updates %d and %d only %s apart", i-1, i, gap)
		}
	}

	// A final state in a burst: sent synchronously, and nothing older follows it.
	for i := range 20 {
		_ = f.ad.Update(ctx, ref, bot.Message{Title: "running", Progress: &bot.Progress{Done: 900 + i, Total: 1000}})
	}
	if err := f.ad.Update(ctx, ref, bot.Message{Title: "succeeded", Tone: bot.ToneGood}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastText(f, ref), "succeeded") {
		t.Fatalf("after Update returned the card shows %q", lastText(f, ref))
	}
	if err := f.ad.Close(ctx); err != nil { // flushes anything still queued
		t.Fatal(err)
	}
	if !strings.Contains(lastText(f, ref), "succeeded") {
		t.Fatalf("an older progress report overwrote the final state: %q", lastText(f, ref))
	}
}

// waitUpdateShowing waits for a chat.update whose message shows want; the fake announces
// every call it records.
func waitUpdateShowing(t *testing.T, fake *slacktest.Server, want string) slacktest.Call {
	t.Helper()
	for n := 1; ; n++ {
		calls := fake.WaitCalls(t, "chat.update", n)
		if c := calls[n-1]; strings.Contains(c.Args["text"]+c.Args["blocks"], want) {
			return c
		}
	}
}

func lastText(f *fixture, ref bot.MessageRef) string {
	m, _ := f.slack.Message(ref.Channel, ref.MessageID)
	return m.Text + string(m.Blocks)
}

func TestUpdateUnknownMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	err := f.ad.Update(context.Background(), bot.MessageRef{Platform: "slack", Channel: slacktest.Channel, MessageID: "1.000001"}, bot.Message{Title: "x"})
	if approvals.ErrorCode(err) != approvals.EUPSTREAM || !strings.Contains(err.Error(), "message_not_found") {
		t.Fatalf("err = %v", err)
	}
	err = f.ad.Update(context.Background(), bot.MessageRef{Platform: "teams", Channel: "x", MessageID: "y"}, bot.Message{})
	if approvals.ErrorCode(err) != approvals.EINVALID {
		t.Fatalf("teams ref: %v", err)
	}
}

// syncBuffer is a log sink safe for the adapter's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsKeepSecrets: through forged requests, failed deliveries and Slack errors, the
// log never shows the bot token, the signing secret or a response_url (a capability).
func TestLogsKeepSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	f := newFixtureWith(t, newRecorder(func(bot.Event) bot.Response {
		return bot.Response{Reply: &bot.Message{Text: "ok"}}
	}), nil, func(c *slack.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	cmd := f.slack.Command(f.ann, slacktest.Channel, "status ann")
	cmd.ResponseURL = f.slack.URL + "/response/secret-capability-path"
	if _, err := f.sender.Command(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	f.slack.WaitCalls(t, "chat.postEphemeral", 1)
	refused := cmd
	refused.ResponseURL = "http://198.51.100.7/secret-capability-path"
	if _, err := f.sender.Command(ctx, refused); err != nil {
		t.Fatal(err)
	}
	forged := slacktest.SignRequest("wrong", time.Now(), cmd.Form())
	if _, err := f.sender.Post(ctx, slack.CommandsPath, cmd.Form(), forged); err != nil {
		t.Fatal(err)
	}
	_ = f.ad.Update(ctx, bot.MessageRef{Channel: slacktest.Channel, MessageID: "9.9"}, bot.Message{Title: "x"})
	if err := f.ad.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "signature") || !strings.Contains(out, "response_url") {
		t.Fatalf("the log did not record the refusals it should:\n%s", out)
	}
	for _, secretText := range []string{slacktest.BotToken, secret, "secret-capability-path"} {
		if strings.Contains(out, secretText) {
			t.Fatalf("the log shows %q:\n%s", secretText, out)
		}
	}
}
