package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// TestSlackStepUpEndToEnd: mfabot configured by environment with step-up for reset, Slack
// in front and graphtest's authority behind. Ben's signed click answers him alone with a
// link; his browser follows it through the Entra sign-in; the approval is made, the reset
// runs, the Slack card succeeds, and the audit verifies with the evidence in it.
func TestSlackStepUpEndToEnd(t *testing.T) {
	t.Parallel()
	const secret = "e2e-signing-secret-stepup"
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
		"MFABOT_SLACK_USERS":          "UANN=" + annAADObject + ",UBEN=" + benAADObject,
		"MFABOT_REQUESTERS":           "slack:UANN",
		"MFABOT_APPROVERS":            "slack:UANN,slack:UBEN",
		"MFABOT_STEP_UP":              "reset",
		"MFABOT_STEP_UP_CONTEXT":      "c1",
		"MFABOT_PUBLIC_URL":           publicURLOfListener,
	})
	ctx := context.Background()
	send := slacktest.Sender{URL: app.URL, Secret: secret}
	adele, _ := app.Graph.Tenant().User(graphtest.AdeleUPN)

	if ans, err := send.Command(ctx, fake.Command(ann, slacktest.Channel, "reset adele.vance@contoso.com lost phone")); err != nil || ans.Status != 200 {
		t.Fatalf("command: %d %v", ans.Status, err)
	}
	fake.WaitCalls(t, "chat.postMessage", 1)
	msgs := fake.Messages(slacktest.Channel)
	card := msgs[len(msgs)-1]
	press, err := fake.Press(ben, slacktest.Channel, card.TS, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := send.Interaction(ctx, press.Payload()); err != nil || ans.Status != 200 {
		t.Fatalf("press: %v %v", ans.Status, err)
	}
	var link string
	waitFor(t, "Ben's sign-in link", func() bool {
		for _, c := range fake.Calls("response_url") {
			if l := linkIn(c.Args["blocks"]); l != "" {
				if c.Args["response_type"] == "in_channel" {
					t.Fatalf("the link was posted in the channel: %v", c.Args)
				}
				link = l
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(link, app.URL+"/stepup/") {
		t.Fatalf("link %s", link)
	}
	if rs := app.requests(t); rs[0].State != approvals.StatePending {
		t.Fatalf("the click approved: %s", rs[0].State)
	}

	// Ben's browser: the link's page, the start, Entra's sign-in page, the answer.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: app.Graph.HTTPClient().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, u string, form url.Values) (*http.Response, string) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = browser.Get(u)
		} else {
			resp, err = browser.PostForm(u, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get(http.MethodGet, link, nil); resp.StatusCode != 200 || !strings.Contains(body, "Reset MFA for adele.vance@contoso.com") {
		t.Fatalf("link page %d\n%s", resp.StatusCode, body)
	}
	resp, _ := get(http.MethodPost, link, url.Values{})
	authorize := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(authorize, "login_hint=ben.admin%40") {
		t.Fatalf("start %d to %s", resp.StatusCode, authorize)
	}
	_, body := get(http.MethodGet, authorize, nil)
	page, err := graphtest.ReadSignInPage(strings.NewReader(body))
	if err != nil || len(page.Accounts) == 0 || !strings.HasPrefix(page.Accounts[0], "ben.admin@") {
		t.Fatalf("sign-in page %v %+v", err, page)
	}
	_, body = get(http.MethodPost, authorize, url.Values{"request": {page.Request}, "account": {page.Accounts[0]}, "method": {graphtest.SignInMFA}})
	action, fields, err := graphtest.FormPost(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(http.MethodPost, action, fields); resp.StatusCode != 200 || !strings.Contains(body, "Approved R-") {
		t.Fatalf("callback %d\n%s", resp.StatusCode, body)
	}

	waitFor(t, "the reset at Graph", func() bool {
		ms := app.Graph.Tenant().Methods(adele.ID)
		return len(ms) == 1 && ms[0].Type == graphtest.MethodPassword
	})
	waitFor(t, "the card to show success", func() bool {
		m, _ := fake.Message(slacktest.Channel, card.TS)
		return strings.Contains(string(m.Blocks), "Succeeded")
	})
	var evidence string
	err = app.DB.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.Type == approvals.EventApproved {
			evidence = ev.Detail
		}
		return nil
	})
	if err != nil || !strings.Contains(evidence, "signed in as "+benAADObject) || !strings.Contains(evidence, "MFA proven by acrs c1") {
		t.Fatalf("evidence %q %v", evidence, err)
	}
	if res, err := app.DB.VerifyAudit(ctx); err != nil || !res.OK {
		t.Fatalf("audit: %v %v", res, err)
	}
	for _, secret := range []string{strings.TrimPrefix(link, app.URL+"/stepup/"), fields.Get("code"), fields.Get("state")} {
		if strings.Contains(app.Logs.String(), secret) {
			t.Fatal("a step-up secret reached the log")
		}
	}
}

// linkIn finds the url of a link button in Block Kit JSON.
func linkIn(blocks string) string {
	var bs []struct {
		Elements []struct {
			URL string `json:"url"`
		} `json:"elements"`
	}
	if json.Unmarshal([]byte(blocks), &bs) != nil {
		return ""
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.URL != "" {
				return e.URL
			}
		}
	}
	return ""
}
