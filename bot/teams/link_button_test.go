package teams_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
)

// A link button is an Action.OpenUrl, on a card and in a note for the presser alone.
func TestRenderCardLinkButton(t *testing.T) {
	t.Parallel()
	link := "https://mfabot.contoso.com/stepup/tok"
	note := bot.Message{Title: "Sign in to approve R-1", Tone: bot.TonePending, Text: "Open the link.",
		Buttons: []bot.Button{{Label: "Sign in to approve R-1", URL: link, Style: bot.ButtonPrimary}}}
	for name, raw := range map[string][]byte{
		"card": teams.RenderCard(note, teams.CardOptions{}),
		"note": teams.RenderCard(bot.Message{Title: "Reset R-1", RequestID: "R-1"}, teams.CardOptions{Note: &note}),
	} {
		want := `{"title":"Sign in to approve R-1","type":"Action.OpenUrl","url":"` + link + `"}`
		var v any
		_ = json.Unmarshal(raw, &v)
		compact, _ := json.Marshal(v)
		if !strings.Contains(string(compact), want) || strings.Contains(string(compact), `"verb":"command"`) {
			t.Errorf("%s: no %s in\n%s", name, want, compact)
		}
	}
}
