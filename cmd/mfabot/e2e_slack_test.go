package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestSlackEndToEnd drives mfabot only through signed HTTP requests as Slack sends them,
// with the real Graph client, graphtest, a real SQLite file and the Slack Web API fake.
func TestSlackEndToEnd(t *testing.T) {
	t.Parallel()
	const secret = "e2e-signing-secret-9f8e7d"
	fake := slacktest.Start(t)
	ann := slacktest.User{ID: "UANN", Name: "ann", RealName: "Ann Admin", Email: "ann@contoso.com"}
	ben := slacktest.User{ID: "UBEN", Name: "ben", RealName: "Ben Approver", Email: "ben@contoso.com"}
	fake.AddUser(ann)
	fake.AddUser(ben)
	app := startApp(t, map[string]string{
		"MFABOT_SLACK_BOT_TOKEN":      slacktest.BotToken,
		"MFABOT_SLACK_SIGNING_SECRET": secret,
		"MFABOT_SLACK_API_URL":        fake.APIURL(),
		"MFABOT_SLACK_CHANNEL":        slacktest.Channel,
		"MFABOT_REQUESTERS":           "slack:UANN,slack:UBEN",
		"MFABOT_APPROVERS":            "slack:UANN,slack:UBEN",
	})
	ctx := context.Background()
	send := slacktest.Sender{URL: app.URL, Secret: secret}
	adele, _ := app.Graph.Tenant().User(graphtest.AdeleUPN)

	// Forged and stale requests: 401, nothing happens.
	cmd := fake.Command(ann, slacktest.Channel, "reset adele.vance@contoso.com lost phone")
	forged := slacktest.Sender{URL: app.URL, Secret: "not-the-secret"}
	stale := slacktest.Sender{URL: app.URL, Secret: secret, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	for name, s := range map[string]slacktest.Sender{"forged": forged, "stale": stale} {
		ans, err := s.Command(ctx, cmd)
		if err != nil || ans.Status != http.StatusUnauthorized {
			t.Fatalf("%s command: %d %v", name, ans.Status, err)
		}
	}
	if rs := app.requests(t); len(rs) != 0 {
		t.Fatalf("a refused request created %d requests", len(rs))
	}

	// Ann asks; the card is posted in the approvals channel.
	ans, err := send.Command(ctx, cmd)
	if err != nil || ans.Status != 200 {
		t.Fatalf("command: %d %v", ans.Status, err)
	}
	posts := fake.WaitCalls(t, "chat.postMessage", 1)
	if !strings.Contains(posts[0].Args["blocks"], "Reset MFA for adele.vance@contoso.com") {
		t.Fatalf("card = %s", posts[0].Args["blocks"])
	}
	msgs := fake.Messages(slacktest.Channel)
	card := msgs[len(msgs)-1]

	// Ann's own approval is refused, to her alone.
	press, err := fake.Press(ann, slacktest.Channel, card.TS, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("press: %v %v", ans.Status, err)
	}
	waitFor(t, "the refusal", func() bool {
		for _, c := range fake.Calls("response_url") {
			if strings.Contains(c.Args["text"]+c.Args["blocks"], "your own request") {
				return true
			}
		}
		return false
	})
	if rs := app.requests(t); rs[0].State != approvals.StatePending {
		t.Fatalf("state after self-approval = %s", rs[0].State)
	}

	// A forged click is refused before it is parsed.
	press, _ = fake.Press(ben, slacktest.Channel, card.TS, "Approve")
	if ans, _ := forged.Interaction(ctx, press.Payload()); ans.Status != http.StatusUnauthorized {
		t.Fatalf("forged click: %d", ans.Status)
	}

	// Ben approves: methods deleted and sessions revoked at graphtest, card succeeded.
	if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("press: %v %v", ans.Status, err)
	}
	waitFor(t, "the reset at Graph", func() bool {
		ms := app.Graph.Tenant().Methods(adele.ID)
		return len(ms) == 1 && ms[0].Type == graphtest.MethodPassword && !app.Graph.Tenant().RevokedAt(adele.ID).IsZero()
	})
	waitFor(t, "the card to show success", func() bool {
		m, _ := fake.Message(slacktest.Channel, card.TS)
		return strings.Contains(string(m.Blocks), "Succeeded")
	})
	// The same signed click replayed does nothing more: it is answered with where the
	// request stands, and Graph sees no second revocation.
	if ans, _ := send.Interaction(ctx, press.Payload()); ans.Status != 200 {
		t.Fatalf("replay: %d", ans.Status)
	}
	waitFor(t, "the answer to the replayed click", func() bool {
		for _, c := range fake.Calls("response_url") {
			if strings.Contains(c.Args["text"]+c.Args["blocks"], "was already approved by") {
				return true
			}
		}
		return false
	})
	if n := app.Graph.Count(graphtest.OpRevoke, adele.ID); n != 1 {
		t.Fatalf("revoked %d times", n)
	}
	res, err := app.DB.VerifyAudit(ctx)
	if err != nil || !res.OK {
		t.Fatalf("audit: %v %v", res, err)
	}
	noSecretsIn(t, app.Logs.String(), secret, slacktest.BotToken, app.Config.ClientSecret)

	// Health, readiness and metrics as an operator scrapes them.
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `mfabot_requests_total{kind="reset",state="succeeded"} 1`,
	} {
		resp, err := http.Get(app.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, does not say %q", path, resp.StatusCode, want)
		}
	}
	resp, _ := http.Get(app.URL + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mfabot_executor_items_total{result=\"done\"} 5", "mfabot_graph_responses_total", "mfabot_approval_latency_seconds_count 1",
		"mfabot_platform_api_calls_total{op=\"post\",platform=\"slack\"}", `mfabot_http_requests_total{code="401",route="/slack/"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
