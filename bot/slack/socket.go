package slack

import (
	"context"
	"errors"
	"log/slog"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/mfabot/mfabot/approvals"
)

// RunSocketMode serves Slack over Socket Mode, for installs without a public URL: it
// opens a WebSocket with the app token (apps.connections.open), reconnects as Slack asks,
// and handles slash commands and interactions exactly as the HTTP endpoints do. The socket
// is authenticated by the app token, so there is no signature to check; the workspace and
// app checks still apply. It returns when ctx ends (nil) or the connection fails for good.
func (a *Adapter) RunSocketMode(ctx context.Context) error {
	if a.cfg.AppToken == "" {
		return approvals.Errorf(approvals.EINVALID, "slack config: AppToken (MFABOT_SLACK_APP_TOKEN): required for Socket Mode")
	}
	// Not ready once this returns, whatever state the socket was last in.
	defer a.socketUp.Store(false)
	client := socketmode.New(a.api, socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return upstream("socket mode", err)
		case ev := <-client.Events:
			switch ev.Type {
			case socketmode.EventTypeConnecting:
				a.log.Debug("slack socket mode connecting")
			case socketmode.EventTypeConnected:
				a.socketUp.Store(true)
				a.log.Info("slack socket mode connected")
			case socketmode.EventTypeConnectionError:
				a.socketUp.Store(false)
				a.log.Warn("slack socket mode connection error", "err", ev.Data)
			case socketmode.EventTypeInvalidAuth:
				return approvals.Errorf(approvals.EUPSTREAM, "slack socket mode: the app token was refused")
			case socketmode.EventTypeDisconnect:
				a.socketUp.Store(false)
				a.log.Info("slack socket mode: Slack asked to reconnect")
			}
			if ev.Request == nil || ev.Request.EnvelopeID == "" {
				continue
			}
			ack, err := a.handleSocketEvent(ev)
			if err != nil {
				a.log.Warn("slack socket mode event", "type", ev.Type, approvals.LogErr, err)
			}
			if err := client.AckCtx(ctx, ev.Request.EnvelopeID, ack); err != nil && ctx.Err() == nil {
				a.log.Warn("slack socket mode ack", approvals.LogErr, err)
			}
		}
	}
}

// errUnexpectedData means socketmode gave an event whose Data is not of its type's type.
var errUnexpectedData = errors.New("unexpected socket mode event data")

// handleSocketEvent handles one Socket Mode envelope with the same functions as HTTP and
// returns the ack payload. Events mfabot does not subscribe to are acknowledged empty.
func (a *Adapter) handleSocketEvent(ev socketmode.Event) (any, error) {
	closed := a.bg.Closed()
	switch ev.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := ev.Data.(slackapi.SlashCommand)
		if !ok {
			return nil, errUnexpectedData
		}
		if closed {
			return ephemeralAck(msgShuttingDown), nil
		}
		return a.handleCommand(cmd), nil
	case socketmode.EventTypeInteractive:
		ic, ok := ev.Data.(slackapi.InteractionCallback)
		if !ok {
			return nil, errUnexpectedData
		}
		if closed {
			return nil, nil
		}
		return a.handleInteraction(ic), nil
	}
	return nil, nil
}
