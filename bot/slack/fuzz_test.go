package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// The fuzz targets below feed the HTTP endpoints what an attacker (unsigned) and Slack
// (signed, but with any content) could send. Seeds are in testdata/fuzz/<name>/.

const fuzzSecret = "fuzz-signing-secret-0f1e2d"

// fuzzNow is the adapters' clock in the fuzz targets.
var fuzzNow = time.Unix(1_800_000_000, 0)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// countingDispatcher counts the events it is handed.
type countingDispatcher struct{ n atomic.Int64 }

func (d *countingDispatcher) Handle(context.Context, bot.Event) bot.Response {
	d.n.Add(1)
	return bot.Response{Reply: &bot.Message{Text: "ok"}}
}

// refuseTransport fails every outbound call at once: nothing leaves the process.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in fuzzing")
}

// fuzzAdapter is an adapter serving this workspace and app, whose outbound calls fail.
func fuzzAdapter(t *testing.T) (*Adapter, *countingDispatcher) {
	d := &countingDispatcher{}
	a, err := New(Config{
		BotToken: slacktest.BotToken, SigningSecret: fuzzSecret, APIURL: "http://127.0.0.1:1/api/",
		Channel: slacktest.Channel, TeamID: slacktest.TeamID, AppID: slacktest.AppID,
		Logger: slog.New(slog.DiscardHandler), Clock: fixedClock{fuzzNow},
		HTTPClient: &http.Client{Transport: refuseTransport{}}, DispatchTimeout: 5 * time.Second,
	}, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, d
}

// serve sends one request through the adapter's handler and waits for the work it
// started.
func serve(t *testing.T, a *Adapter, path string, h http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header = h
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	return rec
}

func sign(secret string, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func signedHeader(body []byte) http.Header {
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set(headerTimestamp, ts)
	h.Set(headerSignature, sign(fuzzSecret, ts, body))
	return h
}

func seedPress() slacktest.Press {
	return slacktest.Press{TeamID: slacktest.TeamID, AppID: slacktest.AppID, UserID: "UANN", UserName: "ann",
		ChannelID: slacktest.Channel, MessageTS: "1800000000.000100", BlockID: "mfa_actions_0",
		ActionID: actionCommand + "0", Label: "Approve", Value: "approve R-7K2QXA",
		ResponseURL: "https://hooks.slack.com/actions/T0/1/x", TriggerID: "1.2.3"}
}

// FuzzVerifySignature: whatever the headers and body, a request is accepted only with
// the HMAC of its own body and a timestamp within the window.
func FuzzVerifySignature(f *testing.F) {
	body := slacktest.Command{TeamID: slacktest.TeamID, UserID: "UANN", Command: "/mfa", Text: "status ann@contoso.com"}.Form()
	now := strconv.FormatInt(fuzzNow.Unix(), 10)
	f.Add(now, sign(fuzzSecret, now, body), body)
	f.Add(now, strings.ToUpper(sign(fuzzSecret, now, body)), body)
	f.Add(now, sign("guessed", now, body), body)
	f.Add("1799999000", sign(fuzzSecret, "1799999000", body), body)
	f.Add("+1800000000", sign(fuzzSecret, "+1800000000", body), body)
	f.Add("1800000000.5", "v0=", []byte{})
	f.Add("-1", "v1=00", []byte("a=b"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(headerTimestamp, ts)
		h.Set(headerSignature, sig)
		err := verifySignature(fuzzSecret, fuzzNow, h, body)
		if verifySignature("", fuzzNow, h, body) == nil {
			t.Fatal("accepted with no secret")
		}
		if err != nil {
			return
		}
		// Accepted: the reference check must agree on every point.
		secs, perr := strconv.ParseInt(h.Get(headerTimestamp), 10, 64)
		if perr != nil || secs <= 0 {
			t.Fatalf("accepted timestamp %q", ts)
		}
		if d := fuzzNow.Sub(time.Unix(secs, 0)); d > signatureWindow || d < -signatureWindow {
			t.Fatalf("accepted timestamp %q outside the window", ts)
		}
		got, herr := hex.DecodeString(strings.TrimPrefix(h.Get(headerSignature), "v0="))
		want, _ := hex.DecodeString(strings.TrimPrefix(sign(fuzzSecret, h.Get(headerTimestamp), body), "v0="))
		if herr != nil || !strings.HasPrefix(h.Get(headerSignature), "v0=") || !hmac.Equal(got, want) {
			t.Fatalf("accepted signature %q for timestamp %q", sig, ts)
		}
	})
}

// FuzzSlackForged: requests an attacker can make — any path of ours, headers and body,
// without the signing secret — are refused and reach nobody.
func FuzzSlackForged(f *testing.F) {
	body := slacktest.Command{TeamID: slacktest.TeamID, AppID: slacktest.AppID, UserID: "UANN", Command: "/mfa", Text: "help"}.Form()
	now := strconv.FormatInt(fuzzNow.Unix(), 10)
	f.Add(false, now, sign("guessed", now, body), body)
	f.Add(true, now, "v0="+strings.Repeat("0", 64), []byte("payload="+url.QueryEscape(string(seedPress().Payload()))))
	f.Add(false, "", "", []byte{})
	f.Add(true, "0x6b49d200", "v0=zz", []byte("payload=%7B"))
	f.Fuzz(func(t *testing.T, interaction bool, ts, sig string, body []byte) {
		if sig == sign(fuzzSecret, ts, body) {
			return // a correctly signed request is no forgery: FuzzSlackCommand covers those
		}
		a, d := fuzzAdapter(t)
		path := CommandsPath
		if interaction {
			path = InteractionsPath
		}
		h := http.Header{}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set(headerTimestamp, ts)
		h.Set(headerSignature, sig)
		rec := serve(t, a, path, h, body)
		switch rec.Code {
		case http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("forged request answered %d: %s", rec.Code, rec.Body)
		}
		if n := d.n.Load(); n != 0 {
			t.Fatalf("forged request dispatched %d events", n)
		}
	})
}

// FuzzSlackCommand: any body Slack could sign to /slack/commands is decoded without a
// panic; it is acknowledged (200) exactly when it is a form, and the ack is JSON.
func FuzzSlackCommand(f *testing.F) {
	c := slacktest.Command{TeamID: slacktest.TeamID, TeamDomain: slacktest.TeamDomain, AppID: slacktest.AppID,
		ChannelID: slacktest.Channel, ChannelName: "approvals", UserID: "UANN", UserName: "ann", Command: "/mfa",
		Text: "reset ann@contoso.com lost phone", ResponseURL: "https://hooks.slack.com/commands/T0/1/x", TriggerID: "1.2.3"}
	f.Add(c.Form())
	c.TeamID = "T0THER"
	f.Add(c.Form())
	c.TeamID, c.EnterpriseID, c.Text = slacktest.TeamID, "E0MFAORG01", strings.Repeat("x", maxCommandText+1)
	f.Add(c.Form())
	f.Add([]byte("team_id=" + slacktest.TeamID + "&api_app_id=" + slacktest.AppID + "&user_id=&text=%ZZ"))
	f.Add([]byte("team_id=T0MFABOT01&team_id=T0THER&user_id=U1&text=help;x=1"))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, _ := fuzzAdapter(t)
		rec := serve(t, a, CommandsPath, signedHeader(body), body)
		form, err := url.ParseQuery(string(body))
		switch {
		case len(body) > maxBodyBytes:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes answered %d", len(body), rec.Code)
			}
			return
		case err != nil:
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("unreadable form answered %d", rec.Code)
			}
			return
		case rec.Code != http.StatusOK:
			t.Fatalf("signed form answered %d: %s", rec.Code, rec.Body)
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("ack is not JSON: %s", rec.Body)
		}
		if cmd := decodeCommand(form); cmd.Text != form.Get("text") || cmd.UserID != form.Get("user_id") || cmd.TeamID != form.Get("team_id") {
			t.Fatalf("decoded %+v from %v", cmd, form)
		}
	})
}

// FuzzSlackInteraction: any payload Slack could sign to /slack/interactions is decoded
// and handled without a panic; it is acknowledged exactly when it is an interaction's
// JSON, and the ack is JSON.
func FuzzSlackInteraction(f *testing.F) {
	f.Add(seedPress().Payload())
	p := seedPress()
	p.ActionID, p.Value = actionReason+"1", "deny R-7K2QXA"
	f.Add(p.Payload())
	p = seedPress()
	p.UserTeamID = "T0THER"
	f.Add(p.Payload())
	f.Add(slacktest.Submission{TeamID: slacktest.TeamID, AppID: slacktest.AppID, UserID: "UANN", ViewID: "V1",
		CallbackID: reasonCallbackID, PrivateMetadata: `{"c":"deny R-7K2QXA","ch":"C0MFABOT01","u":"https://hooks.slack.com/x"}`,
		Values: map[string]map[string]string{reasonBlockID: {reasonActionID: "not during\nthe freeze"}}}.Payload())
	f.Add(slacktest.Submission{TeamID: slacktest.TeamID, AppID: slacktest.AppID, UserID: "UANN", ViewID: "V1",
		CallbackID: reasonCallbackID, PrivateMetadata: `{"c":""}`}.Payload())
	f.Add([]byte(`{"type":"block_actions","team":{"id":"T0MFABOT01"},"api_app_id":"A0MFABOT01","user":{"id":"U1"},"actions":[{"action_id":"mfa_cmd_0","value":"","type":"static_select","selected_option":{"value":"x"}}]}`))
	f.Add([]byte(`{"type":"view_submission","view":{"team_id":"T0MFABOT01","app_id":"A0MFABOT01","callback_id":"mfa_reason","state":{"values":{"reason":null}}},"user":{"id":"U1"}}`))
	f.Add([]byte(`{"type":"message_action","message":{"blocks":[{"type":"unknown"}]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, _ := fuzzAdapter(t)
		body := []byte("payload=" + url.QueryEscape(string(payload)))
		rec := serve(t, a, InteractionsPath, signedHeader(body), body)
		if len(body) > maxBodyBytes {
			return
		}
		var ic slackapi.InteractionCallback
		decoded := json.Unmarshal(payload, &ic) == nil
		switch {
		case decoded && rec.Code != http.StatusOK:
			t.Fatalf("interaction answered %d: %s", rec.Code, rec.Body)
		case !decoded && rec.Code != http.StatusBadRequest:
			t.Fatalf("unreadable payload answered %d", rec.Code)
		}
		if rec.Code == http.StatusOK && rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("ack is not JSON: %s", rec.Body)
		}
	})
}

// TestFuzzHarnessServes keeps the fuzz targets honest: under the harness a signed
// command and a signed button press are dispatched, so the fuzzers explore past the
// signature check.
func TestFuzzHarnessServes(t *testing.T) {
	t.Parallel()
	body := slacktest.Command{TeamID: slacktest.TeamID, AppID: slacktest.AppID, UserID: "UANN", Command: "/mfa", Text: "help"}.Form()
	a, d := fuzzAdapter(t)
	if rec := serve(t, a, CommandsPath, signedHeader(body), body); rec.Code != http.StatusOK || d.n.Load() != 1 {
		t.Fatalf("signed command: %d %s, %d events", rec.Code, rec.Body, d.n.Load())
	}
	body = []byte("payload=" + url.QueryEscape(string(seedPress().Payload())))
	a, d = fuzzAdapter(t)
	if rec := serve(t, a, InteractionsPath, signedHeader(body), body); rec.Code != http.StatusOK || d.n.Load() != 1 {
		t.Fatalf("signed press: %d %s, %d events", rec.Code, rec.Body, d.n.Load())
	}
}
