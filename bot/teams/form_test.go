package teams_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
)

func bulkForm() bot.Form {
	return bot.Form{
		Title: "Reset MFA for a list", Text: "Paste up to 1,000 users.", Command: "reset-bulk", Submit: "Ask for approval",
		Fields: []bot.Field{
			{ID: "users", Kind: bot.FieldLines, Label: "Users", Required: true, MaxChars: 100_000},
			{ID: "only", Kind: bot.FieldChoice, Label: "Only these types", Value: "oath", Options: []bot.Option{
				{Value: "authenticator", Label: "Microsoft Authenticator"}, {Value: "oath", Label: "Software OTP, Hardware OTP"}}},
			{ID: "tap", Kind: bot.FieldToggle, Label: "Temporary Access Pass", Value: "true"},
			{ID: "reason", Kind: bot.FieldText, Label: "Reason", MaxChars: 1000},
		},
	}
}

// TestFormCard: a command answered with a form is replied to with a card form whose
// submit carries the form's command; its submission (Action.Execute, with the inputs the
// client merged into the data) reaches the dispatcher as Event.Form.
func TestFormCard(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(func(_ context.Context, ev bot.Event) bot.Response {
		if ev.Form == nil {
			f := bulkForm()
			return bot.Response{Form: &f}
		}
		return bot.Response{Reply: &bot.Message{Title: "Request R-7K2QXA is waiting for approval"}}
	})
	h.post(t, h.token(), h.message("<at>mfabot</at> reset-bulk"))
	calls := h.conn.WaitSucceeded(t, 1, 5*time.Second)
	card := calls[0].Card()
	if calls[0].Op != "reply" || card == nil {
		t.Fatalf("reply = %s", calls[0].Body)
	}
	raw, _ := json.Marshal(card)
	for _, want := range []string{`"type":"Input.Text"`, `"id":"users"`, `"isMultiline":true`, `"maxLength":100000`, `"type":"Input.ChoiceSet"`,
		`"isMultiSelect":true`, `"type":"Input.Toggle"`, `"valueOn":"true"`, `"verb":"command"`, `"command":"reset-bulk"`, `"mfabotForm":"1"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("form card lacks %s:\n%s", want, raw)
		}
	}
	h.disp.next(t)
	list := strings.Repeat("adele.vance@contoso.com\n", 3)
	h.post(t, h.token(), h.invoke("command", map[string]any{
		"command": "reset-bulk", "mfabotForm": "1", "users": list, "only": "authenticator,oath", "tap": "true", "reason": "phishing\u202e wave",
	}, "1700000000600"))
	ev := h.disp.next(t)
	if ev.Text != "reset-bulk" || ev.Actor.EntraID != annAAD {
		t.Fatalf("event = %+v", ev)
	}
	if ev.Form["users"] != list || ev.Form["only"] != "authenticator,oath" || ev.Form["tap"] != "true" || ev.Form["reason"] != "phishing  wave" {
		t.Fatalf("form = %q", ev.Form)
	}
	if _, ok := ev.Form["mfabotForm"]; ok {
		t.Fatal("the marker reached the dispatcher")
	}
}

// TestTellPrivatelyTeams: a pass goes in the person's personal chat, nowhere else.
func TestTellPrivatelyTeams(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Ann talked to mfabot in her personal chat once: mfabot knows how to reach her.
	act := h.activity("message")
	act["conversation"] = map[string]any{"id": "a:1personal-ann", "conversationType": "personal", "tenantId": tenantID}
	delete(act, "channelData")
	act["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}}
	act["text"] = "help"
	h.post(t, h.token(), act)
	h.disp.next(t)
	ctx := context.Background()
	h.waitRefs(t, 1) // the personal chat's reference is stored in the background
	how, err := h.a.TellPrivately(ctx, approvals.Actor{Platform: "teams", ID: annAAD, EntraID: annAAD},
		bot.Message{Title: "Temporary Access Pass", Facts: []bot.Fact{{Label: "Pass", Value: "Xy7!kQ2p"}}})
	if err != nil || how != "a Teams personal message" {
		t.Fatalf("TellPrivately = %q %v", how, err)
	}
	var sent []string
	for _, c := range h.conn.Calls() {
		if strings.Contains(string(c.Body), "Xy7!kQ2p") {
			sent = append(sent, c.Op+" "+c.ConversationID)
		}
	}
	if len(sent) != 1 || sent[0] != "send a:1personal-ann" {
		t.Fatalf("the pass went to %v", sent)
	}
	if _, err := h.a.TellPrivately(ctx, approvals.Actor{Platform: "slack", ID: "UANN"}, bot.Message{}); err == nil {
		t.Fatal("a Slack user was told on Teams")
	}
}

var _ bot.PrivateTeller = (*teams.Adapter)(nil)
