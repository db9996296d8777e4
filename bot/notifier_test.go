package bot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// platform is a recording fake; its func fields, when set, decide each call's outcome
// (after it is recorded).
type platform struct {
	name   string
	post   func(ctx context.Context, m bot.Message) error
	update func(ctx context.Context, ref bot.MessageRef, m bot.Message) error
	tell   func(ctx context.Context, to bot.Recipient, m bot.Message) error

	mu      sync.Mutex
	posts   int
	cards   map[string]bot.Message // message id -> latest card
	updates int
	told    []told
}

type told struct {
	to  bot.Recipient
	msg bot.Message
}

func newPlatform(name string) *platform {
	return &platform{name: name, cards: map[string]bot.Message{}}
}

func (p *platform) Name() string { return p.name }

func (p *platform) Post(ctx context.Context, m bot.Message) (bot.MessageRef, error) {
	if p.post != nil {
		if err := p.post(ctx, m); err != nil {
			return bot.MessageRef{}, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts++
	id := fmt.Sprintf("%s-m%d", p.name, p.posts)
	p.cards[id] = m
	return bot.MessageRef{Platform: p.name, Channel: "C-approvals", MessageID: id}, nil
}

func (p *platform) Update(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	if p.update != nil {
		if err := p.update(ctx, ref, m); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.updates++
	p.cards[ref.MessageID] = m
	return nil
}

func (p *platform) Tell(ctx context.Context, to bot.Recipient, m bot.Message) error {
	p.mu.Lock()
	p.told = append(p.told, told{to, m})
	p.mu.Unlock()
	if p.tell != nil {
		return p.tell(ctx, to, m)
	}
	return nil
}

func (p *platform) card(id string) bot.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cards[id]
}

func (p *platform) counts() (posts, updates int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.posts, p.updates
}

func (p *platform) tells() []told {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]told(nil), p.told...)
}

var (
	ann = approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
	ben = approvals.Actor{Platform: "teams", ID: "ben-aad", Name: "Ben"}
)

// testWords says what commands says, but with a card of the test's own.
type testWords struct {
	*commands.Dispatcher
	card func(context.Context, *approvals.Request) bot.Message
}

func (w testWords) Card(ctx context.Context, r *approvals.Request) bot.Message { return w.card(ctx, r) }

func words(card func(context.Context, *approvals.Request) bot.Message) bot.Words {
	return testWords{Dispatcher: commands.NewDispatcher(commands.Options{}), card: card}
}

// render is a card that shows the state and progress, so tests can see what was sent.
func render(_ context.Context, r *approvals.Request) bot.Message {
	m := bot.Message{Title: string(r.State), RequestID: r.ID, Progress: &bot.Progress{Done: r.Done, Failed: r.Failed, Total: r.Total}}
	if r.State == approvals.StatePending {
		m.Buttons = []bot.Button{{Label: "Approve", Command: "approve " + r.ID}}
	}
	if r.Denial != nil {
		m.Facts = append(m.Facts, bot.Fact{Label: "Why", Value: r.Denial.Reason})
	}
	return m
}

// targets numbers the targets of newRequest: the store allows one open request per
// kind and target.
var targets atomic.Int64

// newRequest stores a pending request and returns it.
func newRequest(t *testing.T, db *storage.DB, kind approvals.Kind) *approvals.Request {
	t.Helper()
	now := time.Now().UTC()
	n := targets.Add(1)
	r := &approvals.Request{Kind: kind, State: approvals.StatePending, Requester: ann,
		Target: approvals.Target{Type: "user", ID: fmt.Sprintf("u-adele-%d", n), Name: "adele.vance@contoso.com"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if kind == approvals.KindRevokeGroup {
		r.Target = approvals.Target{Type: "group", ID: fmt.Sprintf("g-all-%d", n), Name: "All Staff"}
	}
	if err := db.CreateRequest(context.Background(), r, approvals.AuditEvent{Time: now, Type: approvals.EventRequested, Actor: ann}); err != nil {
		t.Fatal(err)
	}
	return r
}

func with(r *approvals.Request, f func(*approvals.Request)) *approvals.Request {
	cp := *r
	f(&cp)
	return &cp
}

func flush(t *testing.T, n *bot.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func TestNotifierPostsAndUpdatesEveryCard(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	ctx := context.Background()
	slack, teams, console := newPlatform("slack"), newPlatform("teams"), newPlatform("console")
	console.post = func(context.Context, bot.Message) error { return errors.New("console down") }
	n := bot.NewNotifier(db, []bot.Platform{console, slack, teams}, words(render), bot.NotifierOptions{})
	r := newRequest(t, db, approvals.KindReset)

	n.Notify(ctx, r, approvals.EventRequested)
	flush(t, n)
	refs, err := db.MessageRefs(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 {
		t.Fatalf("refs = %+v; want one per platform that posted", refs)
	}
	if c := slack.card("slack-m1"); c.Title != "pending" || len(c.Buttons) != 1 {
		t.Fatalf("posted card = %+v", c)
	}

	t.Run("OK_UpdatesDespiteAFailingPlatform", func(t *testing.T) {
		teams.update = func(context.Context, bot.MessageRef, bot.Message) error { return errors.New("teams 502") }
		// A card on a platform that is no longer configured is skipped.
		if err := db.AddMessageRef(ctx, r.ID, bot.MessageRef{Platform: "webex", Channel: "x", MessageID: "w1"}); err != nil {
			t.Fatal(err)
		}
		n.Notify(ctx, with(r, func(r *approvals.Request) {
			r.State, r.Approvals = approvals.StateApproved, []approvals.Decision{{Actor: ben, At: time.Now()}}
		}), approvals.EventApproved)
		flush(t, n)
		if c := slack.card("slack-m1"); c.Title != "approved" || len(c.Buttons) != 0 {
			t.Fatalf("slack card after approval = %+v", c)
		}
		teams.update = nil
		n.Notify(ctx, with(r, func(r *approvals.Request) { r.State = approvals.StateRunning }), approvals.EventStarted)
		flush(t, n)
		for _, p := range []*platform{slack, teams} {
			if c := p.card(p.name + "-m1"); c.Title != "running" {
				t.Errorf("%s card = %q, want running", p.name, c.Title)
			}
		}
	})
}

// Progress piles up behind a slow platform and is coalesced; the final state always wins.
func TestNotifierCoalescesProgress(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	ctx := context.Background()
	slack := newPlatform("slack")
	n := bot.NewNotifier(db, []bot.Platform{slack}, words(render), bot.NotifierOptions{ProgressEvery: -1})
	r := newRequest(t, db, approvals.KindRevokeGroup)
	n.Notify(ctx, r, approvals.EventRequested)
	flush(t, n)

	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	slack.update = func(ctx context.Context, _ bot.MessageRef, _ bot.Message) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
		return nil
	}
	running := with(r, func(r *approvals.Request) { r.State, r.Total = approvals.StateRunning, 10000 })
	n.Notify(ctx, running, approvals.EventStarted)
	<-entered // the first update is stuck in the platform
	for i := 1; i <= 500; i++ {
		n.Notify(ctx, with(running, func(r *approvals.Request) { r.Done = i * 20 }), approvals.EventProgress)
	}
	n.Notify(ctx, with(running, func(r *approvals.Request) {
		r.State, r.Done, r.ClosedAt = approvals.StateSucceeded, 10000, time.Now()
	}), approvals.EventFinished)
	close(gate)
	flush(t, n)

	if c := slack.card("slack-m1"); c.Title != "succeeded" || c.Progress.Done != 10000 {
		t.Fatalf("final card = %+v", c)
	}
	// started, then the final state: the 500 progress events in between were all stale.
	if _, updates := slack.counts(); updates != 2 {
		t.Fatalf("%d updates; want 2 (started, finished)", updates)
	}
}

// The latest progress is delivered even when nothing follows it, but not sooner than
// ProgressEvery after the previous one.
func TestNotifierProgressEvery(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	ctx := context.Background()
	slack := newPlatform("slack")
	const every = 150 * time.Millisecond
	n := bot.NewNotifier(db, []bot.Platform{slack}, words(render), bot.NotifierOptions{ProgressEvery: every})
	r := newRequest(t, db, approvals.KindRevokeGroup)
	n.Notify(ctx, r, approvals.EventRequested)
	running := with(r, func(r *approvals.Request) { r.State, r.Total = approvals.StateRunning, 100 })
	n.Notify(ctx, with(running, func(r *approvals.Request) { r.Done = 1 }), approvals.EventProgress)
	flush(t, n)
	first := time.Now()
	for i := 2; i <= 50; i++ {
		n.Notify(ctx, with(running, func(r *approvals.Request) { r.Done = i }), approvals.EventProgress)
	}
	flush(t, n)
	if gap := time.Since(first); gap < every-10*time.Millisecond {
		t.Fatalf("second progress update after %v; want at least %v", gap, every)
	}
	if c := slack.card("slack-m1"); c.Progress.Done != 50 {
		t.Fatalf("card shows %d done; want the latest, 50", c.Progress.Done)
	}
	if _, updates := slack.counts(); updates != 2 {
		t.Fatalf("%d updates; want 2", updates)
	}
}

// Notify returns at once even while every platform call hangs.
func TestNotifierNeverBlocksTheCaller(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	slack := newPlatform("slack")
	release := make(chan struct{})
	slack.post = func(ctx context.Context, _ bot.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}
	n := bot.NewNotifier(db, []bot.Platform{slack}, words(render), bot.NotifierOptions{})
	var rs []*approvals.Request
	for range 20 {
		rs = append(rs, newRequest(t, db, approvals.KindReset))
	}
	done := make(chan struct{})
	go func() {
		for _, r := range rs {
			n.Notify(context.Background(), r, approvals.EventRequested)
			for i := range 100 {
				n.Notify(context.Background(), with(r, func(r *approvals.Request) { r.State, r.Done, r.Total = approvals.StateRunning, i, 100 }), approvals.EventProgress)
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked behind a hung platform")
	}
	close(release)
	flush(t, n)
	if posts, _ := slack.counts(); posts != 20 {
		t.Fatalf("%d posts; want one per request", posts)
	}
}

func TestNotifierTells(t *testing.T) {
	t.Parallel()
	reasonDenied := "not during the change freeze"
	tests := []struct {
		name      string
		kind      approvals.Kind
		event     string
		change    func(r *approvals.Request)
		requester string // title the requester is told, "" for none
		says      string // and what the message must also say
		user      bool   // the affected user is told
		userSays  string // what the affected user is told; default the registration link
	}{
		{name: "OK_Approved", event: approvals.EventApproved, change: func(r *approvals.Request) {
			r.State, r.Approvals = approvals.StateApproved, []approvals.Decision{{Actor: ben, At: time.Now()}}
		}, requester: "was approved by Ben"},
		{name: "OK_FirstOfTwoApprovalsNotTold", event: approvals.EventApproved, change: func(r *approvals.Request) {
			r.Approvals = []approvals.Decision{{Actor: ben, At: time.Now()}}
		}},
		{name: "OK_Denied", event: approvals.EventDenied, change: func(r *approvals.Request) {
			r.State, r.Denial = approvals.StateDenied, &approvals.Decision{Actor: ben, At: time.Now(), Reason: reasonDenied}
		}, requester: "was denied by Ben", says: reasonDenied},
		{name: "OK_Expired", event: approvals.EventExpired, change: func(r *approvals.Request) { r.State = approvals.StateExpired },
			requester: "expired without approval"},
		{name: "OK_CancelledByApprover", event: approvals.EventCancelled, change: func(r *approvals.Request) {
			r.State, r.Denial = approvals.StateCancelled, &approvals.Decision{Actor: ben, At: time.Now(), Reason: "duplicate"}
		}, requester: "was cancelled by Ben", says: "duplicate"},
		{name: "OK_CancelledBySelfNotTold", event: approvals.EventCancelled, change: func(r *approvals.Request) {
			r.State, r.Denial = approvals.StateCancelled, &approvals.Decision{Actor: ann, At: time.Now()}
		}},
		{name: "OK_StartedNotTold", event: approvals.EventStarted, change: func(r *approvals.Request) { r.State = approvals.StateRunning }},
		{name: "OK_ResetSucceeded", event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Done = approvals.StateSucceeded, 3, 3
		}, requester: "succeeded", user: true},
		{name: "OK_ResetPartlyFailed", event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Done, r.Failed = approvals.StatePartlyFailed, 3, 2, 1
		}, requester: "partly failed", user: true},
		{name: "OK_RevokeTold", kind: approvals.KindRevoke, event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Done = approvals.StateSucceeded, 1, 1
		}, requester: "succeeded", user: true, userSays: "signed you out of every device and app"},
		{name: "OK_EnforceTold", kind: approvals.KindEnforce, event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Done, r.Preview.ToState = approvals.StateSucceeded, 1, 1, approvals.MFAEnforced
		}, requester: "succeeded", user: true, userSays: "per-user multifactor authentication to enforced"},
		{name: "OK_EnforceFailedNotTold", kind: approvals.KindEnforce, event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Failed = approvals.StateFailed, 1, 1
		}, requester: "failed"},
		{name: "OK_RevokeSucceededNoUser", kind: approvals.KindRevokeGroup, event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Done = approvals.StateSucceeded, 10, 10
		}, requester: "succeeded"},
		{name: "OK_Failed", event: approvals.EventFinished, change: func(r *approvals.Request) {
			r.State, r.Total, r.Failed, r.Error = approvals.StateFailed, 3, 3, "all 3 items failed"
		}, requester: "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storagetest.Open(t)
			slack, teams := newPlatform("slack"), newPlatform("teams")
			// Teams reaches nobody by e-mail; that is fine and not an error.
			teams.tell = func(_ context.Context, to bot.Recipient, _ bot.Message) error {
				if to.Actor == nil {
					return fmt.Errorf("no conversation with %s: %w", to.Email, bot.ErrUnreachable)
				}
				return nil
			}
			var logs bytes.Buffer
			n := bot.NewNotifier(db, []bot.Platform{slack, teams}, words(render), bot.NotifierOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			kind := tt.kind
			if kind == "" {
				kind = approvals.KindReset
			}
			r := newRequest(t, db, kind)
			n.Notify(context.Background(), r, approvals.EventRequested)
			n.Notify(context.Background(), with(r, tt.change), tt.event)
			flush(t, n)

			var toRequester, toUser []told
			for _, p := range []*platform{slack, teams} {
				for _, x := range p.tells() {
					switch {
					case x.to.Actor != nil:
						if p.name != "slack" || x.to.Actor.Key() != ann.Key() {
							t.Errorf("told %+v on %s; want only Ann on her own platform, slack", x.to.Actor, p.name)
						}
						toRequester = append(toRequester, x)
					case x.to.Email != "":
						if x.to.Email != "adele.vance@contoso.com" {
							t.Errorf("told %q", x.to.Email)
						}
						toUser = append(toUser, x)
					}
				}
			}
			switch {
			case tt.requester == "" && len(toRequester) > 0:
				t.Fatalf("requester told %q; want nothing", toRequester[0].msg.Title)
			case tt.requester != "" && len(toRequester) != 1:
				t.Fatalf("requester told %d times; want once", len(toRequester))
			case tt.requester != "":
				m := toRequester[0].msg
				if !strings.Contains(m.Title, tt.requester) || !strings.Contains(m.PlainText(), tt.says) || len(m.Buttons) != 0 || m.RequestID != "" || !strings.Contains(m.Title, r.ID) {
					t.Fatalf("requester told %+v; want a title with %q saying %q, no buttons", m, tt.requester, tt.says)
				}
			}
			if tt.user != (len(toUser) == 2) || (!tt.user && len(toUser) != 0) {
				t.Fatalf("affected user told %d times; want %v on both platforms", len(toUser), tt.user)
			}
			if tt.userSays == "" {
				tt.userSays = "https://aka.ms/mfasetup"
			}
			if tt.user && !strings.Contains(toUser[0].msg.Text, tt.userSays) {
				t.Fatalf("user notice = %+v", toUser[0].msg)
			}
			if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("unreachable recipients were logged as failures:\n%s", logs.String())
			}
		})
	}
}

// A platform call that hangs is cut off by Timeout; the other platforms are updated.
func TestNotifierTimeout(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	ctx := context.Background()
	slack, teams := newPlatform("slack"), newPlatform("teams")
	n := bot.NewNotifier(db, []bot.Platform{slack, teams}, words(render), bot.NotifierOptions{Timeout: 50 * time.Millisecond})
	r := newRequest(t, db, approvals.KindReset)
	n.Notify(ctx, r, approvals.EventRequested)
	flush(t, n)
	var sawDeadline bool
	teams.update = func(ctx context.Context, _ bot.MessageRef, _ bot.Message) error {
		<-ctx.Done()
		sawDeadline = errors.Is(ctx.Err(), context.DeadlineExceeded)
		return ctx.Err()
	}
	n.Notify(ctx, with(r, func(r *approvals.Request) { r.State = approvals.StateExpired }), approvals.EventExpired)
	flush(t, n)
	if !sawDeadline {
		t.Fatal("the hung update was not given a deadline")
	}
	if c := slack.card("slack-m1"); c.Title != "expired" {
		t.Fatalf("slack card = %q; want expired", c.Title)
	}
}

// Close waits for queued events; when its context ends first it cancels what is in flight,
// and later events are dropped.
func TestNotifierClose(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	slack := newPlatform("slack")
	cancelled := make(chan struct{})
	slack.post = func(ctx context.Context, _ bot.Message) error {
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}
	n := bot.NewNotifier(db, []bot.Platform{slack}, words(render), bot.NotifierOptions{})
	r := newRequest(t, db, approvals.KindReset)
	n.Notify(context.Background(), r, approvals.EventRequested)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v; want the deadline", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight post was not cancelled")
	}
	slack.post = nil
	n.Notify(context.Background(), r, approvals.EventRequested)
	flush(t, n)
	if posts, _ := slack.counts(); posts != 0 {
		t.Fatalf("%d posts after Close", posts)
	}
}

// A panic while rendering costs that event only.
func TestNotifierSurvivesPanics(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	slack := newPlatform("slack")
	var logs bytes.Buffer
	boom := func(ctx context.Context, r *approvals.Request) bot.Message {
		if r.State == approvals.StateApproved {
			panic("render bug")
		}
		return render(ctx, r)
	}
	n := bot.NewNotifier(db, []bot.Platform{slack}, words(boom), bot.NotifierOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r := newRequest(t, db, approvals.KindReset)
	n.Notify(context.Background(), r, approvals.EventRequested)
	n.Notify(context.Background(), with(r, func(r *approvals.Request) { r.State = approvals.StateApproved }), approvals.EventApproved)
	n.Notify(context.Background(), with(r, func(r *approvals.Request) { r.State = approvals.StateRunning }), approvals.EventStarted)
	flush(t, n)
	if c := slack.card("slack-m1"); c.Title != "running" {
		t.Fatalf("card = %q; want running after the panic", c.Title)
	}
	if !strings.Contains(logs.String(), "render bug") {
		t.Fatalf("panic not logged:\n%s", logs.String())
	}
}

// Many requests at once, with Flush racing Notify (run with -race).
func TestNotifierConcurrent(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	slack, teams := newPlatform("slack"), newPlatform("teams")
	n := bot.NewNotifier(db, []bot.Platform{slack, teams}, words(render), bot.NotifierOptions{ProgressEvery: -1})
	var rs []*approvals.Request
	for range 30 {
		rs = append(rs, newRequest(t, db, approvals.KindRevokeGroup))
	}
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Notify(context.Background(), r, approvals.EventRequested)
			for i := range 50 {
				n.Notify(context.Background(), with(r, func(r *approvals.Request) { r.State, r.Done, r.Total = approvals.StateRunning, i, 50 }), approvals.EventProgress)
				if i%10 == 0 {
					_ = n.Flush(context.Background())
				}
			}
			n.Notify(context.Background(), with(r, func(r *approvals.Request) { r.State, r.Done, r.Total = approvals.StateSucceeded, 50, 50 }), approvals.EventFinished)
		}()
	}
	wg.Wait()
	flush(t, n)
	for _, p := range []*platform{slack, teams} {
		for i := range rs {
			if c := p.card(fmt.Sprintf("%s-m%d", p.name, i+1)); c.Title != "succeeded" {
				t.Fatalf("%s card %d = %q; want succeeded", p.name, i+1, c.Title)
			}
		}
	}
}
