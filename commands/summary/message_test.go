package summary_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands/summary"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// dump writes a message as plain text for golden files; binary content as its size.
func dump(m bot.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Title: %s\nTone: %s\n", m.Title, m.Tone)
	if m.Text != "" {
		fmt.Fprintf(&b, "Text:\n%s\n", indent(m.Text))
	}
	for _, f := range m.Facts {
		fmt.Fprintf(&b, "Fact: %s = %s\n", f.Label, f.Value)
	}
	for _, s := range m.Sections {
		fmt.Fprintf(&b, "Section: %s (more: %d)\n", s.Title, s.More)
		for _, l := range s.Lines {
			fmt.Fprintf(&b, "  - %s\n", l)
		}
	}
	if m.Image != nil {
		fmt.Fprintf(&b, "Image: %s %s (%s)\n", m.Image.Name, m.Image.ContentType, m.Image.Alt)
	}
	for _, f := range m.Files {
		fmt.Fprintf(&b, "File: %s %s, %d bytes (%s)\n", f.Name, f.ContentType, len(f.Data), f.Alt)
	}
	if m.Footer != "" {
		fmt.Fprintf(&b, "Footer: %s\n", m.Footer)
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

func TestMessageGolden(t *testing.T) {
	t.Parallel()
	allRegistered := &fakeSource{regs: [][]approvals.Registration{{
		{UserID: guid(1), UPN: "ann@contoso.com", UserType: "member", IsAdmin: true, IsMfaRegistered: true, MethodsRegistered: []string{"fido2", "fido2SecurityKey", "passKeyDeviceBound"}},
		{UserID: guid(2), UPN: "bob@contoso.com", UserType: "member", IsMfaRegistered: true, MethodsRegistered: []string{"newMethodFromGraph"}},
	}}}
	withLicenceGap := tenant()
	withLicenceGap.regsErr = licenceErr()
	withUsersGap := tenant()
	withUsersGap.usersErr = deniedErr("User.Read.All")

	tests := []struct {
		name  string
		src   *fakeSource
		snaps map[string][]byte
	}{
		{name: "Full", src: tenant(), snaps: map[string][]byte{
			"2026-11-21": snap(t, 1, 8), "2026-10-23": snap(t, 0, 8),
		}},
		{name: "AllRegistered", src: allRegistered},
		{name: "NoLicence", src: withLicenceGap},
		{name: "NoUserRead", src: withUsersGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := summary.Collect(context.Background(), tt.src, summary.Options{Day: "2026-11-22", TopN: 3})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AddHistory(tt.snaps); err != nil {
				t.Fatal(err)
			}
			golden(t, "message-"+strings.ToLower(tt.name), dump(summary.Message(s)))
		})
	}
}

func TestMessageListsEveryAdmin(t *testing.T) {
	t.Parallel()
	src := &fakeSource{regs: [][]approvals.Registration{nil}}
	for i := 0; i < 60; i++ {
		src.regs[0] = append(src.regs[0], approvals.Registration{
			UserID: guid(i), UPN: fmt.Sprintf("admin%02d@contoso.com", i), UserType: "member", IsAdmin: true,
		})
	}
	s, err := summary.Collect(context.Background(), src, summary.Options{Day: "2026-11-22", TopN: 5})
	if err != nil {
		t.Fatal(err)
	}
	msg := summary.Message(s)
	for _, sec := range msg.Sections {
		if strings.HasPrefix(sec.Title, "Admins without MFA") {
			if len(sec.Lines) != 60 || sec.More != 0 {
				t.Errorf("admin section has %d lines and %d more; want all 60 listed", len(sec.Lines), sec.More)
			}
			return
		}
	}
	t.Errorf("no admin section in %s", dump(msg))
}

func TestMessageTinyShareIsNotZero(t *testing.T) {
	t.Parallel()
	s := &summary.Summary{Day: "2026-11-22", Report: true, Directory: true,
		Members: summary.Counts{Enabled: 4330, MFARegistered: 4330}, Methods: map[string]int{"officePhone": 1, "mobilePhone": 4330}}
	got := dump(summary.Message(s))
	for _, want := range []string{"  - Mobile phone: 4,330 · 100.0%\n", "  - Office phone: 1 · <0.1%\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}
}
