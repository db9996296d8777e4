package summary_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/commands/summary"
)

// snap is a stored snapshot with registered of enabled members.
func snap(t *testing.T, registered, enabled int) []byte {
	t.Helper()
	s := &summary.Summary{Report: true, Members: summary.Counts{Enabled: enabled, MFARegistered: registered}}
	b, ok := s.Snapshot()
	if !ok {
		t.Fatal("no snapshot from a summary with a report")
	}
	return b
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	s := &summary.Summary{
		Day: "2026-11-22", Report: true, Disabled: 3,
		Members:          summary.Counts{Enabled: 10, MFARegistered: 7, MFACapable: 6, SSPRRegistered: 5, PasswordlessCapable: 1},
		Guests:           summary.Counts{Enabled: 2, MFARegistered: 1},
		Methods:          map[string]int{"fido2": 1},
		AdminsWithoutMFA: []summary.Person{{UPN: "bob@contoso.com"}},
		NotRegistered:    []summary.Person{{UPN: "secret@contoso.com"}},
	}
	b, ok := s.Snapshot()
	if !ok {
		t.Fatal("Snapshot reported no snapshot")
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"v":                1.0,
		"members":          map[string]any{"enabled": 10.0, "mfaRegistered": 7.0, "mfaCapable": 6.0, "ssprRegistered": 5.0, "passwordlessCapable": 1.0},
		"guests":           map[string]any{"enabled": 2.0, "mfaRegistered": 1.0, "mfaCapable": 0.0, "ssprRegistered": 0.0, "passwordlessCapable": 0.0},
		"disabled":         3.0,
		"adminsWithoutMfa": 1.0,
		"methods":          map[string]any{"fido2": 1.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("snapshot JSON (-want +got):\n%s", diff)
	}
	if strings.Contains(string(b), "contoso") {
		t.Errorf("snapshot stores names: %s", b)
	}

	if _, ok := (&summary.Summary{Day: "2026-11-22"}).Snapshot(); ok {
		t.Error("a summary without the report gave a snapshot; it would store zeros as a real day")
	}
}

func TestAddHistory(t *testing.T) {
	t.Parallel()
	s := &summary.Summary{Day: "2026-11-22", Report: true, Members: summary.Counts{Enabled: 200, MFARegistered: 150}} // 75%
	err := s.AddHistory(map[string][]byte{
		"2026-11-22": snap(t, 1, 100),    // today's stored figures lose to s's own
		"2026-11-21": snap(t, 146, 200),  // 73%
		"2026-11-15": []byte("{garbage"), // 7 days ago: unreadable
		"2026-11-01": snap(t, 50, 100),   // inside the 30 days
		"2026-10-24": snap(t, 40, 100),   // 29 days ago: first day of the chart
		"2026-10-23": snap(t, 30, 100),   // 30 days ago: a change, not a chart point
		"2026-10-20": snap(t, 10, 100),   // outside both
		"2026-11-10": snap(t, 0, 0),      // no enabled members: no percentage
	})
	if err == nil || !strings.Contains(err.Error(), "2026-11-15") {
		t.Errorf("AddHistory error = %v, want one naming the unreadable 2026-11-15", err)
	}
	wantHistory := []summary.Point{
		{Day: "2026-10-24", Percent: 40}, {Day: "2026-11-01", Percent: 50},
		{Day: "2026-11-21", Percent: 73}, {Day: "2026-11-22", Percent: 75},
	}
	if diff := cmp.Diff(wantHistory, s.History); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	wantChanges := []summary.Change{
		{Days: 1, Known: true, Points: 2},
		{Days: 7},
		{Days: 30, Known: true, Points: 45},
	}
	if diff := cmp.Diff(wantChanges, s.Changes); diff != "" {
		t.Errorf("Changes (-want +got):\n%s", diff)
	}
	var facts []string
	for _, f := range summary.Message(s).Facts {
		facts = append(facts, f.Label+": "+f.Value)
	}
	const want = "Change in MFA registered: +2.0 pp since yesterday · no data 7 days ago · +45.0 pp over 30 days"
	if !strings.Contains(strings.Join(facts, "\n"), want) {
		t.Errorf("facts do not contain %q:\n%s", want, strings.Join(facts, "\n"))
	}
}

func TestAddHistoryWithoutReport(t *testing.T) {
	t.Parallel()
	s := &summary.Summary{Day: "2026-11-22"}
	if err := s.AddHistory(map[string][]byte{"2026-11-21": snap(t, 1, 2), "2026-11-22": snap(t, 1, 2)}); err != nil {
		t.Fatal(err)
	}
	// Today's stored snapshot is from an earlier build; without today's report the
	// summary must not pretend to know today's figure.
	if diff := cmp.Diff([]summary.Point{{Day: "2026-11-21", Percent: 50}}, s.History); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	for _, c := range s.Changes {
		if c.Known {
			t.Errorf("change over %d days known without today's figure", c.Days)
		}
	}
}

func TestHistoryRange(t *testing.T) {
	t.Parallel()
	from, to, err := summary.HistoryRange("2026-03-01")
	if err != nil || from != "2026-01-30" || to != "2026-03-01" {
		t.Errorf("HistoryRange = %q, %q, %v; want 2026-01-30, 2026-03-01", from, to, err)
	}
	if _, _, err := summary.HistoryRange("22/11/2026"); err == nil {
		t.Error("HistoryRange accepted a malformed day")
	}
}
