package approvals

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. A code says what went wrong in terms an adapter can translate (an HTTP
// status, an ephemeral refusal, a retry); the message says it in words safe to show in chat.
const (
	ECONFLICT  = "conflict"  // the request is no longer in the state the caller expected
	EFORBIDDEN = "forbidden" // policy refuses: not an approver, self-approval, protected target
	EINTERNAL  = "internal"  // a bug or an unexpected failure; details only in the log
	EINVALID   = "invalid"   // the input is malformed
	ENOTFOUND  = "not_found" // no such user, group or request
	EUPSTREAM  = "upstream"  // Graph or a chat platform failed, throttled or refused
)

// ErrDefaultMethod is in the chain of a Directory error when Graph refused to delete a
// method because it backs the user's default second factor while other methods remain.
var ErrDefaultMethod = errors.New("it is the user's default sign-in method and other methods remain")

// Kinds of upstream refusal a caller degrades on rather than fails: the directory holds
// one of these in the chain of an EUPSTREAM error (graph maps Graph's answers to them).
var (
	// ErrLicence: the tenant lacks the licence an API needs (the registration report
	// needs Microsoft Entra ID P1 or P2).
	ErrLicence = errors.New("licence required")
	// ErrAccessDenied: the application permission the call needs is not granted.
	ErrAccessDenied = errors.New("access denied")
)

// Transient reports whether err is worth repeating as it is: throttling, an outage, a
// timeout. An error is transient when something in its chain says so through a
// Transient() bool method; a refusal (a 4xx that is not 429) never is, so it is not retried.
func Transient(err error) bool {
	var t interface{ Transient() bool }
	return err != nil && errors.As(err, &t) && t.Transient()
}

// Error is mfabot's application error. Message is written for the person in the chat;
// Err keeps the underlying cause for logs and errors.Is.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted, chat-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error that carries err as its cause.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the chat-safe message of err. Errors that are not *Error, and
// internal ones, yield a generic message: their text may carry details that belong in the
// log only.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// OpenRequestError is in the chain of the ECONFLICT that refuses a request for a target
// that already has one of its kind open (pending, approved or running).
type OpenRequestError struct {
	Open *Request
}

func (e *OpenRequestError) Error() string {
	return fmt.Sprintf("%s %s for %s is already %s", e.Open.ID, e.Open.Kind, e.Open.Target.Name, e.Open.State)
}

// StateError is in the chain of the ECONFLICT that refuses to act on a request that has
// left the state the action needs, or has expired: Request is the request as it stands, so
// that the chat side can say what became of it, by whom and when.
type StateError struct {
	Request *Request
}

func (e *StateError) Error() string {
	return fmt.Sprintf("request %s is %s", e.Request.ID, e.Request.State)
}

// Conflict is the ECONFLICT error for acting on r as it stands. Its message is a plain
// fallback; commands words it from the StateError in its chain.
func Conflict(r *Request) error {
	state := strings.ReplaceAll(string(r.State), "_", " ")
	return &Error{Code: ECONFLICT, Message: fmt.Sprintf("request %s is %s", r.ID, state), Err: &StateError{Request: r}}
}
