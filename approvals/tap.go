package approvals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// A reset with --tap ends with a Temporary Access Pass: once the user's methods are
// deleted and their sessions revoked, Graph creates a time-limited passcode with which the
// user signs in to register again. The pass is a credential to the user's account, so:
//   - it is asked for, shown on the card and approved like the reset itself, and only
//     when the policy allows it (Policy.TAPEnabled);
//   - it is created only after the whole reset succeeded, for an account that is not
//     protected;
//   - it goes to the requester alone, through a PassHandler (an ephemeral Slack message,
//     a Teams personal message, a file the requester's mfabot CLI writes with mode 0600);
//   - its value is never stored, logged, posted to a channel or put in the audit log: the
//     audit records that a pass was issued, its terms and to whom and how it was handed.
//     A pass that could not be handed over is deleted again.

// Limits of a pass's lifetime, as Graph takes it (lifetimeInMinutes 10 to 43,200).
const (
	DefaultTAPLifetime = time.Hour
	MinTAPLifetime     = 10 * time.Minute
	MaxTAPLifetime     = 30 * 24 * time.Hour
)

// ErrTAPPolicy is in the chain of the error of a pass Graph refused because the tenant's
// Temporary Access Pass policy is off or leaves the user out (the graph package maps
// Graph's answer to it).
var ErrTAPPolicy = errors.New("the Temporary Access Pass policy does not allow a pass for this user")

// TAPPlan is the pass a reset creates after it, as approved.
type TAPPlan struct {
	Lifetime time.Duration `json:"lifetime"`
	OneTime  bool          `json:"one_time"`
	// Holder names the mfabot CLI run that asked for the request and writes its passes
	// to a file: only an executor whose Owner is Holder can hand them over, and other
	// executors hand the request to it (Store.HandOver). "" means the requester's chat
	// platform.
	Holder string `json:"holder,omitempty"`
}

// Terms says what kind of pass it is: "valid 1 h, usable once".
func (t TAPPlan) Terms() string {
	use := "usable several times"
	if t.OneTime {
		use = "usable once"
	}
	return "valid " + lifetimeWords(t.Lifetime) + ", " + use
}

func lifetimeWords(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d d", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}

// Pass is a Temporary Access Pass Graph just created. Value is the secret: it lives only
// in memory on its way to the requester. String, GoString and LogValue leave it out, and
// it is never encoded, so that no log line or stored value can carry it by accident.
type Pass struct {
	UserID   string
	UserName string // UPN
	MethodID string // the temporaryAccessPassAuthenticationMethod's id, to delete it again
	Value    string `json:"-"`
	Start    time.Time
	Lifetime time.Duration
	OneTime  bool
}

// String describes the pass without its value.
func (p Pass) String() string {
	return fmt.Sprintf("Temporary Access Pass for %s (%s)", p.UserName, TAPPlan{Lifetime: p.Lifetime, OneTime: p.OneTime}.Terms())
}

// GoString is String, so that %#v hides the value too.
func (p Pass) GoString() string { return p.String() }

// LogValue hides the value from log/slog.
func (p Pass) LogValue() slog.Value {
	return slog.GroupValue(slog.String(LogUser, p.UserName), slog.Duration("lifetime", p.Lifetime), slog.Bool("one_time", p.OneTime))
}

// Expires is when the pass stops working.
func (p Pass) Expires() time.Time { return p.Start.Add(p.Lifetime) }

// PassHandler hands a pass to the requester of r, where nobody else sees it. It returns
// how it was handed ("an ephemeral Slack message in #approvals"), for the audit. bot and
// the mfabot CLI implement it.
type PassHandler interface {
	HandPass(ctx context.Context, r *Request, p Pass) (how string, err error)
}

// SetPasses sets who hands passes over after construction (the chat side and the
// executor need each other).
func (e *Executor) SetPasses(h PassHandler) { e.o.Passes = h }

// tapMethod is the method a pass is, for deleting one that could not be handed over.
func tapMethod(id string) Method {
	return Method{ID: id, ODataType: "#microsoft.graph.temporaryAccessPassAuthenticationMethod", Type: MethodTemporaryAccessPass, Deletable: true}
}

// issuePass creates the pass r's plan asks for and hands it to the requester. It returns
// what the audit records of it: its terms and to whom and how it went, never its value.
func (e *Executor) issuePass(ctx context.Context, r *Request, userID, userName string) (string, error) {
	plan := r.Preview.TAP
	switch {
	case plan == nil:
		return "", Errorf(EINTERNAL, "request %s asks for no Temporary Access Pass", r.ID)
	case plan.Holder != "" && plan.Holder != e.o.Owner:
		return "", Errorf(EUPSTREAM, "the pass was to be written to a file by the mfabot CLI that asked for it, which stopped waiting; no pass was created")
	case e.o.Passes == nil:
		return "", Errorf(EUPSTREAM, "this mfabot has no private way to the requester; no pass was created")
	}
	p, err := e.dir.CreateTemporaryAccessPass(ctx, userID, plan.Lifetime, plan.OneTime)
	if err != nil {
		return "", err
	}
	if p.UserName == "" {
		p.UserName = userName
	}
	how, err := e.o.Passes.HandPass(ctx, r, p)
	if err == nil {
		return fmt.Sprintf("Temporary Access Pass issued (%s, until %s) and handed to %s by %s",
			plan.Terms(), p.Expires().UTC().Format(time.RFC3339), r.Requester.Key(), how), nil
	}
	// A pass nobody holds must not stay usable: delete it, whatever became of ctx.
	msg := fmt.Sprintf("the pass could not be handed to %s privately (%s), so it was deleted again", r.Requester.Key(), ErrorMessage(err))
	if derr := e.dir.DeleteMethod(context.WithoutCancel(ctx), userID, tapMethod(p.MethodID)); derr != nil {
		e.o.Logger.ErrorContext(ctx, "delete an undelivered Temporary Access Pass", LogRequestID, r.ID, LogUser, userName, LogErr, derr)
		msg = fmt.Sprintf("the pass could not be handed to %s privately (%s), and deleting it failed (%s): delete it in the Entra admin center",
			r.Requester.Key(), ErrorMessage(err), ErrorMessage(derr))
	}
	return "", WrapError(EUPSTREAM, err, "%s", msg)
}

// passAfterReset is the OpTAP item of a single-user reset: the pass, only when every
// step of the reset before it succeeded.
func (e *Executor) passAfterReset(ctx context.Context, r *Request, it *Item) error {
	failed, err := e.store.Items(ctx, r.ID, ItemFailed, 0, 1)
	if err != nil {
		return fmt.Errorf("load failed items: %w", err)
	}
	if len(failed) > 0 {
		return Errorf(ECONFLICT, "no Temporary Access Pass: the reset did not finish (step %d failed)", failed[0].Seq)
	}
	res, err := e.issuePass(ctx, r, it.UserID, it.UserName)
	if err != nil {
		return err
	}
	it.Result = res
	return nil
}

// tapPlan is the plan of a pass under the policy, or the refusal of one.
func (p Policy) tapPlan(holder string) (*TAPPlan, error) {
	if !p.TAPEnabled {
		return nil, Errorf(EFORBIDDEN, "--tap is turned off on this mfabot (policy.tap_enabled): a Temporary Access Pass is a credential to the user's account")
	}
	return &TAPPlan{Lifetime: p.tapLifetime(), OneTime: p.TAPOneTime, Holder: holder}, nil
}

func (p Policy) tapLifetime() time.Duration {
	if p.TAPLifetime <= 0 {
		return DefaultTAPLifetime
	}
	return p.TAPLifetime
}

// validateBulkTAP checks the policy's pass and bulk limits.
func (p Policy) validateBulkTAP() error {
	if d := p.TAPLifetime; d != 0 && (d < MinTAPLifetime || d > MaxTAPLifetime || d%time.Minute != 0) {
		return Errorf(EINVALID, "policy.tap_lifetime (MFABOT_TAP_LIFETIME): a Temporary Access Pass lasts whole minutes from 10m to 30 days (720h), not %s", d)
	}
	if p.BulkMax < 0 {
		return Errorf(EINVALID, "policy.bulk_max (MFABOT_BULK_MAX): must be 1 or more, not %d", p.BulkMax)
	}
	return nil
}

// tapDetail is what the audit's "requested" entry says of a pass.
func tapDetail(r *Request) string {
	t := r.Preview.TAP
	if t == nil {
		return ""
	}
	to := "the requester's chat"
	if t.Holder != "" {
		to = "a file the requester's mfabot CLI writes"
	}
	return fmt.Sprintf("; then a Temporary Access Pass (%s) to %s", t.Terms(), to)
}

// TAPPlanFor is the plan of a pass under the policy for a request whose passes go to
// holder ("" for the requester's chat), or why there can be none.
func (p Policy) TAPPlanFor(holder string) (*TAPPlan, error) { return p.tapPlan(holder) }
