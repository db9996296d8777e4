package slack_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// TestDirectMessage: a bulk direct message finds its person in the member directory (one
// users.list read serving every message) by mail address, else by UPN, and posts to their
// user id; someone Slack has no active member for is unreachable, with nothing posted.
func TestDirectMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	f.slack.AddUser(slacktest.User{ID: "UBOB", Name: "bob", Email: "Bob@contoso.com"})
	f.slack.AddUser(slacktest.User{ID: "UCAT", Name: "cat", Email: "cat.upn@contoso.com"})
	f.slack.AddUser(slacktest.User{ID: "UGONE", Name: "gone", Email: "gone@contoso.com", Deleted: true})
	f.slack.AddUser(slacktest.User{ID: "UBOT", Name: "robot", Email: "robot@contoso.com", Bot: true})
	tests := []struct {
		name        string
		to          bot.Recipient
		channel     string
		unreachable bool
	}{
		{"OKByMail", bot.Recipient{Email: "bob@contoso.com", UPN: "bob.upn@contoso.com"}, "DBOB", false},
		{"OKByUPN", bot.Recipient{Email: "cat@contoso.com", UPN: "cat.upn@contoso.com"}, "DCAT", false},
		{"ErrNoMember", bot.Recipient{Email: "nobody@contoso.com"}, "", true},
		{"ErrDeactivated", bot.Recipient{Email: "gone@contoso.com"}, "", true},
		{"ErrBot", bot.Recipient{Email: "robot@contoso.com"}, "", true},
		{"ErrNoAddress", bot.Recipient{EntraID: "oid-x"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.ad.DirectMessage(context.Background(), tt.to, bot.Message{Title: "Register for MFA"})
			if got := errors.Is(err, bot.ErrUnreachable); got != tt.unreachable || (err != nil) != tt.unreachable {
				t.Fatalf("err = %v", err)
			}
			if tt.unreachable && approvals.ErrorCode(err) != approvals.ENOTFOUND {
				t.Fatalf("code %q", approvals.ErrorCode(err))
			}
			if tt.channel != "" && len(f.slack.Messages(tt.channel)) != 1 {
				t.Fatalf("messages in %s: %+v", tt.channel, f.slack.Messages(tt.channel))
			}
		})
	}
	if n := len(f.slack.Calls("users.list")); n != 1 {
		t.Fatalf("users.list called %d times; one read serves every message", n)
	}
	if n := len(f.slack.Calls("users.lookupByEmail", "conversations.open")); n != 0 {
		t.Fatalf("%d per-person calls", n)
	}
}

// TestDirectMessagesPaced: many direct messages at once keep to Slack's documented one a
// second (scaled), so the fake, enforcing Slack's limits, never answers 429, and the
// member directory of a large workspace is read within Tier 2. Adapter and fake share a
// clock that the test moves only when nothing can go on without it, so the fake judges
// every call at the instant the adapter sent it, however long the scheduler keeps it on
// the way.
func TestDirectMessagesPaced(t *testing.T) {
	t.Parallel()
	const scale, people = 200.0, 120
	const read = "slack member directory read"
	logs := newLogWatch()
	f := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) {
		c.Direct = slack.DirectLimits{Rate: scale, ListWindow: time.Duration(float64(time.Minute) / scale)}
		c.Logger = logs.logger()
	})
	clk := newManualClock(t)
	slack.SetClock(f.ad, clk)
	f.slack.SetClock(clk.Now)
	for i := range 5000 {
		f.slack.AddUser(slacktest.User{ID: fmt.Sprintf("U%05d", i), Name: fmt.Sprint(i), Email: fmt.Sprintf("p%05d@contoso.com", i)})
	}
	f.slack.EnforceLimits(slacktest.DocumentedLimits(), scale)
	var wg sync.WaitGroup
	errs := make(chan error, people)
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f.ad.DirectMessage(context.Background(), bot.Recipient{Email: fmt.Sprintf("p%05d@contoso.com", i*37)}, bot.Message{Title: "Register"})
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()

	// While the directory is read, its reader alone sleeps (on users.list's window) and
	// the messages wait for the directory. Then the messages sleep one at a time, for
	// their turns: the first turn needs no wait and every move of the clock grants one
	// more, so the clock moves on only once every message granted its turn has reached
	// the fake. A message that came to sleep twice on its way (a settle that waits) would
	// stall this loop at WaitCalls: a failure of this loop's premise, not necessarily of
	// the pace.
	granted := 1
	for {
		if _, ok := asleep(t, clk, 1, finished); !ok {
			break
		}
		if logs.count(read) > 0 {
			f.slack.WaitCalls(t, "chat.postMessage", granted)
			granted++
		}
		clk.WakeNext()
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.slack.Throttled("chat.postMessage") + f.slack.Throttled("users.list"); n != 0 {
		t.Fatalf("%d × 429", n)
	}
	posts := f.slack.Calls("chat.postMessage")
	if len(posts) != people {
		t.Fatalf("%d chat.postMessage calls for %d messages", len(posts), people)
	}
	took := posts[len(posts)-1].At.Sub(posts[0].At)
	if min := time.Duration(float64(people-1) / scale * float64(time.Second)); took < min {
		t.Fatalf("%d messages took %s; one a second (scaled) needs %s", people, took, min)
	}
	if n := len(f.slack.Calls("users.list")); n != 26 {
		t.Fatalf("users.list called %d times for 5,001 members in pages of 200", n)
	}
}

// A direct message still waiting for its turn when its context ends is not sent.
func TestDirectMessageCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) { c.Direct = slack.DirectLimits{Rate: 0.01} })
	f.slack.AddUser(slacktest.User{ID: "UBOB", Name: "bob", Email: "bob@contoso.com"})
	if err := f.ad.DirectMessage(context.Background(), bot.Recipient{Email: "bob@contoso.com"}, bot.Message{Title: "first"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.ad.DirectMessage(ctx, bot.Recipient{Email: "bob@contoso.com"}, bot.Message{Title: "second"})
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.slack.DirectMessages("UBOB")); n != 1 {
		t.Fatalf("%d messages sent", n)
	}
}

// An old member directory is read again in the background while it keeps serving: a
// member who joined meanwhile is found once a read that began after she joined is in.
func TestDirectoryRefreshedBehindTheScenes(t *testing.T) {
	t.Parallel()
	const read = "slack member directory read"
	logs := newLogWatch()
	f := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) {
		c.Direct = slack.DirectLimits{Rate: 1000, DirectoryTTL: time.Nanosecond}
		c.Logger = logs.logger()
	})
	f.slack.AddUser(slacktest.User{ID: "UBOB", Name: "bob", Email: "bob@contoso.com"})
	ctx := context.Background()
	if err := f.ad.DirectMessage(ctx, bot.Recipient{Email: "bob@contoso.com"}, bot.Message{Title: "1"}); err != nil {
		t.Fatal(err)
	}
	f.slack.AddUser(slacktest.User{ID: "UCAT", Name: "cat", Email: "cat@contoso.com"})
	// Served from the directory in hand, whatever read of it is under way.
	if err := f.ad.DirectMessage(ctx, bot.Recipient{Email: "bob@contoso.com"}, bot.Message{Title: "2"}); err != nil {
		t.Fatal(err)
	}
	// The directory is always stale here, so a lookup that misses Cat either finds a read
	// under way or starts one, and every read logs when it is in. The read under way may
	// have begun before Cat joined; the one after it cannot have. So each miss is followed
	// by one more read, and the third lookup at the latest finds her.
	for attempt := 1; ; attempt++ {
		before := logs.count(read)
		err := f.ad.DirectMessage(ctx, bot.Recipient{Email: "cat@contoso.com"}, bot.Message{Title: "3"})
		if err == nil {
			break
		}
		if !errors.Is(err, bot.ErrUnreachable) || attempt == 3 {
			t.Fatalf("direct message to Cat, attempt %d: %v", attempt, err)
		}
		logs.wait(t, read, before+1)
	}
	if n := len(f.slack.DirectMessages("UBOB")); n != 2 {
		t.Fatalf("Bob got %d messages", n)
	}
	if n := len(f.slack.DirectMessages("UCAT")); n != 1 {
		t.Fatalf("Cat got %d messages", n)
	}
}
