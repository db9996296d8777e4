package slacktest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// TestHoldAfter: the successful calls of the method up to the count go through (a failed
// one, a 429 or another method's does not count), then the next call of the method waits
// with no effect and nothing recorded until the release, which carries it out once, while
// other methods are answered; calls after the release go through, and a second release is
// harmless.
func TestHoldAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		next string // the method held
	}{
		{"AfterTwo", 2, "chat.postMessage"},
		{"AtOnce", 0, "chat.postMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := slacktest.Start(t)
			api := slack.New(slacktest.BotToken, slack.OptionAPIURL(fake.APIURL()))
			ctx := context.Background()
			post := func(channel, text string) error {
				_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false))
				return err
			}
			next := map[string]func() error{
				"chat.postMessage": func() error { return post(slacktest.Channel, "held") },
				"auth.test":        func() error { _, err := api.AuthTestContext(ctx); return err },
			}[tt.next]

			held, release := fake.HoldAfter("chat.postMessage", tt.n)
			for i := range tt.n {
				if i == 0 {
					fake.RateLimit("chat.postMessage", 1, time.Second)
					if err := post(slacktest.Channel, "limited"); err == nil {
						t.Fatal("the 429 set up did not come")
					}
				}
				if err := post("C0NOWHERE", "lost"); err == nil {
					t.Fatal("a post to an unknown channel went through")
				}
				if _, err := api.AuthTestContext(ctx); err != nil {
					t.Fatalf("auth.test before the hold: %v", err)
				}
				if err := post(slacktest.Channel, fmt.Sprint(i)); err != nil {
					t.Fatalf("post %d before the hold: %v", i, err)
				}
			}
			if _, err := api.AuthTestContext(ctx); err != nil {
				t.Fatalf("auth.test, another method, once the hold is spent: %v", err)
			}
			before := len(fake.Calls())

			done := make(chan error, 1)
			go func() { done <- next() }()
			select {
			case <-held:
			case err := <-done:
				t.Fatalf("%s after %d posts went through the hold (%v)", tt.next, tt.n, err)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s after %d posts was never held", tt.next, tt.n)
			}
			if n := len(fake.Calls()); n != before {
				t.Fatalf("%d calls recorded while held, want %d", n, before)
			}
			if n := len(fake.Messages(slacktest.Channel)); n != tt.n {
				t.Fatalf("%d messages in the channel while held, want %d", n, tt.n)
			}

			release()
			if err := <-done; err != nil {
				t.Fatalf("held %s after the release: %v", tt.next, err)
			}
			calls := fake.Calls()
			if len(calls) != before+1 || calls[before].Method != tt.next || calls[before].Error != "" {
				t.Fatalf("after the release the calls are %+v, want the held %s once more", calls[before:], tt.next)
			}
			release()
			if err := post(slacktest.Channel, "after"); err != nil {
				t.Fatalf("post after the release: %v", err)
			}
		})
	}
}

// A request held when the fake closes is dropped, and Close does not wait for it.
func TestHoldAfterClose(t *testing.T) {
	t.Parallel()
	fake := slacktest.New()
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(fake.APIURL()))
	held, _ := fake.HoldAfter("chat.postMessage", 0)
	done := make(chan error, 1)
	go func() {
		_, _, err := api.PostMessageContext(context.Background(), slacktest.Channel, slack.MsgOptionText("held", false))
		done <- err
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("chat.postMessage was never held")
	}
	fake.Close()
	if err := <-done; err == nil {
		t.Fatal("chat.postMessage held while the fake closed succeeded")
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d calls recorded", n)
	}
}

// With where, only the calls it accepts count and are held: posts to the channel go on
// while the second direct message to Ann waits.
func TestHoldAfterWhere(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	fake.AddUser(slacktest.User{ID: "UANN", Name: "ann"})
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(fake.APIURL()))
	ctx := context.Background()
	post := func(channel, text string) error {
		_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false))
		return err
	}
	held, release := fake.HoldAfter("chat.postMessage", 1, func(args map[string]string) bool { return args["channel"] == "UANN" })
	defer release()
	for i, channel := range []string{slacktest.Channel, "UANN", slacktest.Channel} {
		if err := post(channel, fmt.Sprint(i)); err != nil {
			t.Fatalf("post %d to %s before the hold: %v", i, channel, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- post("UANN", "held") }()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("the second direct message went through the hold (%v)", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the second direct message was never held")
	}
	if err := post(slacktest.Channel, "meanwhile"); err != nil {
		t.Fatalf("a channel post while a direct message is held: %v", err)
	}
	if n := len(fake.DirectMessages("UANN")); n != 1 {
		t.Fatalf("%d direct messages while held, want 1", n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("the held direct message after the release: %v", err)
	}
	if n := len(fake.DirectMessages("UANN")); n != 2 {
		t.Fatalf("%d direct messages after the release, want 2", n)
	}
}
