package summary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// JobName is the job name under which daily posts are claimed in the Store.
const JobName = "summary"

// Run outcomes recorded with FinishRun.
const (
	OutcomePosted      = "posted"
	OutcomePostFailed  = "post failed"
	OutcomeBuildFailed = "build failed" // a short notice saying so was posted instead
)

// Log attribute keys.
const (
	logDay      = "day"
	logPlatform = "platform"
	logErr      = "err"
)

// Job builds the summary on demand and posts it every day on schedule to every platform's
// channel, exactly once per day and channel.
type Job struct {
	Source    Source
	Store     Store
	Platforms []bot.Platform
	Schedule  Schedule
	Clock     approvals.Clock // nil means the system clock
	Logger    *slog.Logger    // nil discards
	TopN      int             // members named in the message; 0 means DefaultTopN
	// Groups lists group members: for summary <group> (PostGroup) and the groups Exclude
	// names. Exclude are the accounts left out of "missing" (summary.exclude: object ids or
	// UPNs of users, object ids of groups).
	Groups  Groups
	Exclude []string
	// Actions, when set, are the buttons a summary carries: the requests that start the
	// campaign for the people it finds missing (commands.SummaryButtons).
	Actions func(s *Summary) []bot.Button

	// Wait returns once the clock reads until or later, or with ctx's error. Nil sleeps
	// in steps of at most a minute, re-reading Clock, so that a suspended machine or a
	// corrected wall clock does not make the post late or early.
	Wait func(ctx context.Context, until time.Time) error
}

// Run posts the summary at every slot of the schedule until ctx is done, and returns nil
// then. When it starts after today's slot and today's post has not been claimed yet, it
// posts at once (catching up once), rather than waiting for tomorrow. A failed post is
// logged and does not stop the loop.
func (j *Job) Run(ctx context.Context) error {
	if err := j.Schedule.Validate(); err != nil {
		return err
	}
	if j.Source == nil || j.Store == nil {
		return errors.New("summary job: Source and Store are required")
	}
	now := j.now()
	if slot, ok, _ := j.Schedule.Slot(now); ok && !now.Before(slot) {
		j.logger().Info("summary: catching up on today's post", logDay, j.Schedule.Day(slot))
		if err := j.PostDaily(ctx, slot); err != nil {
			j.logger().Error("summary: daily post", logDay, j.Schedule.Day(slot), logErr, err)
		}
	}
	for {
		next, err := j.Schedule.Next(j.now())
		if err != nil {
			return err
		}
		if err := j.wait(ctx, next); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("wait for %s: %w", next, err)
		}
		if err := j.PostDaily(ctx, next); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			j.logger().Error("summary: daily post", logDay, j.Schedule.Day(next), logErr, err)
		}
	}
}

// PostDaily posts the summary of day's local date to every platform whose post of that
// day it claims first. Each claim (key "2026-11-22/slack") is recorded in the Store before
// anything is posted, and the outcome after, so a post is never repeated: not after a
// restart, not by a second instance sharing the database, not after a failed post (which
// is logged and recorded instead). The summary is built only when a claim was won; if it
// cannot be built, the claimed channels get a short notice saying why.
func (j *Job) PostDaily(ctx context.Context, day time.Time) error {
	d := j.Schedule.Day(day)
	log := j.logger().With(logDay, d)
	var won []bot.Platform
	var errs []error
	for _, p := range j.Platforms {
		key := d + "/" + p.Name()
		ok, err := j.Store.ClaimRun(ctx, JobName, key, j.now())
		if err != nil {
			errs = append(errs, fmt.Errorf("claim %s: %w", key, err))
			continue
		}
		if !ok {
			log.Info("summary: already posted or claimed elsewhere", logPlatform, p.Name())
			continue
		}
		won = append(won, p)
	}
	if len(won) == 0 {
		return errors.Join(errs...)
	}

	msg, buildErr := j.build(ctx, d)
	outcome := OutcomePosted
	if buildErr != nil {
		log.Error("summary: build", logErr, buildErr)
		msg = failureMessage(d, buildErr)
		outcome = OutcomeBuildFailed
		errs = append(errs, buildErr)
	}
	// Outcomes are recorded even when ctx ends meanwhile: the claim already stands.
	bg := context.WithoutCancel(ctx)
	for _, p := range won {
		key := d + "/" + p.Name()
		out := outcome
		if _, err := p.Post(ctx, msg); err != nil {
			log.Error("summary: post", logPlatform, p.Name(), logErr, err)
			errs = append(errs, fmt.Errorf("post to %s: %w", p.Name(), err))
			out = OutcomePostFailed + ": " + approvals.ErrorMessage(err)
		} else {
			log.Info("summary: posted", logPlatform, p.Name())
		}
		if err := j.Store.FinishRun(bg, JobName, key, out); err != nil {
			errs = append(errs, fmt.Errorf("finish %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

// PostNow builds today's summary and posts it to every platform at once, outside the
// schedule and without claiming the day's run: for `mfabot summary --post`, when someone
// asks for it explicitly. The daily post still follows. A platform that fails does not
// stop the others.
func (j *Job) PostNow(ctx context.Context) error {
	msg, err := j.Build(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range j.Platforms {
		if _, err := p.Post(ctx, msg); err != nil {
			errs = append(errs, fmt.Errorf("post to %s: %w", p.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Build builds today's summary (in the schedule's zone) now, for /mfa summary and
// `mfabot summary --post`. Like the daily post, it stores today's snapshot.
func (j *Job) Build(ctx context.Context) (bot.Message, error) {
	return j.build(ctx, j.Schedule.Day(j.now()))
}

func (j *Job) build(ctx context.Context, day string) (bot.Message, error) {
	return j.buildScoped(ctx, day, nil)
}

// buildScoped builds the summary of day for scope (nil: the tenant).
func (j *Job) buildScoped(ctx context.Context, day string, scope *approvals.Group) (bot.Message, error) {
	log := j.logger().With(logDay, day)
	var excluded approvals.Excluded
	if len(j.Exclude) > 0 {
		if j.Groups == nil {
			return bot.Message{}, errors.New("summary.exclude is set but the summary has no directory to resolve it")
		}
		var err error
		if excluded, err = approvals.ResolveExclusions(ctx, j.Groups, j.Exclude); err != nil {
			return bot.Message{}, fmt.Errorf("resolve summary.exclude: %w", err)
		}
	}
	s, err := Collect(ctx, j.Source, Options{Day: day, TopN: j.TopN, Group: scope, Members: j.Groups, Exclude: excluded})
	if err != nil {
		return bot.Message{}, fmt.Errorf("collect summary: %w", err)
	}
	if data, ok := s.Snapshot(); ok {
		if err := j.Store.PutSnapshot(ctx, snapshotKey(scope, day), data); err != nil {
			// The post is still worth making; tomorrow's change since yesterday will say
			// "no data".
			log.Error("summary: store snapshot", logErr, err)
		}
	}
	from, to, err := HistoryRange(day)
	if err != nil {
		return bot.Message{}, err
	}
	snaps, err := j.Store.Snapshots(ctx, snapshotKey(scope, from), snapshotKey(scope, to))
	if err != nil {
		log.Error("summary: read snapshots", logErr, err)
		snaps = nil
	}
	if err := s.AddHistory(byDay(scope, snaps)); err != nil {
		log.Warn("summary: unreadable snapshots skipped", logErr, err)
	}
	msg := Message(s)
	if j.Actions != nil {
		msg.Buttons = j.Actions(s)
	}
	if s.Report || len(s.History) > 0 {
		png, err := Chart(s)
		if err != nil {
			log.Error("summary: chart", logErr, err)
		} else {
			msg.Image = &bot.File{
				Name:        "mfa-enrollment-" + fileScope(s) + day + ".png",
				ContentType: "image/png",
				Data:        png,
				Alt:         chartAlt(s),
			}
		}
	}
	return msg, nil
}

// failureMessage is posted in place of a summary that could not be built, so that a
// missing daily post is never silent.
func failureMessage(day string, err error) bot.Message {
	return bot.Message{
		Title: "MFA enrollment — " + longDay(day),
		Tone:  bot.ToneBad,
		Text:  "Today's summary could not be built: " + strings.TrimSuffix(approvals.ErrorMessage(err), ".") + ".\n\nThe summary command builds it on demand.",
	}
}

// chartAlt describes the chart in words for screen readers and clients without images.
func chartAlt(s *Summary) string {
	alt := "Chart of MFA registration."
	if n := len(s.History); n > 0 {
		first, last := s.History[0], s.History[n-1]
		alt = fmt.Sprintf("MFA registered, enabled members, last %d days: %.1f%% on %s, %.1f%% on %s.",
			HistoryDays, first.Percent, longDay(first.Day), last.Percent, longDay(last.Day))
	}
	if mix := methodMix(s); len(mix) > 0 && s.Members.Enabled > 0 {
		alt += fmt.Sprintf(" Most registered method: %s (%s).", mix[0].label, pct(mix[0].count, s.Members.Enabled))
	}
	return alt
}

func (j *Job) now() time.Time {
	if j.Clock == nil {
		return time.Now().UTC()
	}
	return j.Clock.Now()
}

func (j *Job) logger() *slog.Logger {
	if j.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Logger
}

func (j *Job) wait(ctx context.Context, until time.Time) error {
	if j.Wait != nil {
		return j.Wait(ctx, until)
	}
	for {
		d := until.Sub(j.now())
		if d <= 0 {
			return nil
		}
		if d > time.Minute {
			d = time.Minute
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
