package slack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
)

// A link button (a step-up sign-in) opens its URL and carries no command: its press is
// not one the adapter dispatches.
func TestRenderLinkButton(t *testing.T) {
	t.Parallel()
	link := "https://mfabot.contoso.com/stepup/tok"
	blocks := slack.Render(bot.Message{Title: "Sign in to approve R-1", Buttons: []bot.Button{
		{Label: "Sign in to approve R-1", URL: link, Style: bot.ButtonPrimary},
		{Label: "Too long", URL: "https://x.example/" + strings.Repeat("a", 3000)},
	}})
	raw, _ := json.Marshal(blocks)
	var got []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			URL      string `json:"url"`
			Value    string `json:"value"`
			Style    string `json:"style"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var found int
	for _, b := range got {
		for _, e := range b.Elements {
			found++
			if e.URL != link || !strings.HasPrefix(e.ActionID, "mfa_link_") || e.Value != "" || e.Style != "primary" {
				t.Fatalf("link button rendered as %+v", e)
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d buttons rendered, want the one whose URL fits Slack's limit:\n%s", found, raw)
	}
}
