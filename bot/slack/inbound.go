package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/bot"
)

// Limits on what a person sends.
const (
	maxCommandText = 4000 // slash command text
	maxMetadata    = 3000 // a view's private_metadata (Slack's limit)
	maxModalTitle  = 24   // a modal's title, submit and close texts (Slack's limit)
	// modalTimeout bounds views.open: Slack's trigger_id is valid for 3 s after the click.
	modalTimeout = 5 * time.Second
)

// The reason modal: its callback id and the ids of its one input.
const (
	reasonCallbackID = "mfa_reason"
	reasonBlockID    = "reason"
	reasonActionID   = "reason"
)

// Texts shown to people whose request is refused before it reaches the dispatcher.
const (
	msgForeign      = "This mfabot serves one Slack workspace and app only; requests from other workspaces, organisations or apps (such as a shared channel) are refused."
	msgNotConnected = "mfabot has not finished connecting to Slack yet; try again in a moment."
	msgShuttingDown = "mfabot is restarting; try again in a moment."
	msgTooLong      = "That command is too long."
	msgBadButton    = "That button could not be read; refresh the message and try again."
	msgNoModal      = "The reason dialog could not be opened; try again."
)

// The handle functions below are shared by HTTP and Socket Mode: each takes a payload that
// has already been authenticated (a verified signature, or the app-token socket), checks
// where it came from, starts the work in the background and returns at once what Slack
// gets as the acknowledgement (the HTTP response body, or the Socket Mode ack payload;
// nil for an empty one).

// handleCommand handles a /mfa slash command.
func (a *Adapter) handleCommand(cmd slackapi.SlashCommand) any {
	log := a.log.With("slack_user", cmd.UserID, "channel", cmd.ChannelID)
	if msg := a.refuse(cmd.TeamID, cmd.EnterpriseID, cmd.APIAppID, ""); msg != "" {
		log.Warn("slack command refused", "reason", msg, "team_id", cmd.TeamID, "enterprise_id", cmd.EnterpriseID, "app_id", cmd.APIAppID)
		return ephemeralAck(msg)
	}
	if cmd.UserID == "" {
		log.Warn("slack command without a user")
		return nil
	}
	if len(cmd.Text) > maxCommandText {
		return ephemeralAck(msgTooLong)
	}
	started := a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
		ev := bot.Event{
			Actor:        a.actor(ctx, cmd.UserID, cmd.UserName),
			Conversation: bot.Conversation{Platform: PlatformName, ID: cmd.ChannelID, Name: cmd.ChannelName},
			Text:         cmd.Text,
		}
		resp := a.d.Handle(ctx, ev)
		target := replyTarget{responseURL: cmd.ResponseURL, channel: cmd.ChannelID, user: cmd.UserID}
		if resp.Form != nil {
			a.openForm(ctx, cmd.TriggerID, *resp.Form, target)
			return
		}
		msg := resp.Reply
		if msg == nil {
			msg = resp.Card
		}
		if msg == nil {
			return
		}
		a.reply(ctx, target, *msg, resp.Public)
	})
	if !started {
		return ephemeralAck(msgShuttingDown)
	}
	return nil
}

// handleInteraction handles a button press (block_actions) or a submitted reason modal
// (view_submission); other interactions are acknowledged and ignored.
func (a *Adapter) handleInteraction(ic slackapi.InteractionCallback) any {
	team := ic.Team.ID
	if team == "" {
		team = ic.View.TeamID
	}
	enterprise := ic.Enterprise.ID
	if enterprise == "" {
		enterprise = ic.Team.EnterpriseID
	}
	app := ic.APIAppID
	if app == "" {
		app = ic.View.AppID
	}
	if msg := a.refuse(team, enterprise, app, ic.User.TeamID); msg != "" {
		a.log.Warn("slack interaction refused", "reason", msg, "slack_user", ic.User.ID,
			"team_id", team, "user_team_id", ic.User.TeamID, "enterprise_id", enterprise, "app_id", app)
		switch ic.Type {
		case slackapi.InteractionTypeViewSubmission:
			return viewError(msg)
		case slackapi.InteractionTypeBlockActions:
			a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
				a.reply(ctx, replyTarget{responseURL: ic.ResponseURL}, bot.Message{Text: msg, Tone: bot.ToneBad}, false)
			})
		}
		return nil
	}
	if ic.User.ID == "" {
		a.log.Warn("slack interaction without a user", "type", ic.Type)
		return nil
	}
	switch ic.Type {
	case slackapi.InteractionTypeBlockActions:
		a.handleBlockActions(ic)
		return nil
	case slackapi.InteractionTypeViewSubmission:
		return a.handleViewSubmission(ic)
	}
	return nil
}

func (a *Adapter) handleBlockActions(ic slackapi.InteractionCallback) {
	channel := ic.Channel.ID
	if channel == "" {
		channel = ic.Container.ChannelID
	}
	target := replyTarget{responseURL: ic.ResponseURL, channel: channel, user: ic.User.ID}
	for _, act := range ic.ActionCallback.BlockActions {
		needsReason := strings.HasPrefix(act.ActionID, actionReason)
		if !needsReason && !strings.HasPrefix(act.ActionID, actionCommand) {
			continue // not one of our buttons
		}
		if act.Value == "" || len(act.Value) > maxButtonValue {
			a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
				a.reply(ctx, target, bot.Message{Text: msgBadButton, Tone: bot.ToneBad}, false)
			})
			continue
		}
		if needsReason {
			a.background(modalTimeout, func(ctx context.Context) {
				a.openReasonModal(ctx, ic.TriggerID, act.Text.Text, reasonMeta{Command: act.Value, Channel: channel, ResponseURL: ic.ResponseURL}, target)
			})
			continue
		}
		started := a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
			a.dispatchClick(ctx, ic.User, channel, act.Value, "", target)
		})
		if !started {
			a.log.Warn("slack click dropped: shutting down", "slack_user", ic.User.ID)
		}
	}
}

// dispatchClick hands a button press to the dispatcher. The answer for the clicker (a
// refusal or a confirmation) goes to them alone; the card itself is left to the notifier,
// which updates every posted copy, so a refused click never changes it.
func (a *Adapter) dispatchClick(ctx context.Context, u slackapi.User, channel, text, reason string, target replyTarget) {
	ev := bot.Event{
		Actor:        a.actor(ctx, u.ID, userName(u)),
		Conversation: bot.Conversation{Platform: PlatformName, ID: channel},
		Text:         text,
		Button:       true,
		Reason:       reason,
	}
	resp := a.d.Handle(ctx, ev)
	if resp.Reply != nil {
		a.reply(ctx, target, *resp.Reply, false)
	}
}

// reasonMeta travels in the modal's private_metadata from the click to the submission.
type reasonMeta struct {
	Command     string `json:"c"`
	Channel     string `json:"ch,omitempty"`
	ResponseURL string `json:"u,omitempty"`
}

func (a *Adapter) openReasonModal(ctx context.Context, triggerID, label string, meta reasonMeta, target replyTarget) {
	log := a.log.With("slack_user", target.user, "channel", target.channel)
	data, err := json.Marshal(meta)
	if err == nil && len(data) > maxMetadata {
		// The response URL is a convenience; the command must fit.
		meta.ResponseURL = ""
		data, err = json.Marshal(meta)
	}
	if err != nil || len(data) > maxMetadata || triggerID == "" {
		log.Warn("slack reason modal: command too large or no trigger")
		a.reply(ctx, target, bot.Message{Text: msgBadButton, Tone: bot.ToneBad}, false)
		return
	}
	err = a.retry(ctx, "views.open", func() error {
		_, err := a.api.OpenViewContext(ctx, triggerID, reasonView(label, meta.Command, string(data)))
		return err
	})
	if err != nil {
		log.Warn("slack reason modal", "err", upstream("views.open", err))
		a.reply(ctx, target, bot.Message{Text: msgNoModal, Tone: bot.ToneBad}, false)
	}
}

// reasonView is the modal asking why, for a button with NeedsReason.
func reasonView(label, command, metadata string) slackapi.ModalViewRequest {
	label = strings.TrimSpace(label)
	if label == "" {
		label = "Reason"
	}
	input := slackapi.NewPlainTextInputBlockElement(plain("Why? Everyone on the card will see it."), reasonActionID)
	input.Multiline = true
	input.MinLength = 1
	input.MaxLength = bot.MaxReason
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      reasonCallbackID,
		Title:           plain(truncate(label, maxModalTitle)),
		Submit:          plain(truncate(label, maxModalTitle)),
		Close:           plain("Cancel"),
		PrivateMetadata: metadata,
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewSectionBlock(mrkdwn(truncate("*"+escape(command)+"*\nThe reason is recorded in the audit log.", maxTextChars)), nil, nil),
			slackapi.NewInputBlock(reasonBlockID, plain("Reason"), nil, input),
		}},
	}
}

// handleViewSubmission dispatches the command of a reason modal with the reason appended.
// A problem with the reason is shown in the modal, which stays open.
func (a *Adapter) handleViewSubmission(ic slackapi.InteractionCallback) any {
	if ic.View.CallbackID == formCallbackID {
		return a.handleFormSubmission(ic)
	}
	if ic.View.CallbackID != reasonCallbackID {
		return nil
	}
	var meta reasonMeta
	if err := json.Unmarshal([]byte(ic.View.PrivateMetadata), &meta); err != nil || meta.Command == "" || len(meta.Command) > maxButtonValue {
		a.log.Warn("slack reason modal: unreadable private_metadata", "slack_user", ic.User.ID)
		return viewError(msgBadButton)
	}
	var reason string
	if ic.View.State != nil {
		reason = ic.View.State.Values[reasonBlockID][reasonActionID].Value
	}
	// The modal says what is wrong while it is still open; the dispatcher cleans and
	// applies the reason itself.
	switch {
	case strings.TrimSpace(reason) == "":
		return viewError("A reason is required.")
	case utf8.RuneCountInString(reason) > bot.MaxReason:
		return viewError(fmt.Sprintf("Keep the reason under %d characters.", bot.MaxReason))
	}
	target := replyTarget{responseURL: meta.ResponseURL, channel: meta.Channel, user: ic.User.ID}
	started := a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
		a.dispatchClick(ctx, ic.User, meta.Channel, meta.Command, reason, target)
	})
	if !started {
		return viewError(msgShuttingDown)
	}
	return nil
}

// refuse returns why a request from this workspace, organisation, app and user's home
// workspace is refused, or "" when it is welcome.
func (a *Adapter) refuse(team, enterprise, app, userTeam string) string {
	o := a.allowed.Load()
	if o == nil {
		return msgNotConnected
	}
	switch {
	case o.team != "" && team != o.team:
		return msgForeign
	case o.enterprise != "" && enterprise != o.enterprise:
		return msgForeign
	case o.app != "" && app != o.app:
		return msgForeign
	}
	// A person from another organisation clicking in a shared channel keeps their home
	// workspace in user.team_id. Grid users may carry the organisation id there.
	if userTeam != "" && o.team != "" && userTeam != o.team && (o.enterprise == "" || userTeam != o.enterprise) {
		return msgForeign
	}
	return ""
}

func userName(u slackapi.User) string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Username != "":
		return u.Username
	}
	return u.ID
}

// ephemeralAck is an immediate answer to a slash command, seen by its sender alone.
func ephemeralAck(text string) any {
	return map[string]string{"response_type": slackapi.ResponseTypeEphemeral, "text": escape(text)}
}

// viewError keeps the reason modal open with msg under its input.
func viewError(msg string) any {
	return slackapi.NewErrorsViewSubmissionResponse(map[string]string{reasonBlockID: msg})
}
