package summary

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// dayLayout is how days are written: in snapshots, run keys and file names.
const dayLayout = "2006-01-02"

// HistoryDays is how far back the chart and the longest change look.
const HistoryDays = 30

// changeDays are the spans the message compares today with.
var changeDays = []int{1, 7, 30}

// snapshot is what is stored for a day: the counts, never any names. Version 1; Excluded
// was added later and is absent (zero) from older snapshots.
type snapshot struct {
	V                int            `json:"v"`
	Members          Counts         `json:"members"`
	Guests           Counts         `json:"guests"`
	Excluded         *Counts        `json:"excluded,omitempty"`
	Disabled         int            `json:"disabled"`
	AdminsWithoutMFA int            `json:"adminsWithoutMfa"`
	Methods          map[string]int `json:"methods,omitempty"`
}

func (sn snapshot) percent() (float64, bool) {
	if sn.Members.Enabled == 0 {
		return 0, false
	}
	return Percent(sn.Members.MFARegistered, sn.Members.Enabled), true
}

func (sn snapshot) ssprPercent() float64 {
	return Percent(sn.Members.SSPRRegistered, sn.Members.Enabled)
}

// Snapshot is the JSON stored for s.Day. It reports false when the registration report was
// not read: a day without figures is left without a snapshot rather than stored as zeros.
func (s *Summary) Snapshot() ([]byte, bool) {
	if !s.Report {
		return nil, false
	}
	b, err := json.Marshal(s.snapshot())
	if err != nil {
		// Counts and a map of ints always marshal.
		panic(fmt.Sprintf("marshal snapshot: %v", err))
	}
	return b, true
}

func (s *Summary) snapshot() snapshot {
	sn := snapshot{
		V: 1, Members: s.Members, Guests: s.Guests, Disabled: s.Disabled,
		AdminsWithoutMFA: len(s.AdminsWithoutMFA), Methods: s.Methods,
	}
	if s.Excluded != (Counts{}) {
		ex := s.Excluded
		sn.Excluded = &ex
	}
	return sn
}

// HistoryRange is the span of days (both included) AddHistory needs for day.
func HistoryRange(day string) (from, to string, err error) {
	d, err := time.Parse(dayLayout, day)
	if err != nil {
		return "", "", fmt.Errorf("parse day %q: %w", day, err)
	}
	return d.AddDate(0, 0, -HistoryDays).Format(dayLayout), day, nil
}

// AddHistory fills History and Changes from stored snapshots by day (see HistoryRange).
// Today's figures come from s itself, whatever is stored for today. A snapshot that does
// not parse is skipped as if absent and reported in the returned error.
func (s *Summary) AddHistory(snaps map[string][]byte) error {
	today, err := time.Parse(dayLayout, s.Day)
	if err != nil {
		return fmt.Errorf("parse day %q: %w", s.Day, err)
	}
	var errs []error
	known := make(map[string]Point, len(snaps)+1)
	for day, raw := range snaps {
		var sn snapshot
		if err := json.Unmarshal(raw, &sn); err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", day, err))
			continue
		}
		if p, ok := sn.percent(); ok {
			known[day] = Point{Day: day, Percent: p, SSPR: sn.ssprPercent()}
		}
	}
	delete(known, s.Day)
	if sn := s.snapshot(); s.Report {
		if p, ok := sn.percent(); ok {
			known[s.Day] = Point{Day: s.Day, Percent: p, SSPR: sn.ssprPercent()}
		}
	}

	s.History = s.History[:0]
	for i := HistoryDays - 1; i >= 0; i-- {
		day := today.AddDate(0, 0, -i).Format(dayLayout)
		if p, ok := known[day]; ok {
			s.History = append(s.History, p)
		}
	}
	s.Changes = s.Changes[:0]
	now, ok := known[s.Day]
	for _, n := range changeDays {
		c := Change{Days: n}
		if then, found := known[today.AddDate(0, 0, -n).Format(dayLayout)]; ok && found {
			c.Known, c.Points, c.SSPRPoints = true, now.Percent-then.Percent, now.SSPR-then.SSPR
		}
		s.Changes = append(s.Changes, c)
	}
	return errors.Join(errs...)
}
