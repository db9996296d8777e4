package teams_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
)

func TestMessageBecomesCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want string
	}{
		{"MentionAndMFA", "<at>mfabot</at> mfa reset ann@contoso.com lost phone", "reset ann@contoso.com lost phone"},
		{"MentionOnly", "<at>mfabot</at> reset ann@contoso.com", "reset ann@contoso.com"},
		{"MFAUpperCase", "<at>mfabot</at> MFA status bob@contoso.com", "status bob@contoso.com"},
		{"HTMLWrapped", "<p><at>mfabot</at>&nbsp;mfa status <b>bob@contoso.com</b></p>\n", "status bob@contoso.com"},
		{"Entities", "<at>mfabot</at> reset ann@contoso.com R&amp;D said &quot;lost&quot; &lt;phone&gt;", `reset ann@contoso.com R&D said "lost" <phone>`},
		{"OtherMentionKeepsName", "<at>mfabot</at> status <at>Ann Smith</at>", "status Ann Smith"},
		{"MentionNotFirst", "please <at>mfabot</at> summary", "please summary"},
		{"Empty", "<at>mfabot</at>", ""},
		{"MFAInsideWordKept", "<at>mfabot</at> mfastatus x", "mfastatus x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			status, _ := h.post(t, h.token(), h.message(tt.text))
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			ev := h.disp.next(t)
			want := bot.Event{
				Actor:        approvals.Actor{Platform: "teams", ID: annAAD, Name: "Ann Admin", EntraID: annAAD},
				Conversation: bot.Conversation{Platform: "teams", ID: channelID, Name: "mfa-approvals"},
				Text:         tt.want,
			}
			if diff := cmp.Diff(want, ev); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessageNotForTheBotIgnored(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	act := h.message("just chatting about mfa")
	delete(act, "entities")
	if status, _ := h.post(t, h.token(), act); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	// Close waits for every dispatch started; then the count is final.
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.disp.count(); n != 0 {
		t.Errorf("dispatcher called %d times for a message that does not mention the bot", n)
	}
}

func TestPersonalChatNeedsNoMention(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	act := h.activity("message")
	act["text"] = "mfa pending"
	act["conversation"] = map[string]any{"id": "a:1personal-chat", "conversationType": "personal", "tenantId": tenantID}
	act["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}}
	h.post(t, h.token(), act)
	if ev := h.disp.next(t); ev.Text != "pending" || ev.Conversation.ID != "a:1personal-chat" {
		t.Errorf("event = %+v", ev)
	}
	// The personal chat is remembered for the user, so that Tell can reach them.
	refs := h.waitRefs(t, 2)
	var user *struct{ conv, kind string }
	for _, r := range refs {
		if r.Kind == "user" && r.AADObjectID == annAAD {
			user = &struct{ conv, kind string }{r.ConversationID, r.ConversationType}
		}
	}
	if user == nil || user.conv != "a:1personal-chat" || user.kind != "personal" {
		t.Errorf("user reference = %+v (refs %+v)", user, refs)
	}
}

func TestMessageWithoutEntraUserIgnored(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	act := h.message("<at>mfabot</at> reset ann@contoso.com")
	delete(act["from"].(map[string]any), "aadObjectId")
	h.post(t, h.token(), act)
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.disp.count(); n != 0 {
		t.Errorf("dispatcher called %d times", n)
	}
}

func TestMessageReplyGoesToThread(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		return bot.Response{Reply: &bot.Message{Title: "Usage", Text: "reset <user> [reason…]"}}
	})
	act := h.message("<at>mfabot</at> reset")
	h.post(t, h.token(), act)
	calls := h.conn.WaitSucceeded(t, 1, 5*time.Second)
	c := calls[0]
	if c.Op != "reply" || c.ConversationID != channelID+";messageid=1700000000400" || c.ActivityID != "1700000000500" {
		t.Errorf("reply went to %s %s/%s", c.Op, c.ConversationID, c.ActivityID)
	}
	if !strings.Contains(c.RawPath, "19%3Aapprovals%40thread.tacv2%3Bmessageid%3D1700000000400") {
		t.Errorf("conversation id not escaped in %s", c.RawPath)
	}
	if c.Bearer != "bot-connector-token" {
		t.Errorf("bearer %q", c.Bearer)
	}
	act2 := c.Activity()
	if act2["text"] != nil || c.Card() == nil {
		t.Errorf("reply must be a card without text: %s", c.Body)
	}
}

func TestConversationUpdateStoresReferences(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	act := h.activity("conversationUpdate")
	act["conversation"] = map[string]any{"id": teamID, "conversationType": "channel", "tenantId": tenantID}
	act["channelData"] = map[string]any{
		"tenant":    map[string]any{"id": tenantID},
		"team":      map[string]any{"id": teamID, "name": "IT"},
		"channel":   map[string]any{"id": channelID, "name": "mfa-approvals"},
		"eventType": "channelCreated",
	}
	act["membersAdded"] = []any{
		map[string]any{"id": botMRI},
		map[string]any{"id": "29:1bob", "aadObjectId": "0b0b0b0b-1111-2222-3333-444444444444", "name": "Bob"},
	}
	if status, _ := h.post(t, h.token(), act); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	refs := h.waitRefs(t, 4)
	got := map[string]string{}
	for _, r := range refs {
		if r.ServiceURL != h.conn.URL || r.TenantID != tenantID || r.BotID != botMRI {
			t.Errorf("reference %+v lacks serviceUrl, tenant or bot", r)
		}
		key := r.Kind + " " + r.ConversationID
		if r.Kind == "user" {
			key = r.Kind + " " + r.UserID
		}
		got[key] = r.Name
	}
	want := map[string]string{
		"conversation " + teamID:    "",
		"conversation " + channelID: "mfa-approvals",
		"user " + annMRI:            "Ann Admin",
		"user 29:1bob":              "Bob",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored references (-want +got):\n%s", diff)
	}
	if n := h.disp.count(); n != 0 {
		t.Errorf("dispatcher called %d times", n)
	}
}

func TestInstallationUpdateStoresPersonalChat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	act := h.activity("installationUpdate")
	act["action"] = "add"
	act["conversation"] = map[string]any{"id": "a:1ann-personal", "conversationType": "personal", "tenantId": tenantID}
	act["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}}
	h.post(t, h.token(), act)
	refs := h.waitRefs(t, 2)
	for _, r := range refs {
		if r.ConversationID != "a:1ann-personal" || r.AADObjectID != annAAD {
			t.Errorf("reference %+v", r)
		}
	}
}

// invokeAnswer decodes the HTTP body of an invoke answer.
type invokeAnswer struct {
	StatusCode int             `json:"statusCode"`
	Type       string          `json:"type"`
	Value      json.RawMessage `json:"value"`
}

func decodeAnswer(t *testing.T, body []byte) (invokeAnswer, map[string]any) {
	t.Helper()
	var ans invokeAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("invoke answer %s: %v", body, err)
	}
	var card map[string]any
	if ans.Type == "application/vnd.microsoft.card.adaptive" {
		if err := json.Unmarshal(ans.Value, &card); err != nil {
			t.Fatalf("card: %v", err)
		}
	}
	return ans, card
}

func pendingCard(state string) *bot.Message {
	return &bot.Message{
		Title: "Reset MFA for ann@contoso.com", Tone: bot.TonePending, RequestID: "R-7K2Q",
		Facts:   []bot.Fact{{Label: "State", Value: state}},
		Buttons: []bot.Button{{Label: "Approve", Command: "approve R-7K2Q", Style: bot.ButtonPrimary}},
	}
}

func TestInvokeAnsweredWithCard(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		return bot.Response{Card: pendingCard("approved by Ann Admin")}
	})
	status, body := h.post(t, h.token(), h.invoke("command", map[string]any{"command": "approve R-7K2Q"}, "1700000000400"))
	if status != http.StatusOK {
		t.Fatalf("status %d %s", status, body)
	}
	ev := h.disp.next(t)
	if ev.Text != "approve R-7K2Q" || !ev.Button || ev.Actor.ID != annAAD {
		t.Errorf("event = %+v", ev)
	}
	ans, card := decodeAnswer(t, body)
	if ans.StatusCode != 200 || card == nil {
		t.Fatalf("answer = %+v", ans)
	}
	if !strings.Contains(string(ans.Value), "approved by Ann Admin") {
		t.Errorf("answer card lacks the new state: %s", ans.Value)
	}
	if strings.Contains(string(ans.Value), `"style":"attention","type":"Container"`) {
		t.Errorf("no refusal expected: %s", ans.Value)
	}
}

func TestInvokeRefusalShownToClicker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		return bot.Response{
			Reply: &bot.Message{Title: "Refused", Text: "You cannot approve your own request."},
			Card:  pendingCard("pending"),
		}
	})
	_, body := h.post(t, h.token(), h.invoke("command", map[string]any{"command": "approve R-7K2Q"}, "1700000000400"))
	_, card := decodeAnswer(t, body)
	b, _ := json.Marshal(card["body"].([]any)[0])
	if !strings.Contains(string(b), "You cannot approve your own request.") || !strings.Contains(string(b), "attention") {
		t.Errorf("first element is not the refusal: %s", b)
	}
	// Close waits for the work the invoke started; then the connector's calls are final.
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := h.conn.Calls(); len(calls) != 0 {
		t.Errorf("a private refusal went to the conversation: %d calls", len(calls))
	}
}

func TestInvokeDenyCarriesReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.post(t, h.token(), h.invoke("command", map[string]any{
		"command": "deny R-7K2Q", "reason": "  not\nverified\u202e by phone ",
	}, "1700000000400"))
	// Disguising characters are gone; the dispatcher folds the rest.
	if ev := h.disp.next(t); ev.Text != "deny R-7K2Q" || strings.Join(strings.Fields(ev.Reason), " ") != "not verified by phone" {
		t.Errorf("text = %q, reason %q", ev.Text, ev.Reason)
	}
}

func TestInvokeBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		verb string
		data map[string]any
	}{
		{"NoCommand", "command", map[string]any{}},
		{"MultilineCommand", "command", map[string]any{"command": "approve R-1\napprove R-2"}},
		{"RefreshWithoutID", "refresh", map[string]any{}},
		{"RefreshWithJunk", "refresh", map[string]any{"requestId": "R-1 approve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			status, body := h.post(t, h.token(), h.invoke(tt.verb, tt.data, "1700000000400"))
			ans, _ := decodeAnswer(t, body)
			if status != http.StatusOK || ans.StatusCode != 400 {
				t.Errorf("status %d, answer %+v", status, ans)
			}
			if n := h.disp.count(); n != 0 {
				t.Errorf("dispatcher called %d times", n)
			}
		})
	}
}

func TestInvokeRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		return bot.Response{Card: pendingCard("running 40%")}
	})
	act := h.invoke("refresh", map[string]any{"requestId": "R-7K2Q"}, "1700000000400")
	act["value"].(map[string]any)["trigger"] = "automatic"
	_, body := h.post(t, h.token(), act)
	ev := h.disp.next(t)
	if ev.Text != "show R-7K2Q" || !ev.Button {
		t.Errorf("event = %+v", ev)
	}
	ans, card := decodeAnswer(t, body)
	if card == nil || !strings.Contains(string(ans.Value), "running 40%") {
		t.Errorf("answer = %s", ans.Value)
	}
	// The clicker is now among the users whose client refreshes the card by itself.
	refresh, _ := card["refresh"].(map[string]any)
	if ids, _ := refresh["userIds"].([]any); len(ids) != 1 || ids[0] != annMRI {
		t.Errorf("refresh = %v", refresh)
	}
}

func TestInvokeSlowCoreAnsweredWithLastCardThenUpdated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *teams.Config) { c.InvokeTimeout = 100 * time.Millisecond })
	h.storeChannel(t)
	// The card is posted first, so its state is known.
	ref, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		<-release
		return bot.Response{Card: pendingCard("approved by Ann Admin")}
	})
	status, body := h.post(t, h.token(), h.invoke("command", map[string]any{"command": "approve R-7K2Q"}, ref.MessageID))
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	ans, card := decodeAnswer(t, body)
	if card == nil || !strings.Contains(string(ans.Value), "pending") {
		t.Fatalf("slow core: answer %s, want the last known card", ans.Value)
	}
	close(release)
	calls := h.conn.WaitSucceeded(t, 2, 5*time.Second)
	upd := calls[1]
	if upd.Op != "update" || upd.ActivityID != ref.MessageID || !strings.Contains(string(upd.Body), "approved by Ann Admin") {
		t.Errorf("card not updated with the outcome: %s %s %s", upd.Op, upd.ActivityID, upd.Body)
	}
}

// A refusal meant for the presser alone that comes after the invoke was answered goes to
// their personal chat, never to the shared conversation.
func TestInvokeLateRefusalStaysPrivate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *teams.Config) { c.InvokeTimeout = 100 * time.Millisecond })
	h.storeChannel(t)
	// Ann talked to mfabot in her personal chat once: mfabot knows how to reach her.
	act := h.activity("message")
	act["conversation"] = map[string]any{"id": "a:1personal-ann", "conversationType": "personal", "tenantId": tenantID}
	act["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}}
	act["text"] = "help"
	h.post(t, h.token(), act)
	h.disp.next(t)
	h.waitRefs(t, 2)
	ref, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		<-release // answered only after the invoke gave up waiting
		return bot.Response{Card: pendingCard("pending"), Reply: &bot.Message{Title: "Refused", Text: "You cannot approve your own request."}}
	})
	if status, _ := h.post(t, h.token(), h.invoke("command", map[string]any{"command": "approve R-7K2Q"}, ref.MessageID)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	close(release)
	if err := h.a.Close(context.Background()); err != nil { // waits for the late answer
		t.Fatal(err)
	}
	var sent []string
	for _, c := range h.conn.Calls() {
		if strings.Contains(string(c.Body), "your own request") {
			sent = append(sent, c.Op+" "+c.ConversationID)
		}
	}
	if len(sent) != 1 || sent[0] != "send a:1personal-ann" {
		t.Fatalf("the refusal went to %v; want Ann's personal chat only", sent)
	}
}

func TestSubmitFallbackUpdatesCardAndReplies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.conn.AddActivity(channelID, "1700000000400")
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		return bot.Response{Card: pendingCard("denied by Ann Admin"), Reply: &bot.Message{Text: "Denied."}}
	})
	act := h.activity("message")
	act["replyToId"] = "1700000000400"
	act["value"] = map[string]any{"command": "deny R-7K2Q", "reason": "unverified"}
	h.post(t, h.token(), act)
	ev := h.disp.next(t)
	if ev.Text != "deny R-7K2Q" || ev.Reason != "unverified" || !ev.Button {
		t.Errorf("event = %+v", ev)
	}
	calls := h.conn.WaitSucceeded(t, 2, 5*time.Second)
	ops := map[string]bool{}
	for _, c := range calls {
		ops[c.Op] = true
	}
	if !ops["update"] || !ops["reply"] {
		t.Errorf("calls = %+v", calls)
	}
}

func TestUnknownInvokeNotImplemented(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	act := h.activity("invoke")
	act["name"] = "composeExtension/query"
	if status, _ := h.post(t, h.token(), act); status != http.StatusNotImplemented {
		t.Errorf("status %d, want 501", status)
	}
}

func TestInvokePublicReplyGoesToConversation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(func(ctx context.Context, ev bot.Event) bot.Response {
		return bot.Response{Reply: &bot.Message{Text: "R-7K2Q approved by Ann Admin"}, Public: true, Card: pendingCard("approved")}
	})
	_, body := h.post(t, h.token(), h.invoke("command", map[string]any{"command": "approve R-7K2Q"}, "1700000000400"))
	_, card := decodeAnswer(t, body)
	if b, _ := json.Marshal(card); strings.Contains(string(b), "R-7K2Q approved by Ann Admin") {
		t.Errorf("a public reply was shown as a private note: %s", b)
	}
	calls := h.conn.WaitSucceeded(t, 1, 5*time.Second)
	if calls[0].Op != "reply" || !strings.Contains(string(calls[0].Body), "R-7K2Q approved by Ann Admin") {
		t.Errorf("public reply not posted: %+v", calls[0])
	}
}
