package bot

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Background runs an adapter's work that outlives the request that started it: a command
// handled after the platform was acknowledged, a card update. Each piece runs on its own
// goroutine with a context detached from the request, bounded by a timeout, and a panic in
// it is logged with its stack instead of ending the process. Close stops taking work and
// waits for what runs. Every adapter uses one, so they all shut down the same way.
type Background struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
}

// NewBackground returns a Background whose work logs panics to log.
func NewBackground(log *slog.Logger) *Background {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Background{ctx: ctx, cancel: cancel, log: log}
}

// Go runs fn on its own goroutine with a context that ends after timeout (never, when
// timeout is 0) or when Close gives up waiting. It reports false, running nothing, once
// Close has been called.
func (b *Background) Go(timeout time.Duration, fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := b.ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = context.WithTimeout(b.ctx, timeout)
		}
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("background work panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		fn(ctx)
	}()
	return true
}

// Context is the work's lifetime: it ends when Close gives up waiting. Work that manages
// its own goroutines (a shared key fetch) runs under it.
func (b *Background) Context() context.Context { return b.ctx }

// Closed reports whether Close has been called: an adapter then refuses new requests.
func (b *Background) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close stops taking work and waits for the work running, or for ctx to end: then it
// cancels what is left, waits for it to return and reports ctx's error.
func (b *Background) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		<-done
		return ctx.Err()
	}
}
