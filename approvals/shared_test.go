package approvals_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

func TestIsLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:8080": true, "127.0.0.1": true, "127.0.0.1:0": true, "127.1.2.3": true,
		"[::1]:443": true, "::1": true, "localhost.": true,
		"localhost.evil.com": false, "127.0.0.1.nip.io": false, "10.0.0.1": false, "graph.microsoft.com": false, "": false,
	} {
		if got := approvals.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := approvals.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep = %v, want context.Canceled at once", err)
	}
	if err := approvals.Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
}
