package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// bulkForm is a form like reset-bulk's: a long list, choices, a toggle and a reason.
func bulkForm() bot.Form {
	return bot.Form{
		Title: "Reset MFA for a list", Text: "Paste up to 1,000 users.", Command: "reset-bulk", Submit: "Ask for approval",
		Fields: []bot.Field{
			{ID: "users", Kind: bot.FieldLines, Label: "Users", Required: true, MaxChars: 100_000},
			{ID: "only", Kind: bot.FieldChoice, Label: "Only these types", Value: "oath", Options: []bot.Option{
				{Value: "authenticator", Label: "Microsoft Authenticator"}, {Value: "oath", Label: "Software OTP, Hardware OTP"}}},
			{ID: "tap", Kind: bot.FieldToggle, Label: "Temporary Access Pass", Hint: "Shown to you alone."},
			{ID: "reason", Kind: bot.FieldText, Label: "Reason", MaxChars: 1000, Value: "phishing <!here>"},
		},
	}
}

// TestFormModal: a command answered with a form opens it as a modal within Slack's
// limits (a 1,000-user list split into 3,000-character boxes); the submission reaches
// the dispatcher as the form's command with every box joined in order, and the answer
// goes to the person alone.
func TestFormModal(t *testing.T) {
	t.Parallel()
	d := newRecorder(func(ev bot.Event) bot.Response {
		if ev.Form == nil {
			f := bulkForm()
			return bot.Response{Form: &f}
		}
		return bot.Response{Reply: &bot.Message{Title: "Request R-7K2QXA is waiting for approval"}}
	})
	f := newFixture(t, d)
	ctx := context.Background()
	if _, err := f.sender.Command(ctx, f.slack.Command(f.ann, slacktest.Channel, "reset-bulk --only oath phishing")); err != nil {
		t.Fatal(err)
	}
	opened := f.slack.WaitCalls(t, "views.open", 1)
	if opened[0].Error != "" {
		t.Fatalf("views.open refused the form: %s", opened[0].Error)
	}
	view := f.slack.Views()[0]
	var v struct {
		Blocks []struct {
			Type     string `json:"type"`
			BlockID  string `json:"block_id"`
			Optional bool   `json:"optional"`
			Element  struct {
				Type           string            `json:"type"`
				MaxLength      int               `json:"max_length"`
				InitialValue   string            `json:"initial_value"`
				InitialOptions []json.RawMessage `json:"initial_options"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(view.JSON, &v); err != nil {
		t.Fatal(err)
	}
	boxes := 0
	for _, b := range v.Blocks {
		switch {
		case strings.HasPrefix(b.BlockID, "users"):
			boxes++
			if b.Element.MaxLength != 3000 || b.Optional != (b.BlockID != "users") {
				t.Fatalf("box %s: max %d optional %v", b.BlockID, b.Element.MaxLength, b.Optional)
			}
		case b.BlockID == "only" && len(b.Element.InitialOptions) != 1:
			t.Fatalf("the typed --only is not chosen: %+v", b.Element)
		case b.BlockID == "reason" && b.Element.InitialValue != "phishing <!here>":
			t.Fatalf("the typed reason is not filled in: %q", b.Element.InitialValue)
		}
	}
	if boxes != 14 {
		t.Fatalf("the list has %d boxes, want 14 (1,000 object ids)", boxes)
	}
	// Ann pastes 1,000 users over the boxes, out of order in the payload.
	values := map[string]map[string]string{"reason": {"value": "phishing wave"}}
	var want []string
	for box := range 12 {
		var lines []string
		for i := range 84 {
			n := box*84 + i
			if n >= 1000 {
				break
			}
			lines = append(lines, fmt.Sprintf("user%04d@contoso.com", n))
		}
		want = append(want, lines...)
		id := "users"
		if box > 0 {
			id = fmt.Sprintf("users_%d", box+1)
		}
		values[id] = map[string]string{"value": strings.Join(lines, "\n") + "\n"}
	}
	sub, err := f.slack.Submit(f.ann, view.ID, values)
	if err != nil {
		t.Fatal(err)
	}
	sub.Checked = map[string]map[string][]string{"only": {"value": {"authenticator", "oath"}}, "tap": {"value": {"true"}}}
	ans, err := f.sender.Interaction(ctx, sub.Payload())
	if err != nil || ans.Status != 200 || len(ans.Body) != 0 {
		t.Fatalf("submit: %+v %v", ans, err)
	}
	f.waitEvent(t) // the command
	ev := f.waitEvent(t)
	if ev.Text != "reset-bulk" || ev.Actor.ID != "UANN" || ev.Actor.EntraID != "oid-ann" || ev.Button {
		t.Fatalf("event = %+v", ev)
	}
	if got := ev.Form["users"]; got != strings.Join(want, "\n") {
		t.Fatalf("users = %d characters, not the 1,000 lines in order", len(got))
	}
	if ev.Form["only"] != "authenticator,oath" || ev.Form["tap"] != "true" || ev.Form["reason"] != "phishing wave" {
		t.Fatalf("form = only %q tap %q reason %q", ev.Form["only"], ev.Form["tap"], ev.Form["reason"])
	}
	answered := f.slack.WaitCalls(t, "response_url", 1)
	if !strings.Contains(answered[0].Args["text"], "R-7K2QXA is waiting") || answered[0].Args["response_type"] != "ephemeral" {
		t.Fatalf("answer = %+v", answered[0].Args)
	}
}

// TestTellPrivately: a pass goes as an ephemeral message in the approvals channel, never
// as a direct message; someone Slack cannot show it to is unreachable.
func TestTellPrivately(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	ctx := context.Background()
	msg := bot.Message{Title: "Temporary Access Pass for adele.vance@contoso.com", Facts: []bot.Fact{{Label: "Pass", Value: "Xy7!kQ2p"}}}
	how, err := f.ad.TellPrivately(ctx, approvals.Actor{Platform: "slack", ID: "UANN"}, msg)
	if err != nil || how != "an ephemeral Slack message in "+slacktest.Channel {
		t.Fatalf("TellPrivately = %q %v", how, err)
	}
	calls := f.slack.Calls("chat.postEphemeral")
	if len(calls) != 1 || calls[0].Args["user"] != "UANN" || !strings.Contains(calls[0].Args["blocks"], "Xy7!kQ2p") {
		t.Fatalf("calls = %+v", calls)
	}
	if n := len(f.slack.Calls("chat.postMessage")) + len(f.slack.Calls("conversations.open")); n != 0 {
		t.Fatalf("%d public or direct messages", n)
	}
	if _, err := f.ad.TellPrivately(ctx, approvals.Actor{Platform: "slack", ID: "UNOBODY"}, msg); err == nil || !strings.Contains(approvals.ErrorMessage(err), "user_not_in_channel") {
		t.Fatalf("a stranger: %v", err)
	}
	if _, err := f.ad.TellPrivately(ctx, approvals.Actor{Platform: "teams", ID: "oid"}, msg); err == nil {
		t.Fatal("a Teams user was told on Slack")
	}
}
