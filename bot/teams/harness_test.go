package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

var _ teams.ConversationStore = (*storage.DB)(nil)

const (
	appID       = "11111111-2222-3333-4444-555555555555"
	tenantID    = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	otherTenant = "99999999-9999-9999-9999-999999999999"
	botMRI      = "28:" + appID
	annAAD      = "0a0a0a0a-1111-2222-3333-444444444444"
	annMRI      = "29:1ann-teams-user-id"
	teamID      = "19:team-general@thread.tacv2"
	channelID   = "19:approvals@thread.tacv2"
)

// fakeDispatcher records events and answers with handle (an empty response when nil).
type fakeDispatcher struct {
	mu     sync.Mutex
	events []bot.Event
	ch     chan bot.Event
	handle func(ctx context.Context, ev bot.Event) bot.Response
}

func newDispatcher() *fakeDispatcher { return &fakeDispatcher{ch: make(chan bot.Event, 100)} }

func (f *fakeDispatcher) Handle(ctx context.Context, ev bot.Event) bot.Response {
	f.mu.Lock()
	f.events = append(f.events, ev)
	h := f.handle
	f.mu.Unlock()
	f.ch <- ev
	if h == nil {
		return bot.Response{}
	}
	return h(ctx, ev)
}

func (f *fakeDispatcher) set(h func(ctx context.Context, ev bot.Event) bot.Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handle = h
}

func (f *fakeDispatcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

func (f *fakeDispatcher) next(t *testing.T) bot.Event {
	t.Helper()
	select {
	case ev := <-f.ch:
		return ev
	case <-time.After(hangLimit):
		t.Fatal("dispatcher was not called")
		return bot.Event{}
	}
}

// staticCredential hands out one token and counts the calls.
type staticCredential struct {
	token string
	calls atomic.Int32
}

func (c *staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// hangLimit bounds every wait of these tests for something that is announced. It only
// turns a hang into a failure: what they wait for takes milliseconds, even on a loaded
// machine.
const hangLimit = 15 * time.Second

// await receives from ch, failing the test when nothing comes within hangLimit.
func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(hangLimit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// refStore is the database as the adapter's ConversationStore, announcing every write:
// the adapter stores references in the background, after it has answered the activity
// that taught them.
type refStore struct {
	*storage.DB

	mu      sync.Mutex
	written chan struct{} // closed, and replaced, after each write
}

func (s *refStore) PutConversation(ctx context.Context, platform, id string, data []byte) error {
	err := s.DB.PutConversation(ctx, platform, id, data)
	s.mu.Lock()
	close(s.written)
	s.written = make(chan struct{})
	s.mu.Unlock()
	return err
}

// nextWrite is closed after the next write.
func (s *refStore) nextWrite() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

type harness struct {
	auth  *teamstest.Authority
	conn  *teamstest.Connector
	disp  *fakeDispatcher
	db    *storage.DB
	store *refStore // db, as the adapter writes it
	cred  *staticCredential
	clock *approvalstest.Clock
	a     *teams.Adapter
	srv   *httptest.Server
}

func newHarness(t testing.TB, configure ...func(*teams.Config)) *harness {
	t.Helper()
	h := &harness{
		auth:  teamstest.NewAuthority(t),
		conn:  teamstest.NewConnector(t),
		disp:  newDispatcher(),
		db:    storagetest.Open(t),
		cred:  &staticCredential{token: "bot-connector-token"},
		clock: approvalstest.NewClock(time.Now()),
	}
	h.store = &refStore{DB: h.db, written: make(chan struct{})}
	cfg := teams.Config{
		AppID:      appID,
		TenantID:   tenantID,
		OpenIDURL:  h.auth.OpenIDURL(),
		Channel:    channelID,
		Credential: h.cred,
		Clock:      h.clock,
		// Far beyond a prompt answer, so that a loaded machine never turns one into the
		// last-known-card path; the tests of a slow core set their own.
		InvokeTimeout: time.Minute,
	}
	for _, f := range configure {
		f(&cfg)
	}
	a, err := teams.New(cfg, h.disp, h.store)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	teams.SetRetryBase(a, 10*time.Millisecond)
	h.a = a
	h.srv = httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		h.srv.Close()
	})
	return h
}

// fakeOutboundClock puts the adapter's pacing of its Connector requests, its retries and
// the fake Connector's limits on one fake clock, and returns it. The clock moves only when
// the adapter waits, by as much as it waits, at once: a test sees in fake time when each
// request went out, however slow the machine. Two waits at once would both move it, so
// it suits tests that send one request at a time. Call it before anything is sent.
func (h *harness) fakeOutboundClock() *approvalstest.SkipClock {
	clock := approvalstest.NewSkipClock(time.Now())
	teams.SetOutboundClock(h.a, clock)
	h.conn.UseClock(clock.Now)
	return clock
}

// token is a good token for an activity about the fake connector.
func (h *harness) token() string { return h.auth.ChannelToken(appID, h.conn.URL) }

// post sends an activity to the messaging endpoint with a bearer token.
func (h *harness) post(t testing.TB, token string, act map[string]any) (int, []byte) {
	t.Helper()
	body, err := json.Marshal(act)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+teams.MessagesPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post activity: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// activity is a Teams activity in the approvals channel, from Ann.
func (h *harness) activity(typ string) map[string]any {
	return map[string]any{
		"type":       typ,
		"id":         "1700000000500",
		"timestamp":  time.Now().UTC().Format(time.RFC3339),
		"channelId":  "msteams",
		"serviceUrl": h.conn.URL,
		"from":       map[string]any{"id": annMRI, "name": "Ann Admin", "aadObjectId": annAAD},
		"recipient":  map[string]any{"id": botMRI, "name": "mfabot"},
		"conversation": map[string]any{
			"id": channelID + ";messageid=1700000000400", "conversationType": "channel",
			"tenantId": tenantID, "isGroup": true,
		},
		"channelData": map[string]any{
			"tenant":  map[string]any{"id": tenantID},
			"team":    map[string]any{"id": teamID, "name": "IT"},
			"channel": map[string]any{"id": channelID, "name": "mfa-approvals"},
		},
	}
}

// message is a channel message that mentions the bot.
func (h *harness) message(text string) map[string]any {
	act := h.activity("message")
	act["text"] = text
	act["entities"] = []any{map[string]any{
		"type": "mention", "text": "<at>mfabot</at>",
		"mentioned": map[string]any{"id": botMRI, "name": "mfabot"},
	}}
	return act
}

// invoke is an adaptiveCard/action invoke on the card with activity id cardID.
func (h *harness) invoke(verb string, data map[string]any, cardID string) map[string]any {
	act := h.activity("invoke")
	act["name"] = "adaptiveCard/action"
	act["replyToId"] = cardID
	act["value"] = map[string]any{
		"action":  map[string]any{"type": "Action.Execute", "verb": verb, "data": data},
		"trigger": "manual",
	}
	return act
}

// refs returns the stored Teams conversation references.
func (h *harness) refs(t *testing.T) []teams.ConversationRef {
	t.Helper()
	refs, err := h.a.KnownConversations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// waitRefs waits until at least n references are stored.
func (h *harness) waitRefs(t *testing.T, n int) []teams.ConversationRef {
	t.Helper()
	timer := time.NewTimer(hangLimit)
	defer timer.Stop()
	for {
		// Taken before the references are read, so that a write in between is not missed.
		written := h.store.nextWrite()
		refs := h.refs(t)
		if len(refs) >= n {
			return refs
		}
		select {
		case <-written:
		case <-timer.C:
			t.Fatalf("%d conversation references stored, want %d: %+v", len(refs), n, refs)
		}
	}
}

// storeChannel stores the approvals channel's reference as a verified
// conversationUpdate would.
func (h *harness) storeChannel(t *testing.T) {
	t.Helper()
	act := h.activity("conversationUpdate")
	act["conversation"] = map[string]any{"id": channelID, "conversationType": "channel", "tenantId": tenantID}
	act["channelData"].(map[string]any)["eventType"] = "teamMemberAdded"
	act["membersAdded"] = []any{map[string]any{"id": botMRI}}
	if status, body := h.post(t, h.token(), act); status != http.StatusOK {
		t.Fatalf("conversationUpdate: status %d %s", status, body)
	}
	h.waitRefs(t, 1)
}

func errorCode(err error) string { return approvals.ErrorCode(err) }
