package slack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// DirectLimits pace bulk direct messages (a nudge to thousands) within Slack's documented
// limits. Zero fields take DefaultDirectLimits'.
type DirectLimits struct {
	// Rate is direct messages per second across the workspace. Slack documents one message
	// a second for posting (short bursts allowed) and a workspace-wide limit it does not
	// publish, so bulk direct messages keep to one a second overall.
	Rate float64
	// ListPages users.list calls (Tier 2: 20 a minute) per ListWindow.
	ListPages  int
	ListWindow time.Duration
	// DirectoryTTL is how long the member directory read with users.list serves before it
	// is read again.
	DirectoryTTL time.Duration
}

// DefaultDirectLimits are Slack's documented limits: one message a second, users.list 20
// times a minute.
func DefaultDirectLimits() DirectLimits {
	return DirectLimits{Rate: 1, ListPages: 20, ListWindow: time.Minute, DirectoryTTL: 15 * time.Minute}
}

func (l DirectLimits) withDefaults() DirectLimits {
	d := DefaultDirectLimits()
	if l.Rate <= 0 {
		l.Rate = d.Rate
	}
	if l.ListPages <= 0 {
		l.ListPages = d.ListPages
	}
	if l.ListWindow <= 0 {
		l.ListWindow = d.ListWindow
	}
	if l.DirectoryTTL <= 0 {
		l.DirectoryTTL = d.DirectoryTTL
	}
	return l
}

// directoryPage is users.list's page size, the one Slack recommends.
const directoryPage = 200

// directoryLoadTimeout bounds one read of the member directory: a 100,000-member
// workspace takes 500 pages, 25 minutes at Tier 2.
const directoryLoadTimeout = time.Hour

// directory is the workspace's member directory (profile e-mail to user id) for bulk
// direct messages, and their pace. Looking each person up (users.lookupByEmail, Tier 3:
// 50 a minute) would be slower than the one message a second Slack allows; one users.list
// pass of 200 members a call costs a few minutes for 10,000 members.
type directory struct {
	lim DirectLimits
	clk clock

	mu      sync.Mutex
	byAddr  map[string]string // lower-cased profile e-mail -> user id of an active member
	readAt  time.Time
	loading chan struct{} // closed when the read in progress ends
	loadErr error
	listed  []time.Time // users.list calls within the last ListWindow

	turn   chan struct{} // held by the one direct message waiting for its turn
	lastMu sync.Mutex
	last   time.Time // when the last turn was granted or message of another kind posted

	sendMu   sync.Mutex
	lastSent time.Time // when the last message of any kind went to Slack
}

func newDirectory(l DirectLimits, clk clock) *directory {
	return &directory{lim: l.withDefaults(), clk: clk, turn: make(chan struct{}, 1)}
}

// DirectMessage sends msg as a direct message (chat.postMessage to the user's id, which
// opens the app's conversation with them) to the active member whose Slack profile e-mail
// is to.Email or to.UPN, found in the member directory. Messages are paced at
// DirectLimits.Rate across the workspace; within a nudge the send is begun
// (approvals.BeginSend) once the message's turn has come. It returns an error wrapping
// bot.ErrUnreachable when no active member has either address or Slack will not let the
// bot message them.
func (a *Adapter) DirectMessage(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	if to.Actor != nil {
		return a.Tell(ctx, to, msg)
	}
	userID, err := a.members.lookup(ctx, a, to)
	if err != nil {
		return err
	}
	if err := a.members.pace(ctx); err != nil {
		return err
	}
	sctx, cancel, err := approvals.BeginSend(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	a.members.settle()
	var ch, ts string
	// Not through postMessage, which counts a post outside the bulk lane: settle counted it.
	err = a.retry(sctx, "chat.postMessage", func() (err error) {
		ch, ts, err = a.api.PostMessageContext(sctx, userID,
			slackapi.MsgOptionBlocks(Render(msg)...), slackapi.MsgOptionText(FallbackText(msg), false))
		return err
	})
	if err != nil {
		return unreachableOr(userID, "chat.postMessage", err)
	}
	return a.sendFiles(sctx, ch, ts, msg)
}

// addresses are the addresses a recipient may be known by in Slack, without repeats.
func addresses(to bot.Recipient) []string {
	var out []string
	for _, a := range []string{to.Email, to.UPN} {
		a = strings.TrimSpace(a)
		if a != "" && strings.Contains(a, "@") && !containsFold(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// lookup finds the user id of to in the directory. The first lookup reads the directory
// and every caller waits for that one read; once older than DirectoryTTL it is read again
// in the background while the one in hand keeps serving, so that a nudge of hours does not
// stop for minutes every quarter of an hour.
func (d *directory) lookup(ctx context.Context, a *Adapter, to bot.Recipient) (string, error) {
	addrs := addresses(to)
	if len(addrs) == 0 {
		return "", approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "no mail address or UPN to find them by on Slack")
	}
	for {
		d.mu.Lock()
		if d.byAddr != nil {
			if d.clk.Now().Sub(d.readAt) >= d.lim.DirectoryTTL && d.loading == nil {
				d.startLoad(a) // refreshed behind the scenes; failures keep the old one
			}
			for _, addr := range addrs {
				if id, ok := d.byAddr[strings.ToLower(addr)]; ok {
					d.mu.Unlock()
					return id, nil
				}
			}
			d.mu.Unlock()
			return "", approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "no active Slack member has that address")
		}
		if d.loading == nil && !d.startLoad(a) {
			d.mu.Unlock()
			return "", approvals.Errorf(approvals.EUPSTREAM, "slack is shutting down")
		}
		loading := d.loading
		d.mu.Unlock()
		select {
		case <-loading:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		d.mu.Lock()
		err := d.loadErr
		d.mu.Unlock()
		if err != nil {
			return "", err
		}
	}
}

// startLoad starts a read of the directory that outlives whoever asked for it. d.mu must
// be held. It reports false when the adapter is closing.
func (d *directory) startLoad(a *Adapter) bool {
	done := make(chan struct{})
	d.loading = done
	if !a.background(directoryLoadTimeout, func(lctx context.Context) { d.load(lctx, a, done) }) {
		d.loading = nil
		return false
	}
	return true
}

// load reads the member directory with users.list, paced at Tier 2.
func (d *directory) load(ctx context.Context, a *Adapter, done chan struct{}) {
	byAddr := map[string]string{}
	p := a.api.GetUsersPaginated(slackapi.GetUsersOptionLimit(directoryPage), slackapi.GetUsersOptionIncludeLocale(false))
	var err error
	for {
		if err = d.listTurn(ctx); err != nil {
			break
		}
		var next slackapi.UserPagination
		err = a.retry(ctx, "users.list", func() (err error) {
			next, err = p.Next(ctx)
			return err
		})
		if p.Done(err) {
			err = nil
			break
		}
		if err != nil {
			err = upstream("users.list", err)
			break
		}
		p = next
		for _, u := range p.Users {
			if u.Deleted || u.IsBot || u.ID == "USLACKBOT" || u.Profile.Email == "" {
				continue
			}
			byAddr[strings.ToLower(u.Profile.Email)] = u.ID
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loading, d.loadErr = nil, err
	switch {
	case err == nil:
		d.byAddr, d.readAt = byAddr, d.clk.Now()
		a.log.Info("slack member directory read", "members", len(byAddr))
	case d.byAddr != nil:
		// A failed refresh keeps the directory in hand; the next lookup tries again.
		d.loadErr, d.readAt = nil, d.clk.Now().Add(-d.lim.DirectoryTTL+time.Minute)
		a.log.Warn("slack member directory: refresh failed, the one read before serves on", approvals.LogErr, err)
	default:
		a.log.Warn("slack member directory", approvals.LogErr, err)
		d.loadErr = fmt.Errorf("read the Slack member directory: %w", err)
	}
	close(done)
}

// listTurn waits until users.list may be called within Tier 2. Calls reach Slack a little
// after they are counted here, so the window is kept a twentieth longer than Slack's.
func (d *directory) listTurn(ctx context.Context) error {
	window := d.lim.ListWindow + d.lim.ListWindow/20
	for {
		d.mu.Lock()
		now := d.clk.Now()
		cut := 0
		for cut < len(d.listed) && now.Sub(d.listed[cut]) >= window {
			cut++
		}
		d.listed = d.listed[cut:]
		if len(d.listed) < d.lim.ListPages {
			d.listed = append(d.listed, now)
			d.mu.Unlock()
			return nil
		}
		wait := d.listed[0].Add(window).Sub(now)
		d.mu.Unlock()
		if err := d.clk.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// pace waits for the next direct message's turn: at least 1/Rate seconds after the last
// message the adapter posted, one waiter at a time. Every chat.postMessage shares the
// workspace's budget (spent): a card or a notice goes at once, and the bulk direct
// messages make room for it by going later, as Graph's priority writes do. A turn is
// granted when it comes, never booked ahead, so that senders held up together (a pause of
// the process) do not go together afterwards.
func (d *directory) pace(ctx context.Context) error {
	select {
	case d.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.turn }()
	interval := time.Duration(float64(time.Second) / d.lim.Rate)
	for {
		d.lastMu.Lock()
		target := d.last.Add(interval)
		if now := d.clk.Now(); !now.Before(target) {
			d.last = onTime(target, now, interval)
			d.lastMu.Unlock()
			return nil
		}
		d.lastMu.Unlock()
		if err := d.clk.Sleep(ctx, target.Sub(d.clk.Now())); err != nil {
			return err
		}
	}
}

// onTime is when a turn due at target and taken at now counts as taken: at target when it
// is taken within an interval of it, so that a timer waking a little late does not slow
// the pace down over thousands of messages; at now when it is later than that, so that a
// pause earns no burst.
func onTime(target, now time.Time, interval time.Duration) time.Time {
	if now.Sub(target) < interval {
		return target
	}
	return now
}

// settle keeps the direct messages a full interval apart where they leave, not only where
// their turns were granted: what happens between the two (the send being begun in the
// database) takes more or less time, and messages that bunch up on the way would reach
// Slack closer together than its limit. The wait is at most one interval.
func (d *directory) settle() {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	interval := time.Duration(float64(time.Second) / d.lim.Rate)
	target := d.lastSent.Add(interval)
	if wait := target.Sub(d.clk.Now()); wait > 0 {
		// Not cut short by the caller: the send is begun, and the wait is one interval at most.
		_ = d.clk.Sleep(context.Background(), min(wait, interval))
	}
	d.lastSent = onTime(target, d.clk.Now(), interval)
}

// spent records a message posted now, outside the bulk lane: the next direct message
// waits a full interval after it.
func (d *directory) spent() {
	now := d.clk.Now()
	d.lastMu.Lock()
	if now.After(d.last) {
		d.last = now
	}
	d.lastMu.Unlock()
	d.sendMu.Lock()
	if now.After(d.lastSent) {
		d.lastSent = now
	}
	d.sendMu.Unlock()
}
