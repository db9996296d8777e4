package teams_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
)

func TestInboundAuthRefusesBadTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, kind := range teamstest.BadTokens {
		t.Run(kind.String(), func(t *testing.T) {
			token := h.auth.Bad(t, kind, appID, h.conn.URL)
			status, _ := h.post(t, token, h.message("<at>mfabot</at> mfa status ann@contoso.com"))
			if status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", status)
			}
		})
	}
	t.Run("NoHeader", func(t *testing.T) {
		if status, _ := h.post(t, "", h.message("<at>mfabot</at> status x")); status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", status)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		if status, _ := h.post(t, "not.a.jwt", h.message("<at>mfabot</at> status x")); status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", status)
		}
	})
	// Nothing of those requests may have been used: Close waits for any dispatch started.
	if err := h.a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.disp.count(); n != 0 {
		t.Errorf("dispatcher called %d times", n)
	}
	if refs := h.refs(t); len(refs) != 0 {
		t.Errorf("references stored: %+v", refs)
	}
	if calls := h.conn.Calls(); len(calls) != 0 {
		t.Errorf("connector called: %d", len(calls))
	}
}

func TestInboundAuthChecksActivity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(h *harness, act map[string]any)
		want   int
	}{
		{"ServiceURLNotTheClaimed", func(h *harness, act map[string]any) { act["serviceUrl"] = "https://evil.example.com/amer/" }, http.StatusUnauthorized},
		{"OtherChannel", func(h *harness, act map[string]any) { act["channelId"] = "webchat" }, http.StatusUnauthorized},
		{"OtherTenant", func(h *harness, act map[string]any) {
			act["channelData"].(map[string]any)["tenant"] = map[string]any{"id": otherTenant}
			act["conversation"].(map[string]any)["tenantId"] = otherTenant
		}, http.StatusForbidden},
		{"TenantsDisagree", func(h *harness, act map[string]any) {
			act["conversation"].(map[string]any)["tenantId"] = otherTenant
		}, http.StatusForbidden},
		{"NoTenant", func(h *harness, act map[string]any) {
			delete(act["channelData"].(map[string]any), "tenant")
			delete(act["conversation"].(map[string]any), "tenantId")
		}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			act := h.message("<at>mfabot</at> status ann@contoso.com")
			tt.mutate(h, act)
			status, _ := h.post(t, h.token(), act)
			if status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
			// Close waits for any dispatch started; then the count is final.
			if err := h.a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := h.disp.count(); n != 0 {
				t.Errorf("dispatcher called %d times", n)
			}
			if refs := h.refs(t); len(refs) != 0 {
				t.Errorf("references stored: %+v", refs)
			}
		})
	}
}

func TestInboundAuthEndorsements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		endorsements []string
		want         int
	}{
		{"OK", []string{"msteams", "skype"}, http.StatusOK},
		{"NoEndorsementsProperty", nil, http.StatusOK},
		{"NotEndorsedForTeams", []string{"webchat"}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			k := h.auth.NewKey(t, tt.endorsements...)
			h.auth.Publish(k)
			h.auth.UseKey(k)
			status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help"))
			if status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
		})
	}
}

func TestInboundAuthIssuers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		multiTenant bool
		iss         string
		want        int
	}{
		{"BotConnector", false, "https://api.botframework.com", http.StatusOK},
		{"HomeTenantV1", false, "https://sts.windows.net/" + tenantID + "/", http.StatusOK},
		{"HomeTenantV2", false, "https://login.microsoftonline.com/" + tenantID + "/v2.0", http.StatusOK},
		{"OtherTenantV1", false, "https://sts.windows.net/" + otherTenant + "/", http.StatusUnauthorized},
		{"MultiTenantBotConnector", true, "https://api.botframework.com", http.StatusOK},
		{"MultiTenantRefusesTenantIssuer", true, "https://sts.windows.net/" + tenantID + "/", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *teams.Config) { c.MultiTenant = tt.multiTenant })
			claims := teamstest.Claims(appID, h.conn.URL)
			claims["iss"] = tt.iss
			status, _ := h.post(t, h.auth.Token(claims), h.message("<at>mfabot</at> help"))
			if status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
		})
	}
}

func TestInboundAuthClockSkew(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name string
		exp  time.Duration // relative to the adapter's clock
		want int
	}{
		{"ExpiredWithinSkew", -4 * time.Minute, http.StatusOK},
		{"ExpiredBeyondSkew", -6 * time.Minute, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := teamstest.Claims(appID, h.conn.URL)
			now := h.clock.Now()
			claims["nbf"] = now.Add(-time.Hour).Unix()
			claims["exp"] = now.Add(tt.exp).Unix()
			status, _ := h.post(t, h.auth.Token(claims), h.message("<at>mfabot</at> help"))
			if status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
		})
	}
}

func TestInboundAuthKeyRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help")); status != http.StatusOK {
		t.Fatalf("first request: status %d", status)
	}
	if got := h.auth.KeyFetches(); got != 1 {
		t.Fatalf("key fetches after the first request = %d, want 1", got)
	}
	// Known keys are cached.
	h.post(t, h.token(), h.message("<at>mfabot</at> help"))
	if got := h.auth.KeyFetches(); got != 1 {
		t.Fatalf("key fetches after a second request = %d, want 1", got)
	}

	// The Connector rolls its keys; the first token with the new kid triggers one refresh.
	h.clock.Advance(2 * time.Minute)
	h.auth.Rotate(t)
	if status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help")); status != http.StatusOK {
		t.Fatalf("request after rotation: status %d", status)
	}
	if got := h.auth.KeyFetches(); got != 2 {
		t.Fatalf("key fetches after rotation = %d, want 2", got)
	}

	// Made-up kids right after cannot make us fetch again.
	for range 5 {
		status, _ := h.post(t, h.auth.Bad(t, teamstest.UnknownKey, appID, h.conn.URL), h.message("<at>mfabot</at> help"))
		if status != http.StatusUnauthorized {
			t.Fatalf("unknown kid: status %d, want 401", status)
		}
	}
	if got := h.auth.KeyFetches(); got != 2 {
		t.Fatalf("key fetches after unknown kids = %d, want 2 (rate-limited)", got)
	}
	// Once the interval has passed an unknown kid may trigger a refresh again.
	h.clock.Advance(2 * time.Minute)
	h.post(t, h.auth.Bad(t, teamstest.UnknownKey, appID, h.conn.URL), h.message("<at>mfabot</at> help"))
	if got := h.auth.KeyFetches(); got != 3 {
		t.Fatalf("key fetches after the interval = %d, want 3", got)
	}
}

func TestInboundAuthOldKeyRefusedAfterRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	old := h.auth.SigningKey()
	h.post(t, h.token(), h.message("<at>mfabot</at> help"))
	h.clock.Advance(2 * time.Minute)
	h.auth.Rotate(t)
	h.post(t, h.token(), h.message("<at>mfabot</at> help")) // refreshes: the old key is gone
	tok := teamstest.Sign(old, teamstest.Claims(appID, h.conn.URL))
	if status, _ := h.post(t, tok, h.message("<at>mfabot</at> help")); status != http.StatusUnauthorized {
		t.Errorf("token signed with the withdrawn key: status %d, want 401", status)
	}
}

func TestInboundAuthKeysUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *teams.Config) { c.OpenIDURL = "http://127.0.0.1:1/v1/.well-known/openidconfiguration" })
	status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help"))
	if status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", status)
	}
	if n := h.disp.count(); n != 0 {
		t.Errorf("dispatcher called %d times", n)
	}
}

func TestInboundAuthAudienceList(t *testing.T) {
	t.Parallel()
	// aud may be an array; it must contain the app id.
	h := newHarness(t)
	claims := teamstest.Claims(appID, h.conn.URL)
	claims["aud"] = []string{"https://api.botframework.com", appID}
	if status, _ := h.post(t, h.auth.Token(claims), h.message("<at>mfabot</at> help")); status != http.StatusOK {
		t.Errorf("status %d, want 200", status)
	}
	claims["aud"] = jwt.ClaimStrings{"https://api.botframework.com"}
	if status, _ := h.post(t, h.auth.Token(claims), h.message("<at>mfabot</at> help")); status != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", status)
	}
}

func TestInboundOnlyPOST(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp, err := http.Get(h.srv.URL + teams.MessagesPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	if !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Errorf("Allow = %q", resp.Header.Get("Allow"))
	}
}

// TestInboundAuthKeyFetchSurvivesHangUp plays the attack on the key fetch: an
// unauthenticated request naming an unknown key starts the fetch and hangs up while the
// key endpoint is slow. The fetch goes on regardless, and a genuine request waiting for it
// is served the moment it completes — no retry penalty, no second fetch.
func TestInboundAuthKeyFetchSurvivesHangUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	arrived, release := h.auth.HoldKeys(t)

	// Request 1 carries no body, so the server notices at once when its client goes.
	ctx, hangUp := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+teams.MessagesPath, nil)
	req.Header.Set("Authorization", "Bearer "+h.auth.Bad(t, teamstest.UnknownKey, appID, h.conn.URL))
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("request 1 was answered %d while the keys were held", resp.StatusCode)
		}
	}()
	await(t, arrived, "the key fetch to reach the key endpoint")
	await(t, teams.KeyWaitersReach(h.a, 1), "request 1 to wait for the keys")
	hangUp()
	<-gone
	await(t, teams.KeyWaitersReach(h.a, 0), "request 1 to give up waiting")

	// A genuine request joins the fetch still in flight.
	answered := make(chan int, 1)
	go func() {
		status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help"))
		answered <- status
	}()
	select {
	case <-teams.KeyWaitersReach(h.a, 1):
	case status := <-answered:
		t.Fatalf("genuine request answered %d before the keys came", status)
	case <-time.After(hangLimit):
		t.Fatal("timed out waiting for the genuine request to wait for the keys")
	}
	release()
	if status := <-answered; status != http.StatusOK {
		t.Fatalf("genuine request: status %d, want 200", status)
	}
	if n := h.auth.AbandonedKeyFetches(); n != 0 {
		t.Errorf("the key fetch was abandoned %d times: it ran under the request that hung up", n)
	}
	if n := h.auth.KeyFetches(); n != 1 {
		t.Errorf("key fetches = %d, want 1", n)
	}
	// At once, on the same clock: no penalty for the request that hung up.
	if status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help")); status != http.StatusOK {
		t.Errorf("next genuine request: status %d", status)
	}
}

// TestInboundAuthRefreshSpacedFromFetchEnd: the minimum refresh interval runs from the
// end of the last fetch, on the adapter's clock; an unknown kid after a rotation triggers
// a refetch once it has passed, and not before.
func TestInboundAuthRefreshSpacedFromFetchEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	arrived, release := h.auth.HoldKeys(t)
	answered := make(chan int, 1)
	go func() {
		status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help"))
		answered <- status
	}()
	<-arrived
	h.clock.Advance(50 * time.Second) // the fetch takes long
	release()
	if status := <-answered; status != http.StatusOK {
		t.Fatalf("first request: status %d", status)
	}

	h.auth.Rotate(t)
	h.clock.Advance(30 * time.Second) // 80 s after the fetch began, 30 s after it ended
	if status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help")); status != http.StatusUnauthorized {
		t.Fatalf("new kid within the interval: status %d, want 401", status)
	}
	if n := h.auth.KeyFetches(); n != 1 {
		t.Fatalf("key fetches within the interval = %d, want 1", n)
	}
	h.clock.Advance(30 * time.Second) // a minute after the fetch ended
	if status, _ := h.post(t, h.token(), h.message("<at>mfabot</at> help")); status != http.StatusOK {
		t.Fatalf("new kid after the interval: status %d, want 200", status)
	}
	if n := h.auth.KeyFetches(); n != 2 {
		t.Fatalf("key fetches after the interval = %d, want 2", n)
	}
}

// TestRefusedBeforeBodyClosesConnection: a request refused on its token is answered at
// once and its connection closed, without waiting for a body the client may trickle.
func TestRefusedBeforeBodyClosesConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not.a.jwt\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", teams.MessagesPath)
	// The body never comes; the bound only turns a hang into a failure.
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	answer, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v (read %q)", err, answer)
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 401 ") {
		t.Fatalf("answer %q", answer)
	}
}
