package slack

import (
	"context"
	"time"
)

// clock tells the time and waits. The Web API pacing (a 429's hold on its method, the
// direct messages' pace, users.list's window, the member directory's age) runs on one, so
// that tests can judge it in fake time instead of sleeping on the wall clock.
// Config.Clock cannot serve: it has no way to wait, and tests freeze it to sign requests.
// In production it is approvals.PaceClock.
type clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}
