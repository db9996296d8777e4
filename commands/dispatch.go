package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Summarizer posts the enrollment summary to every platform's channel now.
type Summarizer interface {
	Post(ctx context.Context) error
}

// Options configure a Dispatcher.
type Options struct {
	Service *approvals.Service
	Status  Directory
	Summary Summarizer // nil: summary answers that it is not configured
	Clock   approvals.Clock
	Logger  *slog.Logger
}

// Dispatcher turns verified chat events into calls to the approvals core and the
// read-only handlers, and answers with neutral messages. Every adapter shares it.
type Dispatcher struct {
	o Options
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(o Options) *Dispatcher {
	if o.Clock == nil {
		o.Clock = approvals.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{o: o}
}

// Log attribute keys.
const (
	logActor   = "actor"
	logCommand = "command"
	logRequest = "request_id"
	logOutcome = "outcome"
	logRef     = "ref"
)

// Handle handles one event. It never panics and never shows an internal error's details
// in chat: those are logged under a reference the reply names.
func (d *Dispatcher) Handle(ctx context.Context, ev bot.Event) (resp bot.Response) {
	log := d.o.Logger.With(logActor, ev.Actor.Key())
	defer func() {
		if p := recover(); p != nil {
			ref := newRef()
			log.ErrorContext(ctx, "panic handling command", logRef, ref, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = bot.Response{Reply: &bot.Message{Title: "Something went wrong", Tone: bot.ToneBad, Text: "internal error (ref " + ref + ")"}}
		}
	}()
	cmd, err := Parse(ev.Text)
	if err != nil {
		log.InfoContext(ctx, "command refused", logOutcome, "usage")
		return d.fail(ctx, log, err)
	}
	log = log.With(logCommand, cmd.Name)
	if cmd.Request != "" {
		log = log.With(logRequest, cmd.Request)
	}
	resp, err = d.run(ctx, ev, cmd)
	if err != nil {
		log.InfoContext(ctx, "command refused", logOutcome, approvals.ErrorCode(err), "reason", cmd.Reason)
		resp2 := d.fail(ctx, log, err)
		resp2.Card = resp.Card
		return resp2
	}
	log.InfoContext(ctx, "command handled", logOutcome, "ok", "reason", cmd.Reason)
	return resp
}

func (d *Dispatcher) run(ctx context.Context, ev bot.Event, cmd Command) (bot.Response, error) {
	svc := d.o.Service
	if cmd.Name == CmdHelp {
		m := HelpMessage(cmd.Topic)
		return bot.Response{Reply: &m}, nil
	}
	if err := svc.CheckAdmin(ctx, ev.Actor); err != nil {
		return bot.Response{}, err
	}
	now := d.o.Clock.Now()
	switch cmd.Name {
	case CmdStatus:
		if d.o.Status == nil {
			return bot.Response{}, approvals.Errorf(approvals.EINTERNAL, "status is not wired")
		}
		s, err := LoadStatus(ctx, d.o.Status, cmd.User)
		if err != nil {
			return bot.Response{}, err
		}
		m := StatusCard(s)
		return bot.Response{Reply: &m}, nil
	case CmdReset, CmdRevokeGroup, CmdEnforce:
		in := approvals.NewRequest{Reason: cmd.Reason, MFAState: cmd.State, Confirm: cmd.Confirm}
		switch cmd.Name {
		case CmdReset:
			in.Kind, in.Target = approvals.KindReset, cmd.User
		case CmdRevokeGroup:
			in.Kind, in.Target = approvals.KindRevokeGroup, cmd.Group
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
			Text: fmt.Sprintf("%s. Another admin must approve it in the approvals channel before %s; you will be told when it is decided.",
				requestTitle(r), hhmm(r.ExpiresAt)),
		}
		card := RequestCard(r, nil, now)
		return bot.Response{Reply: &m, Card: &card}, nil
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
		if err != nil {
			// The clicker sees the card as it really stands next to the refusal.
			resp := bot.Response{}
			if cur, lerr := svc.Request(ctx, cmd.Request); lerr == nil {
				card := d.card(ctx, cur, now)
				resp.Card = &card
			}
			return resp, err
		}
		card := d.card(ctx, r, now)
		var m bot.Message
		switch cmd.Name {
		case CmdApprove:
			m = bot.Message{Title: "Approved " + r.ID, Tone: bot.ToneGood, Text: approvedText(r)}
		case CmdDeny:
			m = bot.Message{Title: "Denied " + r.ID, Tone: bot.ToneBad, Text: "The requester is told, with your reason."}
		default:
			m = bot.Message{Title: "Cancelled " + r.ID, Text: "Nothing was changed."}
		}
		return bot.Response{Reply: &m, Card: &card}, nil
	case CmdShow:
		r, err := svc.Request(ctx, cmd.Request)
		if err != nil {
			return bot.Response{}, err
		}
		card := d.card(ctx, r, now)
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
		if err := d.o.Summary.Post(ctx); err != nil {
			return bot.Response{}, err
		}
		m := bot.Message{Title: "Enrollment summary posted", Text: "It is in the approvals channel."}
		return bot.Response{Reply: &m}, nil
	}
	return bot.Response{}, approvals.Errorf(approvals.EINVALID, "unknown command %q", cmd.Name)
}

func approvedText(r *approvals.Request) string {
	if r.State == approvals.StatePending {
		return fmt.Sprintf("%d approval(s) so far; it needs more before it runs.", len(r.Approvals))
	}
	return "It runs now; the card shows the progress."
}

// card is the request's card with its failed items.
func (d *Dispatcher) card(ctx context.Context, r *approvals.Request, now time.Time) bot.Message {
	var failed []approvals.Item
	if r.Failed > 0 {
		failed, _ = d.o.Service.FailedItems(ctx, r.ID, maxListed)
	}
	return RequestCard(r, failed, now)
}

// fail turns an error into a reply for the actor alone. Internal errors are logged in
// full under a reference; the chat sees only the reference.
func (d *Dispatcher) fail(ctx context.Context, log *slog.Logger, err error) bot.Response {
	code := approvals.ErrorCode(err)
	m := bot.Message{Tone: bot.ToneBad, Text: approvals.ErrorMessage(err)}
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
		log.ErrorContext(ctx, "internal error", logRef, ref, "err", err)
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
