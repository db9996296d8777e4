package teams

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// The fuzz targets below feed the messaging endpoint what an attacker could send (any
// Authorization header and body), what the Bot Connector could sign (any claims), and
// any activity under a genuine token. Seeds are in testdata/fuzz/<name>/.
//
// testdata/fuzz-signing-key.pem is a throwaway RSA key made for these tests only, so
// that committed seed tokens carry signatures the fuzzed adapter trusts.

const (
	fuzzKID        = "fuzz-key-1"
	fuzzAppID      = "11111111-2222-3333-4444-555555555555"
	fuzzTenant     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	fuzzServiceURL = "https://smba.trafficmanager.net/amer/"
)

// fuzzNow is the adapters' clock in the fuzz targets.
var fuzzNow = time.Unix(1_800_000_000, 0)

var fuzzKey = sync.OnceValue(func() *rsa.PrivateKey {
	data, err := os.ReadFile("testdata/fuzz-signing-key.pem")
	if err != nil {
		panic(err)
	}
	b, _ := pem.Decode(data)
	k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		panic(err)
	}
	return k
})

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// memStore is a ConversationStore in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) PutConversation(_ context.Context, platform, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[platform+"/"+id] = data
	return nil
}

func (s *memStore) Conversation(_ context.Context, platform, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.m[platform+"/"+id]; ok {
		return d, nil
	}
	return nil, approvals.Errorf(approvals.ENOTFOUND, "no conversation %s", id)
}

func (s *memStore) Conversations(_ context.Context, platform string) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for k, d := range s.m {
		if strings.HasPrefix(k, platform+"/") {
			out = append(out, d)
		}
	}
	return out, nil
}

// recordingDispatcher keeps the events it is handed.
type recordingDispatcher struct {
	mu     sync.Mutex
	events []bot.Event
}

func (d *recordingDispatcher) Handle(_ context.Context, ev bot.Event) bot.Response {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, ev)
	return bot.Response{Reply: &bot.Message{Text: "ok"}}
}

// fuzzCredential has no token to give: outbound calls fail.
type fuzzCredential struct{}

func (fuzzCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no token in fuzzing")
}

// refuseTransport fails every outbound call at once: nothing leaves the process.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in fuzzing")
}

// fuzzAdapter is an adapter that trusts the fuzz key (and no fetch is due), on a
// standing clock, whose outbound calls fail at once.
func fuzzAdapter(t *testing.T) (*Adapter, *recordingDispatcher) {
	d := &recordingDispatcher{}
	a, err := New(Config{
		AppID: fuzzAppID, TenantID: fuzzTenant, OpenIDURL: "http://127.0.0.1:1/openid",
		Credential: fuzzCredential{}, HTTPClient: &http.Client{Transport: refuseTransport{}},
		Logger: slog.New(slog.DiscardHandler), Clock: fixedClock{fuzzNow},
		InvokeTimeout: 5 * time.Second, DispatchTimeout: 5 * time.Second,
	}, d, &memStore{m: map[string][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	a.conn.retry.attempts = 1
	k := a.auth.keys
	k.keys = map[string]signingKey{fuzzKID: {pub: &fuzzKey().PublicKey, endorsements: []string{"msteams"}}}
	k.fetchedAt, k.attemptAt = fuzzNow, fuzzNow
	return a, d
}

// post sends one request through the adapter's handler and waits for the work it
// started.
func post(t *testing.T, a *Adapter, authorization string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, MessagesPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	return rec
}

// signRaw signs any payload bytes as an RS256 JWT with the fuzz key.
func signRaw(header map[string]any, payload []byte) string {
	h, _ := json.Marshal(header)
	s := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(nil, fuzzKey(), crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return s + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func fuzzClaims(serviceURL string) map[string]any {
	return map[string]any{
		"iss": issuerBotConnector, "aud": fuzzAppID, "serviceurl": serviceURL,
		"nbf": fuzzNow.Add(-5 * time.Minute).Unix(), "exp": fuzzNow.Add(time.Hour).Unix(),
	}
}

func fuzzToken(claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return signRaw(map[string]any{"alg": "RS256", "typ": "JWT", "kid": fuzzKID}, p)
}

func fuzzActivity(typ string) map[string]any {
	return map[string]any{
		"type": typ, "id": "1800000000500", "channelId": "msteams", "serviceUrl": fuzzServiceURL,
		"from":         map[string]any{"id": "29:1ann", "name": "Ann", "aadObjectId": "0a0a0a0a-1111-2222-3333-444444444444"},
		"recipient":    map[string]any{"id": "28:" + fuzzAppID, "name": "mfabot"},
		"conversation": map[string]any{"id": "19:approvals@thread.tacv2;messageid=1", "conversationType": "channel", "tenantId": fuzzTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": fuzzTenant}, "channel": map[string]any{"id": "19:approvals@thread.tacv2", "name": "mfa"}},
		"text":         "<at>mfabot</at> mfa status ann@contoso.com",
		"entities":     []any{map[string]any{"type": "mention", "text": "<at>mfabot</at>", "mentioned": map[string]any{"id": "28:" + fuzzAppID}}},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzTeamsForged: no Authorization header an attacker can write gets a request past the
// endpoint, whatever the body; nothing reaches the dispatcher. The seed tokens are signed
// with the trusted key but each has a defect no body can cure.
func FuzzTeamsForged(f *testing.F) {
	body := mustJSON(fuzzActivity("message"))
	expired := fuzzClaims(fuzzServiceURL)
	expired["exp"] = fuzzNow.Add(-time.Hour).Unix()
	wrongAud := fuzzClaims(fuzzServiceURL)
	wrongAud["aud"] = []string{"https://api.botframework.com"}
	noExp := fuzzClaims(fuzzServiceURL)
	delete(noExp, "exp")
	otherIss := fuzzClaims(fuzzServiceURL)
	otherIss["iss"] = "https://sts.windows.net/99999999-9999-9999-9999-999999999999/"
	unsigned := base64.RawURLEncoding.EncodeToString(mustJSON(map[string]any{"alg": "none", "kid": fuzzKID})) + "." +
		base64.RawURLEncoding.EncodeToString(mustJSON(fuzzClaims(fuzzServiceURL))) + "."
	for _, h := range []string{
		"", "Bearer", "Bearer ", "bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer a b",
		"Bearer " + fuzzToken(expired), "Bearer " + fuzzToken(wrongAud), "Bearer " + fuzzToken(noExp),
		"Bearer " + fuzzToken(otherIss), "Bearer " + unsigned,
	} {
		f.Add(h, body)
	}
	f.Fuzz(func(t *testing.T, authorization string, body []byte) {
		a, d := fuzzAdapter(t)
		rec := post(t, a, authorization, body)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("Authorization %q answered %d: %s", authorization, rec.Code, rec.Body)
		}
		if len(d.events) != 0 {
			t.Fatalf("dispatched %+v", d.events)
		}
	})
}

// FuzzTeamsClaims: whatever claims the trusted key signs, validate accepts a token only
// when its issuer, audience, validity period and serviceurl say what they must.
func FuzzTeamsClaims(f *testing.F) {
	good := fuzzClaims(fuzzServiceURL)
	f.Add(mustJSON(good))
	for _, change := range []func(m map[string]any){
		func(m map[string]any) { m["aud"] = []any{"x", fuzzAppID} },
		func(m map[string]any) { m["aud"] = []any{} },
		func(m map[string]any) { m["exp"] = "1800003600" },
		func(m map[string]any) { m["exp"] = 1.8000036005e9 },
		func(m map[string]any) { m["exp"] = 1e300 },
		func(m map[string]any) { m["nbf"] = fuzzNow.Add(6 * time.Minute).Unix() },
		func(m map[string]any) { m["iat"] = fuzzNow.Add(time.Hour).Unix() },
		func(m map[string]any) { m["iss"] = "https://login.microsoftonline.com/" + fuzzTenant + "/v2.0" },
		func(m map[string]any) { m["serviceurl"] = 7 },
		func(m map[string]any) { m["serviceurl"] = "" },
	} {
		m := fuzzClaims(fuzzServiceURL)
		change(m)
		f.Add(mustJSON(m))
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"exp":null}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		v := newValidator(Config{AppID: fuzzAppID, TenantID: fuzzTenant, Clock: fixedClock{fuzzNow}, Logger: slog.New(slog.DiscardHandler)})
		v.keys.keys = map[string]signingKey{fuzzKID: {pub: &fuzzKey().PublicKey}}
		v.keys.fetchedAt, v.keys.attemptAt = fuzzNow, fuzzNow
		token := signRaw(map[string]any{"alg": "RS256", "typ": "JWT", "kid": fuzzKID}, payload)
		ti, err := v.validate(context.Background(), "Bearer "+token)
		if err != nil {
			if !errors.Is(err, errUnauthenticated) {
				t.Fatalf("refusal %v is not errUnauthenticated", err)
			}
			if r := rejectReason(err); r == "" || r == RejectKeysUnavailable {
				t.Fatalf("refusal %v classified %q", err, r)
			}
			return
		}
		var c map[string]any
		dec := json.NewDecoder(bytes.NewReader(payload))
		if dec.Decode(&c) != nil {
			t.Fatalf("accepted claims that are not a JSON object: %q", payload)
		}
		if iss, _ := c["iss"].(string); !slices.Contains(v.issuers, iss) || ti.issuer != iss {
			t.Fatalf("accepted issuer %v", c["iss"])
		}
		if su, _ := c["serviceurl"].(string); su == "" || ti.serviceURL != su {
			t.Fatalf("accepted serviceurl %v", c["serviceurl"])
		}
		auds := []any{c["aud"]}
		if list, ok := c["aud"].([]any); ok {
			auds = list
		}
		if !slices.Contains(auds, any(fuzzAppID)) {
			t.Fatalf("accepted audience %v", c["aud"])
		}
		exp, ok := c["exp"].(float64)
		if !ok {
			t.Fatalf("accepted exp %v", c["exp"])
		}
		if exp < math.MaxInt32*4 && !fuzzNow.Before(time.Unix(int64(exp), 0).Add(clockSkew+time.Second)) {
			t.Fatalf("accepted a token that expired at %v", exp)
		}
		if nbf, ok := c["nbf"].(float64); ok && nbf < math.MaxInt32*4 && time.Unix(int64(nbf), 0).After(fuzzNow.Add(clockSkew+time.Second)) {
			t.Fatalf("accepted a token valid only from %v", nbf)
		}
		if _, ok := c["nbf"]; ok {
			if _, num := c["nbf"].(float64); !num {
				t.Fatalf("accepted nbf %v", c["nbf"])
			}
		}
	})
}

// FuzzTeamsActivity: any body under a genuine token for its serviceUrl is decoded and
// handled without a panic; it is served only when it is an msteams activity of our
// tenant, and only a verified Entra object id ever reaches the dispatcher as the actor.
func FuzzTeamsActivity(f *testing.F) {
	f.Add(mustJSON(fuzzActivity("message")))
	submit := fuzzActivity("message")
	submit["value"] = map[string]any{"command": "approve R-7K2QXA", "reason": "ok"}
	f.Add(mustJSON(submit))
	for _, verb := range []string{"command", "refresh"} {
		inv := fuzzActivity("invoke")
		inv["name"] = "adaptiveCard/action"
		inv["replyToId"] = "1800000000400"
		inv["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": verb,
			"data": map[string]any{"command": "deny R-7K2QXA", "requestId": "R-7K2QXA", "reason": "no"}}, "trigger": "manual"}
		f.Add(mustJSON(inv))
	}
	up := fuzzActivity("conversationUpdate")
	up["membersAdded"] = []any{map[string]any{"id": "28:" + fuzzAppID}}
	f.Add(mustJSON(up))
	other := fuzzActivity("message")
	other["conversation"].(map[string]any)["tenantId"] = "99999999-9999-9999-9999-999999999999"
	f.Add(mustJSON(other))
	f.Add([]byte(`{"type":"installationUpdate","action":"remove","serviceUrl":"https://smba.trafficmanager.net/amer/","channelId":"msteams"}`))
	f.Add([]byte(`{"type":"invoke","name":"adaptiveCard/action","value":null,"serviceUrl":"https://x.example/","channelId":"msteams","conversation":{"tenantId":"` + fuzzTenant + `"}}`))
	f.Add([]byte(`{"type":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var lenient struct {
			ServiceURL string `json:"serviceUrl"`
		}
		_ = json.Unmarshal(body, &lenient)
		a, d := fuzzAdapter(t)
		rec := post(t, a, "Bearer "+fuzzToken(fuzzClaims(lenient.ServiceURL)), body)
		switch rec.Code {
		case http.StatusOK:
			act, err := parseActivity(body)
			if err != nil {
				t.Fatalf("served a body that is not an activity: %v", err)
			}
			if act.ChannelID != channelMSTeams || !strings.EqualFold(act.tenant(), fuzzTenant) {
				t.Fatalf("served channel %q tenant %q", act.ChannelID, act.tenant())
			}
			if act.Type == typeInvoke && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("invoke answer is not JSON: %s", rec.Body)
			}
			for _, ev := range d.events {
				want := ""
				if act.From != nil {
					want = strings.ToLower(act.From.AADObjectID)
				}
				if ev.Actor.Platform != PlatformName || ev.Actor.ID != want || !IsGUID(ev.Actor.ID) || ev.Actor.EntraID != ev.Actor.ID {
					t.Fatalf("dispatched actor %+v for from %+v", ev.Actor, act.From)
				}
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusNotImplemented:
			if len(d.events) != 0 {
				t.Fatalf("answered %d but dispatched %+v", rec.Code, d.events)
			}
		default:
			t.Fatalf("answered %d: %s", rec.Code, rec.Body)
		}
	})
}

// TestFuzzHarnessServes keeps the fuzz targets honest: under the harness a genuine
// activity is served and dispatched, and the claims of a genuine token are accepted, so
// the fuzzers explore past authentication.
func TestFuzzHarnessServes(t *testing.T) {
	t.Parallel()
	a, d := fuzzAdapter(t)
	rec := post(t, a, "Bearer "+fuzzToken(fuzzClaims(fuzzServiceURL)), mustJSON(fuzzActivity("message")))
	if rec.Code != http.StatusOK || len(d.events) != 1 || d.events[0].Text != "status ann@contoso.com" {
		t.Fatalf("genuine activity: %d, events %+v", rec.Code, d.events)
	}
	inv := fuzzActivity("invoke")
	inv["name"] = "adaptiveCard/action"
	inv["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "command", "data": map[string]any{"command": "show R-7K2QXA"}}}
	a, d = fuzzAdapter(t)
	if rec := post(t, a, "Bearer "+fuzzToken(fuzzClaims(fuzzServiceURL)), mustJSON(inv)); rec.Code != http.StatusOK || len(d.events) != 1 {
		t.Fatalf("genuine invoke: %d %s, events %+v", rec.Code, rec.Body, d.events)
	}
}
