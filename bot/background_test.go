package bot_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mfabot/mfabot/bot"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestBackground(t *testing.T) {
	t.Parallel()
	var logs syncBuf
	bg := bot.NewBackground(slog.New(slog.NewTextHandler(&logs, nil)))
	ran := make(chan struct{})
	if !bg.Go(0, func(context.Context) { defer close(ran); panic("adapter bug") }) {
		t.Fatal("Go refused before Close")
	}
	<-ran
	held := make(chan struct{})
	release := make(chan struct{})
	bg.Go(0, func(ctx context.Context) {
		close(held)
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	<-held
	// Close waits for the running work; a context that ends first cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bg.Close(ctx); err != context.Canceled {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if !bg.Closed() || bg.Go(0, func(context.Context) { t.Error("ran after Close") }) {
		t.Fatal("Go accepted work after Close")
	}
	if s := logs.String(); !strings.Contains(s, "background work panicked") || !strings.Contains(s, "adapter bug") {
		t.Fatalf("the panic was not logged:\n%s", s)
	}
}
