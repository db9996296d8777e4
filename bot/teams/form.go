package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// A bot.Form is sent as an Adaptive Card with inputs, in reply to the command that asked
// for it. Its submit button is an Action.Execute (with an Action.Submit fallback) whose
// data carry the form's command and formMarker; the client merges the inputs into the
// data, and the adapter hands them to the dispatcher as Event.Form.

// formMarker is the data key that tells a form's submission from a button's.
const formMarker = "mfabotForm"

// RenderForm renders f as an Adaptive Card with one input per field.
func RenderForm(f bot.Form) json.RawMessage {
	body := []any{obj{"type": "TextBlock", "text": escapeLine(f.Title), "weight": "Bolder", "size": "Medium", "wrap": true}}
	body = append(body, textBlocks(f.Text)...)
	for _, fl := range f.Fields {
		label := escapeLine(orLabel(fl))
		switch fl.Kind {
		case bot.FieldLines, bot.FieldText:
			in := obj{"type": "Input.Text", "id": fl.ID, "label": label, "isRequired": fl.Required,
				"isMultiline": fl.Kind == bot.FieldLines, "value": fl.Value}
			if fl.MaxChars > 0 {
				in["maxLength"] = fl.MaxChars
			}
			if fl.Placeholder != "" {
				in["placeholder"] = plain(fl.Placeholder)
			}
			if fl.Required {
				in["errorMessage"] = plain(orLabel(fl) + " is required.")
			}
			body = append(body, in)
		case bot.FieldChoice:
			choices := make([]any, 0, len(fl.Options))
			for _, o := range fl.Options {
				choices = append(choices, obj{"title": plain(o.Label), "value": o.Value})
			}
			body = append(body, obj{"type": "Input.ChoiceSet", "id": fl.ID, "label": label, "isMultiSelect": true,
				"style": "expanded", "choices": choices, "value": fl.Value})
		case bot.FieldToggle:
			value := "false"
			if fl.Value == "true" {
				value = "true"
			}
			body = append(body, obj{"type": "Input.Toggle", "id": fl.ID, "title": plain(orLabel(fl)), "valueOn": "true", "valueOff": "false", "value": value})
		}
		if fl.Hint != "" {
			body = append(body, subtle(escapeLine(fl.Hint)))
		}
	}
	data := obj{"command": f.Command, formMarker: "1"}
	submit := f.Submit
	if submit == "" {
		submit = "Submit"
	}
	body = append(body, obj{"type": "ActionSet", "actions": []any{executeAction(plain(submit), bot.ButtonPrimary, data)}})
	card := obj{"type": "AdaptiveCard", "$schema": cardSchema, "version": cardVersion, "msteams": obj{"width": "Full"}, "body": body}
	b, err := json.Marshal(card)
	if err != nil {
		// Only strings, numbers, bools, maps and slices go in: cannot happen.
		panic(fmt.Sprintf("marshal adaptive card: %v", err))
	}
	return b
}

func orLabel(fl bot.Field) string {
	if fl.Label != "" {
		return fl.Label
	}
	return fl.ID
}

// submittedForm reads the inputs of a form submission from its action data (our data
// and the inputs the client merged in), nil when the data are not a form's. Values are
// taken as typed; the dispatcher checks them.
func submittedForm(data json.RawMessage) map[string]string {
	if len(data) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil || m[formMarker] == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		switch k {
		case "command", "requestId", formMarker:
			continue
		}
		switch v := v.(type) {
		case string:
			out[k] = strings.Map(func(r rune) rune {
				if r != '\n' && r != '\r' && r != '\t' && dropRune(r) {
					return ' '
				}
				return r
			}, v)
		case bool:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// replyForm answers a command with its form card.
func (a *Adapter) replyForm(ctx context.Context, act *activity, f bot.Form) {
	reply := &activity{Type: typeMessage, Summary: plain(f.Title),
		Attachments: []attachment{{ContentType: contentTypeAdaptiveCard, Content: RenderForm(f)}}}
	if _, err := a.conn.replyToActivity(ctx, act.ServiceURL, act.Conversation.ID, act.ID, reply); err != nil {
		a.log.Error("reply in teams with a form", slog.String("conversation", act.Conversation.ID), slog.Any(approvals.LogErr, err))
	}
}

// TellPrivately sends msg to the actor in their personal chat with mfabot, which only
// they see (bot.PrivateTeller).
func (a *Adapter) TellPrivately(ctx context.Context, to approvals.Actor, msg bot.Message) (string, error) {
	if to.Platform != PlatformName {
		return "", approvals.WrapError(approvals.ENOTFOUND, bot.ErrUnreachable, "%s is not a Teams user", to.Key())
	}
	if err := a.Tell(ctx, bot.Recipient{Actor: &to}, msg); err != nil {
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "Teams would not deliver the personal message: %v", err)
	}
	return "a Teams personal message", nil
}

var _ bot.PrivateTeller = (*Adapter)(nil)
