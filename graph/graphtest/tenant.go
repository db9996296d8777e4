package graphtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Per-user MFA states, as Graph's beta strongAuthenticationRequirements spells them.
const (
	MFADisabled = "disabled"
	MFAEnabled  = "enabled"
	MFAEnforced = "enforced"
)

// User types as Graph's user resource spells them.
const (
	Member = "Member"
	Guest  = "Guest"
)

// Well-known object ids. Microsoft Graph's application id is the same in every tenant.
const (
	GraphAppID = "00000003-0000-0000-c000-000000000000"

	// PasswordMethodID is the fixed id Graph gives every user's password method.
	PasswordMethodID = "28c10230-6103-485e-b985-444c60001490"
	// Phone and email methods have fixed ids per phone type, the same for every user.
	MobilePhoneID          = "3179e48a-750b-4051-897c-87b9720928f7"
	AlternateMobilePhoneID = "b6332ec1-7057-4abe-9331-3d72feddfe41"
	OfficePhoneID          = "e37fc753-ff3b-4958-9484-eaa9425c82bc"
	EmailMethodID          = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"

	defaultTenantID = "6f1c8e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	appSPID         = "7d2b5c1e-9a8f-4e3d-b6c5-a4f3e2d1c0b9"
	graphSPID       = "1e9d8c7b-6a5f-4b4e-9d3c-2b1a0f9e8d7c"
)

// MethodType is the stem of an authentication method's @odata.type
// (#microsoft.graph.<stem>AuthenticationMethod) and of its typed collection
// (/authentication/<stem>Methods).
type MethodType string

// Authentication method types served by the tenant.
const (
	MethodPassword            MethodType = "password"
	MethodPhone               MethodType = "phone"
	MethodAuthenticator       MethodType = "microsoftAuthenticator"
	MethodSoftwareOath        MethodType = "softwareOath"
	MethodHardwareOath        MethodType = "hardwareOath" // beta: listed in v1.0, managed in beta only
	MethodEmail               MethodType = "email"
	MethodFido2               MethodType = "fido2"
	MethodWindowsHello        MethodType = "windowsHelloForBusiness"
	MethodTemporaryAccessPass MethodType = "temporaryAccessPass"
	MethodPlatformCredential  MethodType = "platformCredential"
)

// methodTypes lists every type, in the order the typed collections are documented.
var methodTypes = []MethodType{MethodPassword, MethodPhone, MethodAuthenticator, MethodSoftwareOath,
	MethodEmail, MethodFido2, MethodWindowsHello, MethodTemporaryAccessPass, MethodPlatformCredential,
	MethodHardwareOath}

// ODataType is the method's @odata.type, such as "#microsoft.graph.phoneAuthenticationMethod".
func (t MethodType) ODataType() string {
	return "#microsoft.graph." + string(t) + "AuthenticationMethod"
}

// Segment is the name of the method's typed collection, such as "phoneMethods".
func (t MethodType) Segment() string { return string(t) + "Methods" }

// Phone types.
const (
	PhoneMobile          = "mobile"
	PhoneAlternateMobile = "alternateMobile"
	PhoneOffice          = "office"
)

// Values of userPreferredMethodForSecondaryAuthentication (userDefaultAuthenticationMethod).
const (
	DefaultPush                 = "push"
	DefaultOath                 = "oath"
	DefaultVoiceMobile          = "voiceMobile"
	DefaultVoiceAlternateMobile = "voiceAlternateMobile"
	DefaultVoiceOffice          = "voiceOffice"
	DefaultSMS                  = "sms"
	DefaultNone                 = "none"
)

// User is a directory user. UserPrincipalName of a guest carries #EXT#.
type User struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	GivenName         string
	Surname           string
	Mail              string
	OtherMails        []string
	JobTitle          string
	Department        string
	UserType          string // Member or Guest
	AccountEnabled    bool
	// Admin marks a holder of a directory role; the registration report shows it as isAdmin.
	Admin           bool
	CreatedDateTime time.Time
}

// Method is one registered authentication method. Which fields apply depends on Type.
type Method struct {
	ID   string
	Type MethodType
	// DisplayName is the device or key name (authenticator, FIDO2, Windows Hello,
	// platform credential, the hardware OATH token's device).
	DisplayName string
	PhoneNumber string // phone: "+1 2065555555", as Graph returns it to an app
	PhoneType   string // phone: PhoneMobile, PhoneAlternateMobile, PhoneOffice
	// SMSSignInState is the phone's smsSignInState; empty means "notAllowedByPolicy".
	SMSSignInState  string
	EmailAddress    string // email
	Model           string // fido2, hardwareOath
	SerialNumber    string // hardwareOath: printed on the token
	Manufacturer    string // hardwareOath
	DeviceTag       string // microsoftAuthenticator
	PhoneAppVersion string // microsoftAuthenticator
	Created         time.Time

	// A Temporary Access Pass's terms and its secret value, which Graph returns only
	// once, to the create call (tap.go).
	LifetimeMinutes int
	UsableOnce      bool
	Pass            string
}

// Group is a directory group.
type Group struct {
	ID              string
	DisplayName     string
	MailNickname    string
	Description     string
	MailEnabled     bool
	SecurityEnabled bool
	CreatedDateTime time.Time
}

// Registration is a user's entry in the userRegistrationDetails report, derived from the
// user's current methods, so a reset shows up at once.
type Registration struct {
	ID                                            string
	UserPrincipalName                             string
	UserDisplayName                               string
	UserType                                      string // "member" or "guest"
	IsAdmin                                       bool
	IsSsprRegistered                              bool
	IsSsprEnabled                                 bool
	IsSsprCapable                                 bool
	IsMfaRegistered                               bool
	IsMfaCapable                                  bool
	IsPasswordlessCapable                         bool
	IsSystemPreferredAuthenticationMethodEnabled  bool
	MethodsRegistered                             []string
	SystemPreferredAuthenticationMethods          []string
	UserPreferredMethodForSecondaryAuthentication string
	LastUpdatedDateTime                           time.Time
}

// Errors returned by the Tenant's setters.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("already exists")
	ErrInvalid   = errors.New("invalid")
	errForbidden = errors.New("forbidden")
)

const (
	mfaDisabled uint8 = iota
	mfaEnabled
	mfaEnforced
)

type userRec struct {
	User
	methods   []Method // without the password, which every user has
	preferred string   // userPreferredMethodForSecondaryAuthentication
	// noSystemPreferred turns system-preferred MFA off for the user (it is on by default,
	// as in Entra since 2023).
	noSystemPreferred bool
	mfa               uint8
	revokedAt         time.Time
	updated           time.Time
}

type groupRec struct {
	Group
	users  []int32 // direct user members, by index
	groups []int32 // direct group members, by index
}

// Tenant is the simulated directory. It is safe for concurrent use; a Server reads and
// changes it while tests inspect it.
type Tenant struct {
	mu            sync.RWMutex
	id            string
	domain        string
	initialDomain string
	displayName   string
	licensed      bool
	ssprEnabled   bool
	granted       []string
	rng           *rand.Rand
	now           func() time.Time

	users     []userRec
	byID      map[string]int32
	byUPN     map[string]int32
	groups    []groupRec
	groupByID map[string]int32

	// transitive membership cache, dropped whenever membership changes
	cacheMu sync.Mutex
	trans   map[int32][]int32

	tap *TAPPolicy // the Temporary Access Pass policy; nil is Entra's default (tap.go)
}

// NewTenant returns an empty tenant "Contoso" (contoso.com, contoso.onmicrosoft.com) with a
// premium licence and the application permissions mfabot needs granted ([DefaultGranted]).
func NewTenant() *Tenant {
	return newTenant(1, 0)
}

func newTenant(seed uint64, capUsers int) *Tenant {
	return &Tenant{
		id:            defaultTenantID,
		domain:        "contoso.com",
		initialDomain: "contoso.onmicrosoft.com",
		displayName:   "Contoso",
		licensed:      true,
		ssprEnabled:   true,
		granted:       DefaultGranted(),
		rng:           rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:           func() time.Time { return time.Now().UTC() },
		users:         make([]userRec, 0, capUsers),
		byID:          make(map[string]int32, capUsers),
		byUPN:         make(map[string]int32, capUsers),
		groupByID:     make(map[string]int32),
	}
}

// DefaultGranted is the set of Microsoft Graph application permissions a new tenant grants
// the app: what mfabot needs, plus Application.Read.All so `mfabot doctor` can read the
// app's own role assignments.
func DefaultGranted() []string {
	return []string{
		"User.Read.All",
		"UserAuthenticationMethod.ReadWrite.All",
		"User.RevokeSessions.All",
		"GroupMember.Read.All",
		"AuditLog.Read.All",
		"Policy.ReadWrite.AuthenticationMethod",
		"Application.Read.All",
	}
}

// ID is the tenant (directory) id.
func (t *Tenant) ID() string { return t.id }

// Domain is the tenant's default verified domain (contoso.com).
func (t *Tenant) Domain() string { return t.domain }

// InitialDomain is the tenant's *.onmicrosoft.com domain, used in guest UPNs.
func (t *Tenant) InitialDomain() string { return t.initialDomain }

// SetLicensed says whether the tenant has Entra ID P1/P2; without it the registration
// reports answer 403.
func (t *Tenant) SetLicensed(ok bool) {
	t.mu.Lock()
	t.licensed = ok
	t.mu.Unlock()
}

// Licensed reports whether the tenant has a premium licence.
func (t *Tenant) Licensed() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.licensed
}

// SetGranted replaces the application permissions (Graph app role values such as
// "User.Read.All") granted to the app. Requests are checked against the current grants.
func (t *Tenant) SetGranted(perms []string) {
	t.mu.Lock()
	t.granted = slices.Clone(perms)
	t.mu.Unlock()
}

// Granted returns the application permissions granted to the app.
func (t *Tenant) Granted() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.granted)
}

func (t *Tenant) grantedAny(perms []string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, p := range perms {
		if slices.Contains(t.granted, p) {
			return true
		}
	}
	return false
}

// newID returns a random-looking but seed-determined version 4 UUID. Caller holds mu.
func (t *Tenant) newID() string {
	var b [16]byte
	a, c := t.rng.Uint64(), t.rng.Uint64()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexd[v>>4], hexd[v&0xf]
		j += 2
	}
	return string(s[:])
}

// AddUser adds u and returns it as stored. An empty ID gets a fresh one, an empty UserType
// becomes Member; UserPrincipalName is required and unique (case-insensitive).
func (t *Tenant) AddUser(u User) (User, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, err := t.addUserLocked(u)
	if err != nil {
		return User{}, err
	}
	return t.users[i].User, nil
}

func (t *Tenant) addUserLocked(u User) (int32, error) {
	if u.UserPrincipalName == "" {
		return 0, fmt.Errorf("add user: userPrincipalName: %w", ErrInvalid)
	}
	if u.ID == "" {
		u.ID = t.newID()
	}
	if u.UserType == "" {
		u.UserType = Member
	}
	if u.CreatedDateTime.IsZero() {
		u.CreatedDateTime = t.now()
	}
	id, upn := strings.ToLower(u.ID), strings.ToLower(u.UserPrincipalName)
	if _, dup := t.byID[id]; dup {
		return 0, fmt.Errorf("add user %s: %w", u.ID, ErrConflict)
	}
	if _, dup := t.byUPN[upn]; dup {
		return 0, fmt.Errorf("add user %s: %w", u.UserPrincipalName, ErrConflict)
	}
	i := int32(len(t.users))
	t.users = append(t.users, userRec{User: u, preferred: DefaultNone, updated: u.CreatedDateTime})
	t.byID[id] = i
	t.byUPN[upn] = i
	return i, nil
}

// lookupUser finds a user by object id or userPrincipalName, case-insensitively. Caller
// holds mu.
func (t *Tenant) lookupUser(ref string) (int32, bool) {
	k := strings.ToLower(ref)
	if i, ok := t.byID[k]; ok {
		return i, true
	}
	i, ok := t.byUPN[k]
	return i, ok
}

// User returns the user with the given object id or userPrincipalName.
func (t *Tenant) User(ref string) (User, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(ref)
	if !ok {
		return User{}, false
	}
	return t.users[i].User, true
}

// Users returns every user, in creation order.
func (t *Tenant) Users() []User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]User, len(t.users))
	for i := range t.users {
		out[i] = t.users[i].User
	}
	return out
}

// UserCount is the number of users.
func (t *Tenant) UserCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.users)
}

// SetAccountEnabled enables or disables a user's account.
func (t *Tenant) SetAccountEnabled(userID string, enabled bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	t.users[i].AccountEnabled = enabled
	return nil
}

// passwordMethod is the password every user has; Graph never returns the password itself.
func passwordMethod(u *userRec) Method {
	return Method{ID: PasswordMethodID, Type: MethodPassword, Created: u.CreatedDateTime}
}

// Methods returns a user's authentication methods, the password first; nil for an unknown
// user.
func (t *Tenant) Methods(userID string) []Method {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return nil
	}
	return t.methodsLocked(i)
}

func (t *Tenant) methodsLocked(i int32) []Method {
	u := &t.users[i]
	out := make([]Method, 0, len(u.methods)+1)
	out = append(out, passwordMethod(u))
	return append(out, u.methods...)
}

// AddMethod registers a method for a user and returns it as stored. Phone and email
// methods get their fixed ids; others get a fresh id when ID is empty. A user has at most
// one phone of each type and one email, and no alternate mobile without a mobile, as in
// Entra. The user's first method that can be a default second factor becomes the default.
func (t *Tenant) AddMethod(userID string, m Method) (Method, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return Method{}, fmt.Errorf("add method: user %s: %w", userID, ErrNotFound)
	}
	return t.addMethodLocked(i, m)
}

func (t *Tenant) addMethodLocked(i int32, m Method) (Method, error) {
	u := &t.users[i]
	switch m.Type {
	case MethodPassword:
		return Method{}, fmt.Errorf("add method: the password always exists: %w", ErrInvalid)
	case MethodPhone:
		switch m.PhoneType {
		case PhoneMobile:
			m.ID = MobilePhoneID
		case PhoneAlternateMobile:
			if !hasPhone(u, PhoneMobile) {
				return Method{}, fmt.Errorf("add method: alternateMobile without mobile: %w", ErrInvalid)
			}
			m.ID = AlternateMobilePhoneID
		case PhoneOffice:
			m.ID = OfficePhoneID
		default:
			return Method{}, fmt.Errorf("add method: phone type %q: %w", m.PhoneType, ErrInvalid)
		}
		if m.SMSSignInState == "" {
			m.SMSSignInState = "notAllowedByPolicy"
		}
	case MethodEmail:
		m.ID = EmailMethodID
	case MethodAuthenticator, MethodSoftwareOath, MethodHardwareOath, MethodFido2, MethodWindowsHello,
		MethodTemporaryAccessPass, MethodPlatformCredential:
		if m.ID == "" {
			m.ID = t.newID()
		}
	default:
		return Method{}, fmt.Errorf("add method: type %q: %w", m.Type, ErrInvalid)
	}
	for _, o := range u.methods {
		if strings.EqualFold(o.ID, m.ID) {
			return Method{}, fmt.Errorf("add method %s: %w", m.ID, ErrConflict)
		}
	}
	if m.Created.IsZero() {
		m.Created = t.now()
	}
	u.methods = append(u.methods, m)
	if u.preferred == DefaultNone {
		if p := defaultFor(m); p != "" {
			u.preferred = p
		}
	}
	u.updated = t.now()
	return m, nil
}

func hasPhone(u *userRec, phoneType string) bool {
	for _, m := range u.methods {
		if m.Type == MethodPhone && m.PhoneType == phoneType {
			return true
		}
	}
	return false
}

// defaultFor is the default second factor a method would provide, "" if it cannot be one.
func defaultFor(m Method) string {
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

// backs reports whether m provides the default second factor pref.
func backs(m Method, pref string) bool {
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

// SetDefaultMethod sets the user's default second factor
// (userPreferredMethodForSecondaryAuthentication: DefaultPush, DefaultSMS, …). The user
// must have a method that provides it, except for DefaultNone.
func (t *Tenant) SetDefaultMethod(userID, pref string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return fmt.Errorf("set default method: user %s: %w", userID, ErrNotFound)
	}
	return t.setDefaultLocked(i, pref)
}

func (t *Tenant) setDefaultLocked(i int32, pref string) error {
	u := &t.users[i]
	if pref != DefaultNone && !slices.ContainsFunc(u.methods, func(m Method) bool { return backs(m, pref) }) {
		return fmt.Errorf("set default method %q: no such method registered: %w", pref, ErrInvalid)
	}
	u.preferred = pref
	u.updated = t.now()
	return nil
}

// signInPreferences returns the user's sign-in preferences: whether system-preferred MFA
// is on, and the default second factor.
func (t *Tenant) signInPreferences(userRef string) (systemPreferred bool, preferred string, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userRef)
	if !ok {
		return false, "", false
	}
	return !t.users[i].noSystemPreferred, t.users[i].preferred, true
}

// DefaultMethod returns the user's default second factor, DefaultNone if none.
func (t *Tenant) DefaultMethod(userID string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return ""
	}
	return t.users[i].preferred
}

// deleteFault is why a method delete was refused.
type deleteFault struct {
	status  int
	code    string
	message string
}

// deleteMethodLocked applies Entra's rules for deleting a method through its typed
// collection.
func (t *Tenant) deleteMethodLocked(i int32, typ MethodType, methodID string) *deleteFault {
	u := &t.users[i]
	k := slices.IndexFunc(u.methods, func(m Method) bool {
		return m.Type == typ && strings.EqualFold(m.ID, methodID)
	})
	if k < 0 {
		return &deleteFault{404, "itemNotFound", "The requested authentication method was not found."}
	}
	m := u.methods[k]
	// Documented on phoneAuthenticationMethod delete: no alternate mobile without a mobile.
	// The message is modeled; Microsoft does not document it.
	if m.Type == MethodPhone && m.PhoneType == PhoneMobile && hasPhone(u, PhoneAlternateMobile) {
		return &deleteFault{400, "badRequest",
			"Cannot delete the mobile phone number while an alternate mobile phone number is configured. Delete the alternate mobile number first."}
	}
	// The default second factor cannot go while other methods remain; this is the message
	// Graph returns for it.
	if backs(m, u.preferred) {
		others, alsoBacks := 0, false
		for j, o := range u.methods {
			if j == k {
				continue
			}
			others++
			if backs(o, u.preferred) {
				alsoBacks = true
			}
		}
		if others > 0 && !alsoBacks {
			return &deleteFault{400, "badRequest",
				"Cannot delete default method with other methods configured. Please change default method before deletion."}
		}
		if !alsoBacks {
			u.preferred = DefaultNone
		}
	}
	u.methods = slices.Delete(u.methods, k, k+1)
	u.updated = t.now()
	return nil
}

// MFAState returns the user's per-user MFA state (MFADisabled, MFAEnabled, MFAEnforced),
// "" for an unknown user.
func (t *Tenant) MFAState(userID string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return ""
	}
	return mfaName(t.users[i].mfa)
}

// SetMFAState sets the per-user MFA state with Entra's rule: enabling a user who already
// has an MFA method makes the state enforced.
func (t *Tenant) SetMFAState(userID, state string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return fmt.Errorf("set MFA state: user %s: %w", userID, ErrNotFound)
	}
	return t.setMFALocked(i, state)
}

func (t *Tenant) setMFALocked(i int32, state string) error {
	v, ok := mfaValue(state)
	if !ok {
		return fmt.Errorf("set MFA state %q: %w", state, ErrInvalid)
	}
	if v == mfaEnabled && mfaRegistered(t.users[i].methods) {
		v = mfaEnforced
	}
	t.users[i].mfa = v
	return nil
}

func mfaName(v uint8) string {
	switch v {
	case mfaEnabled:
		return MFAEnabled
	case mfaEnforced:
		return MFAEnforced
	}
	return MFADisabled
}

func mfaValue(s string) (uint8, bool) {
	switch s {
	case MFADisabled:
		return mfaDisabled, true
	case MFAEnabled:
		return mfaEnabled, true
	case MFAEnforced:
		return mfaEnforced, true
	}
	return 0, false
}

// RevokedAt returns when the user's sign-in sessions were last revoked (zero if never).
func (t *Tenant) RevokedAt(userID string) time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return time.Time{}
	}
	return t.users[i].revokedAt
}

// Registration returns the user's userRegistrationDetails entry.
func (t *Tenant) Registration(userID string) (Registration, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.lookupUser(userID)
	if !ok {
		return Registration{}, false
	}
	return t.registrationLocked(i), true
}

func mfaCapable(m Method) bool {
	switch m.Type {
	case MethodPhone, MethodAuthenticator, MethodSoftwareOath, MethodHardwareOath, MethodFido2, MethodWindowsHello,
		MethodPlatformCredential:
		return true
	}
	return false
}

func mfaRegistered(ms []Method) bool { return slices.ContainsFunc(ms, mfaCapable) }

// registeredName is the methodsRegistered value for m.
func registeredName(m Method) string {
	switch m.Type {
	case MethodPhone:
		switch m.PhoneType {
		case PhoneAlternateMobile:
			return "alternateMobilePhone"
		case PhoneOffice:
			return "officePhone"
		}
		return "mobilePhone"
	case MethodAuthenticator:
		return "microsoftAuthenticatorPush"
	case MethodSoftwareOath:
		return "softwareOneTimePasscode"
	case MethodHardwareOath:
		return "hardwareOneTimePasscode"
	case MethodEmail:
		return "email"
	case MethodFido2:
		return "fido2"
	case MethodWindowsHello:
		return "windowsHelloForBusiness"
	case MethodTemporaryAccessPass:
		return "temporaryAccessPass"
	case MethodPlatformCredential:
		return "macOsSecureEnclaveKey"
	}
	return string(m.Type)
}

func (t *Tenant) registrationLocked(i int32) Registration {
	u := &t.users[i]
	r := Registration{
		ID:                u.ID,
		UserPrincipalName: u.UserPrincipalName,
		UserDisplayName:   u.DisplayName,
		UserType:          strings.ToLower(u.UserType),
		IsAdmin:           u.Admin,
		IsSsprEnabled:     t.ssprEnabled && u.UserType == Member,
		IsSystemPreferredAuthenticationMethodEnabled: !u.noSystemPreferred,
		MethodsRegistered:                             []string{},
		SystemPreferredAuthenticationMethods:          []string{},
		UserPreferredMethodForSecondaryAuthentication: u.preferred,
		LastUpdatedDateTime:                           u.updated,
	}
	sspr := 0
	var push, oath, sms bool
	for _, m := range u.methods {
		name := registeredName(m)
		if !slices.Contains(r.MethodsRegistered, name) {
			r.MethodsRegistered = append(r.MethodsRegistered, name)
		}
		switch m.Type {
		case MethodPhone, MethodEmail, MethodAuthenticator, MethodSoftwareOath:
			sspr++
		case MethodFido2, MethodWindowsHello, MethodPlatformCredential:
			r.IsPasswordlessCapable = true
		}
		push = push || m.Type == MethodAuthenticator
		oath = oath || m.Type == MethodSoftwareOath || m.Type == MethodHardwareOath
		sms = sms || (m.Type == MethodPhone && m.PhoneType == PhoneMobile)
	}
	r.IsMfaRegistered = mfaRegistered(u.methods)
	r.IsMfaCapable = r.IsMfaRegistered
	r.IsSsprRegistered = sspr > 0
	r.IsSsprCapable = r.IsSsprEnabled && r.IsSsprRegistered
	switch {
	case push:
		r.SystemPreferredAuthenticationMethods = append(r.SystemPreferredAuthenticationMethods, DefaultPush)
	case oath:
		r.SystemPreferredAuthenticationMethods = append(r.SystemPreferredAuthenticationMethods, DefaultOath)
	case sms:
		r.SystemPreferredAuthenticationMethods = append(r.SystemPreferredAuthenticationMethods, DefaultSMS)
	}
	return r
}

// AddGroup adds g and returns it as stored (an empty ID gets a fresh one). Groups are
// security groups unless MailEnabled is set.
func (t *Tenant) AddGroup(g Group) (Group, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, err := t.addGroupLocked(g)
	if err != nil {
		return Group{}, err
	}
	return t.groups[i].Group, nil
}

func (t *Tenant) addGroupLocked(g Group) (int32, error) {
	if g.DisplayName == "" {
		return 0, fmt.Errorf("add group: displayName: %w", ErrInvalid)
	}
	if g.ID == "" {
		g.ID = t.newID()
	}
	if !g.MailEnabled {
		g.SecurityEnabled = true
	}
	if g.CreatedDateTime.IsZero() {
		g.CreatedDateTime = t.now()
	}
	k := strings.ToLower(g.ID)
	if _, dup := t.groupByID[k]; dup {
		return 0, fmt.Errorf("add group %s: %w", g.ID, ErrConflict)
	}
	i := int32(len(t.groups))
	t.groups = append(t.groups, groupRec{Group: g})
	t.groupByID[k] = i
	return i, nil
}

// Group returns the group with the given object id.
func (t *Tenant) Group(id string) (Group, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.groupByID[strings.ToLower(id)]
	if !ok {
		return Group{}, false
	}
	return t.groups[i].Group, true
}

// Groups returns every group, in creation order.
func (t *Tenant) Groups() []Group {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Group, len(t.groups))
	for i := range t.groups {
		out[i] = t.groups[i].Group
	}
	return out
}

// AddMember makes a user or a group (by object id; a user also by UPN) a direct member of
// the group. Adding an existing member is a no-op.
func (t *Tenant) AddMember(groupID, memberID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	gi, ok := t.groupByID[strings.ToLower(groupID)]
	if !ok {
		return fmt.Errorf("add member: group %s: %w", groupID, ErrNotFound)
	}
	if ui, ok := t.lookupUser(memberID); ok {
		t.addUserMemberLocked(gi, ui)
		return nil
	}
	if sub, ok := t.groupByID[strings.ToLower(memberID)]; ok {
		if sub == gi {
			return fmt.Errorf("add member: group in itself: %w", ErrInvalid)
		}
		if !slices.Contains(t.groups[gi].groups, sub) {
			t.groups[gi].groups = append(t.groups[gi].groups, sub)
			t.dropCache()
		}
		return nil
	}
	return fmt.Errorf("add member %s: %w", memberID, ErrNotFound)
}

func (t *Tenant) addUserMemberLocked(gi, ui int32) {
	if !slices.Contains(t.groups[gi].users, ui) {
		t.groups[gi].users = append(t.groups[gi].users, ui)
		t.dropCache()
	}
}

func (t *Tenant) dropCache() {
	t.cacheMu.Lock()
	t.trans = nil
	t.cacheMu.Unlock()
}

// transitiveLocked returns the sorted indices of every user in the group, nested groups
// expanded (cycles tolerated). Caller holds mu (read or write).
func (t *Tenant) transitiveLocked(gi int32) []int32 {
	t.cacheMu.Lock()
	if s, ok := t.trans[gi]; ok {
		t.cacheMu.Unlock()
		return s
	}
	t.cacheMu.Unlock()

	seenG := map[int32]bool{gi: true}
	stack := []int32{gi}
	var out []int32
	for len(stack) > 0 {
		g := &t.groups[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		out = append(out, g.users...)
		for _, s := range g.groups {
			if !seenG[s] {
				seenG[s] = true
				stack = append(stack, s)
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)

	t.cacheMu.Lock()
	if t.trans == nil {
		t.trans = make(map[int32][]int32)
	}
	t.trans[gi] = out
	t.cacheMu.Unlock()
	return out
}

// TransitiveUsers returns the object ids of every user in the group, nested groups
// expanded, in creation order of the users.
func (t *Tenant) TransitiveUsers(groupID string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	gi, ok := t.groupByID[strings.ToLower(groupID)]
	if !ok {
		return nil
	}
	s := t.transitiveLocked(gi)
	out := make([]string, len(s))
	for k, ui := range s {
		out[k] = t.users[ui].ID
	}
	return out
}

// registrations returns the report entries of users [from, to) in creation order.
func (t *Tenant) registrations(from, to int) []Registration {
	t.mu.RLock()
	defer t.mu.RUnlock()
	to = min(to, len(t.users))
	out := make([]Registration, 0, max(0, to-from))
	for i := from; i < to; i++ {
		out = append(out, t.registrationLocked(int32(i)))
	}
	return out
}

// deleteMethod deletes a method through its typed collection and reports the outcome as
// Graph would: 204, or the error's status, code and message. It also returns the user's
// object id.
func (t *Tenant) deleteMethod(userRef string, typ MethodType, methodID string) (status int, code, msg, userID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.lookupUser(userRef)
	if !ok {
		return 404, "Request_ResourceNotFound", "Resource '" + userRef + "' does not exist.", userRef
	}
	if f := t.deleteMethodLocked(i, typ, methodID); f != nil {
		return f.status, f.code, f.message, t.users[i].ID
	}
	return 204, "", "", t.users[i].ID
}

// revoke records a revocation of the user's sessions now.
func (t *Tenant) revoke(userID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.lookupUser(userID); ok {
		t.users[i].revokedAt = time.Now().UTC()
	}
}

// usersRange returns users [from, to) in creation order.
func (t *Tenant) usersRange(from, to int) []User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	to = min(to, len(t.users))
	out := make([]User, 0, max(0, to-from))
	for i := from; i < to; i++ {
		out = append(out, t.users[i].User)
	}
	return out
}

// setSignInPreferences applies a PATCH of the user's sign-in preferences: the default
// second factor (which the user must have a method for) and system-preferred MFA. It
// changes nothing unless all of it is valid, and returns the user's object id.
func (t *Tenant) setSignInPreferences(userRef string, preferred *string, systemPreferred *bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.lookupUser(userRef)
	if !ok {
		return userRef, fmt.Errorf("sign-in preferences: user %s: %w", userRef, ErrNotFound)
	}
	if preferred != nil {
		if err := t.setDefaultLocked(i, *preferred); err != nil {
			return t.users[i].ID, err
		}
	}
	if systemPreferred != nil {
		t.users[i].noSystemPreferred = !*systemPreferred
		t.users[i].updated = t.now()
	}
	return t.users[i].ID, nil
}
