package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// demoBulkReset pastes a list into the demo's bulk reset form as Ann, with a pass for
// each user; Ben approves the one card; the users are reset and the passes are in Ann's
// direct messages, not in Ben's page.
func demoBulkReset(t *testing.T, browser context.Context, d *demo) {
	t.Helper()
	bctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	list := graphtest.MeganUPN + "\n" + graphtest.AlexUPN + "\nnobody@contoso.com\n"
	err := chromedp.Do(bctx,
		chromedp.Click(`a.person[data-person="ann"]`),
		chromedp.WaitVisible(`body[data-as="ann"] #text`),
		chromedp.SendKeys(`#text`, "/mfa reset-bulk phishing wave"),
		chromedp.Submit(`#composer`),
		chromedp.WaitVisible(`form.card-form textarea[name="users"]`),
		chromedp.SetValue(`form.card-form textarea[name="users"]`, list),
		chromedp.Click(`form.card-form input[name="tap"]`),
		chromedp.Click(`form.card-form button[type="submit"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	var bulk *approvals.Request
	waitFor(t, "the bulk request", func() bool {
		rs, _ := d.App.DB.Requests(context.Background(), approvals.RequestFilter{})
		for _, r := range rs {
			if r.Kind == approvals.KindResetBulk {
				bulk = r
				return true
			}
		}
		return false
	})
	if len(bulk.Preview.Bulk.Users) != 2 || len(bulk.Preview.Bulk.Refused) != 1 || bulk.Preview.TAP == nil || bulk.Reason != "phishing wave" {
		t.Fatalf("bulk request = %+v %+v", bulk.Preview.Bulk, bulk.Preview.TAP)
	}
	card := `#timeline .card[data-request="` + bulk.ID + `"]`
	err = chromedp.Do(bctx,
		chromedp.WaitVisible(card),
		chromedp.Click(`a.person[data-person="ben"]`),
		chromedp.WaitVisible(`body[data-as="ben"] `+card+` button.btn-primary`),
		chromedp.Click(card+` button.btn-primary`),
		chromedp.WaitVisible(card+`.tone-good`),
	)
	if err != nil {
		t.Fatal(err)
	}
	state, err := chromedp.Run(bctx, chromedp.Text(card))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(state, "Done: all 2 users are reset") || !strings.Contains(state, "line 3: nobody@contoso.com") {
		t.Fatalf("bulk card = %s", state)
	}
	benPage, err := chromedp.Run(bctx, chromedp.Text(`body`))
	if err != nil {
		t.Fatal(err)
	}
	for _, upn := range []string{graphtest.MeganUPN, graphtest.AlexUPN} {
		u, _ := d.Tenant.User(upn)
		pass, ok := d.Tenant.TemporaryAccessPass(u.ID)
		if !ok {
			t.Fatalf("%s has no pass", upn)
		}
		if strings.Contains(benPage, pass.Pass) {
			t.Fatalf("Ben sees %s's pass", upn)
		}
		err := chromedp.Do(bctx,
			chromedp.Click(`a.person[data-person="ann"]`),
			chromedp.WaitVisible(`body[data-as="ann"] #direct`),
		)
		if err != nil {
			t.Fatal(err)
		}
		dms, err := chromedp.Run(bctx, chromedp.TextContent(`#direct`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dms, pass.Pass) {
			t.Fatalf("Ann's direct messages lack %s's pass:\n%s", upn, dms)
		}
	}
}
