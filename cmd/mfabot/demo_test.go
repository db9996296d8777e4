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

	"github.com/chromedp/chromedp"

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

// TestDemoInBrowser drives the demo in real headless Chromium: Ann requests a reset, her
// own Approve is refused, Ben approves, the card reaches "Succeeded" live, and the
// simulated tenant shows Adele's methods gone. Then Ann pastes a list into the bulk reset
// form, with passes: Ben approves, and the passes arrive in Ann's direct messages only.
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
	bctx, tcancel := context.WithTimeout(browser, 90*time.Second)
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
	err = chromedp.Do(bctx,
		chromedp.Click(`a.person[data-person="ben"]`),
		chromedp.WaitVisible(`body[data-as="ben"] `+card+` button.btn-primary`),
		chromedp.Click(card+` button.btn-primary`),
		chromedp.WaitVisible(card+`.tone-good`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if state, err = chromedp.Run(bctx, chromedp.Text(card+`.tone-good`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(state, "Succeeded") {
		t.Fatalf("card = %s", state)
	}
	adele, _ := d.Tenant.User(graphtest.AdeleUPN)
	if ms := d.Tenant.Methods(adele.ID); len(ms) != 1 || ms[0].Type != graphtest.MethodPassword {
		t.Fatalf("Adele still has %d methods", len(ms))
	}
	if d.Tenant.RevokedAt(adele.ID).IsZero() {
		t.Fatal("Adele's sessions were not revoked")
	}
	// Each part has its own time budget: on a busy machine Chromium is slow.
	demoBulkReset(t, browser, d)
	sctx, scancel := context.WithTimeout(browser, 30*time.Second)
	defer scancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
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
	t.Logf("screenshot: %s", shot)
}
