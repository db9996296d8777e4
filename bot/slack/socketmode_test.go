package slack_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// TestSocketMode: over the app-token WebSocket (no signing secret, no public URL), a
// slash command and a button press reach the dispatcher exactly as over HTTP, every
// envelope is acknowledged, and another workspace is refused.
func TestSocketMode(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin"}
	fake.AddUser(ann)
	d := newRecorder(nil)
	logs := newLogWatch()
	ad, err := slack.New(slack.Config{BotToken: slacktest.BotToken, AppToken: slacktest.AppToken, APIURL: fake.APIURL(), Channel: slacktest.Channel,
		Logger: logs.logger()}, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ad.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ad.RunSocketMode(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunSocketMode after cancel: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("RunSocketMode did not return after cancel")
		}
	}()

	// The adapter logs the socket's opening right after marking itself ready.
	logs.wait(t, "slack socket mode connected", 1)
	if err := ad.Ready(); err != nil {
		t.Fatalf("not ready with the socket open: %v", err)
	}
	f := &fixture{slack: fake, ad: ad, d: d, ann: ann}
	cmd := fake.Command(ann, slacktest.Channel, "status adele.vance@contoso.com")
	id, err := fake.SocketSend("slash_commands", cmd.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.SocketAck(id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ev := f.waitEvent(t)
	if ev.Actor.ID != "UANN" || ev.Actor.Platform != "slack" || ev.Text != "status adele.vance@contoso.com" || ev.Button {
		t.Fatalf("event = %+v", ev)
	}

	// A button press on a posted card.
	ref, err := ad.Post(ctx, approvalCard())
	if err != nil {
		t.Fatal(err)
	}
	press, err := fake.Press(ann, ref.Channel, ref.MessageID, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	id, err = fake.SocketSend("interactive", press.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.SocketAck(id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ev = f.waitEvent(t)
	if !ev.Button || ev.Text != "approve R-7K2QXA" {
		t.Fatalf("press event = %+v", ev)
	}

	// Another workspace in a shared channel: acknowledged, refused, never dispatched.
	before := d.count()
	other := fake.Command(ann, slacktest.Channel, "reset adele.vance@contoso.com")
	other.TeamID = "T0THER"
	id, err = fake.SocketSend("slash_commands", other.JSON())
	if err != nil {
		t.Fatal(err)
	}
	ack, err := fake.SocketAck(id, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Payload) == 0 {
		t.Fatal("the refusal carried no message")
	}
	// Close waits for every dispatch started; then the count is final.
	if err := ad.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d.count() != before {
		t.Fatal("a command from another workspace reached the dispatcher")
	}
}
