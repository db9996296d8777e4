package teamstest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabot/mfabot/bot/teams/teamstest"
)

func send(t *testing.T, c *teamstest.Connector, method, path, token string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, strings.TrimSuffix(c.URL, "/")+path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestConnectorEnforcesLimits(t *testing.T) {
	card := map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": map[string]any{"type": "AdaptiveCard"}}
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		want   int
	}{
		{"OK", http.MethodPost, "/v3/conversations/19%3Ac%40thread.tacv2/activities", "t", map[string]any{"type": "message", "attachments": []any{card}}, http.StatusCreated},
		{"NoToken", http.MethodPost, "/v3/conversations/19%3Ac%40thread.tacv2/activities", "", map[string]any{"type": "message", "text": "hi"}, http.StatusUnauthorized},
		{"TextAndCard", http.MethodPost, "/v3/conversations/c/activities", "t", map[string]any{"type": "message", "text": "hi", "attachments": []any{card}}, http.StatusBadRequest},
		{"TooBig", http.MethodPost, "/v3/conversations/c/activities", "t", map[string]any{"type": "message", "text": strings.Repeat("x", teamstest.MaxMessageBytes)}, http.StatusRequestEntityTooLarge},
		{"UpdateUnknown", http.MethodPut, "/v3/conversations/c/activities/42", "t", map[string]any{"type": "message", "text": "hi"}, http.StatusNotFound},
		{"CreateWithoutTenant", http.MethodPost, "/v3/conversations", "t", map[string]any{"members": []any{map[string]any{"id": "29:1"}}}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := teamstest.NewConnector(t)
			if got := send(t, c, tt.method, tt.path, tt.token, tt.body); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
}

func TestConnectorThrottlesPerConversation(t *testing.T) {
	c := teamstest.NewConnector(t)
	// On a clock that stands still, the sends below fall in one second however long they take.
	start := time.Now()
	var elapsed atomic.Int64
	c.UseClock(func() time.Time { return start.Add(time.Duration(elapsed.Load())) })
	body := map[string]any{"type": "message", "text": "hi"}
	for i := range teamstest.PerSecond {
		if got := send(t, c, http.MethodPost, "/v3/conversations/c/activities", "t", body); got != http.StatusCreated {
			t.Fatalf("send %d: status %d", i, got)
		}
	}
	if got := send(t, c, http.MethodPost, "/v3/conversations/c/activities", "t", body); got != http.StatusTooManyRequests {
		t.Errorf("send beyond the limit: status %d, want 429", got)
	}
	if got := send(t, c, http.MethodPost, "/v3/conversations/other/activities", "t", body); got != http.StatusCreated {
		t.Errorf("another conversation: status %d", got)
	}
	elapsed.Store(int64(time.Second))
	if got := send(t, c, http.MethodPost, "/v3/conversations/c/activities", "t", body); got != http.StatusCreated {
		t.Errorf("send a second later: status %d, want 201", got)
	}
	calls := c.Calls()
	if at := calls[len(calls)-1].At; !at.Equal(start.Add(time.Second)) {
		t.Errorf("call stamped %v, want the fake clock's %v", at, start.Add(time.Second))
	}
}

func TestConnectorHold(t *testing.T) {
	c := teamstest.NewConnector(t)
	arrived, release := c.Hold(t)
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, c.URL+"v3/conversations/c/activities", strings.NewReader(`{"type":"message","text":"hi"}`))
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-arrived
	if n := len(c.Calls()); n != 0 {
		t.Errorf("%d calls recorded while the request is held", n)
	}
	release()
	if got := <-status; got != http.StatusCreated {
		t.Errorf("status %d after the release, want 201", got)
	}
	if got := c.WaitSucceeded(t, 1, time.Minute); got[0].Op != "send" {
		t.Errorf("calls = %+v", got)
	}
}

func TestAuthorityPublishesEndorsedKeys(t *testing.T) {
	a := teamstest.NewAuthority(t)
	resp, err := http.Get(a.OpenIDURL())
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	resp, err = http.Get(meta.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid          string   `json:"kid"`
			Endorsements []string `json:"endorsements"`
		} `json:"keys"`
	}
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if len(set.Keys) != 1 || set.Keys[0].Kid != a.SigningKey().ID || len(set.Keys[0].Endorsements) != 1 || set.Keys[0].Endorsements[0] != "msteams" {
		t.Errorf("keys = %+v", set.Keys)
	}
	if a.KeyFetches() != 1 || a.MetadataFetches() != 1 {
		t.Errorf("fetch counts %d/%d", a.MetadataFetches(), a.KeyFetches())
	}
}
