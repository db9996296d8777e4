package teams

import (
	"encoding/json"
	"strings"
)

// The Bot Framework activity schema, reduced to the fields this adapter reads or writes.

// Activity types and names.
const (
	typeMessage            = "message"
	typeInvoke             = "invoke"
	typeConversationUpdate = "conversationUpdate"
	typeInstallationUpdate = "installationUpdate"

	invokeAdaptiveCardAction = "adaptiveCard/action"

	channelMSTeams = "msteams"

	convPersonal  = "personal"
	convGroupChat = "groupChat"
	convChannel   = "channel"

	contentTypeAdaptiveCard = "application/vnd.microsoft.card.adaptive"
	contentTypeMessage      = "application/vnd.microsoft.activity.message"
	contentTypeError        = "application/vnd.microsoft.error"
)

type activity struct {
	Type           string               `json:"type"`
	ID             string               `json:"id,omitempty"`
	Name           string               `json:"name,omitempty"`
	ServiceURL     string               `json:"serviceUrl,omitempty"`
	ChannelID      string               `json:"channelId,omitempty"`
	From           *channelAccount      `json:"from,omitempty"`
	Recipient      *channelAccount      `json:"recipient,omitempty"`
	Conversation   *conversationAccount `json:"conversation,omitempty"`
	Text           string               `json:"text,omitempty"`
	Attachments    []attachment         `json:"attachments,omitempty"`
	Entities       []entity             `json:"entities,omitempty"`
	ChannelData    *channelData         `json:"channelData,omitempty"`
	ReplyToID      string               `json:"replyToId,omitempty"`
	Value          json.RawMessage      `json:"value,omitempty"`
	Action         string               `json:"action,omitempty"`
	MembersAdded   []channelAccount     `json:"membersAdded,omitempty"`
	MembersRemoved []channelAccount     `json:"membersRemoved,omitempty"`
	Summary        string               `json:"summary,omitempty"`
}

type channelAccount struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
}

type conversationAccount struct {
	ID               string `json:"id"`
	Name             string `json:"name,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
}

type attachment struct {
	ContentType string          `json:"contentType"`
	Content     json.RawMessage `json:"content"`
}

type entity struct {
	Type      string          `json:"type"`
	Mentioned *channelAccount `json:"mentioned,omitempty"`
	Text      string          `json:"text,omitempty"`
}

type channelData struct {
	Tenant    *idName `json:"tenant,omitempty"`
	Team      *idName `json:"team,omitempty"`
	Channel   *idName `json:"channel,omitempty"`
	EventType string  `json:"eventType,omitempty"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// tenant is the activity's tenant: channelData.tenant.id, or conversation.tenantId. When
// both are present and disagree the activity has no trustworthy tenant.
func (a *activity) tenant() string {
	var fromData, fromConv string
	if a.ChannelData != nil && a.ChannelData.Tenant != nil {
		fromData = a.ChannelData.Tenant.ID
	}
	if a.Conversation != nil {
		fromConv = a.Conversation.TenantID
	}
	switch {
	case fromData != "" && fromConv != "" && !strings.EqualFold(fromData, fromConv):
		return ""
	case fromData != "":
		return fromData
	default:
		return fromConv
	}
}

// baseConversationID drops the ";messageid=…" suffix Teams adds to a channel conversation
// id inside a reply thread: the channel itself is what a reference points at.
func baseConversationID(id string) string {
	if i := strings.Index(id, ";"); i >= 0 {
		return id[:i]
	}
	return id
}

// invokeValue is the value of an adaptiveCard/action invoke.
type invokeValue struct {
	Action struct {
		Type string          `json:"type"`
		Verb string          `json:"verb"`
		Data json.RawMessage `json:"data"`
	} `json:"action"`
	Trigger string `json:"trigger"`
}

// actionData is what our cards put in Action.Execute/Action.Submit data, plus the inputs
// the client merges in. None of it is trusted: only the canonical command text reaches the
// dispatcher, which reloads the request and decides.
type actionData struct {
	Command   string `json:"command"`
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
}

// invokeResponse is the body of the HTTP 200 answer to an adaptiveCard/action invoke.
type invokeResponse struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Value      any    `json:"value"`
}

type resourceResponse struct {
	ID string `json:"id"`
}

type conversationParameters struct {
	IsGroup     bool             `json:"isGroup"`
	Bot         *channelAccount  `json:"bot,omitempty"`
	Members     []channelAccount `json:"members"`
	TenantID    string           `json:"tenantId,omitempty"`
	ChannelData *channelData     `json:"channelData,omitempty"`
}

type conversationResourceResponse struct {
	ID         string `json:"id"`
	ActivityID string `json:"activityId,omitempty"`
	ServiceURL string `json:"serviceUrl,omitempty"`
}
