package commands

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands/summary"
)

// StatusSource is what status needs from Entra ID; graph.Client implements it.
type StatusSource interface {
	ResolveUser(ctx context.Context, ref string) (approvals.User, error)
	Methods(ctx context.Context, userID string) ([]approvals.Method, error)
	Registration(ctx context.Context, userID string) (approvals.Registration, error)
	MFAState(ctx context.Context, userID string) (string, error)
}

// Status is everything status shows about a user. A part Graph could not give (no licence
// for the registration report, a missing permission, a user too new for the report) is
// left empty, with its error and a note that says why; the rest is still shown.
type Status struct {
	User approvals.User

	Methods     []approvals.Method
	MethodsErr  error
	MethodsNote string

	Registration     *approvals.Registration
	RegistrationErr  error
	RegistrationNote string

	MFAState     string
	MFAStateErr  error
	MFAStateNote string
}

// DefaultMethod is the user's default second factor as the registration report says, ""
// when unknown.
func (s Status) DefaultMethod() string {
	if s.Registration == nil {
		return ""
	}
	return s.Registration.PreferredMethod
}

// LoadStatus gathers a user's status, reading the methods, the registration report and
// the per-user MFA state at once. Only an unknown user, a failure to resolve them, or the
// end of ctx is an error.
//
// The per-user MFA state is read only when withMFAState is set: it needs a permission that
// mfabot holds only when enforce is turned on.
func LoadStatus(ctx context.Context, src StatusSource, ref string, withMFAState bool) (Status, error) {
	u, err := src.ResolveUser(ctx, ref)
	if err != nil {
		return Status{}, err
	}
	s := Status{User: u}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.Methods, s.MethodsErr = src.Methods(ctx, u.ID)
	}()
	go func() {
		defer wg.Done()
		reg, err := src.Registration(ctx, u.ID)
		if err == nil {
			s.Registration = &reg
		}
		s.RegistrationErr = err
	}()
	go func() {
		defer wg.Done()
		if withMFAState {
			s.MFAState, s.MFAStateErr = src.MFAState(ctx, u.ID)
		}
	}()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	if s.MethodsErr != nil {
		s.Methods, s.MethodsNote = nil, approvals.ErrorMessage(s.MethodsErr)
	}
	if s.RegistrationErr != nil {
		s.RegistrationNote = approvals.ErrorMessage(s.RegistrationErr)
	}
	if s.MFAStateErr != nil {
		s.MFAState, s.MFAStateNote = "", approvals.ErrorMessage(s.MFAStateErr)
	}
	return s, nil
}

// StatusCard renders a user's status as of now: who they are, what they registered, how
// they sign in, and what an admin should do next.
func StatusCard(s Status, now time.Time) bot.Message {
	u := s.User
	m := bot.Message{Title: "MFA status of " + orText(u.DisplayName, orText(u.UPN, u.ID))}
	kind := "member"
	if u.Guest {
		kind = "guest"
	}
	account := "enabled"
	if !u.Enabled {
		account = "disabled"
	}
	m.Facts = append(m.Facts, bot.Fact{Label: "User", Value: orText(u.UPN, u.ID), Exact: true})
	if u.Mail != "" && !strings.EqualFold(u.Mail, u.UPN) {
		m.Facts = append(m.Facts, bot.Fact{Label: "Mail", Value: u.Mail, Exact: true})
	}
	m.Facts = append(m.Facts, bot.Fact{Label: "Account", Value: kind + ", " + account})

	usable, strong := 0, 0
	for _, me := range s.Methods {
		switch me.Type {
		case "password":
		case "microsoftAuthenticator", "fido2", "windowsHelloForBusiness", "platformCredential", "passKey":
			usable++
			strong++
		default:
			usable++
		}
	}
	if r := s.Registration; r != nil {
		m.Facts = append(m.Facts,
			bot.Fact{Label: "MFA registered", Value: yesNo(r.IsMfaRegistered)},
			bot.Fact{Label: "MFA capable", Value: yesNo(r.IsMfaCapable)},
			bot.Fact{Label: "SSPR registered", Value: yesNo(r.IsSsprRegistered)},
			bot.Fact{Label: "Passwordless capable", Value: yesNo(r.IsPasswordlessCapable)},
			bot.Fact{Label: "Default method", Value: orNone(reportLabel(r.PreferredMethod))},
			bot.Fact{Label: "System-preferred", Value: orNone(reportLabels(r.SystemPreferred))},
		)
		if r.IsAdmin {
			m.Facts = append(m.Facts, bot.Fact{Label: "Admin role", Value: "yes"})
		}
	}
	if s.MFAState != "" {
		m.Facts = append(m.Facts, bot.Fact{Label: "Per-user MFA", Value: s.MFAState})
	}
	if r := s.Registration; r != nil && !r.LastUpdated.IsZero() {
		m.Facts = append(m.Facts, bot.Fact{Label: "Report updated", Value: stamp(r.LastUpdated, now)})
	}

	switch {
	case s.MethodsNote != "" && s.Registration != nil:
		m.Sections = append(m.Sections, list("Methods registered (from the report)", reportLines(s.Registration.MethodsRegistered), "none"))
	case s.MethodsNote == "":
		m.Sections = append(m.Sections, list(fmt.Sprintf("Methods (%d)", len(s.Methods)), methodLines(s.Methods, s.DefaultMethod()), "none registered"))
	}
	var notes []string
	if s.MethodsNote != "" {
		notes = append(notes, "Methods not available: "+s.MethodsNote)
	}
	if s.RegistrationNote != "" {
		notes = append(notes, "Registration details not available: "+s.RegistrationNote)
	}
	if s.MFAStateNote != "" {
		notes = append(notes, "Per-user MFA state not available: "+s.MFAStateNote)
	}
	if len(notes) > 0 {
		m.Sections = append(m.Sections, bot.Section{Title: "Partial answer", Lines: notes})
	}
	m.Sections = append(m.Sections, bot.Section{Title: "What to do next", Lines: nextSteps(s, usable, strong)})
	m.Footer = "Object id " + u.ID

	registered := registeredNow(s, usable)
	switch {
	case !u.Enabled:
		m.Tone = bot.ToneNeutral
	case registered == "no" && s.Registration != nil && s.Registration.IsAdmin:
		m.Tone = bot.ToneBad
	case registered == "no":
		m.Tone = bot.ToneWarning
	case registered == "yes":
		m.Tone = bot.ToneGood
	}
	return m
}

// registeredNow says whether the user has MFA: "yes", "no", or "" when neither the
// report nor the method list could tell.
func registeredNow(s Status, usable int) string {
	switch {
	case s.Registration != nil && s.Registration.IsMfaRegistered:
		return "yes"
	case s.Registration != nil:
		return "no"
	case s.MethodsNote != "":
		return ""
	case usable > 0:
		return "yes"
	}
	return "no"
}

func nextSteps(s Status, usable, strong int) []string {
	u := s.User
	name := orText(u.UPN, u.ID)
	if !u.Enabled {
		return []string{"The account is disabled; nothing to do unless it is enabled again."}
	}
	var out []string
	switch registeredNow(s, usable) {
	case "no":
		if s.Registration != nil && s.Registration.IsAdmin {
			out = append(out, "This admin has no MFA: fix it first — admins are the accounts attackers want.")
		}
		out = append(out,
			"Ask them to register at "+MFASetupURL+", then consider /mfa enforce "+name+" enforced if your tenant uses per-user MFA rather than Conditional Access.",
			"Users who stay signed in never meet the registration prompt: /mfa revoke "+name+" <reason> signs them out everywhere so that they do (with approval).")
	case "yes":
		out = append(out,
			"Lost or replaced phone: /mfa reset "+name+" --only authenticator,phone,oath <reason> removes those and their sessions, keeping security keys and Windows Hello (with approval).",
			"Suspected compromise: /mfa reset "+name+" <reason> removes every method but the password and their sessions; to sign them out only: /mfa revoke "+name+" <reason>.")
		if usable > 0 && strong == 0 {
			out = append(out, "They have only phone, email or OTP methods: ask them to add Microsoft Authenticator or a passkey, which resist phishing better.")
		}
		if r := s.Registration; r != nil && !r.IsMfaCapable {
			out = append(out, "Registered but not MFA capable: the methods they registered are not enabled by the authentication methods policy.")
		}
	default:
		out = append(out, "Could not tell whether they have MFA; try again later, or check the user in the Entra admin center.")
	}
	switch s.MFAState {
	case approvals.MFADisabled:
	case approvals.MFAEnabled, approvals.MFAEnforced:
		out = append(out, "Per-user MFA is "+s.MFAState+": if you use Conditional Access or security defaults, Microsoft recommends turning it off (/mfa enforce "+name+" disabled) so the two do not conflict.")
	}
	if u.Guest {
		out = append(out, "Guest account: if cross-tenant access trusts their home tenant's MFA they register there; a reset here removes only methods registered in this tenant.")
	}
	return out
}

// preferredLabels names the values of userPreferredMethodForSecondaryAuthentication that
// methodsRegistered does not use.
var preferredLabels = map[string]string{
	"push":                 "Authenticator push",
	"oath":                 "OTP code",
	"voiceMobile":          "Voice call (mobile)",
	"voiceAlternateMobile": "Voice call (alternate mobile)",
	"voiceOffice":          "Voice call (office)",
	"sms":                  "SMS",
}

// reportLabel names a methodsRegistered, preferred or system-preferred value of the
// registration report.
func reportLabel(v string) string {
	if v == "" || strings.EqualFold(v, "none") {
		return ""
	}
	if l, ok := preferredLabels[v]; ok {
		return l
	}
	return summary.MethodLabel(v)
}

func reportLabels(vs []string) string {
	var out []string
	for _, v := range vs {
		if l := reportLabel(v); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ", ")
}

func reportLines(vs []string) []string {
	var out []string
	for _, v := range vs {
		if l := reportLabel(v); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
