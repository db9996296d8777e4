package teams

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

const maxActivityBytes = 1 << 20

// serveMessages is POST /api/messages. The bearer token is verified before the body is
// read; the body is then bound to the token (serviceUrl, channel) and to our tenant.
func (a *Adapter) serveMessages(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if a.bg.Closed() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ti, err := a.auth.validate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		dropBody(w)
		switch {
		case errors.Is(err, errGaveUp):
			// The client hung up while the keys were fetched; nobody reads the answer.
			http.Error(w, "request ended", http.StatusServiceUnavailable)
		case errors.Is(err, errKeysUnavailable):
			a.rejects.Reject(r.Context(), slog.LevelError, RejectKeysUnavailable, "teams request refused: no signing keys", slog.String("remote", r.RemoteAddr))
			http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
		default:
			a.rejects.Reject(r.Context(), slog.LevelWarn, rejectReason(err), "teams request refused", slog.String("remote", r.RemoteAddr), slog.String(approvals.LogErr, err.Error()))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		}
		return
	}
	act, status, err := decodeActivity(w, r.Body)
	if err != nil {
		a.rejects.Reject(r.Context(), slog.LevelWarn, RejectBadActivity, "teams request refused", slog.String("remote", r.RemoteAddr), slog.String(approvals.LogErr, err.Error()))
		http.Error(w, err.Error(), status)
		return
	}
	if err := ti.checkActivity(act); err != nil {
		a.rejects.Reject(r.Context(), slog.LevelWarn, rejectReason(err), "teams request refused", slog.String("remote", r.RemoteAddr), slog.String(approvals.LogErr, err.Error()))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if _, err := normalizeServiceURL(act.ServiceURL); err != nil {
		a.rejects.Reject(r.Context(), slog.LevelWarn, RejectServiceURL, "teams request refused", slog.String("remote", r.RemoteAddr), slog.String(approvals.LogErr, err.Error()))
		http.Error(w, "bad serviceUrl", http.StatusBadRequest)
		return
	}
	if t := act.tenant(); t == "" || !strings.EqualFold(t, a.cfg.TenantID) {
		a.rejects.Reject(r.Context(), slog.LevelWarn, RejectTenant, "teams request from another tenant refused", slog.String("tenant", t))
		http.Error(w, "tenant not served", http.StatusForbidden)
		return
	}
	a.trust.add(act.ServiceURL)

	switch act.Type {
	case typeMessage:
		a.onMessage(act)
		w.WriteHeader(http.StatusOK)
	case typeInvoke:
		a.onInvoke(w, act)
	case typeConversationUpdate, typeInstallationUpdate:
		if act.Type == typeInstallationUpdate && strings.HasPrefix(act.Action, "remove") {
			a.log.Info("mfabot removed from a teams conversation", slog.String("conversation", convID(act)))
		} else {
			a.goBackground(func(ctx context.Context) { a.rememberActivity(ctx, act) })
		}
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// dropBody makes the answer to a request refused before its body was read the last on
// its connection, and the connection close once it is sent, rather than wait for a body
// the client may trickle.
func dropBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// decodeActivity reads a request body as an activity; on failure it returns the status
// to answer with.
func decodeActivity(w http.ResponseWriter, body io.ReadCloser) (*activity, int, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, body, maxActivityBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, errors.New("body too large")
		}
		return nil, http.StatusBadRequest, errors.New("body unreadable")
	}
	act, err := parseActivity(data)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return act, 0, nil
}

// parseActivity decodes an activity; one without a type is none.
func parseActivity(data []byte) (*activity, error) {
	var act activity
	if err := json.Unmarshal(data, &act); err != nil || act.Type == "" {
		return nil, errors.New("not an activity")
	}
	return &act, nil
}

func convID(act *activity) string {
	if act.Conversation == nil {
		return ""
	}
	return act.Conversation.ID
}

// actor is the verified sender: the Bot Connector vouches for from.aadObjectId.
func actorOf(act *activity) (approvals.Actor, bool) {
	if act.From == nil || !IsGUID(act.From.AADObjectID) {
		return approvals.Actor{}, false
	}
	id := strings.ToLower(act.From.AADObjectID)
	return approvals.Actor{Platform: PlatformName, ID: id, Name: act.From.Name, EntraID: id}, true
}

func conversationOf(act *activity) bot.Conversation {
	c := bot.Conversation{Platform: PlatformName}
	if act.Conversation != nil {
		c.ID = baseConversationID(act.Conversation.ID)
		c.Name = act.Conversation.Name
	}
	if cd := act.ChannelData; cd != nil && cd.Channel != nil && cd.Channel.Name != "" {
		c.Name = cd.Channel.Name
	}
	return c
}

// onMessage handles a typed command, or an Action.Submit from a client without
// Universal Actions. The Connector is answered at once; the work goes on in the background.
func (a *Adapter) onMessage(act *activity) {
	actor, ok := actorOf(act)
	if !ok {
		a.log.Warn("teams message without an Entra user ignored", slog.String("conversation", convID(act)))
		return
	}
	var ev bot.Event
	if cmd, reason, ok := submittedCommand(act.Value); ok {
		ev = bot.Event{Actor: actor, Conversation: conversationOf(act), Text: cmd, Button: true, Reason: reason, Form: submittedForm(act.Value)}
	} else {
		if !addressedToBot(act) {
			return
		}
		ev = bot.Event{Actor: actor, Conversation: conversationOf(act), Text: commandText(act)}
	}
	a.noteViewer(ev.Conversation.ID, act.From.ID)
	a.goBackground(func(ctx context.Context) {
		a.rememberActivity(ctx, act)
		resp := a.d.Handle(ctx, ev)
		if resp.Form != nil {
			a.replyForm(ctx, act, *resp.Form)
		}
		if ev.Button && resp.Card != nil && act.ReplyToID != "" {
			if err := a.updateActivity(ctx, act.ServiceURL, act.Conversation.ID, act.ReplyToID, *resp.Card); err != nil {
				a.log.Error("update teams card", slog.String("activity", act.ReplyToID), slog.Any(approvals.LogErr, err))
			}
		}
		if resp.Reply != nil {
			a.replyTo(ctx, act, *resp.Reply)
		}
	})
}

// submittedCommand reads the command of an Action.Submit (the fallback of our
// Action.Execute buttons): a message activity whose value holds our card data.
func submittedCommand(value json.RawMessage) (command, reason string, ok bool) {
	if len(value) == 0 {
		return "", "", false
	}
	var d actionData
	if json.Unmarshal(value, &d) != nil || d.Command == "" {
		return "", "", false
	}
	return cleanCommand(d.Command, d.Reason)
}

func (a *Adapter) replyTo(ctx context.Context, act *activity, msg bot.Message) {
	msg = a.keepLinksPrivate(ctx, act, msg)
	opts := a.cardOptions(act.Conversation.ID)
	if _, err := a.conn.replyToActivity(ctx, act.ServiceURL, act.Conversation.ID, act.ID, cardActivity(msg, opts)); err != nil {
		a.log.Error("reply in teams", slog.String("conversation", act.Conversation.ID), slog.Any(approvals.LogErr, err))
	}
}

// onInvoke answers an adaptiveCard/action invoke: a button press (verb "command") or a
// refresh (verb "refresh"). The answer is the card to show the presser at once; when the
// core takes longer than InvokeTimeout the last known card is shown and the outcome is
// put into the card when it comes.
func (a *Adapter) onInvoke(w http.ResponseWriter, act *activity) {
	if act.Name != invokeAdaptiveCardAction {
		w.WriteHeader(http.StatusNotImplemented)
		return
	}
	actor, ok := actorOf(act)
	if !ok {
		writeInvoke(w, messageAnswer("Your Teams account could not be identified."))
		return
	}
	var v invokeValue
	if err := json.Unmarshal(act.Value, &v); err != nil {
		writeInvoke(w, errorAnswer(http.StatusBadRequest, "The card action could not be read."))
		return
	}
	var d actionData
	_ = json.Unmarshal(v.Action.Data, &d)
	refresh := v.Action.Verb == verbRefresh
	var text, reason string
	if refresh {
		id, ok := cleanRequestID(d.RequestID)
		if !ok {
			writeInvoke(w, errorAnswer(http.StatusBadRequest, "This card cannot be refreshed."))
			return
		}
		text = "show " + id
	} else {
		cmd, why, ok := cleanCommand(d.Command, d.Reason)
		if !ok {
			writeInvoke(w, errorAnswer(http.StatusBadRequest, "This button carries no command."))
			return
		}
		text, reason = cmd, why
	}
	ev := bot.Event{Actor: actor, Conversation: conversationOf(act), Text: text, Button: true, Reason: reason, Form: submittedForm(v.Action.Data)}
	a.noteViewer(ev.Conversation.ID, act.From.ID)

	var mu sync.Mutex
	gaveUp := false
	done := make(chan bot.Response, 1)
	started := a.goBackground(func(ctx context.Context) {
		a.rememberActivity(ctx, act)
		resp := a.d.Handle(ctx, ev)
		mu.Lock()
		late := gaveUp
		if !late {
			done <- resp
		}
		mu.Unlock()
		if late {
			a.finishLateInvoke(ctx, act, refresh, resp)
		}
	})
	if !started {
		writeInvoke(w, messageAnswer("mfabot is restarting; try again in a moment."))
		return
	}
	timer := time.NewTimer(a.cfg.InvokeTimeout)
	defer timer.Stop()
	select {
	case resp := <-done:
		writeInvoke(w, a.invokeAnswer(act, refresh, resp))
		return
	case <-timer.C:
	}
	mu.Lock()
	select {
	case resp := <-done:
		mu.Unlock()
		writeInvoke(w, a.invokeAnswer(act, refresh, resp))
		return
	default:
		gaveUp = true
		mu.Unlock()
	}
	a.log.Info("teams card action still running; answered with the last known card", slog.String("command", firstWord(text)))
	if last, ok := a.lastCard(act.ReplyToID); ok {
		writeInvoke(w, a.cardAnswer(act, last, nil))
		return
	}
	writeInvoke(w, messageAnswer("Working on it…"))
}

// invokeAnswer turns the dispatcher's response into the invoke answer: the request's card
// (with a refusal on top, for the presser only), else the reply as a message.
func (a *Adapter) invokeAnswer(act *activity, refresh bool, resp bot.Response) invokeResponse {
	if resp.Public && resp.Reply != nil {
		reply := *resp.Reply
		a.goBackground(func(ctx context.Context) { a.replyTo(ctx, act, reply) })
	}
	var note *bot.Message
	if resp.Reply != nil && !resp.Public {
		note = resp.Reply
	}
	if resp.Card != nil {
		a.rememberCard(act.ReplyToID, act.Conversation.ID, *resp.Card)
		return a.cardAnswer(act, *resp.Card, note)
	}
	if last, ok := a.lastCard(act.ReplyToID); ok && (refresh || note != nil) {
		// Keep the card in place; a refresh must not turn into a pop-up for every viewer.
		if refresh {
			note = nil
		}
		return a.cardAnswer(act, last, note)
	}
	if note != nil {
		return messageAnswer(messageText(*note))
	}
	if resp.Reply != nil {
		return messageAnswer("Done.")
	}
	if last, ok := a.lastCard(act.ReplyToID); ok {
		return a.cardAnswer(act, last, nil)
	}
	return messageAnswer("Done.")
}

func (a *Adapter) cardAnswer(act *activity, msg bot.Message, note *bot.Message) invokeResponse {
	opts := a.cardOptions(act.Conversation.ID)
	opts.Note = note
	return invokeResponse{StatusCode: http.StatusOK, Type: contentTypeAdaptiveCard, Value: RenderCard(msg, opts)}
}

// finishLateInvoke delivers the outcome of a card action that outlived its invoke: the
// card is updated in place for everyone; a public reply goes to the conversation, and one
// meant for the presser alone (a refusal, a step-up link), which the answered invoke can
// no longer show them, to their personal chat, never to the conversation.
func (a *Adapter) finishLateInvoke(ctx context.Context, act *activity, refresh bool, resp bot.Response) {
	if resp.Card != nil && act.ReplyToID != "" {
		if err := a.updateActivity(ctx, act.ServiceURL, act.Conversation.ID, act.ReplyToID, *resp.Card); err != nil {
			a.log.Error("update teams card", slog.String("activity", act.ReplyToID), slog.Any(approvals.LogErr, err))
		}
	}
	if resp.Reply == nil || refresh {
		return
	}
	if resp.Public {
		a.replyTo(ctx, act, *resp.Reply)
		return
	}
	actor, ok := actorOf(act)
	if !ok {
		return // onInvoke answered such an activity without dispatching it
	}
	if err := a.Tell(ctx, bot.Recipient{Actor: &actor}, *resp.Reply); err != nil {
		a.log.Warn("a late answer meant for the presser alone could not reach their personal chat; it was not shown",
			slog.String("actor", actor.Key()), slog.String("title", resp.Reply.Title), slog.Any(approvals.LogErr, err))
	}
}

func messageAnswer(text string) invokeResponse {
	return invokeResponse{StatusCode: http.StatusOK, Type: contentTypeMessage, Value: text}
}

func errorAnswer(status int, message string) invokeResponse {
	return invokeResponse{StatusCode: status, Type: contentTypeError, Value: map[string]string{
		"code": http.StatusText(status), "message": message,
	}}
}

func writeInvoke(w http.ResponseWriter, r invokeResponse) {
	b, err := json.Marshal(r)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// keepLinksPrivate keeps a reply that carries a link button (a one-time step-up sign-in,
// meant for its presser alone) out of a shared conversation: it goes to the person's
// personal chat instead, and the conversation learns only that it was sent.
func (a *Adapter) keepLinksPrivate(ctx context.Context, act *activity, msg bot.Message) bot.Message {
	if !slices.ContainsFunc(msg.Buttons, func(b bot.Button) bool { return b.URL != "" }) ||
		act.Conversation == nil || act.Conversation.ConversationType == convPersonal {
		return msg
	}
	actor, ok := actorOf(act)
	if ok {
		if err := a.Tell(ctx, bot.Recipient{Actor: &actor}, msg); err == nil {
			return bot.Message{Tone: msg.Tone, Text: msg.Title + ": mfabot sent " + actor.Name + " the link in a personal chat."}
		} else {
			a.log.Warn("teams: personal message with a link", slog.Any(approvals.LogErr, err))
		}
	}
	return bot.Message{Title: msg.Title, Tone: bot.ToneBad,
		Text: "mfabot could not send you the link privately. Open a chat with mfabot (Apps → mfabot) and press the button again."}
}
