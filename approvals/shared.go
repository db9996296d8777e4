package approvals

import (
	"context"
	"net"
	"strings"
	"time"
)

// The rules below are the same for every layer: one definition, so that a fix reaches
// every caller (the executor and graph wait with Sleep; graph, the Slack and Teams
// adapters and the demo console accept plain http, or listen, only where IsLoopbackHost).

// Sleep waits for d on the wall clock, or until ctx is done. A d of zero or less returns at
// once with ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PaceClock is the wall clock that pacing waits on: Now keeps the monotonic reading
// (SystemClock's UTC time, made for stamps, drops it), so that a wait computed from it
// survives a step of the system clock; Sleep is Sleep. graph and the Slack and Teams
// adapters pace on it unless a test gives them fake time.
type PaceClock struct{}

// Now returns the current time with its monotonic reading.
func (PaceClock) Now() time.Time { return time.Now() }

// Sleep waits for d, or until ctx is done.
func (PaceClock) Sleep(ctx context.Context, d time.Duration) error { return Sleep(ctx, d) }

// IsLoopbackHost reports whether host (a host name or address, with or without a port:
// "localhost", "127.0.0.1:8080", "[::1]:0") names this machine only: localhost or a loopback
// IP address, matched exactly, so that "localhost.evil.com" is not.
func IsLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
