package slack

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
)

// maxBodyBytes bounds a request body. An interaction carries the whole message it came
// from (up to 50 blocks of up to 3,000 characters), which stays well below this.
const maxBodyBytes = 1 << 20

// Handler serves POST /slack/commands and POST /slack/interactions. Every request is
// checked against the signing secret (HMAC-SHA256, 5-minute window) before its body is
// parsed; a request that fails gets 401 and nothing else happens. Verified requests are
// acknowledged at once and handled in the background.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+CommandsPath, a.serveCommand)
	mux.HandleFunc("POST "+InteractionsPath, a.serveInteraction)
	return mux
}

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request) {
	form, ok := a.verified(w, r)
	if !ok {
		return
	}
	a.writeAck(w, a.handleCommand(decodeCommand(form)))
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request) {
	form, ok := a.verified(w, r)
	if !ok {
		return
	}
	ic, err := decodeInteraction(form)
	if err != nil {
		a.log.Warn("slack interaction: unreadable payload", approvals.LogErr, err)
		http.Error(w, "unreadable payload", http.StatusBadRequest)
		return
	}
	a.writeAck(w, a.handleInteraction(ic))
}

// decodeCommand reads a slash command from its verified form.
func decodeCommand(form url.Values) slackapi.SlashCommand {
	return slackapi.SlashCommand{
		TeamID:              form.Get("team_id"),
		TeamDomain:          form.Get("team_domain"),
		EnterpriseID:        form.Get("enterprise_id"),
		EnterpriseName:      form.Get("enterprise_name"),
		IsEnterpriseInstall: form.Get("is_enterprise_install") == "true",
		ChannelID:           form.Get("channel_id"),
		ChannelName:         form.Get("channel_name"),
		UserID:              form.Get("user_id"),
		UserName:            form.Get("user_name"),
		Command:             form.Get("command"),
		Text:                form.Get("text"),
		ResponseURL:         form.Get("response_url"),
		TriggerID:           form.Get("trigger_id"),
		APIAppID:            form.Get("api_app_id"),
	}
}

// decodeInteraction reads an interaction from the payload field of its verified form.
func decodeInteraction(form url.Values) (slackapi.InteractionCallback, error) {
	var ic slackapi.InteractionCallback
	err := json.Unmarshal([]byte(form.Get("payload")), &ic)
	return ic, err
}

// verified reads the body within maxBodyBytes, checks its signature and only then parses
// it as a form. On failure it has answered the request.
func (a *Adapter) verified(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	closed := a.bg.Closed()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			a.rejects.Reject(r.Context(), slog.LevelWarn, RejectTooLarge, "slack request refused", slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr))
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		} else {
			a.rejects.Reject(r.Context(), slog.LevelWarn, RejectUnreadable, "slack request refused", slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr), slog.Any(approvals.LogErr, err))
			http.Error(w, "unreadable request", http.StatusBadRequest)
		}
		return nil, false
	}
	if err := verifySignature(a.cfg.SigningSecret, a.cfg.Clock.Now(), r.Header, body); err != nil {
		a.rejects.Reject(r.Context(), slog.LevelWarn, signatureReason(err), "slack request refused", slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr), slog.Any(approvals.LogErr, err))
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return nil, false
	}
	return form, true
}

func (a *Adapter) writeAck(w http.ResponseWriter, ack any) {
	if ack == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(ack); err != nil {
		a.log.Warn("slack ack", approvals.LogErr, err)
	}
}
