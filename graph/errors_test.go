package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/approvals"
)

// TestMapError: each kind of Graph failure becomes one approvals.Error with a specific,
// chat-safe message and a kind callers can test with errors.Is; the cause is kept.
func TestMapError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		op      op
		subject string
		err     error
		code    string
		kind    error
		msg     string
	}{
		{"NotFoundUser", opReadUser, "ann@contoso.com", failure{status: 404, code: "Request_ResourceNotFound"},
			approvals.ENOTFOUND, ErrNotFound, "no user ann@contoso.com in the directory"},
		{"NotFoundByCodeOnly", opReadGroup, "Sales", failure{status: 400, code: "Request_ResourceNotFound"},
			approvals.ENOTFOUND, ErrNotFound, "no group Sales in the directory"},
		{"DeniedNamesPermission", opRevoke, "u", failure{status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."},
			approvals.EUPSTREAM, ErrAccessDenied, "Graph denied access: mfabot needs the application permission User.RevokeSessions.All with admin consent"},
		{"DeniedMFA", opWriteMFA, "u", failure{status: 403, code: "accessDenied"},
			approvals.EUPSTREAM, ErrAccessDenied, "Policy.ReadWrite.AuthenticationMethod"},
		{"Licence", opRegistration, "u", failure{status: 403, code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant"},
			approvals.EUPSTREAM, ErrLicence, "the registration report needs Microsoft Entra ID P1 or P2"},
		{"Throttled", opRevoke, "u", failure{status: 429, code: "TooManyRequests", retryAfter: 2500 * time.Millisecond},
			approvals.EUPSTREAM, ErrThrottled, "Graph is throttling mfabot; retry after 3s"},
		{"Unavailable", opListMethods, "u", failure{status: 503, code: "serviceNotAvailable"},
			approvals.EUPSTREAM, ErrUnavailable, "Microsoft Graph is unavailable (HTTP 503); try again later"},
		{"Unauthorized", opReadUser, "u", failure{status: 401, code: "InvalidAuthenticationToken"},
			approvals.EUPSTREAM, ErrCredentials, "Graph rejected mfabot's token"},
		{"BadRequestKeepsGraphsWords", opDeleteMethod, "phone", failure{status: 400, code: "badRequest", message: "Cannot delete the default\n method."},
			approvals.EUPSTREAM, nil, "Graph refused to delete authentication method: Cannot delete the default method."},
		{"Unreachable", opReadUser, "u", &net.OpError{Op: "dial", Err: errors.New("connection refused")},
			approvals.EUPSTREAM, ErrUnavailable, "Microsoft Graph is unreachable"},
		{"Deadline", opReadUser, "u", fmt.Errorf("get: %w", context.DeadlineExceeded),
			approvals.EUPSTREAM, ErrUnavailable, "did not answer in time"},
		{"AlreadyMapped", opReadUser, "u", approvals.Errorf(approvals.EINVALID, "kept as is"),
			approvals.EINVALID, nil, "kept as is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapError(tt.op, tt.subject, tt.err)
			if got := approvals.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Fatalf("%v is not %v", err, tt.kind)
			}
			if msg := approvals.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Fatalf("message = %q, want it to contain %q", msg, tt.msg)
			}
			if !errors.Is(err, tt.err) && !errors.As(err, new(failure)) {
				t.Fatalf("cause lost: %v", err)
			}
		})
	}
	if err := mapError(opReadUser, "u", context.Canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancellation must stay a cancellation: %v", err)
	}
	if !IsLicenceError(mapError(opRegistration, "", failure{status: 403, code: codeNonPremium})) || IsLicenceError(errors.New("x")) {
		t.Fatal("IsLicenceError")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"5", 5 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"Sun, 22 Nov 2026 09:00:30 GMT", 30 * time.Second},
		{"", 0},
		{"-3", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"+1 2065555555":  "+1 ••• 5555",
		"+44 7700900123": "+44 ••• 0123",
		"(206) 555-0101": "••• 0101",
		"123":            "123",
	}
	for in, want := range tests {
		if got := maskPhone(in); got != want {
			t.Errorf("maskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuoteEscapesODataStrings(t *testing.T) {
	t.Parallel()
	if got := quote("O'Neil's team"); got != "'O''Neil''s team'" {
		t.Fatalf("quote = %s", got)
	}
	if got := pathEscape("ann_fabrikam.com#EXT#@contoso.onmicrosoft.com"); got != "ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com" {
		t.Fatalf("pathEscape = %s", got)
	}
}

func TestValidateBaseURL(t *testing.T) {
	t.Parallel()
	cred := staticCred{}
	tests := []struct {
		base string
		ok   bool
	}{
		{"", true},
		{"https://graph.microsoft.us", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080/", true},
		{"http://graph.example.com", false},
		{"ftp://graph.example.com", false},
		{"graph.microsoft.com", false},
	}
	for _, tt := range tests {
		err := Config{Credential: cred, BaseURL: tt.base}.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", tt.base, err, tt.ok)
		}
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("a config without a credential validated")
	}
}

// staticCred is a credential for tests that never send a request.
type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestTransient: throttling, outages, timeouts and lost connections are worth repeating;
// every refusal (a 4xx other than 429, the default-method rule included) is not, nor is
// the caller's own cancellation.
func TestTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		transient bool
	}{
		{"Throttled429", failure{status: 429, code: "TooManyRequests"}, true},
		{"Unavailable503", failure{status: 503, code: "serviceNotAvailable"}, true},
		{"GatewayTimeout504", failure{status: 504, code: "UnknownError"}, true},
		{"Internal500", failure{status: 500, code: "generalException"}, true},
		{"BadGateway502", failure{status: 502}, true},
		{"Deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{"NetTimeout", &net.OpError{Op: "read", Err: timeoutErr{}}, true},
		{"ConnectionRefused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"BadRequest400", failure{status: 400, code: "badRequest", message: "Invalid value."}, false},
		{"DefaultMethod400", failure{status: 400, code: "badRequest", message: "Cannot delete default method with other methods configured. Please change default method before deletion."}, false},
		{"Unauthorized401", failure{status: 401, code: "InvalidAuthenticationToken"}, false},
		{"Forbidden403", failure{status: 403, code: "Authorization_RequestDenied"}, false},
		{"NotFound404", failure{status: 404, code: "Request_ResourceNotFound"}, false},
		{"MethodNotAllowed405", failure{status: 405, code: "Request_BadRequest"}, false},
		{"RequestTimeout408", failure{status: 408}, false},
		{"Conflict409", failure{status: 409, code: "Conflict"}, false},
		{"PreconditionFailed412", failure{status: 412}, false},
		{"Licence403", failure{status: 403, code: codeNonPremium}, false},
		{"Canceled", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapError(opDeleteMethod, "u", tt.err)
			if got := approvals.Transient(err); got != tt.transient {
				t.Fatalf("Transient(%v) = %v, want %v", err, got, tt.transient)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestRetriableStatuses: the middleware repeats 429, 503 and 504 for any request, 500
// and 502 for requests safe to repeat, and never a 4xx other than 429.
func TestRetriableStatuses(t *testing.T) {
	t.Parallel()
	for status := 400; status < 600; status++ {
		for _, method := range []string{"GET", "DELETE", "POST", "PATCH"} {
			want := status == 429 || status == 503 || status == 504 ||
				((status == 500 || status == 502) && (method == "GET" || method == "DELETE"))
			if got := retriableFor(method, status); got != want {
				t.Errorf("retriableFor(%s, %d) = %v, want %v", method, status, got, want)
			}
		}
	}
}

// TestDefaultMethodRefusal: Graph's sentence for deleting the default method, in any case
// or spacing, inside a 400 and nothing else, is approvals.ErrDefaultMethod.
func TestDefaultMethodRefusal(t *testing.T) {
	t.Parallel()
	const graphSays = "Cannot delete default method with other methods configured. Please change default method before deletion."
	tests := []struct {
		name   string
		f      failure
		isRule bool
	}{
		{"OKGraphsWords", failure{status: 400, code: "badRequest", message: graphSays}, true},
		{"OKCaseAndSpacing", failure{status: 400, code: "BadRequest", message: "cannot  delete\nDEFAULT method with other methods configured."}, true},
		{"ErrOtherDefaultMessage", failure{status: 400, code: "badRequest", message: "Invalid default method value 'sms2'."}, false},
		{"ErrMentionsDefaultMethod", failure{status: 400, code: "badRequest", message: "The default method could not be read."}, false},
		{"ErrNot400", failure{status: 409, code: "conflict", message: graphSays}, false},
		{"ErrNoMessage", failure{status: 400, code: "badRequest"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapError(opDeleteMethod, "phone", tt.f)
			if got := errors.Is(err, approvals.ErrDefaultMethod); got != tt.isRule {
				t.Fatalf("errors.Is(%v, ErrDefaultMethod) = %v, want %v", err, got, tt.isRule)
			}
			if approvals.Transient(err) {
				t.Fatalf("%v is transient", err)
			}
			if tt.isRule && !strings.Contains(approvals.ErrorMessage(err), "default sign-in method") {
				t.Fatalf("message %q", approvals.ErrorMessage(err))
			}
		})
	}
}
