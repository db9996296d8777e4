package teams_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got json.RawMessage) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("indent: %v", err)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", path, diff)
	}
}

func TestRenderCardGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  bot.Message
		opts teams.CardOptions
	}{
		{
			name: "pending",
			msg: bot.Message{
				Title: "Reset MFA for Ann Smith (ann@contoso.com)?",
				Tone:  bot.TonePending,
				Text:  "Bob Admin asks to reset MFA: lost phone.\n\nEvery method but the password goes, then all sessions are revoked.",
				Facts: []bot.Fact{
					{Label: "Request", Value: "R-7K2Q"},
					{Label: "Requested by", Value: "Bob Admin (teams)"},
					{Label: "Expires", Value: "2026-11-22 14:00 UTC (in 2h)"},
				},
				Sections: []bot.Section{{
					Title: "Methods to delete (3)",
					Lines: []string{"microsoftAuthenticator iPhone 15", "fido2 YubiKey 5 NFC", "phone (mobile) +1 555 ••• 0123"},
				}},
				Buttons: []bot.Button{
					{Label: "Approve", Command: "approve R-7K2Q", Style: bot.ButtonPrimary},
					{Label: "Deny", Command: "deny R-7K2Q", Style: bot.ButtonDanger, NeedsReason: true},
				},
				Footer:    "R-7K2Q · needs 1 approval",
				RequestID: "R-7K2Q",
			},
			opts: teams.CardOptions{RefreshUserIDs: []string{"29:1ann", "29:1carol"}},
		},
		{
			name: "running",
			msg: bot.Message{
				Title:     "Revoking sessions of group Sales (10,000 members)",
				Tone:      bot.TonePending,
				Facts:     []bot.Fact{{Label: "Approved by", Value: "Carol Admin"}},
				Progress:  &bot.Progress{Done: 3200, Failed: 12, Total: 10000},
				Footer:    "R-9ZZ1",
				RequestID: "R-9ZZ1",
			},
		},
		{
			name: "partly_failed",
			msg: bot.Message{
				Title:    "Revoked sessions of group Sales: 9,988 done, 12 failed",
				Tone:     bot.ToneWarning,
				Progress: &bot.Progress{Done: 10000, Failed: 12, Total: 10000},
				Sections: []bot.Section{{
					Title: "Failed users",
					Lines: []string{"user1@contoso.com: not found", "user_2@contoso.com: throttled"},
					More:  10,
				}},
				Footer:    "R-9ZZ1 · finished 14:32 UTC",
				RequestID: "R-9ZZ1",
			},
		},
		{
			name: "status",
			msg: bot.Message{
				Title: "Ann Smith (ann@contoso.com)",
				Facts: []bot.Fact{
					{Label: "MFA registered", Value: "yes"},
					{Label: "Per-user MFA", Value: "enforced"},
					{Label: "Preferred method", Value: "microsoftAuthenticator"},
				},
				Sections: []bot.Section{{Title: "Methods", Lines: []string{"password", "microsoftAuthenticator iPhone 15"}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, teams.RenderCard(tt.msg, tt.opts))
		})
	}
}

// textsOf returns every text a card shows through Markdown (TextBlock text, fact titles
// and values).
func textsOf(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "TextBlock" {
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
		}
		if x["title"] != nil && x["value"] != nil && x["type"] == nil {
			out = append(out, fmt.Sprint(x["title"]), fmt.Sprint(x["value"]))
		}
		for _, e := range x {
			out = append(out, textsOf(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, textsOf(e)...)
		}
	}
	return out
}

func TestRenderCardEscapesUserText(t *testing.T) {
	t.Parallel()
	hostile := "[ok](http://evil.example) <at>Boss</at> **urgent** _x_ `code` &lt; ~~s~~"
	msg := bot.Message{
		Title:    hostile,
		Text:     hostile + "\n# heading\n- list\n1. one",
		Facts:    []bot.Fact{{Label: "Reason", Value: hostile}},
		Sections: []bot.Section{{Title: "Users", Lines: []string{hostile}}},
		Footer:   hostile,
	}
	var card map[string]any
	if err := json.Unmarshal(teams.RenderCard(msg, teams.CardOptions{}), &card); err != nil {
		t.Fatal(err)
	}
	want := `\[ok\](http://evil.example) \<at\>Boss\</at\> \*\*urgent\*\* \_x\_ \` + "`" + `code\` + "`" + ` \&lt; \~\~s\~\~`
	texts := textsOf(card)
	found := 0
	for _, s := range texts {
		if strings.Contains(s, "evil.example") {
			found++
			if !strings.Contains(s, want) {
				t.Errorf("text not escaped:\n got %q\nwant it to contain %q", s, want)
			}
		}
		// With every escaped character taken out, no markup character may be left.
		if bare := escapedRE.ReplaceAllString(s, ""); strings.ContainsAny(bare, "[]<>*_`~&") {
			t.Errorf("unescaped markup left in %q", s)
		}
	}
	if found < 5 {
		t.Errorf("hostile text shown in %d places, want title, text, fact, section and footer: %q", found, texts)
	}
	for _, line := range []string{`\# heading`, `\- list`, `1\. one`} {
		if !containsString(texts, line) {
			t.Errorf("line start %q not escaped in %q", line, texts)
		}
	}
}

var escapedRE = regexp.MustCompile(`\\.`)

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRenderCardDropsBidiControls(t *testing.T) {
	t.Parallel()
	msg := bot.Message{Title: "reset \u202emoc.otsoc@nna\u202c"}
	if got := string(teams.RenderCard(msg, teams.CardOptions{})); strings.Contains(got, "\u202e") || strings.Contains(got, `\u202e`) {
		t.Errorf("bidi override kept: %s", got)
	}
}

func TestRenderCardFitsSizeLimit(t *testing.T) {
	t.Parallel()
	lines := make([]string, 5000)
	for i := range lines {
		lines[i] = fmt.Sprintf("user%04d@contoso.com: token revocation failed (throttled)", i)
	}
	msg := bot.Message{
		Title:    "Revoked sessions: 5,000 failed",
		Tone:     bot.ToneBad,
		Sections: []bot.Section{{Title: "Failed users", Lines: lines, More: 7}},
	}
	got := teams.RenderCard(msg, teams.CardOptions{})
	if len(got) > teams.MaxCardBytes {
		t.Fatalf("card is %d bytes, limit %d", len(got), teams.MaxCardBytes)
	}
	var card map[string]any
	json.Unmarshal(got, &card)
	texts := textsOf(card)
	shown := 0
	more := -1
	for _, s := range texts {
		if strings.HasPrefix(s, "- user") {
			shown = strings.Count(s, "\r") + 1
		}
		if strings.HasPrefix(s, "… and ") {
			fmt.Sscanf(strings.ReplaceAll(strings.TrimPrefix(s, "… and "), ",", ""), "%d", &more)
		}
	}
	if shown == 0 || shown+more != 5007 {
		t.Errorf("shown %d + more %d, want 5007 in all", shown, more)
	}
}

func pngOf(t *testing.T, w, h int, noisy bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	seed := uint32(1)
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: uint8(x), G: uint8(y), B: 128, A: 255}
			if noisy {
				seed = seed*1664525 + 1013904223
				c = color.NRGBA{R: uint8(seed >> 24), G: uint8(seed >> 16), B: uint8(seed >> 8), A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRenderCardImage(t *testing.T) {
	t.Parallel()
	small := pngOf(t, 64, 64, false)
	large := pngOf(t, 400, 400, true)
	if len(large) <= teams.MaxInlineImageBytes {
		t.Fatalf("test image too small: %d bytes", len(large))
	}
	tests := []struct {
		name     string
		data     []byte
		inline   bool
		wantNote string
	}{
		{"InlineDataURI", small, true, ""},
		{"TooLargeNoted", large, false, "too large to show in Teams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := bot.Message{Title: "Enrollment", Image: &bot.File{Name: "chart.png", ContentType: "image/png", Data: tt.data, Alt: "Chart of MFA registration"}}
			got := string(teams.RenderCard(msg, teams.CardOptions{}))
			if has := strings.Contains(got, `"url":"data:image/png;base64,`); has != tt.inline {
				t.Errorf("inline image = %v, want %v", has, tt.inline)
			}
			if tt.wantNote != "" && !strings.Contains(got, tt.wantNote) {
				t.Errorf("no note about the image: %s", got)
			}
		})
	}
}

func TestRenderCardFilesNoted(t *testing.T) {
	t.Parallel()
	msg := bot.Message{Title: "Summary", Files: []bot.File{{Name: "unregistered.csv", ContentType: "text/csv", Data: make([]byte, 2048)}}}
	got := string(teams.RenderCard(msg, teams.CardOptions{}))
	if !strings.Contains(got, "unregistered.csv (2.0 KB) is not attached") {
		t.Errorf("no note for the file: %s", got)
	}
}

func TestRenderCardRefreshUsersCapped(t *testing.T) {
	t.Parallel()
	ids := make([]string, 75)
	for i := range ids {
		ids[i] = fmt.Sprintf("29:user%d", i)
	}
	var card struct {
		Refresh struct {
			UserIDs []string `json:"userIds"`
		} `json:"refresh"`
	}
	json.Unmarshal(teams.RenderCard(bot.Message{RequestID: "R-1"}, teams.CardOptions{RefreshUserIDs: ids}), &card)
	if len(card.Refresh.UserIDs) != teams.MaxRefreshUsers {
		t.Errorf("%d userIds, want %d", len(card.Refresh.UserIDs), teams.MaxRefreshUsers)
	}
}
