package summary

import (
	"fmt"
	"time"
)

// Schedule says when the daily summary is posted: At, a local wall-clock time "HH:MM" in
// Location (nil means UTC), every day or on weekdays only.
//
// Across a daylight-saving change the slot follows the wall clock: 09:00 stays 09:00 local
// time. A slot the clocks skip (02:30 on the night they spring forward) is taken at the
// first instant after the gap; a slot that happens twice (the night they fall back) is
// taken once, at its first occurrence.
type Schedule struct {
	At           string
	Location     *time.Location
	WeekdaysOnly bool
}

// Validate checks At.
func (s Schedule) Validate() error {
	_, _, err := s.clock()
	return err
}

func (s Schedule) clock() (hour, minute int, err error) {
	t, err := time.Parse("15:04", s.At)
	if err != nil || len(s.At) != 5 {
		return 0, 0, fmt.Errorf("schedule time %q: want HH:MM, 24-hour", s.At)
	}
	return t.Hour(), t.Minute(), nil
}

func (s Schedule) loc() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// Day is the local day of t in the schedule's zone, "2026-11-22".
func (s Schedule) Day(t time.Time) string {
	return t.In(s.loc()).Format(dayLayout)
}

// Slot returns the instant of the slot on t's local day, and false when that day has no
// slot (a weekend with WeekdaysOnly).
func (s Schedule) Slot(t time.Time) (time.Time, bool, error) {
	h, m, err := s.clock()
	if err != nil {
		return time.Time{}, false, err
	}
	loc := s.loc()
	local := t.In(loc)
	if s.WeekdaysOnly && (local.Weekday() == time.Saturday || local.Weekday() == time.Sunday) {
		return time.Time{}, false, nil
	}
	return slotOn(local.Year(), local.Month(), local.Day(), h, m, loc), true, nil
}

// Next returns the first slot strictly after t.
func (s Schedule) Next(t time.Time) (time.Time, error) {
	h, m, err := s.clock()
	if err != nil {
		return time.Time{}, err
	}
	loc := s.loc()
	local := t.In(loc)
	// Seven days always hold a weekday; the eighth covers today's slot having passed.
	for i := 0; i <= 8; i++ {
		d := time.Date(local.Year(), local.Month(), local.Day()+i, 12, 0, 0, 0, loc)
		if s.WeekdaysOnly && (d.Weekday() == time.Saturday || d.Weekday() == time.Sunday) {
			continue
		}
		if at := slotOn(d.Year(), d.Month(), d.Day(), h, m, loc); at.After(t) {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("no slot after %s", t) // unreachable with a valid schedule
}

// slotOn is the first instant of the local day whose wall clock reads h:m or later. It
// equals time.Date on ordinary days; it differs where time.Date does not promise which of
// two instants it picks (the clock repeats) or returns a wall time that never happens (the
// clock skips). Zone transitions fall on whole minutes, so a walk by minutes around
// time.Date's answer finds it.
func slotOn(y int, mo time.Month, d, h, m int, loc *time.Location) time.Time {
	guess := time.Date(y, mo, d, h, m, 0, 0, loc)
	target := h*60 + m
	// Start early enough to see the first occurrence of a repeated hour, and never on the
	// previous local day.
	u := guess.Add(-3 * time.Hour).Truncate(time.Minute)
	for end := guess.Add(3 * time.Hour); !u.After(end); u = u.Add(time.Minute) {
		l := u.In(loc)
		if l.Year() != y || l.Month() != mo || l.Day() != d {
			continue
		}
		if l.Hour()*60+l.Minute() >= target {
			return u
		}
	}
	return guess
}
