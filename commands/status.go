package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Directory is what status needs from Entra ID; graph.Client implements it.
type Directory interface {
	ResolveUser(ctx context.Context, ref string) (approvals.User, error)
	Methods(ctx context.Context, userID string) ([]approvals.Method, error)
	Registration(ctx context.Context, userID string) (approvals.Registration, error)
	MFAState(ctx context.Context, userID string) (string, error)
}

// Status is everything status shows about a user. A part Graph could not give (no licence
// for the registration report, a missing permission) is left empty with a note.
type Status struct {
	User             approvals.User
	Methods          []approvals.Method
	MethodsNote      string
	Registration     *approvals.Registration
	RegistrationNote string
	MFAState         string
	MFAStateNote     string
}

// LoadStatus gathers a user's status; only an unknown user or a failure to resolve them
// is an error.
func LoadStatus(ctx context.Context, dir Directory, ref string) (Status, error) {
	u, err := dir.ResolveUser(ctx, ref)
	if err != nil {
		return Status{}, err
	}
	s := Status{User: u}
	if s.Methods, err = dir.Methods(ctx, u.ID); err != nil {
		s.MethodsNote = approvals.ErrorMessage(err)
	}
	if reg, err := dir.Registration(ctx, u.ID); err != nil {
		s.RegistrationNote = approvals.ErrorMessage(err)
	} else {
		s.Registration = &reg
	}
	if s.MFAState, err = dir.MFAState(ctx, u.ID); err != nil {
		s.MFAStateNote = approvals.ErrorMessage(err)
	}
	return s, nil
}

// StatusCard renders a user's status and what an admin should do next.
func StatusCard(s Status) bot.Message {
	u := s.User
	m := bot.Message{Title: "MFA status of " + firstNonEmpty(u.DisplayName, u.UPN)}
	kind := "member"
	if u.Guest {
		kind = "guest"
	}
	account := "enabled"
	if !u.Enabled {
		account = "disabled"
	}
	m.Facts = append(m.Facts,
		bot.Fact{Label: "User", Value: u.UPN},
		bot.Fact{Label: "Account", Value: kind + ", " + account},
	)
	usable := 0
	for _, me := range s.Methods {
		if me.Type != "password" {
			usable++
		}
	}
	if r := s.Registration; r != nil {
		m.Facts = append(m.Facts,
			bot.Fact{Label: "MFA registered", Value: yesNo(r.IsMfaRegistered)},
			bot.Fact{Label: "MFA capable", Value: yesNo(r.IsMfaCapable)},
			bot.Fact{Label: "SSPR registered", Value: yesNo(r.IsSsprRegistered)},
			bot.Fact{Label: "Passwordless capable", Value: yesNo(r.IsPasswordlessCapable)},
			bot.Fact{Label: "Default method", Value: orNone(r.PreferredMethod)},
			bot.Fact{Label: "System-preferred", Value: orNone(strings.Join(r.SystemPreferred, ", "))},
		)
		if r.IsAdmin {
			m.Facts = append(m.Facts, bot.Fact{Label: "Admin role", Value: "yes"})
		}
		if !r.LastUpdated.IsZero() {
			m.Facts = append(m.Facts, bot.Fact{Label: "Report updated", Value: r.LastUpdated.UTC().Format("2006-01-02 15:04 UTC")})
		}
	}
	if s.MFAState != "" {
		m.Facts = append(m.Facts, bot.Fact{Label: "Per-user MFA", Value: s.MFAState})
	}
	if s.MethodsNote != "" {
		m.Sections = append(m.Sections, bot.Section{Title: "Methods", Lines: []string{"Not available: " + s.MethodsNote}})
	} else {
		m.Sections = append(m.Sections, list(fmt.Sprintf("Methods (%d)", len(s.Methods)), methodLines(s.Methods), "none registered"))
	}
	var notes []string
	if s.RegistrationNote != "" {
		notes = append(notes, "Registration details not available: "+s.RegistrationNote)
	}
	if s.MFAStateNote != "" {
		notes = append(notes, "Per-user MFA state not available: "+s.MFAStateNote)
	}
	if len(notes) > 0 {
		m.Sections = append(m.Sections, bot.Section{Title: "Partial answer", Lines: notes})
	}
	m.Sections = append(m.Sections, bot.Section{Title: "What to do next", Lines: nextSteps(s, usable)})
	switch {
	case !u.Enabled:
		m.Tone = bot.ToneNeutral
	case usable == 0 || (s.Registration != nil && !s.Registration.IsMfaRegistered):
		m.Tone = bot.ToneWarning
		if s.Registration != nil && s.Registration.IsAdmin {
			m.Tone = bot.ToneBad
		}
	default:
		m.Tone = bot.ToneGood
	}
	return m
}

func nextSteps(s Status, usable int) []string {
	u := s.User
	if !u.Enabled {
		return []string{"The account is disabled; nothing to do unless it is enabled again."}
	}
	var out []string
	registered := usable > 0
	if s.Registration != nil {
		registered = s.Registration.IsMfaRegistered
	}
	if !registered {
		if s.Registration != nil && s.Registration.IsAdmin {
			out = append(out, "This admin has no MFA: fix it first — admins are the accounts attackers want.")
		}
		out = append(out,
			"Ask them to register at "+MFASetupURL+".",
			"Users who stay signed in never meet the registration prompt: /mfa reset "+u.UPN+" revokes their sessions so they do (with approval).")
	} else {
		out = append(out, "Lost or replaced device, or a suspected compromise: /mfa reset "+u.UPN+" <reason> removes every method and their sessions (with approval); they register again at next sign-in.")
	}
	switch s.MFAState {
	case approvals.MFADisabled:
		if registered {
			out = append(out, "Per-user MFA is off; if your tenant uses per-user MFA rather than Conditional Access, /mfa enforce "+u.UPN+" enforced (with approval).")
		}
	case approvals.MFAEnabled, approvals.MFAEnforced:
		out = append(out, "Per-user MFA is "+s.MFAState+"; Microsoft recommends Conditional Access instead, and per-user MFA overrides it for this user.")
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
