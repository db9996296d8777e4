package slack_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// TestRateLimitHoldsTheMethod: a 429 on chat.postMessage is retried after Slack's
// Retry-After and the post succeeds; meanwhile every other chat.postMessage (here a
// direct message's) waits out the same Retry-After, because Slack's limits are per
// method, while other methods (conversations.open) go ahead at once. Adapter and fake
// share a clock that moves only when the test moves it: "waits out" is asleep on it until
// the Retry-After has run out, "at once" is before it moved.
func TestRateLimitHoldsTheMethod(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	f := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) { c.Logger = logs.logger() })
	clk := newManualClock(t)
	slack.SetClock(f.ad, clk)
	f.slack.SetClock(clk.Now)
	f.slack.AddUser(slacktest.User{ID: "UBOB", Name: "bob"})
	ctx := context.Background()
	f.slack.RateLimit("chat.postMessage", 1, time.Second)

	type posted struct {
		ref bot.MessageRef
		err error
	}
	done := make(chan posted, 1)
	go func() {
		ref, err := f.ad.Post(ctx, bot.Message{Title: "Daily summary"})
		done <- posted{ref, err}
	}()
	limited := f.slack.WaitCalls(t, "chat.postMessage", 1)[0]
	if !limited.RateLimited {
		t.Fatalf("first chat.postMessage = %+v, want the 429", limited)
	}
	// The direct message must ask for the method only once Post has taken in the 429,
	// which the adapter logs right after putting the method on hold.
	logs.wait(t, "slack rate limited", 1)
	var told error
	toldDone := make(chan struct{})
	go func() {
		defer close(toldDone)
		told = f.ad.Tell(ctx, bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "UBOB"}}, bot.Message{Title: "Approved"})
	}()

	// The retry and the direct message's post both wait on the clock; the direct message
	// opened its conversation on the way there.
	until, ok := asleep(t, clk, 2, toldDone)
	if !ok {
		t.Fatalf("the direct message went out (%v) while chat.postMessage was on hold: %d calls", told, len(f.slack.Calls("chat.postMessage")))
	}
	for _, u := range until {
		if wait := u.Sub(limited.At); wait < time.Second {
			t.Fatalf("a chat.postMessage waits %s after the 429, less than its Retry-After of 1s", wait)
		}
	}
	if n := len(f.slack.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d chat.postMessage calls before the Retry-After ran out, want the 429 alone", n)
	}
	if open := f.slack.Calls("conversations.open"); len(open) != 1 || !open[0].At.Equal(limited.At) {
		t.Fatalf("conversations.open %+v waited for chat.postMessage's limit", open)
	}

	clk.WakeNext()
	<-toldDone
	if told != nil {
		t.Fatal(told)
	}
	p := <-done
	if p.err != nil {
		t.Fatalf("Post after a 429 = %v", p.err)
	}
	if _, ok := f.slack.Message(p.ref.Channel, p.ref.MessageID); !ok {
		t.Fatal("the retried post is not in the channel")
	}
	posts := f.slack.Calls("chat.postMessage")
	if len(posts) != 3 {
		t.Fatalf("%d chat.postMessage calls, want the 429 and two posts", len(posts))
	}
	for _, c := range posts[1:] {
		if c.RateLimited || c.Error != "" {
			t.Fatalf("chat.postMessage after the hold = %+v", c)
		}
		if wait := c.At.Sub(limited.At); wait < time.Second {
			t.Fatalf("chat.postMessage to %s sent %s after the 429, before its Retry-After of 1s", c.Args["channel"], wait)
		}
	}
}
