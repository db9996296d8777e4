package graph

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

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

// shortType turns "#microsoft.graph.fido2AuthenticationMethod" into "fido2".
func shortType(odata string) string {
	s := strings.TrimPrefix(odata, odataPrefix)
	return strings.TrimSuffix(s, "AuthenticationMethod")
}

// Methods lists a user's authentication methods in deletion order: everything that is not
// a phone first, then phones alternate, office and mobile last, because Graph refuses to
// delete a phone that is the default method while other methods remain. The password is
// included, not deletable.
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
	sort.SliceStable(out, func(i, j int) bool { return deleteRank(out[i]) < deleteRank(out[j]) })
	return out, nil
}

// deleteRank orders methods for deletion.
func deleteRank(m approvals.Method) int {
	if m.Type != "phone" {
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
	_, out.Deletable = deleters[strings.TrimPrefix(odata, odataPrefix)]
	var created *time.Time
	switch v := m.(type) {
	case models.PasswordAuthenticationMethodable:
		out.Type, out.Note = "password", "password is never removed"
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
	if out.Type == "password" {
		out.Deletable = false
	} else if !out.Deletable {
		out.Note = fmt.Sprintf("unknown method type %s: not deleted", odata)
	}
	return out
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

// DeleteMethod deletes one method through its typed endpoint. A method already gone counts
// as deleted; the password and unknown types are refused.
func (c *Client) DeleteMethod(ctx context.Context, userID string, m approvals.Method) error {
	kind := strings.TrimPrefix(m.ODataType, odataPrefix)
	if kind == "passwordAuthenticationMethod" {
		return approvals.Errorf(approvals.EINVALID, "mfabot never deletes the password")
	}
	del, ok := deleters[kind]
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
