package approvals

import (
	"context"
	"time"
)

// User is an Entra ID user as mfabot needs to see it.
type User struct {
	ID          string // object id
	UPN         string // userPrincipalName; guests carry #EXT#
	DisplayName string
	Mail        string
	Guest       bool // userType Guest
	Enabled     bool // accountEnabled
}

// Name is the most readable identifier of u for a chat message.
func (u User) Name() string {
	switch {
	case u.DisplayName != "" && u.UPN != "":
		return u.DisplayName + " (" + u.UPN + ")"
	case u.UPN != "":
		return u.UPN
	default:
		return u.ID
	}
}

// Group is an Entra ID group.
type Group struct {
	ID           string
	DisplayName  string
	MailNickname string
}

// Method is one registered authentication method of a user.
type Method struct {
	ID        string
	ODataType string    // "#microsoft.graph.phoneAuthenticationMethod", …
	Type      string    // short readable type: "phone", "microsoftAuthenticator", "fido2", …
	Detail    string    // masked phone number, device name, e-mail address, …
	PhoneType string    // "mobile", "alternateMobile", "office" for phone methods
	Created   time.Time // zero where Graph does not say
	// Deletable is false for the password method and for types mfabot does not know how
	// to delete; Note says why.
	Deletable bool
	Note      string
}

// Method types, the stem of Graph's @odata.type (#microsoft.graph.<type>AuthenticationMethod).
const (
	MethodPassword            = "password"
	MethodPhone               = "phone"
	MethodAuthenticator       = "microsoftAuthenticator"
	MethodSoftwareOath        = "softwareOath"
	MethodHardwareOath        = "hardwareOath"
	MethodEmail               = "email"
	MethodFido2               = "fido2"
	MethodWindowsHello        = "windowsHelloForBusiness"
	MethodTemporaryAccessPass = "temporaryAccessPass"
	MethodPlatformCredential  = "platformCredential"
)

// Phone types of phone methods.
const (
	PhoneMobile          = "mobile"
	PhoneAlternateMobile = "alternateMobile"
	PhoneOffice          = "office"
)

// Default second factors, as Graph names them (userPreferredMethodForSecondaryAuthentication,
// the signInPreferences of a user). Graph refuses to delete the method that backs the
// default while other methods remain, so a reset deletes it last.
const (
	DefaultPush                 = "push"
	DefaultOath                 = "oath"
	DefaultSMS                  = "sms"
	DefaultVoiceMobile          = "voiceMobile"
	DefaultVoiceAlternateMobile = "voiceAlternateMobile"
	DefaultVoiceOffice          = "voiceOffice"
	DefaultNone                 = "none"
)

// Backs reports whether m is the method that provides the default second factor pref.
func (m Method) Backs(pref string) bool {
	switch pref {
	case DefaultPush:
		return m.Type == MethodAuthenticator
	case DefaultOath:
		return m.Type == MethodSoftwareOath || m.Type == MethodHardwareOath
	case DefaultSMS, DefaultVoiceMobile:
		return m.Type == MethodPhone && m.PhoneType == PhoneMobile
	case DefaultVoiceAlternateMobile:
		return m.Type == MethodPhone && m.PhoneType == PhoneAlternateMobile
	case DefaultVoiceOffice:
		return m.Type == MethodPhone && m.PhoneType == PhoneOffice
	}
	return false
}

// DefaultFor is the default second factor m can provide, "" when it cannot be one (FIDO2,
// Windows Hello, e-mail, …).
func (m Method) DefaultFor() string {
	switch m.Type {
	case MethodAuthenticator:
		return DefaultPush
	case MethodSoftwareOath, MethodHardwareOath:
		return DefaultOath
	case MethodPhone:
		switch m.PhoneType {
		case PhoneMobile:
			return DefaultSMS
		case PhoneAlternateMobile:
			return DefaultVoiceAlternateMobile
		case PhoneOffice:
			return DefaultVoiceOffice
		}
	}
	return ""
}

// Label is a short human description of m: "phone (mobile) +1 555 ••• 0123".
func (m Method) Label() string {
	s := m.Type
	if m.PhoneType != "" {
		s += " (" + m.PhoneType + ")"
	}
	if m.Detail != "" {
		s += " " + m.Detail
	}
	return s
}

// Registration is a user's entry in Graph's userRegistrationDetails report.
type Registration struct {
	UserID                string
	UPN                   string
	DisplayName           string
	UserType              string // "member" or "guest"
	IsAdmin               bool
	IsMfaRegistered       bool
	IsMfaCapable          bool
	IsSsprRegistered      bool
	IsPasswordlessCapable bool
	MethodsRegistered     []string
	PreferredMethod       string // userPreferredMethodForSecondaryAuthentication
	SystemPreferred       []string
	LastUpdated           time.Time
}

// Per-user MFA states (the legacy per-user setting, beta authentication/requirements).
const (
	MFADisabled = "disabled"
	MFAEnabled  = "enabled"
	MFAEnforced = "enforced"
)

// Directory is what the approvals core needs from Entra ID. graph implements it.
type Directory interface {
	// ResolveUser finds a user by UPN, mail or object id (ENOTFOUND if none).
	ResolveUser(ctx context.Context, ref string) (User, error)
	// ResolveGroup finds a group by object id, mail nickname or display name; an
	// ambiguous name is EINVALID with the candidates in the message.
	ResolveGroup(ctx context.Context, ref string) (Group, error)
	// GroupsNamed lists the groups whose display name is name (case-insensitive). It never
	// matches a mail nickname: any employee may create a group and choose its alias, so a
	// nickname cannot name a group a security decision rests on.
	GroupsNamed(ctx context.Context, name string) ([]Group, error)
	// Methods lists every authentication method of a user, of every type Graph lists
	// (hardware OATH tokens included). The password, and types mfabot cannot delete, are
	// included with Deletable false and a Note saying why. The order is for reading
	// only; the executor decides the order of deletion.
	Methods(ctx context.Context, userID string) ([]Method, error)
	// DefaultMethod returns the user's default second factor (DefaultPush, DefaultSMS, …,
	// DefaultNone when there is none).
	DefaultMethod(ctx context.Context, userID string) (string, error)
	// SetDefaultMethod changes the user's default second factor, so that the method that
	// backed it can be deleted while others stay.
	SetDefaultMethod(ctx context.Context, userID, pref string) error
	// DeleteMethod deletes one method; a method that is already gone counts as deleted.
	// Graph's refusal to delete the default method while others remain is an error for
	// which errors.Is(err, ErrDefaultMethod) holds.
	DeleteMethod(ctx context.Context, userID string, m Method) error
	// RevokeSessions revokes the sign-in sessions of each user and returns one error per
	// user (nil for success), in the order given. The graph layer batches and paces.
	RevokeSessions(ctx context.Context, userIDs []string) []error
	// SetMFAState sets the per-user MFA state (MFADisabled, MFAEnabled, MFAEnforced).
	SetMFAState(ctx context.Context, userID, state string) error
	// MFAState reads the per-user MFA state.
	MFAState(ctx context.Context, userID string) (string, error)
	// GroupMembers streams the transitive user members of a group, page by page.
	GroupMembers(ctx context.Context, groupID string, fn func([]User) error) error
	// IsMemberOf reports whether the user is a transitive member of the group.
	IsMemberOf(ctx context.Context, userID, groupID string) (bool, error)
	// CreateTemporaryAccessPass creates a Temporary Access Pass of the given lifetime for
	// the user, usable once when oneTime, replacing one they have. Graph refuses when the
	// tenant's Temporary Access Pass policy is off or leaves the user out (EUPSTREAM, with
	// ErrTAPPolicy in the chain). The pass's Value is a secret (see Pass).
	CreateTemporaryAccessPass(ctx context.Context, userID string, lifetime time.Duration, oneTime bool) (Pass, error)
}

// Clock tells the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
