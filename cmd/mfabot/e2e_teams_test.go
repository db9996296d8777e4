package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/teams/teamstest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

const (
	teamsAppID    = "11111111-2222-3333-4444-555555555555"
	teamsSecret   = "teams-app-secret-e2e-4c3b"
	teamsChannel  = "19:approvals@thread.tacv2"
	annAADObject  = "0a0a0a0a-1111-2222-3333-444444444444"
	benAADObject  = "0b0b0b0b-1111-2222-3333-444444444444"
	teamsBotMRI   = "28:" + teamsAppID
	teamsTenantID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

type teamsClient struct {
	t      *testing.T
	url    string
	auth   *teamstest.Authority
	conn   *teamstest.Connector
	tenant string
}

func (c *teamsClient) activity(typ, fromAAD, fromName string) map[string]any {
	return map[string]any{
		"type": typ, "id": "1700000000500", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"channelId": "msteams", "serviceUrl": c.conn.URL,
		"from":      map[string]any{"id": "29:" + fromName, "name": fromName, "aadObjectId": fromAAD},
		"recipient": map[string]any{"id": teamsBotMRI, "name": "mfabot"},
		"conversation": map[string]any{"id": teamsChannel + ";messageid=1700000000400", "conversationType": "channel",
			"tenantId": c.tenant, "isGroup": true},
		"channelData": map[string]any{"tenant": map[string]any{"id": c.tenant}, "team": map[string]any{"id": "19:team@thread.tacv2"},
			"channel": map[string]any{"id": teamsChannel}},
	}
}

func (c *teamsClient) post(token string, act map[string]any) (int, []byte) {
	c.t.Helper()
	body, _ := json.Marshal(act)
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/messages", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *teamsClient) good() string { return c.auth.ChannelToken(teamsAppID, c.conn.URL) }

func (c *teamsClient) invoke(fromAAD, fromName, command, cardID string) map[string]any {
	act := c.activity("invoke", fromAAD, fromName)
	act["name"] = "adaptiveCard/action"
	act["replyToId"] = cardID
	act["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "command", "data": map[string]any{"command": command}}, "trigger": "manual"}
	return act
}

// TestTeamsEndToEnd: real JWTs against a real JWKS endpoint, a fake Connector, graphtest
// and a real SQLite file, through the App as `mfabot serve` builds it.
func TestTeamsEndToEnd(t *testing.T) {
	t.Parallel()
	auth := teamstest.NewAuthority(t)
	conn := teamstest.NewConnector(t)
	ts := teamstest.NewTokenServer(t, teamsTenantID, teamsAppID, teamsSecret)
	cred, err := azidentity.NewClientSecretCredential(teamsTenantID, teamsAppID, teamsSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: ts.AuthorityHost()}, Transport: ts.Client()},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.RequireToken(ts.Valid)
	app := startAppWith(t, map[string]string{
		"MFABOT_TEAMS_APP_ID":       teamsAppID,
		"MFABOT_TEAMS_APP_PASSWORD": teamsSecret,
		"MFABOT_TEAMS_TENANT_ID":    teamsTenantID,
		"MFABOT_TEAMS_OPENID_URL":   auth.OpenIDURL(),
		"MFABOT_TEAMS_CHANNEL":      teamsChannel,
		"MFABOT_REQUESTERS":         "teams:" + annAADObject + ",teams:" + benAADObject,
		"MFABOT_APPROVERS":          "teams:" + annAADObject + ",teams:" + benAADObject,
	}, appDeps{TeamsCredential: cred})
	c := &teamsClient{t: t, url: app.URL, auth: auth, conn: conn, tenant: teamsTenantID}
	adele, _ := app.Graph.Tenant().User(graphtest.AdeleUPN)

	// The bot is added to the approvals channel: the reference is stored.
	up := c.activity("conversationUpdate", annAADObject, "ann")
	up["conversation"] = map[string]any{"id": teamsChannel, "conversationType": "channel", "tenantId": teamsTenantID}
	up["channelData"].(map[string]any)["eventType"] = "teamMemberAdded"
	up["membersAdded"] = []any{map[string]any{"id": teamsBotMRI}}
	if st, body := c.post(c.good(), up); st != 200 {
		t.Fatalf("conversationUpdate: %d %s", st, body)
	}

	msg := c.activity("message", annAADObject, "ann")
	msg["text"] = "<at>mfabot</at> mfa reset adele.vance@contoso.com lost phone"
	msg["entities"] = []any{map[string]any{"type": "mention", "text": "<at>mfabot</at>", "mentioned": map[string]any{"id": teamsBotMRI, "name": "mfabot"}}}

	// Every bad token: 401, nothing stored, nothing sent.
	for _, kind := range teamstest.BadTokens {
		if st, _ := c.post(auth.Bad(t, kind, teamsAppID, conn.URL), msg); st != http.StatusUnauthorized {
			t.Fatalf("%s token: status %d, want 401", kind, st)
		}
	}
	if st, _ := c.post("", msg); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d", st)
	}
	if rs := app.requests(t); len(rs) != 0 {
		t.Fatalf("bad tokens created %d requests", len(rs))
	}

	if st, body := c.post(c.good(), msg); st != 200 {
		t.Fatalf("message: %d %s", st, body)
	}
	var cardID string
	waitFor(t, "the approval card", func() bool {
		for _, call := range conn.Succeeded() {
			// The approval card itself, not the reply telling Ann it is waiting.
			if card := call.Card(); card != nil && strings.Contains(mustJSON(card), `"text":"Reset MFA for adele.vance@contoso.com"`) {
				cardID = call.ActivityID
				return true
			}
		}
		return false
	})
	rs := app.requests(t)
	if len(rs) != 1 || rs[0].Requester.EntraID != annAADObject {
		t.Fatalf("requests = %+v", rs)
	}
	id := rs[0].ID

	// Ann's own approval is refused in the card she gets back.
	st, body := c.post(c.good(), c.invoke(annAADObject, "ann", "approve "+id, cardID))
	if st != 200 || !strings.Contains(string(body), "your own request") {
		t.Fatalf("self-approval: %d %s", st, body)
	}
	if r, _ := app.DB.Request(context.Background(), id); r.State != approvals.StatePending {
		t.Fatalf("state after self-approval: %s", r.State)
	}
	// A token for another serviceUrl cannot carry Ben's approval.
	if st, _ := c.post(auth.Bad(t, teamstest.MismatchedServiceURL, teamsAppID, conn.URL), c.invoke(benAADObject, "ben", "approve "+id, cardID)); st != 401 {
		t.Fatalf("mismatched serviceUrl: %d", st)
	}
	st, body = c.post(c.good(), c.invoke(benAADObject, "ben", "approve "+id, cardID))
	if st != 200 || !strings.Contains(string(body), "application/vnd.microsoft.card.adaptive") {
		t.Fatalf("approve: %d %s", st, body)
	}
	waitFor(t, "the reset at Graph", func() bool {
		ms := app.Graph.Tenant().Methods(adele.ID)
		return len(ms) == 1 && !app.Graph.Tenant().RevokedAt(adele.ID).IsZero()
	})
	t.Cleanup(func() {
		if t.Failed() {
			for _, call := range conn.Calls() {
				t.Logf("connector: %s %s %d %.200s", call.Method, call.ActivityID, call.Status, mustJSON(call.Card()))
			}
		}
	})
	waitFor(t, "the card updated to succeeded", func() bool {
		for _, call := range conn.Succeeded() {
			if call.Method == http.MethodPut && call.ActivityID == cardID && strings.Contains(mustJSON(call.Card()), "Succeeded") {
				return true
			}
		}
		return false
	})
	// A bulk reset from Teams: the command answers with a card form; its submission makes
	// one request for the pasted list, with the unknown row refused before it, and Ben's
	// approval runs it.
	bulk := c.activity("message", annAADObject, "ann")
	bulk["id"] = "1700000000700"
	bulk["text"] = "<at>mfabot</at> mfa reset-bulk"
	bulk["entities"] = msg["entities"]
	if st, body := c.post(c.good(), bulk); st != 200 {
		t.Fatalf("reset-bulk: %d %s", st, body)
	}
	waitFor(t, "the reset-bulk form", func() bool {
		for _, call := range conn.Succeeded() {
			if card := mustJSON(call.Card()); strings.Contains(card, `"command":"reset-bulk"`) && strings.Contains(card, `"type":"Input.Text"`) {
				return true
			}
		}
		return false
	})
	megan, _ := app.Graph.Tenant().User(graphtest.MeganUPN)
	alex, _ := app.Graph.Tenant().User(graphtest.AlexUPN)
	submit := c.activity("invoke", annAADObject, "ann")
	submit["name"] = "adaptiveCard/action"
	submit["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "command", "data": map[string]any{
		"command": "reset-bulk", "mfabotForm": "1", "users": graphtest.MeganUPN + "\nnobody@contoso.com\n" + alex.ID, "reason": "phishing wave",
	}}, "trigger": "manual"}
	if st, body := c.post(c.good(), submit); st != 200 {
		t.Fatalf("reset-bulk form: %d %s", st, body)
	}
	var bulkReq *approvals.Request
	for _, r := range app.requests(t) {
		if r.Kind == approvals.KindResetBulk {
			bulkReq = r
		}
	}
	if bulkReq == nil || bulkReq.Preview.Bulk == nil || len(bulkReq.Preview.Bulk.Users) != 2 || len(bulkReq.Preview.Bulk.Refused) != 1 ||
		bulkReq.Preview.Bulk.Refused[0].Value != "nobody@contoso.com" || bulkReq.Reason != "phishing wave" {
		t.Fatalf("bulk request = %+v", bulkReq)
	}
	var bulkCard string
	waitFor(t, "the bulk reset's approval card", func() bool {
		for _, call := range conn.Succeeded() {
			if card := call.Card(); card != nil && call.Op == "send" && strings.Contains(mustJSON(card), bulkReq.ID) && strings.Contains(mustJSON(card), "nobody@contoso.com") {
				bulkCard = call.ActivityID
				return true
			}
		}
		return false
	})
	if st, body := c.post(c.good(), c.invoke(benAADObject, "ben", "approve "+bulkReq.ID, bulkCard)); st != 200 {
		t.Fatalf("approve the bulk reset: %d %s", st, body)
	}
	waitFor(t, "the bulk reset to succeed", func() bool {
		r, _ := app.DB.Request(context.Background(), bulkReq.ID)
		return r.State == approvals.StateSucceeded
	})
	for _, u := range []graphtest.User{megan, alex} {
		for _, m := range app.Graph.Tenant().Methods(u.ID) {
			if m.Type != graphtest.MethodPassword {
				t.Errorf("%s still has %s", u.UserPrincipalName, m.Type)
			}
		}
	}

	for _, call := range conn.Calls() {
		if !ts.Valid(call.Bearer) {
			t.Fatalf("the connector got a token the authority did not issue")
		}
	}
	noSecretsIn(t, app.Logs.String(), teamsSecret, app.Config.ClientSecret)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
