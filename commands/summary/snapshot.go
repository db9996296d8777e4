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

// snapshot is what is stored for a day: the counts, never any names. Version 1.
type snapshot struct {
	V                int            `json:"v"`
	Members          Counts         `json:"members"`
	Guests           Counts         `json:"guests"`
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
	return snapshot{
		V: 1, Members: s.Members, Guests: s.Guests, Disabled: s.Disabled,
		AdminsWithoutMFA: len(s.AdminsWithoutMFA), Methods: s.Methods,
	}
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
	known := make(map[string]float64, len(snaps)+1)
	for day, raw := range snaps {
		var sn snapshot
		if err := json.Unmarshal(raw, &sn); err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", day, err))
			continue
		}
		if p, ok := sn.percent(); ok {
			known[day] = p
		}
	}
	delete(known, s.Day)
	if p, ok := s.snapshot().percent(); ok && s.Report {
		known[s.Day] = p
	}
	percent := func(day string) (float64, bool) {
		p, ok := known[day]
		return p, ok
	}

	s.History = s.History[:0]
	for i := HistoryDays - 1; i >= 0; i-- {
		day := today.AddDate(0, 0, -i).Format(dayLayout)
		if p, ok := percent(day); ok {
			s.History = append(s.History, Point{Day: day, Percent: p})
		}
	}
	s.Changes = s.Changes[:0]
	now, ok := percent(s.Day)
	for _, n := range changeDays {
		c := Change{Days: n}
		if then, found := percent(today.AddDate(0, 0, -n).Format(dayLayout)); ok && found {
			c.Known, c.Points = true, now-then
		}
		s.Changes = append(s.Changes, c)
	}
	return errors.Join(errs...)
}
