package bot

import (
	"context"
	"log/slog"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// PrivateTeller is a platform that can hand one person a message nobody else sees:
// Slack's ephemeral message (shown to them alone, and kept in no channel's history),
// Teams' personal chat, the console's direct messages. A Temporary Access Pass goes
// through nothing else: a platform without it cannot receive one.
type PrivateTeller interface {
	// TellPrivately sends msg to the actor alone and says how, for the audit ("an
	// ephemeral Slack message in C0APPROVALS").
	TellPrivately(ctx context.Context, to approvals.Actor, msg Message) (how string, err error)
}

// PassWords is the message that hands a pass over; commands.Dispatcher implements it.
type PassWords interface {
	PassMessage(r *approvals.Request, p approvals.Pass) Message
}

// Passes hands Temporary Access Passes to requesters on the chat platform they asked on.
// It implements approvals.PassHandler. It logs who got a pass, never the pass.
type Passes struct {
	platforms []Platform
	words     PassWords
	timeout   time.Duration
	log       *slog.Logger
}

var _ approvals.PassHandler = (*Passes)(nil)

// NewPasses returns a Passes handing passes over through platforms, in words. Each
// platform call is bounded by timeout (default 30 s).
func NewPasses(platforms []Platform, words PassWords, timeout time.Duration, log *slog.Logger) *Passes {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Passes{platforms: platforms, words: words, timeout: timeout, log: log}
}

// HandPass sends p to the requester of r privately on their platform.
func (h *Passes) HandPass(ctx context.Context, r *approvals.Request, p approvals.Pass) (string, error) {
	var to PrivateTeller
	for _, pl := range h.platforms {
		if pl.Name() == r.Requester.Platform {
			to, _ = pl.(PrivateTeller)
			if to == nil {
				return "", approvals.WrapError(approvals.EUPSTREAM, ErrUnreachable, "%s cannot show a message to one person alone", pl.Name())
			}
		}
	}
	if to == nil {
		return "", approvals.WrapError(approvals.EUPSTREAM, ErrUnreachable, "the requester's platform (%s) is not configured on this mfabot", r.Requester.Platform)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	how, err := to.TellPrivately(ctx, r.Requester, h.words.PassMessage(r, p))
	if err != nil {
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "%s", approvals.ErrorMessage(err))
	}
	h.log.InfoContext(ctx, "Temporary Access Pass handed over", approvals.LogRequestID, r.ID, approvals.LogUser, p.UserName,
		approvals.LogActor, r.Requester.Key(), "how", how)
	return how, nil
}
