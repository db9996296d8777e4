package slacktest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// TestFakeIsStrict: the fake refuses what Slack refuses, so adapter tests against it mean
// something. It is driven by slack-go, the client the adapter uses.
func TestFakeIsStrict(t *testing.T) {
	fake := slacktest.Start(t)
	ctx := context.Background()
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(fake.APIURL()))
	code := func(err error) string {
		var e slack.SlackErrorResponse
		if errors.As(err, &e) {
			return e.Err
		}
		return ""
	}
	section := func(text string) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
	}
	manyBlocks := make([]slack.Block, 51)
	for i := range manyBlocks {
		manyBlocks[i] = section("x")
	}
	button := func(id, label string) slack.BlockElement {
		return slack.NewButtonBlockElement(id, "v", slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"ErrWrongToken", func() error {
			_, err := slack.New("xoxb-wrong", slack.OptionAPIURL(fake.APIURL())).AuthTestContext(ctx)
			return err
		}, "invalid_auth"},
		{"ErrAppTokenForWebAPI", func() error {
			_, err := slack.New(slacktest.AppToken, slack.OptionAPIURL(fake.APIURL())).AuthTestContext(ctx)
			return err
		}, "invalid_auth"},
		{"ErrUnknownChannel", func() error {
			_, _, err := api.PostMessageContext(ctx, "C0NOPE", slack.MsgOptionText("hi", false))
			return err
		}, "channel_not_found"},
		{"ErrFiftyOneBlocks", func() error {
			_, _, err := api.PostMessageContext(ctx, slacktest.Channel, slack.MsgOptionBlocks(manyBlocks...))
			return err
		}, "invalid_blocks"},
		{"ErrSectionTooLong", func() error {
			_, _, err := api.PostMessageContext(ctx, slacktest.Channel, slack.MsgOptionBlocks(section(strings.Repeat("x", 3001))))
			return err
		}, "invalid_blocks"},
		{"ErrButtonTextTooLong", func() error {
			_, _, err := api.PostMessageContext(ctx, slacktest.Channel, slack.MsgOptionBlocks(slack.NewActionBlock("a", button("b", strings.Repeat("x", 76)))))
			return err
		}, "invalid_blocks"},
		{"ErrDuplicateActionID", func() error {
			_, _, err := api.PostMessageContext(ctx, slacktest.Channel, slack.MsgOptionBlocks(slack.NewActionBlock("a", button("b", "one"), button("b", "two"))))
			return err
		}, "invalid_blocks"},
		{"ErrUnknownMessage", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, slacktest.Channel, "1.000001", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"ErrUnknownTrigger", func() error {
			_, err := api.OpenViewContext(ctx, "123.456.abc", slack.ModalViewRequest{Type: slack.VTModal,
				Title: slack.NewTextBlockObject(slack.PlainTextType, "t", false, false)})
			return err
		}, "invalid_trigger_id"},
		{"ErrTitleTooLong", func() error {
			_, err := api.OpenViewContext(ctx, fake.NewTriggerID(), slack.ModalViewRequest{Type: slack.VTModal,
				Title: slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("x", 25), false, false)})
			return err
		}, "invalid_arguments"},
		{"ErrNoSuchEmail", func() error {
			_, err := api.GetUserByEmailContext(ctx, "nobody@contoso.com")
			return err
		}, "users_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(tt.call()); got != tt.want {
				t.Fatalf("error code %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("ErrRateLimited", func(t *testing.T) {
		fake.RateLimit("chat.postMessage", 1, 2*time.Second)
		_, _, err := api.PostMessageContext(ctx, slacktest.Channel, slack.MsgOptionText("hi", false))
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
			t.Fatalf("err = %v, want a 429 with Retry-After 2s", err)
		}
		if _, _, err := api.PostMessageContext(ctx, slacktest.Channel, slack.MsgOptionText("hi", false)); err != nil {
			t.Fatalf("after the limit: %v", err)
		}
	})
	t.Run("OKUploadV2", func(t *testing.T) {
		_, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "a,b\n", FileSize: 4, Filename: "x.csv", Title: "x.csv", Channel: slacktest.Channel})
		if err != nil {
			t.Fatal(err)
		}
		if files := fake.Files(); len(files) != 1 || string(files[0].Data) != "a,b\n" {
			t.Fatalf("files = %+v", files)
		}
	})
	if res, err := api.AuthTestContext(ctx); err != nil || res.TeamID != slacktest.TeamID || res.BotID != slacktest.BotID {
		t.Fatalf("auth.test with the right token: %+v %v", res, err)
	}
}
