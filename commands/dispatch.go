package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Summarizer posts the enrollment summary to every platform's channel now.
type Summarizer interface {
	Post(ctx context.Context) error
}

// SummarizerFunc lets a function be a Summarizer.
type SummarizerFunc func(ctx context.Context) error

// Post calls f.
func (f SummarizerFunc) Post(ctx context.Context) error { return f(ctx) }

// Options configure a Dispatcher. Service is required: without it only help works.
type Options struct {
	Service *approvals.Service
	Status  StatusSource // nil: status answers that it is not configured
	Summary Summarizer   // nil: summary answers that it is not configured
	Clock   approvals.Clock
	Logger  *slog.Logger
	// HelpURL, when set, is named at the foot of the help (an internal runbook, say).
	HelpURL string
	// StepUp issues the sign-in links of approvals that need step-up (Policy.StepUp); nil
	// when the policy names no kind.
	StepUp StepUp
}

// Dispatcher turns verified chat events into calls to the approvals core and the
// read-only handlers, and answers with neutral messages. Every adapter shares one; it is
// safe for concurrent use.
//
// Every command but help needs an mfabot admin (approvals.Service.CheckAdmin); approve and
// deny need an approver, which the service checks itself and which implies admin, so that
// the refusal names the approvers. The actor is ev.Actor, verified by the adapter, never
// anything in the text.
type Dispatcher struct {
	o     Options
	cards Cards
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(o Options) *Dispatcher {
	if o.Clock == nil {
		o.Clock = approvals.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{o: o}
	if o.Service != nil {
		d.cards.Policy = o.Service.Policy()
	}
	return d
}

// Log attribute keys.
const (
	logActor    = approvals.LogActor
	logCommand  = "command"
	logRequest  = approvals.LogRequestID
	logOutcome  = "outcome"
	logRef      = "ref"
	logTarget   = "target"
	logReason   = "reason"
	logButton   = "button"
	logDuration = "duration_ms"
)

// Handle handles one event and answers it. It never panics and never shows an internal
// error's details in chat: those are logged under a reference that the reply names. Every
// command is logged with the actor, its name and its outcome.
func (d *Dispatcher) Handle(ctx context.Context, ev bot.Event) (resp bot.Response) {
	start := time.Now()
	log := d.o.Logger.With(logActor, ev.Actor.Key(), logButton, ev.Button)
	cmd := Command{}
	defer func() {
		if p := recover(); p != nil {
			ref := newRef()
			log.ErrorContext(ctx, "panic handling command", logCommand, cmd.Name, logRef, ref, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = bot.Response{Reply: &bot.Message{Title: "Something went wrong", Tone: bot.ToneBad, Text: "internal error (ref " + ref + ")"}}
		}
	}()
	cmd, err := Parse(withReason(ev.Text, ev.Reason))
	if err != nil {
		log.InfoContext(ctx, "command", logOutcome, "usage", "text", shorten(ev.Text, 200), "err", approvals.ErrorMessage(err))
		return d.fail(ctx, log, err, ev.Actor, "")
	}
	log = log.With(logCommand, cmd.Name)
	if cmd.Request != "" {
		log = log.With(logRequest, cmd.Request)
	}
	if t := firstNonEmpty(cmd.User, cmd.Group); t != "" {
		log = log.With(logTarget, t)
	}
	if cmd.Reason != "" {
		log = log.With(logReason, cmd.Reason)
	}
	resp, err = d.run(ctx, log, ev, cmd)
	elapsed := time.Since(start).Milliseconds()
	if err != nil {
		code := approvals.ErrorCode(err)
		level := slog.LevelInfo
		if code == approvals.EUPSTREAM {
			level = slog.LevelWarn
		}
		if code != approvals.EINTERNAL {
			log.Log(ctx, level, "command", logOutcome, code, logDuration, elapsed, approvals.LogErr, err)
		}
		refusal := d.fail(ctx, log, err, ev.Actor, cmd.Name)
		refusal.Card = resp.Card
		return refusal
	}
	log.InfoContext(ctx, "command", logOutcome, "ok", logDuration, elapsed)
	return resp
}

func (d *Dispatcher) run(ctx context.Context, log *slog.Logger, ev bot.Event, cmd Command) (bot.Response, error) {
	svc := d.o.Service
	if cmd.Name == CmdHelp {
		m := HelpMessage(cmd.Topic)
		if d.o.HelpURL != "" {
			m.Footer += " More: " + d.o.HelpURL
		}
		return bot.Response{Reply: &m}, nil
	}
	if svc == nil {
		return bot.Response{}, approvals.Errorf(approvals.EINTERNAL, "dispatcher has no approvals service")
	}
	if cmd.Name != CmdApprove && cmd.Name != CmdDeny {
		if err := svc.CheckAdmin(ctx, ev.Actor); err != nil {
			return bot.Response{}, err
		}
	}
	now := d.o.Clock.Now()
	switch cmd.Name {
	case CmdStatus:
		return d.status(ctx, log, cmd, now)
	case CmdReset, CmdRevoke, CmdRevokeGroup, CmdEnforce, CmdNudge:
		in := approvals.NewRequest{Reason: cmd.Reason, MFAState: cmd.State, Confirm: cmd.Confirm}
		switch cmd.Name {
		case CmdReset:
			in.Kind, in.Target = approvals.KindReset, cmd.User
			only, err := approvals.SelectionTypes(cmd.Only)
			if err != nil {
				return bot.Response{}, err
			}
			in.Only, in.TAP = only, cmd.TAP
		case CmdRevoke:
			in.Kind, in.Target = approvals.KindRevoke, cmd.User
		case CmdRevokeGroup, CmdNudge:
			in = campaignRequest(cmd)
		case CmdEnforce:
			in.Kind, in.Target = approvals.KindEnforce, cmd.User
		}
		r, err := svc.Create(ctx, ev.Actor, in)
		if err != nil {
			return bot.Response{}, err
		}
		m := bot.Message{
			Title: fmt.Sprintf("Request %s is waiting for approval", r.ID),
			Tone:  bot.TonePending,
			Text: fmt.Sprintf("Request %s for %s is waiting for approval in the approvals channel (expires %s). %s "+
				"Another admin must approve it; you will be told when it is decided.",
				r.ID, r.Target.Name, stamp(r.ExpiresAt, now), preview(r)),
		}
		card := d.cards.Request(r, nil, now)
		return bot.Response{Reply: &m, Card: &card}, nil
	case CmdResetBulk:
		return d.resetBulk(ctx, log, ev, cmd, now)
	case CmdApprove, CmdDeny, CmdCancel:
		var r *approvals.Request
		var err error
		switch cmd.Name {
		case CmdApprove:
			r, err = svc.Approve(ctx, ev.Actor, cmd.Request)
		case CmdDeny:
			r, err = svc.Deny(ctx, ev.Actor, cmd.Request, cmd.Reason)
		case CmdCancel:
			r, err = svc.Cancel(ctx, ev.Actor, cmd.Request, cmd.Reason)
		}
		if cmd.Name == CmdApprove && errors.Is(err, approvals.ErrStepUpRequired) {
			return d.stepUp(ctx, ev.Actor, cmd.Request)
		}
		if err != nil {
			// The clicker sees the card as it really stands next to the refusal, so a
			// stale card they pressed is brought up to date.
			resp := bot.Response{}
			if cur, lerr := svc.Request(ctx, cmd.Request); lerr == nil {
				card := d.Card(ctx, cur)
				resp.Card = &card
			}
			return resp, err
		}
		card := d.Card(ctx, r)
		var m bot.Message
		switch cmd.Name {
		case CmdApprove:
			m = bot.Message{Title: "Approved " + r.ID, Tone: bot.ToneGood, Text: d.approvedText(r)}
		case CmdDeny:
			m = bot.Message{Title: "Denied " + r.ID, Tone: bot.ToneBad, Text: "Nothing was changed. The requester is told, with your reason."}
		default:
			m = bot.Message{Title: "Cancelled " + r.ID, Text: "Nothing was changed."}
		}
		return bot.Response{Reply: &m, Card: &card}, nil
	case CmdShow:
		r, err := svc.Request(ctx, cmd.Request)
		if err != nil {
			return bot.Response{}, err
		}
		card := d.Card(ctx, r)
		return bot.Response{Reply: &card, Card: &card}, nil
	case CmdPending:
		rs, err := svc.Open(ctx)
		if err != nil {
			return bot.Response{}, err
		}
		m := PendingMessage(rs, now)
		return bot.Response{Reply: &m}, nil
	case CmdSummary:
		if d.o.Summary == nil {
			return bot.Response{}, approvals.Errorf(approvals.EINVALID, "the enrollment summary is not configured on this mfabot")
		}
		if cmd.Group != "" {
			return d.groupSummary(ctx, cmd.Group)
		}
		if err := d.o.Summary.Post(ctx); err != nil {
			return bot.Response{}, err
		}
		m := bot.Message{Title: "Enrollment summary posted", Tone: bot.ToneGood, Text: "Posted the enrollment summary to the approvals channel."}
		return bot.Response{Reply: &m}, nil
	}
	return bot.Response{}, approvals.Errorf(approvals.EINTERNAL, "command %q has no handler", cmd.Name)
}

// status answers status: the parts Graph could not give are noted, not fatal; a part that
// failed internally is logged under a reference the card names.
func (d *Dispatcher) status(ctx context.Context, log *slog.Logger, cmd Command, now time.Time) (bot.Response, error) {
	if d.o.Status == nil {
		return bot.Response{}, approvals.Errorf(approvals.EINVALID, "status is not configured on this mfabot")
	}
	s, err := LoadStatus(ctx, d.o.Status, cmd.User, d.cards.Policy.EnforceEnabled)
	if err != nil {
		return bot.Response{}, err
	}
	for _, part := range []struct {
		what string
		err  error
		note *string
	}{{"methods", s.MethodsErr, &s.MethodsNote}, {"registration", s.RegistrationErr, &s.RegistrationNote}, {"per-user MFA state", s.MFAStateErr, &s.MFAStateNote}} {
		switch approvals.ErrorCode(part.err) {
		case "":
		case approvals.EINTERNAL:
			ref := newRef()
			log.ErrorContext(ctx, "status part failed", "part", part.what, logRef, ref, "err", part.err)
			*part.note = "internal error (ref " + ref + ")"
		default:
			log.InfoContext(ctx, "status part unavailable", "part", part.what, "err", part.err)
		}
	}
	m := StatusCard(s, now)
	return bot.Response{Reply: &m}, nil
}

// withReason adds the reason typed into a button's reason prompt to the button's command
// as one quoted stretch, so that it is taken as typed (a reason that starts with "--" or a
// quote is no option or argument), with the parser's limits.
func withReason(text, reason string) string {
	reason = strings.Join(strings.Fields(reason), " ")
	if reason == "" {
		return text
	}
	return text + " " + quote(escapeMarkup(reason))
}

// preview says in a sentence what the approver will be shown.
func preview(r *approvals.Request) string {
	switch r.Kind {
	case approvals.KindReset:
		if n := len(r.Preview.Methods); n > 0 {
			return fmt.Sprintf("It deletes %d method(s) and revokes their sessions.", n) + tapPreview(r)
		}
		return "There is no method to delete; it revokes their sessions." + tapPreview(r)
	case approvals.KindResetBulk:
		return bulkPreviewText(r)
	case approvals.KindRevoke:
		return "It revokes all their sign-in sessions."
	case approvals.KindRevokeGroup:
		if r.Preview.Campaign != nil {
			return campaignPreview(r)
		}
		return fmt.Sprintf("It revokes the sessions of %s members.", bot.Thousands(r.Preview.MemberCount))
	case approvals.KindNudge:
		return campaignPreview(r)
	case approvals.KindEnforce:
		s := fmt.Sprintf("It sets per-user MFA from %s to %s.", orNone(r.Preview.FromState), r.Preview.ToState)
		if b := r.Preview.Becomes; b != "" && b != r.Preview.ToState {
			s += fmt.Sprintf(" Entra will show %s: they already have methods registered.", b)
		}
		return s
	}
	return ""
}

func (d *Dispatcher) approvedText(r *approvals.Request) string {
	if r.State == approvals.StatePending {
		req := d.cards.required()
		return fmt.Sprintf("%d of %d approvals so far; it runs once %d more approve.", len(r.Approvals), req, max(req-len(r.Approvals), 1))
	}
	return "It runs now; the card in the approvals channel shows the progress."
}

// Card is the card of a request as it stands now, with its items (a single-user
// request's every item, a bulk request's failed ones), under the service's policy. The
// bot.Notifier takes it to keep every posted card current.
func (d *Dispatcher) Card(ctx context.Context, r *approvals.Request) bot.Message {
	var items []approvals.Item
	if d.o.Service != nil && r.Total > 0 {
		var err error
		switch {
		case !r.Kind.Bulk():
			items, err = d.o.Service.Items(ctx, r.ID, "", 0)
		case r.Preview.Campaign != nil:
			items, err = d.campaignItems(ctx, r)
		case r.Failed > 0:
			items, err = d.o.Service.Items(ctx, r.ID, approvals.ItemFailed, maxListed)
		}
		if err != nil {
			d.o.Logger.WarnContext(ctx, "load items", logRequest, r.ID, approvals.LogErr, err)
		}
	}
	return d.cards.Request(r, items, d.o.Clock.Now())
}

// fail turns an error into a reply for the actor alone. Internal errors are logged in
// full under a reference; the chat sees only the reference.
func (d *Dispatcher) fail(ctx context.Context, log *slog.Logger, err error, actor approvals.Actor, cmd string) bot.Response {
	code := approvals.ErrorCode(err)
	m := bot.Message{Tone: bot.ToneBad, Text: errorText(err, actor, cmd, d.o.Clock.Now())}
	switch code {
	case approvals.EINVALID:
		m.Title = "That did not work"
	case approvals.EFORBIDDEN:
		m.Title = "Not allowed"
	case approvals.ECONFLICT:
		m.Title = "Not possible now"
		m.Tone = bot.ToneWarning
	case approvals.ENOTFOUND:
		m.Title = "Not found"
	case approvals.EUPSTREAM:
		m.Title = "Microsoft Graph or the chat platform refused"
	default:
		ref := newRef()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			log.WarnContext(ctx, "command", logOutcome, "cancelled", logRef, ref, approvals.LogErr, err)
		} else {
			log.ErrorContext(ctx, "command", logOutcome, approvals.EINTERNAL, logRef, ref, approvals.LogErr, err)
		}
		m.Title = "Something went wrong"
		m.Text = "internal error (ref " + ref + ")"
	}
	return bot.Response{Reply: &m}
}

func newRef() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
