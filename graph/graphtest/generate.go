package graphtest

import (
	"fmt"
	"strings"
	"time"
)

// GenOptions shape a generated tenant.
type GenOptions struct {
	Seed  uint64 // the same seed gives the same tenant
	Users int    // total users, the well-known ones included
	// Now is the reference time for creation and registration dates; a fixed date when
	// zero, so generated tenants are reproducible.
	Now time.Time
}

// Well-known users and groups of every generated tenant, for docs, the demo and tests.
const (
	AdeleUPN      = "adele.vance@contoso.com"
	MeganUPN      = "megan.bowen@contoso.com"
	AlexUPN       = "alex.wilber@contoso.com"
	DiegoUPN      = "diego.siciliani@contoso.com"
	BreakGlassUPN = "breakglass@contoso.onmicrosoft.com"

	GroupAllStaff        = "All Staff"
	GroupSales           = "Sales"
	GroupSalesEMEA       = "Sales EMEA"
	GroupFinance         = "Finance"
	GroupEmergencyAccess = "Emergency Access"
)

var firstNames = []string{"Ann", "Ben", "Chloe", "Daan", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jonas", "Kai", "Lena",
	"Milan", "Noor", "Oscar", "Priya", "Quinn", "Rosa", "Sem", "Tess", "Umar", "Vera", "Wout", "Xander", "Yara", "Zoe",
	"Ahmed", "Bea", "Carlos", "Dana", "Eli", "Fatima", "Gabriel", "Hana", "Ivan", "Julia", "Kenji", "Liam", "Maya", "Nils"}

var lastNames = []string{"Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Bos", "Vos",
	"Peters", "Hendriks", "van Dijk", "Dekker", "Brouwer", "Garcia", "Nguyen", "Smith", "Müller", "Rossi", "Kowalski",
	"Okafor", "Tanaka", "Silva", "Novak", "Haddad", "Kim", "Larsen", "O'Brien", "Dubois"}

// localPart turns a name into the local part of an address.
var localPart = strings.NewReplacer(" ", "", "'", "", "ü", "u")

var departments = []string{"Sales", "Finance", "Engineering", "Support", "Marketing", "HR", "Legal", "Operations"}

// Generate builds a tenant of o.Users users with a realistic enrollment mix: about 70 %
// registered (Microsoft Authenticator and a mobile phone mostly, some FIDO2, Windows Hello,
// software or hardware OATH or e-mail), 20 % with nothing but a password, 10 % guests with #EXT# UPNs, 3 %
// disabled, a few admins (some without MFA), and the groups All Staff (every enabled
// member), Sales with the nested Sales EMEA, Finance and Emergency Access. The well-known
// users (AdeleUPN, …, BreakGlassUPN) come first. It is deterministic for a seed.
func Generate(o GenOptions) *Tenant {
	if o.Now.IsZero() {
		o.Now = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	}
	t := newTenant(o.Seed+1, o.Users)
	now := o.Now
	t.now = func() time.Time { return now }
	r := t.rng
	day := 24 * time.Hour

	mustUser := func(u User) int32 {
		i, err := t.addUserLocked(u)
		if err != nil {
			panic(err)
		}
		return i
	}
	mustMethod := func(i int32, m Method) {
		if _, err := t.addMethodLocked(i, m); err != nil {
			panic(err)
		}
	}
	mustGroup := func(g Group) int32 {
		i, err := t.addGroupLocked(g)
		if err != nil {
			panic(err)
		}
		return i
	}
	created := func() time.Time { return now.Add(-time.Duration(r.IntN(900)) * day) }

	all := mustGroup(Group{DisplayName: GroupAllStaff, MailNickname: "allstaff", MailEnabled: true, Description: "Every employee"})
	sales := mustGroup(Group{DisplayName: GroupSales, MailNickname: "sales", MailEnabled: true})
	emea := mustGroup(Group{DisplayName: GroupSalesEMEA, MailNickname: "sales-emea"})
	finance := mustGroup(Group{DisplayName: GroupFinance, MailNickname: "finance"})
	emergency := mustGroup(Group{DisplayName: GroupEmergencyAccess, MailNickname: "emergency-access", Description: "Break-glass accounts"})
	t.groups[sales].groups = append(t.groups[sales].groups, emea)

	type known struct {
		upn, name, dept string
		methods         []Method
		admin           bool
	}
	phone := func(n string) Method {
		return Method{Type: MethodPhone, PhoneType: PhoneMobile, PhoneNumber: n, SMSSignInState: "notEnabled"}
	}
	wellKnown := []known{
		{AdeleUPN, "Adele Vance", "Retail", []Method{phone("+1 4255550101"),
			{Type: MethodAuthenticator, DisplayName: "iPhone 15", DeviceTag: "SoftwareTokenActivated", PhoneAppVersion: "6.8.7"},
			{Type: MethodFido2, DisplayName: "YubiKey 5C", Model: "YubiKey 5 Series with NFC"}}, false},
		{MeganUPN, "Megan Bowen", "Marketing", []Method{phone("+1 4255550102"),
			{Type: MethodAuthenticator, DisplayName: "Pixel 8", DeviceTag: "SoftwareTokenActivated", PhoneAppVersion: "6.2406.4243"}}, false},
		{AlexUPN, "Alex Wilber", "Sales", []Method{phone("+1 4255550103"),
			{Type: MethodPhone, PhoneType: PhoneOffice, PhoneNumber: "+1 4255550199"},
			{Type: MethodSoftwareOath}, {Type: MethodEmail, EmailAddress: "alex.private@example.org"}}, false},
		{DiegoUPN, "Diego Siciliani", "Finance", nil, false},
	}
	for _, k := range wellKnown {
		first, last, _ := strings.Cut(k.name, " ")
		i := mustUser(User{UserPrincipalName: k.upn, DisplayName: k.name, GivenName: first, Surname: last, Mail: k.upn,
			Department: k.dept, UserType: Member, AccountEnabled: true, Admin: k.admin, CreatedDateTime: created()})
		for _, m := range k.methods {
			m.Created = now.Add(-time.Duration(30+r.IntN(300)) * day)
			mustMethod(i, m)
		}
		t.groups[all].users = append(t.groups[all].users, i)
		switch k.dept {
		case "Sales":
			t.groups[emea].users = append(t.groups[emea].users, i)
		case "Finance":
			t.groups[finance].users = append(t.groups[finance].users, i)
		}
	}
	bg := mustUser(User{UserPrincipalName: BreakGlassUPN, DisplayName: "Emergency Access 1", UserType: Member,
		AccountEnabled: true, Admin: true, CreatedDateTime: now.Add(-800 * day)})
	mustMethod(bg, Method{Type: MethodFido2, DisplayName: "Break-glass key", Model: "YubiKey 5 FIPS", Created: now.Add(-800 * day)})
	t.groups[emergency].users = append(t.groups[emergency].users, bg)

	for n := len(t.users); n < o.Users; n++ {
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		local := strings.ToLower(localPart.Replace(first + "." + last))
		u := User{DisplayName: first + " " + last, GivenName: first, Surname: last, UserType: Member,
			AccountEnabled: r.IntN(100) >= 3, CreatedDateTime: created(), Department: departments[r.IntN(len(departments))]}
		guest := r.IntN(100) < 10
		if guest {
			partner := []string{"fabrikam.com", "northwind.example", "adatum.com", "litware.example"}[r.IntN(4)]
			u.Mail = fmt.Sprintf("%s%d@%s", local, n, partner)
			u.UserPrincipalName = strings.ReplaceAll(u.Mail, "@", "_") + "#EXT#@" + t.initialDomain
			u.UserType, u.Department = Guest, ""
		} else {
			u.UserPrincipalName = fmt.Sprintf("%s%d@%s", local, n, t.domain)
			u.Mail = u.UserPrincipalName
			u.Admin = r.IntN(200) == 0
		}
		i := mustUser(u)
		at := func() time.Time { return now.Add(-time.Duration(r.IntN(400)) * day) }
		switch p := r.IntN(100); {
		case p < 20 || (guest && p < 60): // nothing but a password (guests register at home)
		case p < 62:
			mustMethod(i, Method{Type: MethodAuthenticator, DisplayName: []string{"iPhone", "Galaxy S24", "Pixel 8"}[r.IntN(3)], DeviceTag: "SoftwareTokenActivated", Created: at()})
			mustMethod(i, Method{Type: MethodPhone, PhoneType: PhoneMobile, PhoneNumber: fmt.Sprintf("+31 6%08d", r.IntN(100000000)), Created: at()})
		case p < 77:
			mustMethod(i, Method{Type: MethodPhone, PhoneType: PhoneMobile, PhoneNumber: fmt.Sprintf("+1 425%07d", r.IntN(10000000)), Created: at()})
		case p < 85:
			mustMethod(i, Method{Type: MethodAuthenticator, DisplayName: "iPhone", DeviceTag: "SoftwareTokenActivated", Created: at()})
			mustMethod(i, Method{Type: MethodFido2, DisplayName: "Security key", Model: "YubiKey 5 Series", Created: at()})
		case p < 92:
			mustMethod(i, Method{Type: MethodWindowsHello, DisplayName: fmt.Sprintf("LAPTOP-%04d", r.IntN(10000)), Created: at()})
			mustMethod(i, Method{Type: MethodAuthenticator, DisplayName: "Pixel 8", DeviceTag: "SoftwareTokenActivated", Created: at()})
		case p < 95:
			mustMethod(i, Method{Type: MethodSoftwareOath, Created: at()})
		case p < 96:
			// A hardware OATH token, as one in a hundred people carry (no phone at work);
			// its serial comes from the user's number so the draws stay as they were.
			mustMethod(i, Method{Type: MethodHardwareOath, DisplayName: first + "'s token", SerialNumber: fmt.Sprintf("TOTP%06d", n),
				Manufacturer: "Contoso", Model: "Hardware Token 1000", Created: at()})
		default:
			mustMethod(i, Method{Type: MethodEmail, EmailAddress: fmt.Sprintf("%s@example.org", local), Created: at()})
		}
		if guest || !u.AccountEnabled {
			continue
		}
		t.groups[all].users = append(t.groups[all].users, i)
		switch u.Department {
		case "Sales":
			if r.IntN(3) == 0 {
				t.groups[emea].users = append(t.groups[emea].users, i)
			} else {
				t.groups[sales].users = append(t.groups[sales].users, i)
			}
		case "Finance":
			if r.IntN(4) == 0 {
				t.groups[finance].users = append(t.groups[finance].users, i)
			}
		}
	}
	t.now = func() time.Time { return time.Now().UTC() }
	return t
}
