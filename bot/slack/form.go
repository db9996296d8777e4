package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// A bot.Form opens as a modal (views.open, with the trigger of the slash command that
// asked for it); its submission (view_submission) is dispatched in the background as an
// Event whose Form holds the values, and the answer goes to the person alone, as the
// answer to their command does.

const (
	formCallbackID = "mfa_form"
	// maxInputChars is Slack's limit on one plain_text_input (max_length).
	maxInputChars = 3000
	// maxLinesBoxes caps the boxes a long lines field is split into: 14 boxes of 3,000
	// characters hold 1,000 object ids, one a line.
	maxLinesBoxes = 14
	maxOptionText = 75 // an option's text
	maxHintText   = 2000
	// msgNoForm: a form opens only within Slack's 3 s of the command's trigger.
	msgNoForm = "The form could not be opened (Slack allows it only a few seconds after the command); try the command again."
)

// formMeta travels in the form modal's private_metadata from the command to the
// submission.
type formMeta struct {
	Command     string `json:"c"`
	Channel     string `json:"ch,omitempty"`
	ResponseURL string `json:"u,omitempty"`
}

// openForm opens f as a modal; a problem is told to the person instead.
func (a *Adapter) openForm(ctx context.Context, triggerID string, f bot.Form, target replyTarget) {
	log := a.log.With("slack_user", target.user, "channel", target.channel)
	meta := formMeta{Command: f.Command, Channel: target.channel, ResponseURL: target.responseURL}
	data, err := json.Marshal(meta)
	if err == nil && len(data) > maxMetadata {
		meta.ResponseURL = ""
		data, err = json.Marshal(meta)
	}
	if err != nil || len(data) > maxMetadata || triggerID == "" {
		log.Warn("slack form: command too large or no trigger")
		a.reply(ctx, target, bot.Message{Text: msgNoForm, Tone: bot.ToneBad}, false)
		return
	}
	err = a.retry(ctx, "views.open", func() error {
		_, err := a.api.OpenViewContext(ctx, triggerID, formView(f, string(data)))
		return err
	})
	if err != nil {
		log.Warn("slack form", approvals.LogErr, upstream("views.open", err))
		a.reply(ctx, target, bot.Message{Text: msgNoForm, Tone: bot.ToneBad}, false)
	}
}

// linesBoxes is how many 3,000-character boxes a lines field takes: Slack allows no more
// in one input, so a list of 1,000 users is pasted in parts.
func linesBoxes(fl bot.Field) int {
	n := (fl.MaxChars + maxInputChars - 1) / maxInputChars
	return max(1, min(n, maxLinesBoxes))
}

// boxID is the block id of box i (from 0) of a field.
func boxID(id string, i int) string {
	if i == 0 {
		return id
	}
	return fmt.Sprintf("%s_%d", id, i+1)
}

// formView is the modal of a form.
func formView(f bot.Form, metadata string) slackapi.ModalViewRequest {
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(truncate(escape(f.Text), maxTextChars)), nil, nil)}
	for _, fl := range f.Fields {
		label := plain(truncate(orLabel(fl), maxTextChars))
		switch fl.Kind {
		case bot.FieldLines:
			n := linesBoxes(fl)
			for i := range n {
				in := slackapi.NewPlainTextInputBlockElement(nil, "value")
				in.Multiline, in.MaxLength = true, maxInputChars
				if i == 0 && fl.Placeholder != "" {
					in.Placeholder = plain(truncate(fl.Placeholder, 150))
				}
				if i == 0 {
					in.InitialValue = truncate(fl.Value, maxInputChars)
				}
				l := label
				if i > 0 {
					l = plain(truncate(fmt.Sprintf("%s, continued (%d of %d)", orLabel(fl), i+1, n), maxTextChars))
				}
				b := slackapi.NewInputBlock(boxID(fl.ID, i), l, nil, in)
				b.Optional = i > 0 || !fl.Required
				if i == 0 && n > 1 {
					b.Hint = plain(fmt.Sprintf("Slack takes %s characters a box (about 80 users): paste the rest into the boxes below.", bot.Thousands(maxInputChars)))
				}
				blocks = append(blocks, b)
			}
		case bot.FieldChoice, bot.FieldToggle:
			opts := fl.Options
			if fl.Kind == bot.FieldToggle {
				opts = []bot.Option{{Value: "true", Label: fl.Label}}
			}
			var options, initial []*slackapi.OptionBlockObject
			chosen := strings.Split(fl.Value, ",")
			for _, o := range opts {
				ob := slackapi.NewOptionBlockObject(o.Value, plain(truncate(o.Label, maxOptionText)), nil)
				options = append(options, ob)
				if fl.Value != "" && containsFold(chosen, o.Value) {
					initial = append(initial, ob)
				}
			}
			cb := slackapi.NewCheckboxGroupsBlockElement("value", options...)
			cb.InitialOptions = initial
			b := slackapi.NewInputBlock(fl.ID, label, nil, cb)
			b.Optional = true
			if fl.Hint != "" {
				b.Hint = plain(truncate(fl.Hint, maxHintText))
			}
			blocks = append(blocks, b)
		default:
			in := slackapi.NewPlainTextInputBlockElement(nil, "value")
			in.MaxLength = min(max(fl.MaxChars, 1), maxInputChars)
			in.InitialValue = truncate(fl.Value, in.MaxLength)
			if fl.Placeholder != "" {
				in.Placeholder = plain(truncate(fl.Placeholder, 150))
			}
			b := slackapi.NewInputBlock(fl.ID, label, nil, in)
			b.Optional = !fl.Required
			blocks = append(blocks, b)
		}
	}
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      formCallbackID,
		Title:           plain(truncate(f.Title, maxModalTitle)),
		Submit:          plain(truncate(orText(f.Submit, "Submit"), maxModalTitle)),
		Close:           plain("Cancel"),
		PrivateMetadata: metadata,
		Blocks:          slackapi.Blocks{BlockSet: blocks},
	}
}

func orLabel(fl bot.Field) string { return orText(fl.Label, fl.ID) }

func orText(s, instead string) string {
	if s == "" {
		return instead
	}
	return s
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}

// formValues reads a submitted form modal back into values by field id: the boxes of a
// lines field joined by line breaks in their order, chosen options comma-separated, a
// toggle "true" or "". Only the blocks formView makes are read.
func formValues(state *slackapi.ViewState) map[string]string {
	out := map[string]string{}
	if state == nil {
		return out
	}
	type part struct {
		i int
		s string
	}
	boxes := map[string][]part{}
	for blockID, actions := range state.Values {
		v, ok := actions["value"]
		if !ok {
			continue
		}
		id, i := blockID, 1
		if k := strings.LastIndexByte(blockID, '_'); k > 0 && allDigits(blockID[k+1:]) {
			id = blockID[:k]
			i, _ = strconv.Atoi(blockID[k+1:])
		}
		switch v.Type {
		case "checkboxes", "multi_static_select":
			var chosen []string
			for _, o := range v.SelectedOptions {
				chosen = append(chosen, o.Value)
			}
			out[id] = strings.Join(chosen, ",")
		default:
			boxes[id] = append(boxes[id], part{i, v.Value})
		}
	}
	for id, ps := range boxes {
		sort.Slice(ps, func(a, b int) bool { return ps[a].i < ps[b].i })
		var texts []string
		for _, p := range ps {
			if t := strings.TrimRight(p.s, "\r\n"); t != "" {
				texts = append(texts, t)
			}
		}
		out[id] = strings.Join(texts, "\n")
	}
	return out
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// handleFormSubmission dispatches a submitted form modal in the background and closes
// the modal; the answer (the new request, or why not) goes to the person alone. The lines
// boxes are joined in their order, so a list pasted in parts reads as one.
func (a *Adapter) handleFormSubmission(ic slackapi.InteractionCallback) any {
	var meta formMeta
	if err := json.Unmarshal([]byte(ic.View.PrivateMetadata), &meta); err != nil || meta.Command == "" || len(meta.Command) > maxButtonValue {
		a.log.Warn("slack form: unreadable private_metadata", "slack_user", ic.User.ID)
		return viewError(msgBadButton)
	}
	values := formValues(ic.View.State)
	for _, v := range values {
		if !utf8.ValidString(v) {
			return viewError("The form holds text that is not UTF-8.")
		}
	}
	target := replyTarget{responseURL: meta.ResponseURL, channel: meta.Channel, user: ic.User.ID}
	started := a.background(a.cfg.DispatchTimeout, func(ctx context.Context) {
		ev := bot.Event{
			Actor:        a.actor(ctx, ic.User.ID, userName(ic.User)),
			Conversation: bot.Conversation{Platform: PlatformName, ID: meta.Channel},
			Text:         meta.Command,
			Form:         values,
		}
		resp := a.d.Handle(ctx, ev)
		msg := resp.Reply
		if msg == nil {
			msg = resp.Card
		}
		if msg != nil {
			a.reply(ctx, target, *msg, resp.Public)
		}
	})
	if !started {
		return viewError(msgShuttingDown)
	}
	return nil
}

// TellPrivately sends msg to a Slack user as an ephemeral message in the approvals
// channel: shown to them alone, and kept in no channel's history (bot.PrivateTeller). A
// person who is not in the channel cannot be reached this way; they are not sent a
// direct message instead, which Slack would keep.
func (a *Adapter) TellPrivately(ctx context.Context, to approvals.Actor, msg bot.Message) (string, error) {
	if to.Platform != PlatformName || to.ID == "" {
		return "", approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "%s is not a Slack user", to.Key())
	}
	if err := a.postEphemeral(ctx, a.cfg.Channel, to.ID, msg); err != nil {
		code := slackError(err)
		if code == "user_not_in_channel" || code == "channel_not_found" {
			return "", approvals.WrapError(approvals.EUPSTREAM, bot.ErrUnreachable, "Slack cannot show it to %s alone in %s (%s): they must be in the approvals channel", to.ID, a.cfg.Channel, code)
		}
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "Slack refused chat.postEphemeral (%s)", orText(code, approvals.ErrorMessage(err)))
	}
	return "an ephemeral Slack message in " + a.cfg.Channel, nil
}

var _ bot.PrivateTeller = (*Adapter)(nil)
