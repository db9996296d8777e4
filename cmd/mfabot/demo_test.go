package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// chromium finds Debian's Chromium; the test skips without it unless
// MFABOT_REQUIRE_BROWSER is set (CI sets it and installs Chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MFABOT_REQUIRE_BROWSER") != "" {
		t.Fatal("MFABOT_REQUIRE_BROWSER is set but Chromium is not installed (apt-get install chromium)")
	}
	t.Skip("exec.LookPath found no Chromium (apt-get install chromium); set MFABOT_REQUIRE_BROWSER to make this a failure")
	return ""
}

// TestDemoInBrowser drives the demo in real headless Chromium, step-up and all: Ann requests
// a reset, her own Approve is refused, Ben's Approve answers with his one-time sign-in
// link; in the tab it opens he signs in with MFA on the simulated tenant's sign-in page;
// the page says "Approved", the card in the console reaches "Succeeded" live, and the
// simulated tenant shows Adele's methods gone. Then Ann pastes a list into the bulk reset
// form, with passes: Ben approves, and the passes arrive in Ann's direct messages only.
// MFABOT_SCREENSHOT and MFABOT_STEPUP_SCREENSHOT name files for docs/demo.png and
// docs/stepup.png.
func TestDemoInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startDemo(ctx, demoOptions{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "demo.db"), Users: 500, Seed: 5,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	defer func() { cancel(); <-done }()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	browser, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(browser, 120*time.Second)
	defer tcancel()

	card := `#timeline .item-channel .card[data-request]`
	var refusal, state string
	err = chromedp.Do(bctx,
		chromedp.Navigate(d.URL+"?as=ann"),
		chromedp.WaitVisible(`#text`),
		chromedp.SendKeys(`#text`, "/mfa reset adele.vance@contoso.com lost her phone"),
		chromedp.Submit(`#composer`),
		chromedp.WaitVisible(card+` button.btn-primary`),
		chromedp.Click(card+` button.btn-primary`),
		chromedp.WaitVisible(`.item-reply:last-child .card`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if refusal, err = chromedp.Run(bctx, chromedp.Text(`#timeline`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(refusal, "you cannot approve or deny your own request") {
		t.Fatalf("Ann's approval was not refused:\n%s", refusal)
	}

	// Ben's Approve answers, for him alone, with his one-time sign-in link.
	link := `.item-reply .card a.btn-primary[href*="/stepup/"]`
	err = chromedp.Do(bctx,
		chromedp.Click(`a.person[data-person="ben"]`),
		chromedp.WaitVisible(`body[data-as="ben"] `+card+` button.btn-primary`),
		chromedp.Click(card+` button.btn-primary`),
		chromedp.WaitVisible(link),
	)
	if err != nil {
		t.Fatal(err)
	}
	shotLink, err := elementShot(bctx, `section.channel`)
	if err != nil {
		t.Fatal(err)
	}
	newTab := chromedp.WaitNewTarget(bctx, func(i *target.Info) bool { return strings.Contains(i.URL, "/stepup/") })
	if err := chromedp.Do(bctx, chromedp.Click(link)); err != nil {
		t.Fatal(err)
	}
	var tab target.ID
	select {
	case tab = <-newTab:
	case <-bctx.Done():
		t.Fatal("the sign-in link opened no tab")
	}
	sctx, scancel := chromedp.NewContext(bctx, chromedp.WithTargetID(tab))
	defer scancel()

	// The link's page says what Ben approves; Entra's (simulated) page offers Ben's account.
	var what, who, result string
	err = chromedp.Do(sctx, chromedp.WaitVisible(`#continue`))
	if err != nil {
		t.Fatal(err)
	}
	if what, err = chromedp.Run(sctx, chromedp.Text(`#stepup`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(what, "Approve R-") || !strings.Contains(what, "adele.vance@contoso.com") || !strings.Contains(what, "as Ben Approver") {
		t.Fatalf("the link's page says:\n%s", what)
	}
	shotLanding, err := elementShot(sctx, `#stepup`)
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(sctx, chromedp.Click(`#continue`), chromedp.WaitVisible(`#mfa`))
	if err != nil {
		t.Fatal(err)
	}
	if who, err = chromedp.Run(sctx, chromedp.Text(`#signin`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(who, "ben.approver@contoso.com") {
		t.Fatalf("the sign-in page does not offer Ben's account:\n%s", who)
	}
	if err := chromedp.Do(sctx, chromedp.Click(`input[name="account"][value="ben.approver@contoso.com"]`)); err != nil {
		t.Fatal(err)
	}
	shotSignIn, err := elementShot(sctx, `main`)
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(sctx, chromedp.Click(`#mfa`), chromedp.WaitVisible(`main.tone-good #title`))
	if err != nil {
		t.Fatal(err)
	}
	if result, err = chromedp.Run(sctx, chromedp.Text(`#stepup`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(result, "Approved R-") {
		t.Fatalf("the sign-in ended with:\n%s", result)
	}
	shotResult, err := elementShot(sctx, `#stepup`)
	if err != nil {
		t.Fatal(err)
	}

	// Back in the console (closing the sign-in tab brings it to the front: a background
	// tab paints no frames to screenshot), the card has run to the end.
	scancel()
	err = chromedp.Do(bctx, chromedp.WaitVisible(card+`.tone-good`))
	if err != nil {
		t.Fatal(err)
	}
	if state, err = chromedp.Run(bctx, chromedp.Text(card+`.tone-good`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(state, "Succeeded") {
		t.Fatalf("card = %s", state)
	}
	shotCard, err := elementShot(bctx, card+`.tone-good`)
	if err != nil {
		t.Fatal(err)
	}
	adele, _ := d.Tenant.User(graphtest.AdeleUPN)
	if ms := d.Tenant.Methods(adele.ID); len(ms) != 1 || ms[0].Type != graphtest.MethodPassword {
		t.Fatalf("Adele still has %d methods", len(ms))
	}
	if d.Tenant.RevokedAt(adele.ID).IsZero() {
		t.Fatal("Adele's sessions were not revoked")
	}
	ben, _ := d.Tenant.User(demoAccounts["ben"])
	var evidence string
	err = d.App.DB.ExportAudit(ctx, time.Time{}, func(ev approvals.AuditEvent) error {
		if ev.Type == approvals.EventApproved {
			evidence = ev.Detail
		}
		return nil
	})
	if err != nil || !strings.Contains(evidence, "step-up: signed in as "+ben.ID) || !strings.Contains(evidence, "MFA proven by amr mfa") {
		t.Fatalf("the approval's audit entry = %q (%v)", evidence, err)
	}
	// Each part has its own time budget: on a busy machine Chromium is slow.
	demoBulkReset(t, browser, d)
	shotCtx, shotCancel := context.WithTimeout(browser, 30*time.Second)
	defer shotCancel()
	png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "demo.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("MFABOT_SCREENSHOT"); out != "" {
		_ = os.WriteFile(out, png, 0o644)
	}
	if out := os.Getenv("MFABOT_STEPUP_SCREENSHOT"); out != "" {
		if err := writeFlowImage(out, [][]byte{shotLink}, [][]byte{shotLanding}, [][]byte{shotSignIn}, [][]byte{shotResult, shotCard}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", shot)
}
