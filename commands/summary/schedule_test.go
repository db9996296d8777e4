package summary_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has installed

	"github.com/mfabot/mfabot/commands/summary"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	ams := mustZone(t, "Europe/Amsterdam")
	lhi := mustZone(t, "Australia/Lord_Howe") // half-hour daylight saving shift
	tests := []struct {
		name    string
		s       summary.Schedule
		after   string // RFC 3339
		want    string // RFC 3339, UTC
		wantDay string // the local day of the slot
	}{
		{name: "LaterToday", s: summary.Schedule{At: "09:00", Location: ams}, after: "2026-11-20T08:00:00+01:00", want: "2026-11-20T08:00:00Z", wantDay: "2026-11-20"},
		{name: "AtTheSlotMeansTomorrow", s: summary.Schedule{At: "09:00", Location: ams}, after: "2026-11-20T09:00:00+01:00", want: "2026-11-21T08:00:00Z", wantDay: "2026-11-21"},
		{name: "LocalDayNotUTCDay", s: summary.Schedule{At: "00:30", Location: ams}, after: "2026-11-20T23:10:00Z", want: "2026-11-20T23:30:00Z", wantDay: "2026-11-21"},
		{name: "WeekdaysFridayToMonday", s: summary.Schedule{At: "09:00", Location: ams, WeekdaysOnly: true}, after: "2026-11-20T10:00:00+01:00", want: "2026-11-23T08:00:00Z", wantDay: "2026-11-23"},
		{name: "WeekdaysFromSaturday", s: summary.Schedule{At: "09:00", Location: ams, WeekdaysOnly: true}, after: "2026-11-21T07:00:00+01:00", want: "2026-11-23T08:00:00Z", wantDay: "2026-11-23"},
		{name: "WeekdaysFridayMorning", s: summary.Schedule{At: "09:00", Location: ams, WeekdaysOnly: true}, after: "2026-11-20T06:00:00+01:00", want: "2026-11-20T08:00:00Z", wantDay: "2026-11-20"},
		{name: "SpringForwardKeepsWallClock", s: summary.Schedule{At: "09:00", Location: ams}, after: "2026-03-28T10:00:00+01:00", want: "2026-03-29T07:00:00Z", wantDay: "2026-03-29"},
		{name: "FallBackKeepsWallClock", s: summary.Schedule{At: "09:00", Location: ams}, after: "2026-10-24T10:00:00+02:00", want: "2026-10-25T08:00:00Z", wantDay: "2026-10-25"},
		{name: "SkippedTimeRunsWhenClocksJump", s: summary.Schedule{At: "02:30", Location: ams}, after: "2026-03-28T12:00:00+01:00", want: "2026-03-29T01:00:00Z", wantDay: "2026-03-29"},
		{name: "RepeatedTimeRunsAtFirst", s: summary.Schedule{At: "02:30", Location: ams}, after: "2026-10-24T12:00:00+02:00", want: "2026-10-25T00:30:00Z", wantDay: "2026-10-25"},
		{name: "RepeatedTimeRunsOnce", s: summary.Schedule{At: "02:30", Location: ams}, after: "2026-10-25T00:31:00Z", want: "2026-10-26T01:30:00Z", wantDay: "2026-10-26"},
		{name: "HalfHourShiftSkipped", s: summary.Schedule{At: "02:10", Location: lhi}, after: "2026-10-03T12:00:00+10:30", want: "2026-10-03T15:30:00Z", wantDay: "2026-10-04"},
		{name: "NoLocationIsUTC", s: summary.Schedule{At: "23:59"}, after: "2026-12-31T23:59:30Z", want: "2027-01-01T23:59:00Z", wantDay: "2027-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Next(utc(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(utc(tt.want)) {
				t.Errorf("Next(%s) = %s, want %s", tt.after, got.UTC().Format(time.RFC3339), tt.want)
			}
			if d := tt.s.Day(got); d != tt.wantDay {
				t.Errorf("Day = %s, want %s", d, tt.wantDay)
			}
		})
	}
}

func TestScheduleSlot(t *testing.T) {
	t.Parallel()
	ams := mustZone(t, "Europe/Amsterdam")
	s := summary.Schedule{At: "09:00", Location: ams, WeekdaysOnly: true}
	got, ok, err := s.Slot(utc("2026-11-20T22:00:00Z")) // Friday 23:00 in Amsterdam
	if err != nil || !ok || !got.Equal(utc("2026-11-20T08:00:00Z")) {
		t.Errorf("Slot(Friday) = %s, %v, %v; want 2026-11-20T08:00:00Z", got, ok, err)
	}
	if _, ok, err := s.Slot(utc("2026-11-20T23:30:00Z")); ok || err != nil { // Saturday 00:30 there
		t.Errorf("Slot(Saturday) = %v, %v; want no slot", ok, err)
	}
}

func TestScheduleValidate(t *testing.T) {
	t.Parallel()
	for _, at := range []string{"", "9:00", "25:00", "09:60", "09:00:00", "9am"} {
		s := summary.Schedule{At: at}
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%q) = nil, want an error", at)
		}
		if _, err := s.Next(time.Now()); err == nil {
			t.Errorf("Next with At %q = nil error", at)
		}
	}
	if err := (summary.Schedule{At: "00:00"}).Validate(); err != nil {
		t.Errorf("Validate(00:00) = %v", err)
	}
}
