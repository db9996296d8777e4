package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoRestartKeepsHistory: the demo stops cleanly on cancel (Ctrl-C), and started again
// with the same --db it shows the requests made before.
func TestDemoRestartKeepsHistory(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "demo.db")
	run := func(fn func(d *demo)) {
		ctx, cancel := context.WithCancel(context.Background())
		d, err := startDemo(ctx, demoOptions{Addr: "127.0.0.1:0", DB: db, Users: 300, Seed: 9, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- d.Wait(ctx) }()
		fn(d)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("demo stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the demo did not stop")
		}
	}
	page := func(d *demo) string {
		resp, err := http.Get(d.URL + "?as=ben")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	run(func(d *demo) {
		form := url.Values{"as": {"ann"}, "text": {"/mfa reset megan.bowen@contoso.com new phone"}}
		req, _ := http.NewRequest(http.MethodPost, d.URL+"command", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("command: %v %v", resp, err)
		}
		resp.Body.Close()
		waitFor(t, "the card", func() bool { return strings.Contains(page(d), "Reset MFA for megan.bowen@contoso.com") })
	})
	run(func(d *demo) {
		if p := page(d); !strings.Contains(p, "Reset MFA for megan.bowen@contoso.com") || !strings.Contains(p, "Waiting for approval") {
			t.Fatalf("the restarted demo lost the history:\n%.2000s", p)
		}
	})
}
