package summary_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// fakeSource streams fixed pages, or fails with the given errors.
type fakeSource struct {
	users    [][]approvals.User
	regs     [][]approvals.Registration
	usersErr error
	regsErr  error

	mu    sync.Mutex
	calls int // Registrations calls, to see whether a summary was built
}

func (f *fakeSource) Users(ctx context.Context, fn func([]approvals.User) error) error {
	if f.usersErr != nil {
		return f.usersErr
	}
	for _, p := range f.users {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) Registrations(ctx context.Context, fn func([]approvals.Registration) error) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.regsErr != nil {
		return f.regsErr
	}
	for _, p := range f.regs {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) builds() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeStore keeps snapshots and runs in maps, with the same contract as storage.DB.
type fakeStore struct {
	mu        sync.Mutex
	snaps     map[string][]byte
	runs      map[string]string // job+" "+key → outcome ("" while running)
	claimErr  error
	snapErr   error
	putCalled int
}

func newFakeStore() *fakeStore {
	return &fakeStore{snaps: map[string][]byte{}, runs: map[string]string{}}
}

func (f *fakeStore) PutSnapshot(ctx context.Context, day string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putCalled++
	if f.snapErr != nil {
		return f.snapErr
	}
	f.snaps[day] = append([]byte(nil), data...)
	return nil
}

func (f *fakeStore) Snapshots(ctx context.Context, fromDay, toDay string) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapErr != nil {
		return nil, f.snapErr
	}
	out := map[string][]byte{}
	for d, b := range f.snaps {
		if d >= fromDay && d <= toDay {
			out[d] = b
		}
	}
	return out, nil
}

func (f *fakeStore) ClaimRun(ctx context.Context, job, key string, at time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claimErr != nil {
		return false, f.claimErr
	}
	k := job + " " + key
	if _, ok := f.runs[k]; ok {
		return false, nil
	}
	f.runs[k] = ""
	return true, nil
}

func (f *fakeStore) FinishRun(ctx context.Context, job, key, outcome string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := job + " " + key
	if _, ok := f.runs[k]; !ok {
		return approvals.Errorf(approvals.ENOTFOUND, "no run %s", k)
	}
	f.runs[k] = outcome
	return nil
}

func (f *fakeStore) outcome(job, key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.runs[job+" "+key]
	return o, ok
}

// fakePlatform records what is posted to it.
type fakePlatform struct {
	name    string
	postErr error

	mu    sync.Mutex
	posts []bot.Message
}

func (p *fakePlatform) Name() string { return p.name }

func (p *fakePlatform) Post(ctx context.Context, msg bot.Message) (bot.MessageRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.postErr != nil {
		return bot.MessageRef{}, p.postErr
	}
	p.posts = append(p.posts, msg)
	return bot.MessageRef{Platform: p.name, Channel: "C1", MessageID: fmt.Sprint(len(p.posts))}, nil
}

func (p *fakePlatform) Update(ctx context.Context, ref bot.MessageRef, msg bot.Message) error {
	return fmt.Errorf("update not expected")
}

func (p *fakePlatform) Tell(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	return fmt.Errorf("tell not expected")
}

func (p *fakePlatform) posted() []bot.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bot.Message(nil), p.posts...)
}

// fakeClock is a settable clock; its Wait moves it forward instead of sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
