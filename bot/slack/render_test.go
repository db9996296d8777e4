package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
)

// hostile is user text that would ping the channel or spoof a link if it reached mrkdwn
// as is.
var hostile = []string{"<!channel>", "<!here|here>", "<@U0ADMIN>", "<http://evil.example|ok>", "<#C0SECRET>", "a & b", "x > y"}

// TestRenderEscapesUserText: wherever user text lands (text, facts, lists, footer), the
// mrkdwn carries it escaped and verbatim, so Slack shows it as typed.
func TestRenderEscapesUserText(t *testing.T) {
	t.Parallel()
	places := map[string]func(s string) bot.Message{
		"Text": func(s string) bot.Message { return bot.Message{Text: "reason: " + s} },
		"Fact": func(s string) bot.Message { return bot.Message{Facts: []bot.Fact{{Label: "Reason " + s, Value: s}}} },
		"Section": func(s string) bot.Message {
			return bot.Message{Sections: []bot.Section{{Title: s, Lines: []string{s}}}}
		},
		"Footer": func(s string) bot.Message { return bot.Message{Footer: "denied: " + s} },
	}
	for place, build := range places {
		for _, s := range hostile {
			t.Run(place+"/"+s, func(t *testing.T) {
				for _, txt := range mrkdwnTexts(t, slack.Render(build(s))) {
					if strings.ContainsAny(txt.Text, "<>") {
						t.Fatalf("unescaped mrkdwn: %q", txt.Text)
					}
					if strings.Contains(strings.ReplaceAll(txt.Text, "&amp;", ""), "& ") {
						t.Fatalf("bare & in mrkdwn: %q", txt.Text)
					}
					if !txt.Verbatim {
						t.Fatalf("mrkdwn text not verbatim: %q", txt.Text)
					}
				}
				want := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
				all, _ := json.Marshal(slack.Render(build(s)))
				var back any
				_ = json.Unmarshal(all, &back)
				if !strings.Contains(fmt.Sprint(back), want) {
					t.Fatalf("escaped form %q not found in %v", want, back)
				}
			})
		}
	}
	if got := slack.FallbackText(bot.Message{Title: "<!channel> & co"}); got != "&lt;!channel&gt; &amp; co" {
		t.Fatalf("FallbackText = %q", got)
	}
}

// TestRenderExactFact: an exact value (a Temporary Access Pass) is inline code, where no
// character of it becomes formatting, with Slack's three control characters escaped.
func TestRenderExactFact(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ value, want string }{
		{"*x7*Qp_a_~b~", "*Pass*\n`*x7*Qp_a_~b~`"},
		{"a&b<c>", "*Pass*\n`a&amp;b&lt;c&gt;`"},
		{"no`code", "*Pass*\nno`code"}, // inline code cannot hold a backtick
	} {
		texts := mrkdwnTexts(t, slack.Render(bot.Message{Facts: []bot.Fact{{Label: "Pass", Value: tt.value, Exact: true}}}))
		if len(texts) != 1 || texts[0].Text != tt.want {
			t.Errorf("%q rendered as %+v; want %q", tt.value, texts, tt.want)
		}
	}
}

type textObj struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Verbatim bool   `json:"verbatim"`
}

// mrkdwnTexts digs every mrkdwn text object out of rendered blocks.
func mrkdwnTexts(t *testing.T, blocks []slackapi.Block) []textObj {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	var out []textObj
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "mrkdwn" {
				txt, _ := v["text"].(string)
				verb, _ := v["verbatim"].(bool)
				out = append(out, textObj{Type: "mrkdwn", Text: txt, Verbatim: verb})
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(generic)
	return out
}

// TestRenderLimits: oversized messages are cut to Block Kit's limits in ways Slack
// accepts (checked by posting them to the fake, which enforces the limits) and that keep
// what matters: the buttons, the footer, and whole escape entities.
func TestRenderLimits(t *testing.T) {
	t.Parallel()
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	var facts []bot.Fact
	for i := range 23 {
		facts = append(facts, bot.Fact{Label: fmt.Sprintf("Fact %d", i), Value: strings.Repeat("v", 2500)})
	}
	var sections []bot.Section
	for i := range 80 {
		sections = append(sections, bot.Section{Title: fmt.Sprintf("Group %d", i), Lines: many(3, func(j int) string { return fmt.Sprint("user", j) })})
	}
	buttons := []bot.Button{
		{Label: strings.Repeat("Approve ", 20), Command: "approve R-1", Style: bot.ButtonPrimary},
		{Label: "Deny", Command: "deny R-1", Style: bot.ButtonDanger, NeedsReason: true},
		{Label: "Too long to carry", Command: "approve " + strings.Repeat("x", 2100)},
	}
	tests := []struct {
		name  string
		msg   bot.Message
		check func(t *testing.T, blocks []map[string]any)
	}{
		{"FactsTenPerSection", bot.Message{Facts: facts}, func(t *testing.T, blocks []map[string]any) {
			if len(blocks) != 3 {
				t.Fatalf("%d blocks for 23 facts, want 3", len(blocks))
			}
			for _, b := range blocks {
				for _, f := range b["fields"].([]any) {
					if n := utf8.RuneCountInString(f.(map[string]any)["text"].(string)); n > 2000 {
						t.Fatalf("field of %d characters", n)
					}
				}
			}
		}},
		{"LongTextSplitWithoutBreakingEntities", bot.Message{Text: strings.Repeat("a&b<c ", 1500)}, func(t *testing.T, blocks []map[string]any) {
			var all strings.Builder
			for _, b := range blocks {
				txt := b["text"].(map[string]any)["text"].(string)
				if n := utf8.RuneCountInString(txt); n > 3000 {
					t.Fatalf("section of %d characters", n)
				}
				if strings.HasSuffix(txt, "&") || strings.HasSuffix(txt, "&am") || strings.HasSuffix(txt, "&l") {
					t.Fatalf("entity split at a block boundary: …%q", txt[len(txt)-5:])
				}
				all.WriteString(txt)
			}
			if want := strings.Repeat("a&amp;b&lt;c ", 1500); strings.TrimSpace(all.String()) != strings.TrimSpace(want) {
				t.Fatal("text lost or reordered across sections")
			}
		}},
		{"FiftyBlocksKeepButtonsAndFooter", bot.Message{Title: "big", Sections: sections, Buttons: buttons, Footer: "R-1"}, func(t *testing.T, blocks []map[string]any) {
			if len(blocks) != 50 {
				t.Fatalf("%d blocks, want exactly Slack's 50", len(blocks))
			}
			if blocks[len(blocks)-1]["type"] != "context" || blocks[len(blocks)-2]["type"] != "actions" {
				t.Fatalf("the buttons and footer were not kept last: %v, %v", blocks[len(blocks)-2]["type"], blocks[len(blocks)-1]["type"])
			}
			elems := blocks[len(blocks)-2]["elements"].([]any)
			if len(elems) != 2 {
				t.Fatalf("%d buttons, want 2 (the one whose command does not fit is left out)", len(elems))
			}
			label := elems[0].(map[string]any)["text"].(map[string]any)["text"].(string)
			if utf8.RuneCountInString(label) > 75 {
				t.Fatalf("button text of %d characters", utf8.RuneCountInString(label))
			}
			if id := elems[1].(map[string]any)["action_id"].(string); !strings.HasPrefix(id, "mfa_reason_") {
				t.Fatalf("Deny action_id = %q, want the reason kind", id)
			}
		}},
	}
	f := newFixture(t, newRecorder(nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(slack.Render(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			var blocks []map[string]any
			if err := json.Unmarshal(raw, &blocks); err != nil {
				t.Fatal(err)
			}
			tt.check(t, blocks)
			if _, err := f.ad.Post(context.Background(), tt.msg); err != nil {
				t.Fatalf("Slack refused the rendered message: %v", err)
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	msg := approvalCard()
	msg.Sections = []bot.Section{{Title: "Failed", Lines: make([]string, 200), More: 9800}}
	for i := range msg.Sections[0].Lines {
		msg.Sections[0].Lines[i] = fmt.Sprintf("user%04d@contoso.com — <throttled> & retried", i)
	}
	b.ReportAllocs()
	var blocks int
	for b.Loop() {
		blocks = len(slack.Render(msg))
	}
	b.ReportMetric(float64(blocks), "blocks")
}
