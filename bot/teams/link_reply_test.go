package teams_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/bot"
)

// stepUpReply is a dispatcher answer carrying a one-time sign-in link.
func stepUpReply(context.Context, bot.Event) bot.Response {
	return bot.Response{Reply: &bot.Message{Title: "Sign in to approve R-7K2Q", Tone: bot.TonePending, Text: "Open the link.",
		Buttons: []bot.Button{{Label: "Sign in to approve R-7K2Q", URL: "https://mfabot.contoso.com/stepup/secret-token"}}}}
}

// A reply with a one-time link never lands in a channel: it goes to the person's personal
// chat, and the channel learns only that it was sent.
func TestLinkReplyGoesToPersonalChat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	inst := h.activity("installationUpdate")
	inst["action"] = "add"
	inst["conversation"] = map[string]any{"id": "a:1ann-personal", "conversationType": "personal", "tenantId": tenantID}
	inst["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}}
	h.post(t, h.token(), inst)
	h.waitRefs(t, 2)

	h.disp.set(stepUpReply)
	h.post(t, h.token(), h.message("<at>mfabot</at> approve R-7K2Q"))
	calls := h.conn.WaitSucceeded(t, 2, 5*time.Second)
	var personal, channel bool
	for _, c := range calls {
		switch {
		case c.Op == "send" && c.ConversationID == "a:1ann-personal":
			personal = strings.Contains(string(c.Body), "secret-token")
		case c.Op == "reply":
			channel = true
			if strings.Contains(string(c.Body), "secret-token") || !strings.Contains(string(c.Body), "sent Ann Admin the link in a personal chat") {
				t.Errorf("channel reply: %s", c.Body)
			}
		}
	}
	if !personal || !channel {
		t.Fatalf("personal chat got the link %v, channel told %v: %+v", personal, channel, calls)
	}
}

// Without a personal chat yet, mfabot opens one (the person wrote to it, so it knows them)
// and the link goes there, never to the channel.
func TestLinkReplyOpensPersonalChat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.disp.set(stepUpReply)
	h.post(t, h.token(), h.message("<at>mfabot</at> approve R-7K2Q"))
	calls := h.conn.WaitSucceeded(t, 3, 5*time.Second)
	var ops []string
	for _, c := range calls {
		ops = append(ops, c.Op)
		if strings.Contains(string(c.Body), "secret-token") && (c.Op != "send" || c.ConversationID == channelID) {
			t.Fatalf("the link went to %s %s", c.Op, c.ConversationID)
		}
	}
	if strings.Join(ops, ",") != "create,send,reply" {
		t.Fatalf("connector calls %v, want the personal chat created, the link sent to it, the channel told", ops)
	}
}
