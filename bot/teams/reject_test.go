package teams_test

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
)

// logCounter is a slog.Handler that keeps every record's message and attributes.
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

// refusals are the records about refused requests.
func (h *logCounter) refusals() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if strings.Contains(r["msg"], "refused") {
			out = append(out, r)
		}
	}
	return out
}

// rejectCounter counts OnReject calls by reason.
type rejectCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *rejectCounter) add(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[reason]++
}

func (c *rejectCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// TestForgedRequestsCountedNotLogged: a flood of forged requests is counted one by one,
// by reason, and logged at most once per reason per interval.
func TestForgedRequestsCountedNotLogged(t *testing.T) {
	t.Parallel()
	logs := &logCounter{}
	rejected := &rejectCounter{n: map[string]int{}}
	h := newHarness(t, func(c *teams.Config) {
		c.Logger = slog.New(logs)
		c.OnReject = rejected.add
	})
	want := map[string]int{}
	const rounds = 5
	for range rounds {
		for _, kind := range teamstest.BadTokens {
			if status, _ := h.post(t, h.auth.Bad(t, kind, appID, h.conn.URL), h.message("<at>mfabot</at> help")); status != http.StatusUnauthorized {
				t.Fatalf("%s: status %d", kind, status)
			}
		}
		for _, header := range []string{"", "not.a.jwt"} {
			if status, _ := h.post(t, header, h.message("<at>mfabot</at> help")); status != http.StatusUnauthorized {
				t.Fatalf("%q: status %d", header, status)
			}
		}
	}
	for reason, n := range map[string]int{
		teams.RejectBadSignature:   3, // unsigned, forged signature, HMAC with the public key
		teams.RejectUnknownKey:     1,
		teams.RejectExpired:        1,
		teams.RejectNotYetValid:    1,
		teams.RejectClaims:         1, // no exp
		teams.RejectAudience:       1,
		teams.RejectIssuer:         2, // another issuer, another tenant's issuer
		teams.RejectServiceURL:     2, // mismatched, missing
		teams.RejectNoToken:        1,
		teams.RejectMalformedToken: 1,
	} {
		want[reason] = n * rounds
	}
	if diff := cmp.Diff(want, rejected.counts()); diff != "" {
		t.Errorf("rejections by reason (-want +got):\n%s", diff)
	}
	lines := logs.refusals()
	if len(lines) != len(want) {
		t.Errorf("%d log lines about %d refusals of %d reasons, want one per reason", len(lines), (len(teamstest.BadTokens)+2)*rounds, len(want))
	}

	// Once the interval has passed, the next refusal of a reason is logged with the
	// number that were not.
	h.clock.Advance(10 * time.Second)
	h.post(t, "", h.message("<at>mfabot</at> help"))
	lines = logs.refusals()
	last := lines[len(lines)-1]
	if last["reason"] != teams.RejectNoToken || last["suppressed"] != "4" {
		t.Errorf("log line after the interval: %v, want reason no_token with 4 suppressed", last)
	}
	if n := h.disp.count(); n != 0 {
		t.Errorf("dispatcher called %d times", n)
	}
}

// TestOtherTenantCounted: a genuine token about another tenant's activity is refused and
// counted as such.
func TestOtherTenantCounted(t *testing.T) {
	t.Parallel()
	rejected := &rejectCounter{n: map[string]int{}}
	h := newHarness(t, func(c *teams.Config) { c.OnReject = rejected.add })
	act := h.message("<at>mfabot</at> help")
	act["channelData"].(map[string]any)["tenant"] = map[string]any{"id": otherTenant}
	act["conversation"].(map[string]any)["tenantId"] = otherTenant
	if status, _ := h.post(t, h.token(), act); status != http.StatusForbidden {
		t.Fatalf("status %d", status)
	}
	if diff := cmp.Diff(map[string]int{teams.RejectTenant: 1}, rejected.counts()); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}
