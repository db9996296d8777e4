package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfabot/mfabot/approvals"
)

const odataPrefix = "#microsoft.graph."

// deleters call the typed DELETE endpoint of each deletable method type, chosen from the
// item's @odata.type. A type missing here is reported, never guessed.
var deleters = map[string]func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error{
	"phoneAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.PhoneMethods().ByPhoneAuthenticationMethodId(id).Delete(ctx, nil)
	},
	"microsoftAuthenticatorAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.MicrosoftAuthenticatorMethods().ByMicrosoftAuthenticatorAuthenticationMethodId(id).Delete(ctx, nil)
	},
	"softwareOathAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.SoftwareOathMethods().BySoftwareOathAuthenticationMethodId(id).Delete(ctx, nil)
	},
	"emailAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.EmailMethods().ByEmailAuthenticationMethodId(id).Delete(ctx, nil)
	},
	"fido2AuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.Fido2Methods().ByFido2AuthenticationMethodId(id).Delete(ctx, nil)
	},
	"windowsHelloForBusinessAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.WindowsHelloForBusinessMethods().ByWindowsHelloForBusinessAuthenticationMethodId(id).Delete(ctx, nil)
	},
	"temporaryAccessPassAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.TemporaryAccessPassMethods().ByTemporaryAccessPassAuthenticationMethodId(id).Delete(ctx, nil)
	},
	"platformCredentialAuthenticationMethod": func(ctx context.Context, a *users.ItemAuthenticationRequestBuilder, id string) error {
		return a.PlatformCredentialMethods().ByPlatformCredentialAuthenticationMethodId(id).Delete(ctx, nil)
	},
}

// hardwareOathType is the stem of hardware OATH tokens' @odata.type. The v1.0 SDK has no
// model (or typed delete) for them: they are read and deleted through beta
// hardwareOathMethods with raw requests.
const hardwareOathType = "hardwareOathAuthenticationMethod"

// methodTypes maps the @odata.type stems mfabot knows to approvals' method types.
var methodTypes = map[string]string{
	"passwordAuthenticationMethod":                approvals.MethodPassword,
	"phoneAuthenticationMethod":                   approvals.MethodPhone,
	"microsoftAuthenticatorAuthenticationMethod":  approvals.MethodAuthenticator,
	"softwareOathAuthenticationMethod":            approvals.MethodSoftwareOath,
	hardwareOathType:                              approvals.MethodHardwareOath,
	"emailAuthenticationMethod":                   approvals.MethodEmail,
	"fido2AuthenticationMethod":                   approvals.MethodFido2,
	"windowsHelloForBusinessAuthenticationMethod": approvals.MethodWindowsHello,
	"temporaryAccessPassAuthenticationMethod":     approvals.MethodTemporaryAccessPass,
	"platformCredentialAuthenticationMethod":      approvals.MethodPlatformCredential,
}

// shortType turns "#microsoft.graph.fido2AuthenticationMethod" into "fido2": the
// approvals constant for known types, the same stem for types Graph adds later.
func shortType(odata string) string {
	stem := strings.TrimPrefix(odata, odataPrefix)
	if t, ok := methodTypes[stem]; ok {
		return t
	}
	return strings.TrimSuffix(stem, "AuthenticationMethod")
}

// deletable reports whether mfabot knows how to delete methods of this @odata.type stem.
func deletable(stem string) bool {
	_, ok := deleters[stem]
	return ok || stem == hardwareOathType
}

// Methods lists a user's authentication methods in deletion order: everything that is not
// a phone first, then phones alternate, office and mobile last, because Graph refuses to
// delete a phone that is the default method while other methods remain. The password is
// included, not deletable.
//
// Hardware OATH tokens come from beta hardwareOathMethods, merged by id with what v1.0
// lists (which knows their type but not their device): each token is listed once, with
// its name and serial. If beta refuses for good (a national cloud without it, a
// permission), the v1.0 entries stay, deletable, with a Note; if it is unavailable for
// now, Methods fails as for v1.0.
func (c *Client) Methods(ctx context.Context, userID string) ([]approvals.Method, error) {
	resp, err := c.sdk.Users().ByUserId(userID).Authentication().Methods().Get(ctx, nil)
	if err != nil {
		return nil, mapError(opListMethods, userID, err)
	}
	var out []approvals.Method
	for {
		for _, m := range resp.GetValue() {
			out = append(out, toMethod(m))
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			break
		}
		resp, err = c.sdk.Users().ByUserId(userID).Authentication().Methods().WithUrl(*next).Get(ctx, nil)
		if err != nil {
			return nil, mapError(opListMethods, userID, err)
		}
	}
	hw, err := c.hardwareOathMethods(ctx, userID)
	switch {
	case err != nil && approvals.Transient(err):
		return nil, err
	case err != nil:
		c.log.WarnContext(ctx, "hardware OATH tokens not readable, listing what v1.0 says", "user", userID, approvals.LogErr, err)
		for i := range out {
			if out[i].Type == approvals.MethodHardwareOath {
				out[i].Note = "hardware OATH token details unavailable: " + approvals.ErrorMessage(err)
			}
		}
	default:
		out = mergeByID(out, hw)
	}
	sort.SliceStable(out, func(i, j int) bool { return deleteRank(out[i]) < deleteRank(out[j]) })
	return out, nil
}

// mergeByID puts each method of more in place of the entry of list with its id, or
// appends it.
func mergeByID(list, more []approvals.Method) []approvals.Method {
	for _, m := range more {
		i := slices.IndexFunc(list, func(o approvals.Method) bool { return strings.EqualFold(o.ID, m.ID) })
		if i >= 0 {
			list[i] = m
		} else {
			list = append(list, m)
		}
	}
	return list
}

// hardwareOathMethod is one entry of beta hardwareOathMethods.
type hardwareOathMethod struct {
	ID      string     `json:"id"`
	Created *time.Time `json:"createdDateTime"`
	Device  *struct {
		DisplayName  string `json:"displayName"`
		SerialNumber string `json:"serialNumber"`
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
	} `json:"device"`
}

func hardwareOathPath(userID string) string {
	return "/beta" + userPath(userID) + "/authentication/hardwareOathMethods"
}

// hardwareOathMethods reads the user's hardware OATH tokens from beta, every page.
func (c *Client) hardwareOathMethods(ctx context.Context, userID string) ([]approvals.Method, error) {
	var out []approvals.Method
	path := hardwareOathPath(userID)
	for path != "" {
		b, err := c.raw(ctx, abstractions.GET, path, nil)
		if err != nil {
			return nil, mapError(opListMethods, userID, err)
		}
		var page struct {
			Value []hardwareOathMethod `json:"value"`
			Next  string               `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, approvals.WrapError(approvals.EUPSTREAM, err, "Graph listed hardware OATH tokens in an unexpected shape")
		}
		for _, h := range page.Value {
			out = append(out, h.method())
		}
		if path, err = c.sameHostPath(page.Next); err != nil {
			return nil, approvals.WrapError(approvals.EUPSTREAM, err, "Graph's next page of hardware OATH tokens is elsewhere")
		}
	}
	return out, nil
}

// sameHostPath turns an absolute nextLink on this client's Graph into a path for raw; ""
// for no link. A link to another host is refused: the token goes to this Graph only.
func (c *Client) sameHostPath(next string) (string, error) {
	if next == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(next, c.base+"/")
	if !ok {
		return "", fmt.Errorf("nextLink %q is not under %s", next, c.base)
	}
	u, err := url.Parse("/" + rest)
	if err != nil {
		return "", fmt.Errorf("nextLink %q: %w", next, err)
	}
	return u.String(), nil
}

func (h hardwareOathMethod) method() approvals.Method {
	m := approvals.Method{ID: h.ID, ODataType: odataPrefix + hardwareOathType, Type: approvals.MethodHardwareOath, Deletable: true}
	if h.Created != nil {
		m.Created = h.Created.UTC()
	}
	if d := h.Device; d != nil {
		m.Detail = d.DisplayName
		if d.SerialNumber != "" {
			m.Detail = strings.TrimSpace(m.Detail + " (serial " + d.SerialNumber + ")")
		}
	}
	return m
}

// deleteRank orders methods for reading: what a reset deletes first, phones together,
// the password and unknown types last. The executor works out the deletion order itself,
// from the user's default method.
func deleteRank(m approvals.Method) int {
	if m.Type != approvals.MethodPhone {
		if !m.Deletable {
			return 10 // password and unknown types are listed last, never deleted
		}
		return 0
	}
	switch m.PhoneType {
	case "alternateMobile":
		return 1
	case "office":
		return 2
	default:
		return 3
	}
}

func toMethod(m models.AuthenticationMethodable) approvals.Method {
	odata := deref(m.GetOdataType())
	out := approvals.Method{ID: deref(m.GetId()), ODataType: odata, Type: shortType(odata)}
	out.Deletable = deletable(strings.TrimPrefix(odata, odataPrefix))
	var created *time.Time
	switch v := m.(type) {
	case models.PasswordAuthenticationMethodable:
		out.Type, out.Note = approvals.MethodPassword, "password is never removed"
		created = v.GetCreatedDateTime()
	case models.PhoneAuthenticationMethodable:
		out.Detail = maskPhone(deref(v.GetPhoneNumber()))
		if t := v.GetPhoneType(); t != nil {
			out.PhoneType = t.String()
		}
	case models.MicrosoftAuthenticatorAuthenticationMethodable:
		out.Detail = deref(v.GetDisplayName())
		created = v.GetCreatedDateTime()
	case models.Fido2AuthenticationMethodable:
		out.Detail = strings.TrimSpace(deref(v.GetDisplayName()) + " " + paren(deref(v.GetModel())))
		created = v.GetCreatedDateTime()
	case models.WindowsHelloForBusinessAuthenticationMethodable:
		out.Detail = deref(v.GetDisplayName())
		created = v.GetCreatedDateTime()
	case models.EmailAuthenticationMethodable:
		out.Detail = deref(v.GetEmailAddress())
	case models.PlatformCredentialAuthenticationMethodable:
		out.Detail = deref(v.GetDisplayName())
		created = v.GetCreatedDateTime()
	case models.TemporaryAccessPassAuthenticationMethodable:
		created = v.GetCreatedDateTime()
	}
	if created != nil {
		out.Created = created.UTC()
	}
	if out.Type == approvals.MethodPassword {
		out.Deletable = false
	} else if !out.Deletable {
		out.Note = fmt.Sprintf("unknown method type %s: not deleted", odata)
	}
	return out
}

// deleteHardwareOath is the deleter of hardware OATH tokens: beta, through raw.
func (c *Client) deleteHardwareOath(userID string) func(ctx context.Context, _ *users.ItemAuthenticationRequestBuilder, id string) error {
	return func(ctx context.Context, _ *users.ItemAuthenticationRequestBuilder, id string) error {
		_, err := c.raw(ctx, abstractions.DELETE, hardwareOathPath(userID)+"/"+pathEscape(id), nil)
		return err
	}
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// maskPhone keeps a phone number's country code and last four digits: enough for the
// approver to recognise it, not enough to copy it from a channel.
func maskPhone(n string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n)
	if len(digits) < 6 {
		return n
	}
	prefix := ""
	if i := strings.IndexAny(n, " ("); strings.HasPrefix(n, "+") && i > 0 {
		prefix = n[:i] + " "
	}
	return prefix + "••• " + digits[len(digits)-4:]
}

// DeleteMethod deletes one method through its typed endpoint (a hardware OATH token
// through beta hardwareOathMethods, which unassigns it from the user). A method already
// gone counts as deleted; the password and unknown types are refused. It is a single-user
// write: paced, ahead of bulk work.
func (c *Client) DeleteMethod(ctx context.Context, userID string, m approvals.Method) error {
	kind := strings.TrimPrefix(m.ODataType, odataPrefix)
	if kind == "passwordAuthenticationMethod" {
		return approvals.Errorf(approvals.EINVALID, "mfabot never deletes the password")
	}
	del, ok := deleters[kind]
	if kind == hardwareOathType {
		del, ok = c.deleteHardwareOath(userID), true
	}
	if !ok {
		return approvals.Errorf(approvals.EINVALID, "unknown authentication method type %q: not deleted", m.ODataType)
	}
	ctx = withPriority(ctx, c.writes)
	err := del(ctx, c.sdk.Users().ByUserId(userID).Authentication(), m.ID)
	if err != nil {
		err = mapError(opDeleteMethod, shortType(m.ODataType)+" "+m.ID, err)
		if approvals.ErrorCode(err) == approvals.ENOTFOUND {
			return nil
		}
		return fmt.Errorf("delete %s method: %w", shortType(m.ODataType), err)
	}
	return nil
}
