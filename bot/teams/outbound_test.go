package teams_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
)

func TestPostToApprovalsChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.storeChannel(t)
	ref, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	calls := h.conn.Succeeded()
	if len(calls) != 1 {
		t.Fatalf("calls = %+v", calls)
	}
	c := calls[0]
	want := bot.MessageRef{Platform: "teams", Channel: channelID, MessageID: c.ActivityID, Data: h.conn.URL}
	if ref != want {
		t.Errorf("ref = %+v, want %+v", ref, want)
	}
	if c.Op != "send" || c.RawPath != "/amer/v3/conversations/19%3Aapprovals%40thread.tacv2/activities" {
		t.Errorf("sent %s %s", c.Op, c.RawPath)
	}
	if c.Bearer != "bot-connector-token" {
		t.Errorf("bearer %q", c.Bearer)
	}
	if c.Activity()["text"] != nil || c.Card()["type"] != "AdaptiveCard" {
		t.Errorf("activity must carry one card and no text: %s", c.Body)
	}
}

func TestPostUnknownChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if got := errorCode(err); got != approvals.ENOTFOUND {
		t.Fatalf("Post with nothing stored: code %q (%v), want %q", got, err, approvals.ENOTFOUND)
	}
	if calls := h.conn.Calls(); len(calls) != 0 {
		t.Errorf("connector called %d times", len(calls))
	}
}

func TestPostUsesTenantServiceURLBeforeChannelIsSeen(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Only the team's General channel is known.
	act := h.activity("conversationUpdate")
	act["conversation"] = map[string]any{"id": teamID, "conversationType": "channel", "tenantId": tenantID}
	act["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}, "team": map[string]any{"id": teamID}}
	h.post(t, h.token(), act)
	h.waitRefs(t, 1)
	if _, err := h.a.Post(context.Background(), *pendingCard("pending")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	if c := h.conn.Succeeded()[0]; c.ConversationID != channelID {
		t.Errorf("posted to %s", c.ConversationID)
	}
}

func TestConnectorRetries(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTooManyRequests, http.StatusPreconditionFailed, http.StatusBadGateway, http.StatusGatewayTimeout} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			h := newHarness(t)
			h.storeChannel(t)
			h.conn.Fail(status, 2, "0")
			ref, err := h.a.Post(context.Background(), *pendingCard("pending"))
			if err != nil {
				t.Fatalf("Post: %v", err)
			}
			calls := h.conn.Calls()
			if len(calls) != 3 || calls[0].Status != status || calls[1].Status != status || calls[2].Status/100 != 2 {
				t.Fatalf("calls: %+v", calls)
			}
			// Updates are retried as well.
			h.conn.Fail(status, 1, "")
			if err := h.a.Update(context.Background(), ref, *pendingCard("approved")); err != nil {
				t.Fatalf("Update: %v", err)
			}
			if calls := h.conn.Calls(); len(calls) != 5 || calls[4].Op != "update" || calls[4].Status != http.StatusOK {
				t.Fatalf("calls after update: %+v", calls)
			}
		})
	}
}

func TestConnectorHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fakeOutboundClock()
	h.storeChannel(t)
	h.conn.Fail(http.StatusTooManyRequests, 1, "1")
	if _, err := h.a.Post(context.Background(), *pendingCard("pending")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	calls := h.conn.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls: %+v", calls)
	}
	// The backoff base is 10 ms in tests: a wait of a second comes from Retry-After.
	if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
		t.Errorf("retried after %v, Retry-After said 1s", gap)
	}
}

func TestConnectorGivesUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.storeChannel(t)
	h.conn.Fail(http.StatusBadGateway, 10, "0")
	_, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if got := errorCode(err); got != approvals.EUPSTREAM {
		t.Fatalf("code %q (%v), want %q", got, err, approvals.EUPSTREAM)
	}
	if n := len(h.conn.Calls()); n != 5 {
		t.Errorf("%d tries, want 5", n)
	}
	var ce *teams.ConnectorError
	if !errors.As(err, &ce) || ce.Status != http.StatusBadGateway {
		t.Errorf("error %v does not carry the connector status", err)
	}
}

func TestConnectorDoesNotRetryRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.storeChannel(t)
	h.conn.Fail(http.StatusForbidden, 1, "")
	if _, err := h.a.Post(context.Background(), *pendingCard("pending")); errorCode(err) != approvals.EUPSTREAM {
		t.Fatalf("err = %v", err)
	}
	if n := len(h.conn.Calls()); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
}

func TestTokenOnlyToVerifiedServiceURLs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.storeChannel(t)
	evil := teamstest.NewConnector(t)
	evil.AddActivity(channelID, "1")
	ref := bot.MessageRef{Platform: "teams", Channel: channelID, MessageID: "1", Data: evil.URL}
	err := h.a.Update(context.Background(), ref, *pendingCard("approved"))
	if got := errorCode(err); got != approvals.EFORBIDDEN {
		t.Fatalf("Update to an unverified serviceUrl: code %q (%v), want %q", got, err, approvals.EFORBIDDEN)
	}
	if calls := evil.Calls(); len(calls) != 0 {
		t.Fatalf("the token went to an unverified serviceUrl: %+v", calls)
	}
	if n := h.cred.calls.Load(); n != 0 {
		t.Errorf("a token was even fetched (%d times)", n)
	}
	// A plain-http serviceUrl off loopback is refused outright.
	ref.Data = "http://smba.example.com/amer/"
	if err := h.a.Update(context.Background(), ref, *pendingCard("approved")); errorCode(err) != approvals.EFORBIDDEN {
		t.Errorf("http serviceUrl: %v", err)
	}
}

func TestServiceURLTrustSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.storeChannel(t)
	ref, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if err != nil {
		t.Fatal(err)
	}
	// A new adapter on the same database trusts the serviceUrls stored from verified activities.
	a2, err := teams.New(teams.Config{
		AppID: appID, TenantID: tenantID, OpenIDURL: h.auth.OpenIDURL(), Channel: channelID, Credential: h.cred,
	}, h.disp, h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close(context.Background())
	if err := a2.Update(context.Background(), ref, *pendingCard("approved")); err != nil {
		t.Fatalf("Update after restart: %v", err)
	}
}

func TestUpdateEscapesIDsAndCoalesces(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.storeChannel(t)
	ref, err := h.a.Post(context.Background(), *pendingCard("pending"))
	if err != nil {
		t.Fatal(err)
	}
	// The first update is held at the Connector, then throttled once; meanwhile five more
	// states come.
	h.conn.Fail(http.StatusTooManyRequests, 1, "0")
	arrived, release := h.conn.Hold(t)
	errs := make([]error, 7)
	returned := make(chan int, 6)
	update := func(i int) {
		go func() {
			errs[i] = h.a.Update(context.Background(), ref, *pendingCard(fmt.Sprintf("state %d", i)))
			returned <- i
		}()
	}
	update(1)
	await(t, arrived, "the first update to reach the Connector")
	// A state that waits is replaced by the next one, and its Update returns. Each return
	// thus shows that every state started so far is queued, so state 6 is queued last,
	// whatever the order the goroutines run in.
	update(2)
	for i := 3; i <= 6; i++ {
		update(i)
		if j := await(t, returned, fmt.Sprintf("an update replaced by state %d", i)); j == 1 || j == 6 {
			t.Fatalf("update %d returned while the first one was held", j)
		}
	}
	release()
	for range 2 {
		await(t, returned, "the first and the last update")
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("update %d: %v", i+1, err)
		}
	}
	if calls := h.conn.Calls(); len(calls) != 4 || calls[1].Status != http.StatusTooManyRequests {
		t.Errorf("calls: %+v, want the post, the throttled first update, its retry and the last update", calls)
	}
	var sent []string
	for _, c := range h.conn.Succeeded() {
		if c.Op != "update" {
			continue
		}
		if c.RawPath != "/amer/v3/conversations/19%3Aapprovals%40thread.tacv2/activities/"+ref.MessageID {
			t.Errorf("update path %s", c.RawPath)
		}
		for i := 1; i <= 6; i++ {
			if strings.Contains(string(c.Body), fmt.Sprintf("state %d", i)) {
				sent = append(sent, fmt.Sprintf("state %d", i))
			}
		}
	}
	if len(sent) != 2 || sent[0] != "state 1" || sent[1] != "state 6" {
		t.Errorf("updates sent: %v, want [state 1 state 6] (intermediate states coalesced, the last one sent)", sent)
	}
}

func TestSendsPacedUnderTeamsLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	clock := h.fakeOutboundClock()
	start := clock.Now()
	h.storeChannel(t)
	for i := range 10 {
		if _, err := h.a.Post(context.Background(), *pendingCard(fmt.Sprint(i))); err != nil {
			t.Fatalf("Post %d: %v", i, err)
		}
	}
	calls := h.conn.Calls()
	for _, c := range calls {
		if c.Status == http.StatusTooManyRequests {
			t.Fatalf("the fake Connector throttled us: more than %d sends in a second", teamstest.PerSecond)
		}
	}
	if len(calls) != 10 || len(h.conn.Succeeded()) != 10 {
		t.Fatalf("%d sends, %d succeeded, want 10 of 10", len(calls), len(h.conn.Succeeded()))
	}
	// The fake clock moves only while the adapter waits, so these are the times its
	// pacing chose: nothing else can bunch or spread them.
	for _, w := range []struct {
		d time.Duration
		n int
	}{{time.Second, teamstest.PerSecond}, {2 * time.Second, 8}} { // 8 in 2 s: Teams' next limit
		for i := w.n; i < len(calls); i++ {
			if gap := calls[i].At.Sub(calls[i-w.n].At); gap < w.d {
				t.Errorf("sends %d and %d %v apart: more than %d in %v", i-w.n, i, gap, w.n, w.d)
			}
		}
	}
	if at := calls[teamstest.PerSecond-1].At; !at.Equal(start) {
		t.Errorf("send %d waited %v though under every limit", teamstest.PerSecond-1, at.Sub(start))
	}
	if took := calls[len(calls)-1].At.Sub(start); took > 3*time.Second {
		t.Errorf("10 sends took %v of fake time, more than the limits ask", took)
	}
}

func TestTell(t *testing.T) {
	t.Parallel()
	bob := "0b0b0b0b-1111-2222-3333-444444444444"
	tests := []struct {
		name    string
		setup   func(t *testing.T, h *harness)
		to      bot.Recipient
		wantOps []string
		wantErr error
	}{
		{
			name: "PersonalChatStored",
			setup: func(t *testing.T, h *harness) {
				act := h.activity("installationUpdate")
				act["action"] = "add"
				act["conversation"] = map[string]any{"id": "a:1ann-personal", "conversationType": "personal", "tenantId": tenantID}
				act["channelData"] = map[string]any{"tenant": map[string]any{"id": tenantID}}
				h.post(t, h.token(), act)
				h.waitRefs(t, 2)
			},
			to:      bot.Recipient{Actor: &approvals.Actor{Platform: "teams", ID: annAAD}},
			wantOps: []string{"send a:1ann-personal"},
		},
		{
			name: "SeenInTeamChatCreated",
			setup: func(t *testing.T, h *harness) {
				h.post(t, h.token(), h.message("<at>mfabot</at> help"))
				h.disp.next(t)
				h.waitRefs(t, 2)
			},
			// Ann as known by her Slack account, linked to Entra.
			to:      bot.Recipient{Actor: &approvals.Actor{Platform: "slack", ID: "U1", EntraID: strings.ToUpper(annAAD)}},
			wantOps: []string{"create ", "send a:personal-1"},
		},
		{
			name: "EntraUserByObjectID",
			setup: func(t *testing.T, h *harness) {
				h.post(t, h.token(), h.message("<at>mfabot</at> help"))
				h.disp.next(t)
				h.waitRefs(t, 2)
			},
			// The user a reset changed, or a nudge asks to register: no actor, their id.
			to:      bot.Recipient{EntraID: annAAD, UPN: "ann@contoso.com"},
			wantOps: []string{"create ", "send a:personal-1"},
		},
		{
			name: "SeenButNotReachable",
			setup: func(t *testing.T, h *harness) {
				h.conn.Unreachable(annMRI)
				h.post(t, h.token(), h.message("<at>mfabot</at> help"))
				h.disp.next(t)
				h.waitRefs(t, 2)
			},
			to:      bot.Recipient{Actor: &approvals.Actor{Platform: "teams", ID: annAAD}},
			wantOps: []string{},
			wantErr: bot.ErrUnreachable,
		},
		{
			name:    "NeverSeen",
			to:      bot.Recipient{Actor: &approvals.Actor{Platform: "teams", ID: bob}},
			wantOps: []string{},
			wantErr: bot.ErrUnreachable,
		},
		{
			name:    "EmailOnly",
			to:      bot.Recipient{Email: "bob@contoso.com"},
			wantOps: []string{},
			wantErr: bot.ErrUnreachable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(t, h)
			}
			err := h.a.Tell(context.Background(), tt.to, bot.Message{Title: "Your MFA was reset", Text: "Register again at https://aka.ms/mfasetup"})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Tell: %v, want %v", err, tt.wantErr)
			}
			ops := []string{}
			for _, c := range h.conn.Succeeded() {
				ops = append(ops, c.Op+" "+c.ConversationID)
			}
			if strings.Join(ops, ",") != strings.Join(tt.wantOps, ",") {
				t.Errorf("connector ops %v, want %v", ops, tt.wantOps)
			}
		})
	}
}

func TestTellRemembersCreatedChat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.post(t, h.token(), h.message("<at>mfabot</at> help"))
	h.disp.next(t)
	h.waitRefs(t, 2)
	to := bot.Recipient{Actor: &approvals.Actor{Platform: "teams", ID: annAAD}}
	for range 2 {
		if err := h.a.Tell(context.Background(), to, bot.Message{Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	creates := 0
	for _, c := range h.conn.Succeeded() {
		if c.Op == "create" {
			creates++
			if !strings.Contains(string(c.Body), `"tenantId":"`+tenantID+`"`) || !strings.Contains(string(c.Body), annMRI) {
				t.Errorf("create body %s", c.Body)
			}
		}
	}
	if creates != 1 {
		t.Errorf("%d conversations created, want 1", creates)
	}
}

func TestClientSecretCredentialAgainstFakeAuthority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		multiTenant bool
		authority   string
	}{
		{"SingleTenant", false, tenantID},
		{"MultiTenant", true, "botframework.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := teamstest.NewTokenServer(t, tt.authority, appID, "s3cret")
			h := newHarness(t, func(c *teams.Config) {
				c.Credential = nil
				c.AppPassword = "s3cret"
				c.MultiTenant = tt.multiTenant
				c.AuthorityHost = ts.AuthorityHost()
				c.HTTPClient = ts.Client()
			})
			h.conn.RequireToken(ts.Valid)
			h.storeChannel(t)
			if _, err := h.a.Post(context.Background(), *pendingCard("pending")); err != nil {
				t.Fatalf("Post: %v", err)
			}
			if _, err := h.a.Post(context.Background(), *pendingCard("pending")); err != nil {
				t.Fatalf("second Post: %v", err)
			}
			issued := ts.Issued()
			if len(issued) != 1 {
				t.Fatalf("tokens issued: %d, want 1 (cached)", len(issued))
			}
			for _, c := range h.conn.Succeeded() {
				if c.Bearer != issued[0] {
					t.Errorf("bearer %q, want the issued token", c.Bearer)
				}
			}
			req := ts.Requests()[0]
			if req["scope"] != "https://api.botframework.com/.default" || req["tenant"] != tt.authority || req["client_id"] != appID {
				t.Errorf("token request %v", req)
			}
		})
	}
}
