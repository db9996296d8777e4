package slack_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// socketAdapter is an adapter serving Socket Mode against a fake Slack.
type socketAdapter struct {
	*fixture
	stopOnce sync.Once
	stopErr  error
	cancel   context.CancelFunc
	done     chan error
}

// startSocketMode starts an adapter with the app token and no signing secret on fake,
// runs RunSocketMode and waits until the socket is open. The test's cleanup stops it.
func startSocketMode(t *testing.T, fake *slacktest.Server, d *recorder, ann slacktest.User) *socketAdapter {
	t.Helper()
	logs := newLogWatch()
	cfg := slack.Config{
		BotToken: slacktest.BotToken, AppToken: slacktest.AppToken, APIURL: fake.APIURL(), Channel: slacktest.Channel,
		UserMap: map[string]string{"UANN": "oid-ann"}, Logger: logs.logger(),
	}
	ad, err := slack.New(cfg, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &socketAdapter{fixture: &fixture{slack: fake, ad: ad, d: d, ann: ann}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- ad.RunSocketMode(ctx) }()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stop socket mode: %v", err)
		}
		_ = ad.Close(context.Background())
	})
	// The adapter logs the socket's opening right after marking itself ready.
	logs.wait(t, "slack socket mode connected", 1)
	if err := ad.Ready(); err != nil {
		t.Fatalf("socket mode not ready with the socket open: %v", err)
	}
	return s
}

// stop cancels RunSocketMode's context and returns what RunSocketMode returned, or an
// error when it did not return.
func (s *socketAdapter) stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case s.stopErr = <-s.done:
		case <-time.After(5 * time.Second):
			s.stopErr = context.DeadlineExceeded
		}
	})
	return s.stopErr
}

// sendSocket pushes one envelope and returns the adapter's ack of it.
func sendSocket(t *testing.T, fake *slacktest.Server, typ string, payload []byte) slacktest.Ack {
	t.Helper()
	id, err := fake.SocketSend(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := fake.SocketAck(id, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

// responseTo waits for the message posted to responseURL and returns it.
func responseTo(t *testing.T, fake *slacktest.Server, responseURL string) slacktest.Call {
	t.Helper()
	for n := 1; ; n++ {
		calls := fake.WaitCalls(t, "response_url", n)
		for _, c := range calls {
			if c.Args["url"] == responseURL {
				return c
			}
		}
	}
}

// TestSocketModeMatchesHTTP: the same command and the same button press give the
// dispatcher identical events whether they arrive signed over HTTP or over the Socket
// Mode WebSocket; each envelope is acked (empty when accepted, the refusal when not),
// replies go to the envelope's response_url, requests from another workspace never reach
// the dispatcher, and cancelling the context makes RunSocketMode return nil.
func TestSocketModeMatchesHTTP(t *testing.T) {
	t.Parallel()
	replyDone := func(ev bot.Event) bot.Response {
		if ev.Button {
			return bot.Response{}
		}
		return bot.Response{Reply: &bot.Message{Title: "Status", Text: "done: " + ev.Text}}
	}
	f := newFixture(t, newRecorder(replyDone))
	s := startSocketMode(t, f.slack, newRecorder(replyDone), f.ann)
	ctx := context.Background()

	// A slash command, both ways.
	text := "status adele.vance@contoso.com"
	if ans, err := f.sender.Command(ctx, f.slack.Command(f.ann, slacktest.Channel, text)); err != nil || ans.Status != 200 {
		t.Fatalf("HTTP command: %v %v", ans, err)
	}
	httpCmd := f.waitEvent(t)
	cmd := f.slack.Command(f.ann, slacktest.Channel, text)
	if ack := sendSocket(t, f.slack, "slash_commands", cmd.JSON()); len(ack.Payload) != 0 {
		t.Fatalf("accepted command acked with %s, want an empty ack", ack.Payload)
	}
	sockCmd := s.waitEvent(t)
	want := bot.Event{
		Actor:        approvals.Actor{Platform: "slack", ID: "UANN", Name: "ann", EntraID: "oid-ann"},
		Conversation: bot.Conversation{Platform: "slack", ID: slacktest.Channel, Name: "approvals"},
		Text:         text,
	}
	if diff := cmp.Diff(want, httpCmd); diff != "" {
		t.Fatalf("HTTP command event (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(httpCmd, sockCmd); diff != "" {
		t.Fatalf("Socket Mode command event differs from HTTP (-http +socket):\n%s", diff)
	}
	reply := responseTo(t, f.slack, cmd.ResponseURL)
	if reply.Error != "" || reply.Args["response_type"] != "ephemeral" || !strings.Contains(reply.Args["text"], "done: "+text) {
		t.Fatalf("socket command reply = %+v", reply)
	}

	// A button press on a posted card, both ways.
	ref, err := f.ad.Post(ctx, approvalCard())
	if err != nil {
		t.Fatal(err)
	}
	press := func() slacktest.Press {
		p, err := f.slack.Press(f.ann, ref.Channel, ref.MessageID, "Approve")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if ans, err := f.sender.Interaction(ctx, press().Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("HTTP press: %v %v", ans, err)
	}
	httpPress := f.waitEvent(t)
	if ack := sendSocket(t, f.slack, "interactive", press().Payload()); len(ack.Payload) != 0 {
		t.Fatalf("press acked with %s, want an empty ack", ack.Payload)
	}
	sockPress := s.waitEvent(t)
	wantPress := bot.Event{
		Actor:        approvals.Actor{Platform: "slack", ID: "UANN", Name: "ann", EntraID: "oid-ann"},
		Conversation: bot.Conversation{Platform: "slack", ID: ref.Channel},
		Text:         "approve R-7K2QXA",
		Button:       true,
	}
	if diff := cmp.Diff(wantPress, httpPress); diff != "" {
		t.Fatalf("HTTP press event (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(httpPress, sockPress); diff != "" {
		t.Fatalf("Socket Mode press event differs from HTTP (-http +socket):\n%s", diff)
	}

	// Another workspace: a command is refused in its ack, a press from a user of
	// another organisation (a shared channel) through the response_url.
	before := s.d.count()
	foreign := f.slack.Command(f.ann, slacktest.Channel, "reset adele.vance@contoso.com")
	foreign.TeamID = "T0THER"
	ack := sendSocket(t, f.slack, "slash_commands", foreign.JSON())
	var refusal struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(ack.Payload, &refusal); err != nil {
		t.Fatalf("refusal ack %s: %v", ack.Payload, err)
	}
	if refusal.ResponseType != "ephemeral" || !strings.Contains(refusal.Text, "workspace") {
		t.Fatalf("refusal ack = %+v, want an ephemeral message naming the workspace", refusal)
	}
	guest := press()
	guest.UserTeamID = "T0THER"
	if ack := sendSocket(t, f.slack, "interactive", guest.Payload()); len(ack.Payload) != 0 {
		t.Fatalf("refused press acked with %s, want an empty ack", ack.Payload)
	}
	if c := responseTo(t, f.slack, guest.ResponseURL); !strings.Contains(c.Args["text"], "workspace") {
		t.Fatalf("refused press answered %q", c.Args["text"])
	}
	// Close waits for every dispatch started; then the count is final.
	if err := s.ad.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.d.count(); n != before {
		t.Fatalf("%d refused envelopes reached the dispatcher", n-before)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("RunSocketMode after cancel = %v, want nil", err)
	}
}

// TestRunSocketModeFails: RunSocketMode returns at once when it has no app token (the
// adapter stays an HTTP one, ready) or Slack refuses the token (never ready).
func TestRunSocketModeFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       func(fake *slacktest.Server) slack.Config
		wantCode  string
		wantReady bool
	}{
		{"ErrNoAppToken", func(fake *slacktest.Server) slack.Config {
			return slack.Config{BotToken: slacktest.BotToken, SigningSecret: secret, APIURL: fake.APIURL(), Channel: slacktest.Channel}
		}, approvals.EINVALID, true},
		{"ErrAppTokenRefused", func(fake *slacktest.Server) slack.Config {
			return slack.Config{BotToken: slacktest.BotToken, AppToken: "xapp-1-A0MFABOT01-9999-revoked", APIURL: fake.APIURL(), Channel: slacktest.Channel}
		}, approvals.EUPSTREAM, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slacktest.Start(t)
			ad, err := slack.New(tt.cfg(fake), newRecorder(nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := ad.Connect(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = ad.RunSocketMode(ctx)
			if ctx.Err() != nil {
				t.Fatal("RunSocketMode kept trying until the deadline")
			}
			if got := approvals.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("RunSocketMode = %v (code %q), want code %q", err, got, tt.wantCode)
			}
			if ready := ad.Ready() == nil; ready != tt.wantReady {
				t.Fatalf("ready = %v (%v), want %v", ready, ad.Ready(), tt.wantReady)
			}
		})
	}
}
