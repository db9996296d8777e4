package slack_test

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// logCounter is a slog.Handler that keeps the message and attributes of every record.
type logCounter struct {
	mu      sync.Mutex
	records []map[string]string
}

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCounter) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, m)
	return nil
}

func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }

func (h *logCounter) refusals() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if r["msg"] == "slack request refused" {
			out = append(out, r)
		}
	}
	return out
}

// TestForgedRequestsCountedNotLogged: a flood of forged requests is counted one by one,
// by reason, and logged at most once per reason per interval.
func TestForgedRequestsCountedNotLogged(t *testing.T) {
	t.Parallel()
	logs := &logCounter{}
	clk := &clock{t: time.Now()}
	var mu sync.Mutex
	rejected := map[string]int{}
	f := newFixtureWith(t, newRecorder(nil), nil, func(c *slack.Config) {
		c.Logger = slog.New(logs)
		c.Clock = clk
		c.OnReject = func(reason string) { mu.Lock(); rejected[reason]++; mu.Unlock() }
	})
	ctx := context.Background()
	body := f.slack.Command(f.ann, slacktest.Channel, "status ann@contoso.com").Form()
	forgeries := map[string]http.Header{
		slack.RejectBadSignature: slacktest.SignRequest("guessed", clk.Now(), body),
		slack.RejectStale:        slacktest.SignRequest(secret, clk.Now().Add(-10*time.Minute), body),
		slack.RejectNoSignature:  {"Content-Type": {"application/x-www-form-urlencoded"}},
		slack.RejectBadTimestamp: {"X-Slack-Request-Timestamp": {"now"}, "X-Slack-Signature": {"v0=00"}},
	}
	const rounds = 25
	want := map[string]int{}
	for range rounds {
		for reason, h := range forgeries {
			for _, path := range []string{slack.CommandsPath, slack.InteractionsPath} {
				ans, err := f.sender.Post(ctx, path, body, h)
				if err != nil {
					t.Fatal(err)
				}
				if ans.Status != http.StatusUnauthorized {
					t.Fatalf("%s at %s: status %d, want 401", reason, path, ans.Status)
				}
				want[reason]++
			}
		}
	}
	mu.Lock()
	got := maps.Clone(rejected)
	mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejections by reason (-want +got):\n%s", diff)
	}
	if lines := logs.refusals(); len(lines) != len(forgeries) {
		t.Errorf("%d log lines about %d refused requests, want %d (one per reason)", len(lines), 2*rounds*len(forgeries), len(forgeries))
	}

	// Once the interval has passed the next one is logged, saying how many were not.
	clk.Add(10 * time.Second)
	f.sender.Post(ctx, slack.CommandsPath, body, forgeries[slack.RejectNoSignature])
	lines := logs.refusals()
	last := lines[len(lines)-1]
	if last["reason"] != slack.RejectNoSignature || last["suppressed"] != "49" {
		t.Errorf("log line after the interval = %v, want reason no_signature with 49 suppressed", last)
	}
	if n := f.d.count(); n != 0 {
		t.Errorf("dispatcher called %d times", n)
	}
}
