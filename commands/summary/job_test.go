package summary_test

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/graph"
)

type fixture struct {
	src    *fakeSource
	store  *fakeStore
	slack  *fakePlatform
	teams  *fakePlatform
	clock  *fakeClock
	job    *summary.Job
	waited []time.Time
}

func newFixture(t *testing.T, now string) *fixture {
	f := &fixture{
		src: tenant(), store: newFakeStore(),
		slack: &fakePlatform{name: "slack"}, teams: &fakePlatform{name: "teams"},
		clock: &fakeClock{now: utc(now)},
	}
	f.job = &summary.Job{
		Source: f.src, Store: f.store, Platforms: []bot.Platform{f.slack, f.teams},
		Schedule: summary.Schedule{At: "09:00", Location: mustZone(t, "Europe/Amsterdam"), WeekdaysOnly: true},
		Clock:    f.clock,
	}
	return f
}

// waitThenStop makes Run's waits instant: the clock jumps to the slot. After n waits it
// cancels ctx, as a shutdown would while Run sleeps.
func (f *fixture) waitThenStop(cancel context.CancelFunc, n int) {
	f.job.Wait = func(ctx context.Context, until time.Time) error {
		f.waited = append(f.waited, until)
		if len(f.waited) > n {
			cancel()
			return ctx.Err()
		}
		f.clock.set(until)
		return nil
	}
}

func titles(p *fakePlatform) []string {
	var out []string
	for _, m := range p.posted() {
		out = append(out, m.Title)
	}
	return out
}

func TestPostDaily(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T08:00:00Z")
	ctx := context.Background()
	if err := f.job.PostDaily(ctx, utc("2026-11-20T08:00:00Z")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*fakePlatform{f.slack, f.teams} {
		posts := p.posted()
		if len(posts) != 1 {
			t.Fatalf("%s got %d posts, want 1", p.name, len(posts))
		}
		m := posts[0]
		if m.Title != "MFA enrollment — Fri 20 Nov 2026" {
			t.Errorf("%s title %q", p.name, m.Title)
		}
		if m.Image == nil || m.Image.ContentType != "image/png" || m.Image.Alt == "" {
			t.Fatalf("%s: no chart with alt text: %+v", p.name, m.Image)
		}
		if _, err := png.Decode(bytes.NewReader(m.Image.Data)); err != nil {
			t.Errorf("%s: chart is not a PNG: %v", p.name, err)
		}
		if len(m.Files) != 1 || m.Files[0].ContentType != "text/csv" || m.Files[0].Name != "mfa-not-registered-2026-11-20.csv" {
			t.Errorf("%s: files %+v, want the CSV", p.name, m.Files)
		}
		if o, _ := f.store.outcome(summary.JobName, "2026-11-20/"+p.name); o != summary.OutcomePosted {
			t.Errorf("%s outcome %q, want %q", p.name, o, summary.OutcomePosted)
		}
	}
	if _, ok := f.store.snaps["2026-11-20"]; !ok {
		t.Error("today's snapshot was not stored")
	}
	if f.src.builds() != 1 {
		t.Errorf("built %d times for two platforms, want once", f.src.builds())
	}

	// Again, as after a restart: nothing is posted and nothing is built.
	if err := f.job.PostDaily(ctx, utc("2026-11-20T09:30:00Z")); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := len(f.slack.posted()), len(f.teams.posted()); n1 != 1 || n2 != 1 {
		t.Errorf("second PostDaily posted again: %d, %d posts", n1, n2)
	}
	if f.src.builds() != 1 {
		t.Errorf("second PostDaily built the summary although it claimed nothing")
	}
}

func TestPostDailyDayIsLocal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-22T23:30:00Z")
	// 23:30 UTC on the 22nd is already the 23rd in Amsterdam.
	if err := f.job.PostDaily(context.Background(), utc("2026-11-22T23:30:00Z")); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.store.outcome(summary.JobName, "2026-11-23/slack"); !ok {
		t.Errorf("no run claimed for the local day 2026-11-23: %v", f.store.runs)
	}
}

func TestPostDailyClaimedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T08:00:00Z")
	ctx := context.Background()
	if ok, err := f.store.ClaimRun(ctx, summary.JobName, "2026-11-20/slack", f.clock.Now()); !ok || err != nil {
		t.Fatal("pre-claim failed")
	}
	if err := f.job.PostDaily(ctx, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.slack.posted()); n != 0 {
		t.Errorf("slack got %d posts although another instance claimed it", n)
	}
	if n := len(f.teams.posted()); n != 1 {
		t.Errorf("teams got %d posts, want 1", n)
	}
}

func TestPostDailyBuildFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T08:00:00Z")
	f.src.regsErr = approvals.WrapError(approvals.EUPSTREAM, graph.ErrUnavailable, "Microsoft Graph is unavailable (HTTP 503); try again later")
	err := f.job.PostDaily(context.Background(), f.clock.Now())
	if approvals.ErrorCode(err) != approvals.EUPSTREAM {
		t.Errorf("error %v, want code %s", err, approvals.EUPSTREAM)
	}
	for _, p := range []*fakePlatform{f.slack, f.teams} {
		posts := p.posted()
		if len(posts) != 1 || posts[0].Tone != bot.ToneBad || !strings.Contains(posts[0].Text, "Microsoft Graph is unavailable") {
			t.Errorf("%s: want one notice saying why, got %+v", p.name, posts)
		}
		if o, _ := f.store.outcome(summary.JobName, "2026-11-20/"+p.name); o != summary.OutcomeBuildFailed {
			t.Errorf("%s outcome %q, want %q", p.name, o, summary.OutcomeBuildFailed)
		}
	}
}

func TestPostDailyPostFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T08:00:00Z")
	f.slack.postErr = approvals.Errorf(approvals.EUPSTREAM, "Slack said channel_not_found")
	err := f.job.PostDaily(context.Background(), f.clock.Now())
	if err == nil || !strings.Contains(err.Error(), "post to slack") {
		t.Errorf("error %v, want the slack failure", err)
	}
	if n := len(f.teams.posted()); n != 1 {
		t.Errorf("teams got %d posts; one platform failing must not stop the others", n)
	}
	if o, _ := f.store.outcome(summary.JobName, "2026-11-20/slack"); o != summary.OutcomePostFailed+": Slack said channel_not_found" {
		t.Errorf("slack outcome %q", o)
	}
	// Never retried: a failed post may still have reached the channel.
	f.slack.postErr = nil
	if err := f.job.PostDaily(context.Background(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.slack.posted()); n != 0 {
		t.Errorf("slack got %d posts on the second try, want 0", n)
	}
}

func TestPostDailyClaimFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T08:00:00Z")
	f.store.claimErr = approvals.Errorf(approvals.EINTERNAL, "disk full")
	if err := f.job.PostDaily(context.Background(), f.clock.Now()); err == nil {
		t.Error("PostDaily = nil although no run could be claimed")
	}
	if n := len(f.slack.posted()) + len(f.teams.posted()); n != 0 {
		t.Errorf("%d posts without a claim", n)
	}
}

func TestBuildSurvivesStoreErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T08:00:00Z")
	f.store.snapErr = approvals.Errorf(approvals.EINTERNAL, "disk I/O error")
	msg, err := f.job.Build(context.Background())
	if err != nil {
		t.Fatalf("Build = %v; a summary without its trend is still worth showing", err)
	}
	if !strings.Contains(msg.Title, "Fri 20 Nov 2026") || msg.Image == nil || len(msg.Files) != 1 {
		t.Errorf("incomplete message: %s", dump(msg))
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		start      string   // UTC
		preclaimed []string // run keys already claimed, as by an earlier process
		waits      int      // slots Run reaches before shutdown
		wantWaits  []string // the slots Run waited for (the last one is never reached)
		wantDays   []string // days posted to slack
	}{
		{
			name: "CatchesUpAfterTodaysSlot", start: "2026-11-20T10:00:00Z", waits: 1,
			wantWaits: []string{"2026-11-23T08:00:00Z", "2026-11-24T08:00:00Z"},
			wantDays:  []string{"Fri 20 Nov 2026", "Mon 23 Nov 2026"},
		},
		{
			name: "WaitsBeforeTodaysSlot", start: "2026-11-20T07:59:00Z", waits: 1,
			wantWaits: []string{"2026-11-20T08:00:00Z", "2026-11-23T08:00:00Z"},
			wantDays:  []string{"Fri 20 Nov 2026"},
		},
		{
			name: "RestartAfterTodaysPost", start: "2026-11-20T10:00:00Z", waits: 0,
			preclaimed: []string{"2026-11-20/slack", "2026-11-20/teams"},
			wantWaits:  []string{"2026-11-23T08:00:00Z"},
		},
		{
			name: "NoCatchUpAtWeekend", start: "2026-11-21T10:00:00Z", waits: 0,
			wantWaits: []string{"2026-11-23T08:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.start)
			for _, k := range tt.preclaimed {
				if _, err := f.store.ClaimRun(context.Background(), summary.JobName, k, f.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f.waitThenStop(cancel, tt.waits)
			if err := f.job.Run(ctx); err != nil {
				t.Fatalf("Run = %v, want nil on shutdown", err)
			}
			var waited []string
			for _, w := range f.waited {
				waited = append(waited, w.UTC().Format(time.RFC3339))
			}
			if diff := cmp.Diff(tt.wantWaits, waited); diff != "" {
				t.Errorf("waited for (-want +got):\n%s", diff)
			}
			var days []string
			for _, title := range titles(f.slack) {
				days = append(days, strings.TrimPrefix(title, "MFA enrollment — "))
			}
			if diff := cmp.Diff(tt.wantDays, days); diff != "" {
				t.Errorf("posted days (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunInvalidSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T10:00:00Z")
	f.job.Schedule.At = "9am"
	if err := f.job.Run(context.Background()); err == nil {
		t.Error("Run accepted an invalid schedule")
	}
}

func TestRunRealWaitStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-20T10:00:00Z")
	f.job.Clock = nil // the real clock: the next slot is hours or days away
	f.job.Platforms = nil
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.job.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil when ctx ends while it sleeps", err)
	}
}

func TestPostNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2026-11-21T12:00:00Z") // a Saturday: no slot, and no claim needed
	f.teams.postErr = approvals.Errorf(approvals.EUPSTREAM, "Teams is down")
	err := f.job.PostNow(context.Background())
	if err == nil || !strings.Contains(err.Error(), "post to teams") {
		t.Errorf("PostNow = %v, want the teams failure", err)
	}
	if got := titles(f.slack); len(got) != 1 || got[0] != "MFA enrollment — Sat 21 Nov 2026" {
		t.Errorf("slack posts %q", got)
	}
	if len(f.store.runs) != 0 {
		t.Errorf("PostNow claimed runs %v; the daily post must still happen", f.store.runs)
	}
}
