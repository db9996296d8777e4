package slack_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// sentCall is the part of a recorded Web API call a Tell test compares.
type sentCall struct {
	Method string
	Arg    string // the argument naming whom or where: users, email or channel
	Answer string // Slack's error code, "429" for a rate limit, "" for ok
}

func sentCalls(fake *slacktest.Server) []sentCall {
	var out []sentCall
	for _, c := range fake.Calls("users.lookupByEmail", "conversations.open", "chat.postMessage") {
		arg := c.Args["channel"]
		switch c.Method {
		case "users.lookupByEmail":
			arg = c.Args["email"]
		case "conversations.open":
			arg = c.Args["users"]
		}
		answer := c.Error
		if c.RateLimited {
			answer = "429"
		}
		out = append(out, sentCall{c.Method, arg, answer})
	}
	return out
}

// TestTellCalls: a direct message opens the conversation with the Slack user (named by
// the actor, or found by e-mail with users.lookupByEmail) and posts into it; a person
// Slack cannot reach gives ENOTFOUND wrapping bot.ErrUnreachable and no message, while
// Slack failing otherwise is EUPSTREAM, never ErrUnreachable (the notifier logs only the
// latter as a problem).
func TestTellCalls(t *testing.T) {
	t.Parallel()
	bob := slacktest.User{ID: "UBOB", Name: "bob", RealName: "Bob", Email: "Bob@contoso.com"}
	gone := slacktest.User{ID: "UGONE", Name: "gone", Email: "gone@contoso.com", Deleted: true}
	tests := []struct {
		name        string
		to          bot.Recipient
		limit       string // a method answering 429 with a Retry-After beyond what the adapter waits
		want        []sentCall
		wantCode    string
		unreachable bool
	}{
		{"OKActor", bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "UBOB", Name: "bob"}},
			"", []sentCall{{"conversations.open", "UBOB", ""}, {"chat.postMessage", "DBOB", ""}}, "", false},
		{"OKEmail", bot.Recipient{Email: "bob@contoso.com"}, "",
			[]sentCall{{"users.lookupByEmail", "bob@contoso.com", ""}, {"conversations.open", "UBOB", ""}, {"chat.postMessage", "DBOB", ""}}, "", false},
		{"OKUPNWhenMailUnknown", bot.Recipient{Email: "bob.mail@contoso.com", UPN: "bob@contoso.com"}, "",
			[]sentCall{{"users.lookupByEmail", "bob.mail@contoso.com", "users_not_found"}, {"users.lookupByEmail", "bob@contoso.com", ""},
				{"conversations.open", "UBOB", ""}, {"chat.postMessage", "DBOB", ""}}, "", false},
		{"ErrUnknownEmail", bot.Recipient{Email: "nobody@contoso.com"}, "",
			[]sentCall{{"users.lookupByEmail", "nobody@contoso.com", "users_not_found"}}, approvals.ENOTFOUND, true},
		{"ErrDeactivatedByEmail", bot.Recipient{Email: "gone@contoso.com"}, "",
			[]sentCall{{"users.lookupByEmail", "gone@contoso.com", ""}}, approvals.ENOTFOUND, true},
		{"ErrDeactivatedActor", bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "UGONE"}}, "",
			[]sentCall{{"conversations.open", "UGONE", "user_disabled"}}, approvals.ENOTFOUND, true},
		{"ErrSlackRateLimitsLookup", bot.Recipient{Email: "bob@contoso.com"}, "users.lookupByEmail",
			[]sentCall{{"users.lookupByEmail", "bob@contoso.com", "429"}}, approvals.EUPSTREAM, false},
		{"ErrSlackRateLimitsPost", bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "UBOB"}}, "chat.postMessage",
			[]sentCall{{"conversations.open", "UBOB", ""}, {"chat.postMessage", "DBOB", "429"}}, approvals.EUPSTREAM, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newRecorder(nil))
			f.slack.AddUser(bob)
			f.slack.AddUser(gone)
			if tt.limit != "" {
				f.slack.RateLimit(tt.limit, 1, 10*time.Minute)
			}
			err := f.ad.Tell(context.Background(), tt.to, bot.Message{Title: "Your sign-in methods were reset"})
			if got := approvals.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Tell = %v (code %q), want code %q", err, got, tt.wantCode)
			}
			if got := errors.Is(err, bot.ErrUnreachable); got != tt.unreachable {
				t.Fatalf("errors.Is(%v, ErrUnreachable) = %v, want %v", err, got, tt.unreachable)
			}
			if diff := cmp.Diff(tt.want, sentCalls(f.slack)); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
			dms := f.slack.Messages("DBOB")
			if delivered := len(dms) == 1; delivered != (tt.wantCode == "") {
				t.Fatalf("messages to bob = %+v", dms)
			}
		})
	}
}

// TestTellWithFile: a direct message's file is shared into the direct conversation, in
// the message's thread.
func TestTellWithFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	f.slack.AddUser(slacktest.User{ID: "UBOB", Name: "bob", Email: "bob@contoso.com"})
	csv := []byte("upn\nadele.vance@contoso.com\n")
	err := f.ad.Tell(context.Background(), bot.Recipient{Email: "bob@contoso.com"},
		bot.Message{Title: "Unregistered users", Files: []bot.File{{Name: "unregistered.csv", ContentType: "text/csv", Data: csv}}})
	if err != nil {
		t.Fatal(err)
	}
	dms := f.slack.Messages("DBOB")
	files := f.slack.Files()
	if len(dms) != 1 || len(files) != 1 {
		t.Fatalf("%d messages and %d files, want one of each", len(dms), len(files))
	}
	if fl := files[0]; fl.Channel != "DBOB" || fl.ThreadTS != dms[0].TS || !bytes.Equal(fl.Data, csv) {
		t.Fatalf("file = %+v, want the CSV in the thread of %s in DBOB", fl, dms[0].TS)
	}
}
