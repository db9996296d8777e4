package slack

import (
	"context"
	"errors"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Retry limits for HTTP 429 answers.
const (
	maxAttempts   = 4
	maxRetryAfter = 2 * time.Minute
)

// retry calls call, and again after the Retry-After Slack names when it answers 429
// (slack-go's RateLimitedError). Slack's limits are per method, so a 429 holds back every
// later call of that method, not just this one.
func (a *Adapter) retry(ctx context.Context, method string, call func() error) error {
	for attempt := 1; ; attempt++ {
		if err := a.limit.wait(ctx, method); err != nil {
			return err
		}
		err := call()
		var rl *slackapi.RateLimitedError
		if !errors.As(err, &rl) || attempt == maxAttempts {
			return err
		}
		d := max(rl.RetryAfter, time.Second)
		if d > maxRetryAfter {
			return err
		}
		a.limit.hold(method, d)
		a.log.Warn("slack rate limited", "method", method, "retry_after", d, "attempt", attempt)
	}
}

// pacer remembers, per Web API method, until when Slack asked us to wait.
type pacer struct {
	clk clock

	mu    sync.Mutex
	until map[string]time.Time
}

func (p *pacer) hold(method string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.until == nil {
		p.until = map[string]time.Time{}
	}
	if t := p.clk.Now().Add(d); t.After(p.until[method]) {
		p.until[method] = t
	}
}

func (p *pacer) wait(ctx context.Context, method string) error {
	p.mu.Lock()
	d := p.until[method].Sub(p.clk.Now())
	p.mu.Unlock()
	return p.clk.Sleep(ctx, d)
}

// throttle paces chat.update per message: chat.update is Tier 3 (about 50 a minute), and
// an executor revoking thousands of sessions reports progress far more often than that.
type throttle struct {
	interval time.Duration

	mu        sync.Mutex
	entries   map[string]*updateEntry
	lastPrune time.Time
}

// updateEntry is the update state of one message. Every Update call gets a sequence
// number; a send always takes the latest message, so whatever is sent is never older than
// what was asked for, and sent says up to which call Slack has the message.
type updateEntry struct {
	send sync.Mutex // one chat.update at a time for this message

	mu       sync.Mutex // guards the fields below
	seq      uint64
	sent     uint64
	latest   bot.Message
	next     time.Time // no chat.update before this
	flushing bool      // a deferred send is scheduled
	used     time.Time
}

func newThrottle(interval time.Duration) *throttle {
	return &throttle{interval: interval, entries: map[string]*updateEntry{}}
}

func (t *throttle) entry(key string) *updateEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Sub(t.lastPrune) > time.Minute {
		t.lastPrune = now
		for k, e := range t.entries {
			e.mu.Lock()
			idle := !e.flushing && now.Sub(e.used) > 10*time.Minute
			e.mu.Unlock()
			if idle {
				delete(t.entries, k)
			}
		}
	}
	e := t.entries[key]
	if e == nil {
		e = &updateEntry{}
		t.entries[key] = e
	}
	return e
}

// isProgress reports whether msg is an intermediate progress report, which may be
// coalesced with the next one, rather than a state change, which must be shown.
func isProgress(msg bot.Message) bool {
	return msg.Progress != nil && msg.Progress.Done < msg.Progress.Total
}

// Update replaces a posted message in place with chat.update.
//
// Updates of one message are paced at most one per Config.UpdateInterval. A progress
// report (a Progress with Done < Total) that comes too soon is coalesced: Update returns
// at once and the latest report goes out when the interval has passed (a failure then is
// logged). Any other message is a state change: Update waits its turn, sends the latest
// message and returns the outcome, so a final state is never dropped. A 429 is retried
// after Slack's Retry-After.
func (a *Adapter) Update(ctx context.Context, ref bot.MessageRef, msg bot.Message) error {
	if ref.Platform != "" && ref.Platform != PlatformName {
		return approvals.Errorf(approvals.EINVALID, "slack cannot update a %s message", ref.Platform)
	}
	if ref.Channel == "" || ref.MessageID == "" {
		return approvals.Errorf(approvals.EINVALID, "slack update: message reference without channel or ts")
	}
	e := a.updates.entry(ref.Channel + "/" + ref.MessageID)
	e.mu.Lock()
	e.seq++
	seq := e.seq
	e.latest = msg
	e.used = time.Now()
	if isProgress(msg) && time.Now().Before(e.next) {
		if e.flushing {
			e.mu.Unlock()
			return nil
		}
		e.flushing = true
		wait := time.Until(e.next)
		e.mu.Unlock()
		scheduled := a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
			if err := approvals.Sleep(ctx, wait); err != nil {
				a.log.Warn("slack chat.update: deferred progress update abandoned", "channel", ref.Channel, "ts", ref.MessageID, approvals.LogErr, err)
			}
			e.mu.Lock()
			e.flushing = false
			e.mu.Unlock()
			if err := a.flush(ctx, ref, e, 0); err != nil {
				a.log.Warn("slack chat.update: deferred progress update", "channel", ref.Channel, "ts", ref.MessageID, approvals.LogErr, err)
			}
		})
		if scheduled {
			return nil
		}
		e.mu.Lock()
		e.flushing = false
		e.mu.Unlock()
	} else {
		e.mu.Unlock()
	}
	return a.flush(ctx, ref, e, seq)
}

// flush sends e's latest message unless Slack already has call need or a later one
// (need 0: whatever is latest now).
func (a *Adapter) flush(ctx context.Context, ref bot.MessageRef, e *updateEntry, need uint64) error {
	e.send.Lock()
	defer e.send.Unlock()
	e.mu.Lock()
	if need == 0 {
		need = e.seq
	}
	if e.sent >= need {
		e.mu.Unlock()
		return nil
	}
	wait := time.Until(e.next)
	e.mu.Unlock()
	if err := approvals.Sleep(ctx, wait); err != nil {
		return upstream("chat.update", err)
	}
	e.mu.Lock()
	msg, seq := e.latest, e.seq
	e.next = time.Now().Add(a.updates.interval)
	e.mu.Unlock()

	err := a.retry(ctx, "chat.update", func() error {
		_, _, _, err := a.api.UpdateMessageContext(ctx, ref.Channel, ref.MessageID,
			slackapi.MsgOptionBlocks(Render(msg)...), slackapi.MsgOptionText(FallbackText(msg), false))
		return err
	})

	e.mu.Lock()
	defer e.mu.Unlock()
	e.next = time.Now().Add(a.updates.interval)
	if err != nil {
		return upstream("chat.update", err)
	}
	if seq > e.sent {
		e.sent = seq
	}
	return nil
}
