package slacktest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// TestEnforceLimits: with Slack's documented limits on, chat.postMessage takes a short
// burst and then answers 429 with Retry-After, per channel and across the workspace, and a
// tiered method its calls a minute; a user id as channel posts into the app's direct
// conversation with them; users.list pages through the members.
func TestEnforceLimits(t *testing.T) {
	t.Parallel()
	fake := slacktest.Start(t)
	for _, id := range []string{"UA", "UB", "UC", "UD", "UE"} {
		fake.AddUser(slacktest.User{ID: id, Name: id, Email: id + "@contoso.com"})
	}
	fake.AddUser(slacktest.User{ID: "UGONE", Name: "gone", Deleted: true})
	fake.EnforceLimits(slacktest.DocumentedLimits(), 1)
	ctx := context.Background()
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(fake.APIURL()))
	limited := func(err error) bool {
		var rl *slack.RateLimitedError
		return errors.As(err, &rl) && rl.RetryAfter > 0
	}
	for i, id := range []string{"UA", "UB", "UC", "UD"} {
		ch, _, err := api.PostMessageContext(ctx, id, slack.MsgOptionText("register", false))
		switch {
		case i < 3 && (err != nil || ch != "D"+id[1:]):
			t.Fatalf("message %d: %q %v", i+1, ch, err)
		case i == 3 && !limited(err):
			t.Fatalf("fourth message in a second across the workspace: %v", err)
		}
	}
	if n := len(fake.DirectMessages("UA")); n != 1 {
		t.Fatalf("UA has %d direct messages", n)
	}

	quiet := slacktest.Start(t)
	quiet.AddUser(slacktest.User{ID: "UGONE", Name: "gone", Deleted: true})
	for i := range 450 {
		quiet.AddUser(slacktest.User{ID: "U" + string(rune('A'+i%26)) + string(rune('A'+i/26)), Name: "x"})
	}
	qapi := slack.New(slacktest.BotToken, slack.OptionAPIURL(quiet.APIURL()))
	if _, _, err := qapi.PostMessageContext(ctx, "UGONE", slack.MsgOptionText("x", false)); err == nil || err.Error() != "user_disabled" {
		t.Fatalf("deactivated user: %v", err)
	}
	users, err := qapi.GetUsersContext(ctx, slack.GetUsersOptionLimit(200))
	if err != nil || len(users) != 451 {
		t.Fatalf("users.list: %d users, %v", len(users), err)
	}
	if n := len(quiet.Calls("users.list")); n != 3 {
		t.Fatalf("users.list pages: %d", n)
	}
	quiet.EnforceLimits(slacktest.DocumentedLimits(), 1)
	for i := range 21 {
		p := qapi.GetUsersPaginated(slack.GetUsersOptionLimit(1000))
		_, err := p.Next(ctx)
		if (i < 20) != (err == nil) || (i == 20 && !limited(err)) {
			t.Fatalf("users.list call %d: %v", i+1, err)
		}
	}
}
