package slacktest

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits, as Slack documents and enforces them.
const (
	maxMessageBlocks   = 50
	maxModalBlocks     = 100
	maxSectionText     = 3000
	maxFieldText       = 2000
	maxFields          = 10
	maxHeaderText      = 150
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxActionID        = 255
	maxBlockID         = 255
	maxActionsElements = 25
	maxContextElements = 10
	maxModalTitle      = 24
	maxPrivateMetadata = 3000
	maxInputLabel      = 2000
	maxInputLength     = 3000
)

type textObject struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji"`
	Verbatim *bool  `json:"verbatim"`
}

type element struct {
	Type      string      `json:"type"`
	Text      *textObject `json:"text"`
	ActionID  string      `json:"action_id"`
	Value     string      `json:"value"`
	Style     string      `json:"style"`
	URL       string      `json:"url"`
	MaxLength int         `json:"max_length"`
	MinLength int         `json:"min_length"`
	// checkboxes
	Options        []option `json:"options"`
	InitialOptions []option `json:"initial_options"`
	InitialValue   string   `json:"initial_value"`
}

// option is an option of a checkboxes element.
type option struct {
	Text  *textObject `json:"text"`
	Value string      `json:"value"`
}

type block struct {
	Type     string          `json:"type"`
	BlockID  string          `json:"block_id"`
	Text     *textObject     `json:"text"`
	Fields   []*textObject   `json:"fields"`
	Elements json.RawMessage `json:"elements"`
	Label    *textObject     `json:"label"`
	Element  *element        `json:"element"`
}

// validateBlocks checks a blocks array against Block Kit's limits and answers like Slack:
// invalid_blocks with a message naming the first problem.
func validateBlocks(raw json.RawMessage, maxCount int) *apiError {
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return fail("invalid_blocks_format", "[ERROR] blocks must be a JSON array of block objects")
	}
	if len(blocks) > maxCount {
		return fail("invalid_blocks", fmt.Sprintf("[ERROR] no more than %d items allowed [json-pointer:/blocks]", maxCount))
	}
	blockIDs := map[string]bool{}
	actionIDs := map[string]bool{}
	for i, b := range blocks {
		at := fmt.Sprintf("[json-pointer:/blocks/%d]", i)
		if b.BlockID != "" {
			if utf8.RuneCountInString(b.BlockID) > maxBlockID {
				return fail("invalid_blocks", "[ERROR] block_id too long "+at)
			}
			if blockIDs[b.BlockID] {
				return fail("invalid_blocks", "[ERROR] duplicate block_id "+at)
			}
			blockIDs[b.BlockID] = true
		}
		if msg := validateBlock(b, actionIDs); msg != "" {
			return fail("invalid_blocks", "[ERROR] "+msg+" "+at)
		}
	}
	return nil
}

func validateBlock(b block, actionIDs map[string]bool) string {
	switch b.Type {
	case "header":
		if b.Text == nil || b.Text.Type != "plain_text" {
			return "header text must be plain_text"
		}
		return checkText(b.Text, maxHeaderText)
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return "section needs text or fields"
		}
		if b.Text != nil {
			if msg := checkText(b.Text, maxSectionText); msg != "" {
				return msg
			}
		}
		if len(b.Fields) > maxFields {
			return fmt.Sprintf("no more than %d fields allowed", maxFields)
		}
		for _, f := range b.Fields {
			if msg := checkText(f, maxFieldText); msg != "" {
				return "field: " + msg
			}
		}
	case "context":
		var elems []json.RawMessage
		if err := json.Unmarshal(b.Elements, &elems); err != nil || len(elems) == 0 {
			return "context needs elements"
		}
		if len(elems) > maxContextElements {
			return fmt.Sprintf("no more than %d context elements allowed", maxContextElements)
		}
		for _, e := range elems {
			var t textObject
			if err := json.Unmarshal(e, &t); err != nil {
				return "unreadable context element"
			}
			if t.Type == "plain_text" || t.Type == "mrkdwn" {
				if msg := checkText(&t, maxSectionText); msg != "" {
					return msg
				}
			}
		}
	case "actions":
		var elems []element
		if err := json.Unmarshal(b.Elements, &elems); err != nil || len(elems) == 0 {
			return "actions needs elements"
		}
		if len(elems) > maxActionsElements {
			return fmt.Sprintf("no more than %d action elements allowed", maxActionsElements)
		}
		for _, e := range elems {
			if msg := checkElement(e, actionIDs); msg != "" {
				return msg
			}
		}
	case "input":
		if b.Label == nil || b.Label.Type != "plain_text" {
			return "input label must be plain_text"
		}
		if msg := checkText(b.Label, maxInputLabel); msg != "" {
			return msg
		}
		if b.Element == nil {
			return "input needs an element"
		}
		if b.Element.MaxLength > maxInputLength || b.Element.MinLength > maxInputLength {
			return "input length limits exceed 3000"
		}
		if b.Element.ActionID != "" && utf8.RuneCountInString(b.Element.ActionID) > maxActionID {
			return "action_id too long"
		}
		if msg := checkInputElement(*b.Element); msg != "" {
			return msg
		}
	case "divider", "image", "rich_text", "file", "video", "markdown":
	default:
		return fmt.Sprintf("unknown block type %q", b.Type)
	}
	return ""
}

func checkElement(e element, actionIDs map[string]bool) string {
	if e.ActionID != "" {
		if utf8.RuneCountInString(e.ActionID) > maxActionID {
			return "action_id too long"
		}
		if actionIDs[e.ActionID] {
			return fmt.Sprintf("duplicate action_id %q", e.ActionID)
		}
		actionIDs[e.ActionID] = true
	}
	if e.Type != "button" {
		return ""
	}
	if e.Text == nil || e.Text.Type != "plain_text" {
		return "button text must be plain_text"
	}
	if msg := checkText(e.Text, maxButtonText); msg != "" {
		return "button: " + msg
	}
	if utf8.RuneCountInString(e.Value) > maxButtonValue {
		return "button value too long"
	}
	switch e.Style {
	case "", "primary", "danger":
	default:
		return fmt.Sprintf("unknown button style %q", e.Style)
	}
	return ""
}

func checkText(t *textObject, maxChars int) string {
	switch {
	case t == nil:
		return "missing text object"
	case t.Type != "plain_text" && t.Type != "mrkdwn":
		return fmt.Sprintf("unknown text type %q", t.Type)
	case t.Text == "":
		return "text must not be empty"
	case utf8.RuneCountInString(t.Text) > maxChars:
		return fmt.Sprintf("text must be at most %d characters", maxChars)
	case t.Type == "mrkdwn" && t.Emoji != nil:
		return "emoji is only allowed on plain_text"
	}
	return ""
}

// validateModal checks a modal view against Slack's limits.
func validateModal(raw json.RawMessage) *apiError {
	var v struct {
		Type            string          `json:"type"`
		Title           *textObject     `json:"title"`
		Submit          *textObject     `json:"submit"`
		Close           *textObject     `json:"close"`
		Blocks          json.RawMessage `json:"blocks"`
		PrivateMetadata string          `json:"private_metadata"`
		CallbackID      string          `json:"callback_id"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fail("invalid_arguments", "[ERROR] view must be a JSON object")
	}
	if v.Type != "modal" {
		return fail("invalid_arguments", "[ERROR] view type must be modal [json-pointer:/view/type]")
	}
	if v.Title == nil || v.Title.Type != "plain_text" {
		return fail("invalid_arguments", "[ERROR] missing title [json-pointer:/view/title]")
	}
	for name, t := range map[string]*textObject{"title": v.Title, "submit": v.Submit, "close": v.Close} {
		if t == nil {
			continue
		}
		if msg := checkText(t, maxModalTitle); msg != "" {
			return fail("invalid_arguments", "[ERROR] "+msg+" [json-pointer:/view/"+name+"]")
		}
	}
	if utf8.RuneCountInString(v.PrivateMetadata) > maxPrivateMetadata {
		return fail("invalid_arguments", "[ERROR] private_metadata must be at most 3000 characters")
	}
	if utf8.RuneCountInString(v.CallbackID) > maxActionID {
		return fail("invalid_arguments", "[ERROR] callback_id must be at most 255 characters")
	}
	if err := validateBlocks(v.Blocks, maxModalBlocks); err != nil {
		return err
	}
	return nil
}

// Limits of input elements.
const (
	maxCheckboxOptions = 10
	maxOptionText      = 75
	maxOptionValue     = 150
)

// checkInputElement checks an input block's element: a plain_text_input's initial value
// within its max_length, a checkboxes group's options and that its initial options are
// among them.
func checkInputElement(e element) string {
	switch e.Type {
	case "plain_text_input":
		limit := maxInputLength
		if e.MaxLength > 0 {
			limit = e.MaxLength
		}
		if utf8.RuneCountInString(e.InitialValue) > limit {
			return "initial_value longer than max_length"
		}
	case "checkboxes":
		if len(e.Options) == 0 || len(e.Options) > maxCheckboxOptions {
			return fmt.Sprintf("checkboxes take 1 to %d options", maxCheckboxOptions)
		}
		values := map[string]bool{}
		for _, o := range e.Options {
			if msg := checkText(o.Text, maxOptionText); msg != "" {
				return "option: " + msg
			}
			if o.Value == "" || utf8.RuneCountInString(o.Value) > maxOptionValue {
				return "option value must be 1 to 150 characters"
			}
			values[o.Value] = true
		}
		for _, o := range e.InitialOptions {
			if !values[o.Value] {
				return "initial_options must be among options"
			}
		}
	case "":
		return "input element needs a type"
	}
	return ""
}
