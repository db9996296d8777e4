package summary_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// The real database implements exactly what the summary consumes.
var _ summary.Store = (*storage.DB)(nil)

func openDB(t *testing.T, path string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// Two instances of mfabot on one SQLite file, each with its own connection pools, race to
// post the same day's summary several times over: each channel gets it exactly once.
// A third instance started afterwards (a restart) posts nothing.
func TestPostDailyOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mfabot.db")
	slack, teams := &fakePlatform{name: "slack"}, &fakePlatform{name: "teams"}
	ams := mustZone(t, "Europe/Amsterdam")
	clock := &fakeClock{now: utc("2026-11-20T08:00:00Z")}
	newJob := func() (*summary.Job, *fakeSource) {
		src := tenant()
		return &summary.Job{
			Source: src, Store: openDB(t, path), Platforms: []bot.Platform{slack, teams},
			Schedule: summary.Schedule{At: "09:00", Location: ams}, Clock: clock,
		}, src
	}
	a, srcA := newJob()
	b, srcB := newJob()

	const attempts = 4
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2*attempts)
	for i := 0; i < attempts; i++ {
		for _, j := range []*summary.Job{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- j.PostDaily(context.Background(), clock.Now())
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("PostDaily: %v", err)
		}
	}
	if n1, n2 := len(slack.posted()), len(teams.posted()); n1 != 1 || n2 != 1 {
		t.Fatalf("posts: slack %d, teams %d; want exactly 1 each", n1, n2)
	}
	if builds := srcA.builds() + srcB.builds(); builds < 1 || builds > 2 {
		t.Errorf("summary built %d times; want once per instance that won a claim", builds)
	}

	restarted, srcC := newJob()
	if err := restarted.PostDaily(context.Background(), clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := len(slack.posted()), len(teams.posted()); n1 != 1 || n2 != 1 {
		t.Errorf("after a restart: slack %d, teams %d posts; want still 1 each", n1, n2)
	}
	if srcC.builds() != 0 {
		t.Error("the restarted instance built a summary it had no claim to post")
	}

	// The outcome was recorded on the claimed run; finishing a run never claimed fails.
	db := openDB(t, path)
	if err := db.FinishRun(context.Background(), summary.JobName, "2026-11-20/slack", summary.OutcomePosted); err != nil {
		t.Errorf("the claimed run is not in the database: %v", err)
	}
	if err := db.FinishRun(context.Background(), summary.JobName, "2026-11-21/slack", "x"); approvals.ErrorCode(err) != approvals.ENOTFOUND {
		t.Errorf("FinishRun of an unclaimed run = %v, want %s", err, approvals.ENOTFOUND)
	}
}

// Day after day, the summary reads back yesterday's, last week's and last month's
// snapshots from the real database, and says when one is missing.
func TestTrendThroughStorage(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t)
	clock := &fakeClock{}
	src := &fakeSource{}
	job := &summary.Job{
		Source: src, Store: db, Clock: clock,
		Schedule: summary.Schedule{At: "09:00", Location: mustZone(t, "Europe/Amsterdam")},
	}
	// registered of 10 enabled members on a day.
	day := func(date string, registered int) bot.Message {
		t.Helper()
		var page []approvals.Registration
		for i := 0; i < 10; i++ {
			page = append(page, approvals.Registration{UserID: guid(i), UPN: "u" + string(rune('a'+i)) + "@contoso.com", UserType: "member", IsMfaRegistered: i < registered})
		}
		src.regs = [][]approvals.Registration{page}
		clock.set(utc(date + "T08:00:00Z"))
		msg, err := job.Build(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	change := func(m bot.Message) string {
		for _, f := range m.Facts {
			if f.Label == "Change in MFA registered" {
				return f.Value
			}
		}
		return ""
	}

	day("2026-10-22", 1) // 30 days before the 21st
	day("2026-11-13", 2) // 8 days before: no snapshot 7 days ago
	day("2026-11-19", 3)
	day("2026-11-20", 2) // built twice on the 20th: the later one counts
	day("2026-11-20", 4)
	got := change(day("2026-11-21", 6))
	if want := "+20.0 pp since yesterday · no data 7 days ago · +50.0 pp over 30 days"; got != want {
		t.Errorf("change = %q, want %q", got, want)
	}
	got = change(day("2026-11-27", 7))
	if want := "no data from yesterday · +30.0 pp over 7 days · no data 30 days ago"; got != want {
		t.Errorf("change = %q, want %q", got, want)
	}
}
