package teams_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
)

// BenchmarkRenderCard renders a partly-failed card with 10,000 failed users, which must be
// cut to fit; it reports the size of the result.
func BenchmarkRenderCard(b *testing.B) {
	lines := make([]string, 10000)
	for i := range lines {
		lines[i] = fmt.Sprintf("user%05d@contoso.com: throttled", i)
	}
	msg := bot.Message{Title: "Revoked sessions", Tone: bot.ToneWarning, Sections: []bot.Section{{Title: "Failed users", Lines: lines}},
		Progress: &bot.Progress{Done: 10000, Failed: 10000, Total: 10000}, RequestID: "R-1"}
	var size int
	for b.Loop() {
		size = len(teams.RenderCard(msg, teams.CardOptions{}))
	}
	b.ReportMetric(float64(size), "card-bytes")
}

// BenchmarkInboundMessage measures one verified request to /api/messages: JWT signature,
// claims, activity binding and tenant check, up to the 200 (dispatch is asynchronous).
func BenchmarkInboundMessage(b *testing.B) {
	h := newHarness(b)
	token := h.token()
	act := h.message("<at>mfabot</at> mfa status ann@contoso.com")
	go func() {
		for range h.disp.ch {
		}
	}()
	for b.Loop() {
		if status, _ := h.post(b, token, act); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	}
}
