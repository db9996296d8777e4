package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mfabot/mfabot/approvals"
)

// Kinds of Graph failure, for errors.Is. Every error the Client returns for a failed Graph
// call is an *approvals.Error whose chain also holds one of these, so that callers can
// degrade (the status command shows the methods without the registration report when the
// tenant has no P1/P2 licence) without parsing messages.
var (
	ErrNotFound     = errors.New("graph: not found")
	ErrAccessDenied = approvals.ErrAccessDenied // the core's, so callers need not import graph
	ErrLicence      = approvals.ErrLicence
	ErrThrottled    = errors.New("graph: throttled")
	ErrUnavailable  = errors.New("graph: unavailable")
	ErrCredentials  = errors.New("graph: credentials rejected")
)

// IsLicenceError reports whether err says the tenant lacks the Microsoft Entra ID P1/P2
// licence an API needs (the registration report does).
func IsLicenceError(err error) bool { return errors.Is(err, ErrLicence) }

// IsAccessDenied reports whether Graph refused the call for want of a permission.
func IsAccessDenied(err error) bool { return errors.Is(err, ErrAccessDenied) }

// Graph error codes mfabot treats specially. Directory APIs use the Request_*/Authorization_*
// family, newer workloads the lower-camel OData ones.
const (
	codeNonPremium = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
)

var (
	notFoundCodes = []string{"Request_ResourceNotFound", "ResourceNotFound", "itemNotFound", "NotFound", "ErrorItemNotFound"}
	deniedCodes   = []string{"Authorization_RequestDenied", "accessDenied", "Forbidden", "AccessDenied"}
)

// op describes one kind of Graph call for error messages: the permission whose absence
// explains a 403, and what "not found" means for it.
type op struct {
	what       string // noun phrase for wrapping and generic messages: "list authentication methods"
	permission string // least-privileged application permission mfabot asks for
	notFound   string // chat message when Graph answers 404, with %s for the subject
	licence    string // chat message when the tenant lacks the licence the API needs
}

var (
	opReadUser         = op{what: "read user", permission: "User.Read.All", notFound: "no user %s in the directory"}
	opListUsers        = op{what: "list users", permission: "User.Read.All"}
	opListMethods      = op{what: "list authentication methods", permission: "UserAuthenticationMethod.ReadWrite.All", notFound: "no user %s in the directory"}
	opDeleteMethod     = op{what: "delete authentication method", permission: "UserAuthenticationMethod.ReadWrite.All", notFound: "authentication method %s is gone"}
	opRegistration     = op{what: "read the registration report", permission: "AuditLog.Read.All", notFound: "no registration details for %s (the report is refreshed every few hours; new users appear later)", licence: "the registration report needs Microsoft Entra ID P1 or P2 in this tenant"}
	opReadMFA          = op{what: "read the per-user MFA state", permission: "Policy.ReadWrite.AuthenticationMethod", notFound: "no user %s in the directory"}
	opWriteMFA         = op{what: "set the per-user MFA state", permission: "Policy.ReadWrite.AuthenticationMethod", notFound: "no user %s in the directory"}
	opReadPreferences  = op{what: "read the default sign-in method", permission: "UserAuthenticationMethod.ReadWrite.All", notFound: "no user %s in the directory"}
	opWritePreferences = op{what: "change the default sign-in method", permission: "UserAuthenticationMethod.ReadWrite.All", notFound: "no user %s in the directory"}
	opRevoke           = op{what: "revoke sign-in sessions", permission: "User.RevokeSessions.All", notFound: "no user %s in the directory"}
	opReadGroup        = op{what: "read group", permission: "GroupMember.Read.All", notFound: "no group %s in the directory"}
	opGroupMembers     = op{what: "list group members", permission: "GroupMember.Read.All", notFound: "no group %s in the directory"}
	opCheckMember      = op{what: "check group membership", permission: "GroupMember.Read.All and User.Read.All", notFound: "no user or group %s in the directory"}
	opServicePrinc     = op{what: "read the app's service principal", permission: "Application.Read.All", notFound: "no service principal %s in the directory"}
	opBatch            = op{what: "send a batch", permission: "User.RevokeSessions.All"}
	maxGraphMessage    = 200
)

// failure is a failed Graph response reduced to what the mapping needs; it comes from the
// SDK's ODataError or from one response of a JSON batch.
type failure struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

func (f failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", f.status)
	if f.code != "" {
		b.WriteString(" " + f.code)
	}
	if f.message != "" {
		b.WriteString(": " + f.message)
	}
	return b.String()
}

// graphError carries a failure's kind (one of the Err* sentinels, approvals.ErrDefaultMethod,
// or nil for a refusal of no particular kind) next to its cause, and for a Graph answer
// the answer itself, which its text shows in full (status, code and message) for logs.
type graphError struct {
	kind  error
	cause error
	f     *failure
}

func (e *graphError) Error() string {
	if e.f != nil {
		return e.f.Error()
	}
	return e.cause.Error()
}

func (e *graphError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

// Transient tells approvals.Transient whether repeating the call may succeed: throttling,
// outages, timeouts and lost connections pass; a refusal (any other 4xx) does not.
func (e *graphError) Transient() bool {
	return e.kind == ErrThrottled || e.kind == ErrUnavailable
}

// mapError turns any error from a Graph call into an *approvals.Error with a chat-safe,
// specific message; subject names the user, group or method the call was about. Errors
// that are already *approvals.Error pass through unchanged: the mapping happens once.
func mapError(o op, subject string, err error) error {
	if err == nil {
		return nil
	}
	var ae *approvals.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", o.what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return approvals.WrapError(approvals.EUPSTREAM, &graphError{kind: ErrUnavailable, cause: err},
			"Microsoft Graph did not answer in time")
	}
	if f, ok := failureOf(err); ok {
		return classify(o, subject, f, err)
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) || isCredentialUnavailable(err) {
		return approvals.WrapError(approvals.EUPSTREAM, &graphError{kind: ErrCredentials, cause: err},
			"mfabot could not get a token from Microsoft Entra ID; check AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential")
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return approvals.WrapError(approvals.EUPSTREAM, &graphError{kind: ErrUnavailable, cause: err},
			"Microsoft Graph is unreachable; try again later")
	}
	return approvals.WrapError(approvals.EINTERNAL, err, "%s", o.what)
}

func isCredentialUnavailable(err error) bool {
	// azidentity's credentialUnavailableError is unexported; its message is stable.
	return strings.Contains(err.Error(), "CredentialUnavailableError") ||
		strings.Contains(err.Error(), "credential unavailable")
}

// failureOf extracts status, code and message from the SDK's error types.
func failureOf(err error) (failure, bool) {
	var f failure
	if errors.As(err, &f) {
		return f, true
	}
	var od *odataerrors.ODataError
	if errors.As(err, &od) {
		f = failure{status: od.ResponseStatusCode, retryAfter: retryAfterOf(od.ResponseHeaders)}
		if main := od.GetErrorEscaped(); main != nil {
			f.code = deref(main.GetCode())
			f.message = deref(main.GetMessage())
		}
		return f, true
	}
	var api *abstractions.ApiError
	if errors.As(err, &api) && api.ResponseStatusCode != 0 {
		return failure{status: api.ResponseStatusCode, retryAfter: retryAfterOf(api.ResponseHeaders)}, true
	}
	return failure{}, false
}

func retryAfterOf(h *abstractions.ResponseHeaders) time.Duration {
	if h == nil {
		return 0
	}
	for _, k := range h.ListKeys() {
		if strings.EqualFold(k, "Retry-After") {
			if v := h.Get(k); len(v) > 0 {
				return parseRetryAfter(v[0], time.Now())
			}
		}
	}
	return 0
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func classify(o op, subject string, f failure, cause error) error {
	wrap := func(kind error, format string, args ...any) error {
		code := approvals.EUPSTREAM
		if kind == ErrNotFound {
			code = approvals.ENOTFOUND
		}
		return approvals.WrapError(code, &graphError{kind: kind, cause: cause, f: &f}, format, args...)
	}
	switch {
	case f.code == codeNonPremium:
		msg := o.licence
		if msg == "" {
			msg = "Graph says this needs Microsoft Entra ID P1 or P2 in this tenant"
		}
		return wrap(ErrLicence, "%s", msg)
	case f.status == http.StatusNotFound || hasCode(f.code, notFoundCodes):
		if o.notFound != "" && subject != "" {
			return wrap(ErrNotFound, o.notFound, subject)
		}
		return wrap(ErrNotFound, "Graph found nothing to %s", o.what)
	case f.status == http.StatusForbidden || hasCode(f.code, deniedCodes):
		if o.permission == "" {
			return wrap(ErrAccessDenied, "Graph denied access to %s; check mfabot's application permissions (mfabot doctor)", o.what)
		}
		return wrap(ErrAccessDenied, "Graph denied access: mfabot needs the application permission %s with admin consent", o.permission)
	case f.status == http.StatusUnauthorized:
		return wrap(ErrCredentials, "Graph rejected mfabot's token; check AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential")
	case f.status == http.StatusBadRequest && isDefaultMethodRefusal(f.message):
		return wrap(approvals.ErrDefaultMethod, "Graph refused to %s: it is the user's default sign-in method and other methods remain", o.what)
	case f.status == http.StatusTooManyRequests:
		secs := int((f.retryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		return wrap(ErrThrottled, "Graph is throttling mfabot; retry after %ds", secs)
	case f.status >= 500:
		return wrap(ErrUnavailable, "Microsoft Graph is unavailable (HTTP %d); try again later", f.status)
	default:
		if msg := chatSafe(f.message); msg != "" {
			return wrap(nil, "Graph refused to %s: %s", o.what, msg)
		}
		return wrap(nil, "Graph refused to %s (HTTP %d)", o.what, f.status)
	}
}

// isDefaultMethodRefusal recognises Graph's 400 to deleting the method behind the user's
// default second factor while other methods remain: "Cannot delete default method with
// other methods configured. Please change default method before deletion." Only that
// sentence counts, in any case and spacing: other 400s that mention a default method
// (an invalid value for it, say) are refusals of another kind.
func isDefaultMethodRefusal(msg string) bool {
	norm := strings.ToLower(strings.Join(strings.Fields(msg), " "))
	return strings.Contains(norm, "cannot delete default method")
}

func hasCode(code string, codes []string) bool {
	for _, c := range codes {
		if strings.EqualFold(code, c) {
			return true
		}
	}
	return false
}

// chatSafe trims Graph's own message to one short line; it never carries secrets, but it
// can be long and may hold markup characters the chat renderers escape anyway.
func chatSafe(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxGraphMessage {
		s = string(r[:maxGraphMessage]) + "…"
	}
	return s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
