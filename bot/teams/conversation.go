package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// Kinds of stored references.
const (
	// RefConversation is a channel, group chat or personal chat the bot can post to.
	RefConversation = "conversation"
	// RefUser is a person the bot has seen, with their personal chat when known.
	RefUser = "user"
)

// ConversationRef is what the adapter stores, through ConversationStore, about a
// conversation or a person so that it can message them later without being asked. Every
// ref comes from an activity whose token and tenant were verified.
type ConversationRef struct {
	Kind       string `json:"kind"`
	ServiceURL string `json:"serviceUrl"`
	TenantID   string `json:"tenantId"`
	BotID      string `json:"botId,omitempty"`
	// ConversationID is the conversation ("19:…@thread.tacv2" for a channel, "a:…" for a
	// personal chat); for a user ref, their personal chat with the bot when known.
	ConversationID   string `json:"conversationId,omitempty"`
	ConversationType string `json:"conversationType,omitempty"` // personal, groupChat, channel
	Name             string `json:"name,omitempty"`
	TeamID           string `json:"teamId,omitempty"`
	TeamName         string `json:"teamName,omitempty"`
	// UserID and AADObjectID identify the person of a user ref (and the other party of a
	// personal chat).
	UserID      string    `json:"userId,omitempty"`
	AADObjectID string    `json:"aadObjectId,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// storeKey is the ConversationStore id of a ref.
func (r ConversationRef) storeKey() string {
	if r.Kind == RefUser {
		return userKey(r.AADObjectID)
	}
	return r.ConversationID
}

func userKey(aadObjectID string) string { return "user:" + strings.ToLower(aadObjectID) }

// KnownConversations lists the conversations and people the bot has stored references
// for; an operator finds the approvals channel's id (MFABOT_TEAMS_CHANNEL) among them.
func (a *Adapter) KnownConversations(ctx context.Context) ([]ConversationRef, error) {
	raw, err := a.convs.Conversations(ctx, PlatformName)
	if err != nil {
		return nil, fmt.Errorf("list teams conversations: %w", err)
	}
	refs := make([]ConversationRef, 0, len(raw))
	for _, b := range raw {
		var r ConversationRef
		if err := json.Unmarshal(b, &r); err != nil {
			a.log.Warn("skip unreadable teams conversation reference", slog.Any(approvals.LogErr, err))
			continue
		}
		refs = append(refs, r)
	}
	return refs, nil
}

func (a *Adapter) loadRef(ctx context.Context, key string) (ConversationRef, error) {
	b, err := a.convs.Conversation(ctx, PlatformName, key)
	if err != nil {
		return ConversationRef{}, err
	}
	var r ConversationRef
	if err := json.Unmarshal(b, &r); err != nil {
		return ConversationRef{}, approvals.WrapError(approvals.EINTERNAL, err, "unreadable Teams conversation reference")
	}
	return r, nil
}

// putRef stores r unless the same ref was stored before by this process.
func (a *Adapter) putRef(ctx context.Context, r ConversationRef) {
	key := r.storeKey()
	if key == "" || key == userKey("") || r.ServiceURL == "" {
		return
	}
	r.UpdatedAt = time.Time{}
	sig, _ := json.Marshal(r)
	a.mu.Lock()
	same := a.stored[key] == string(sig)
	a.mu.Unlock()
	if same {
		return
	}
	r.UpdatedAt = a.cfg.Clock.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	if err := a.convs.PutConversation(ctx, PlatformName, key, b); err != nil {
		a.log.Error("store teams conversation reference", slog.String("conversation", key), slog.Any(approvals.LogErr, err))
		return
	}
	a.mu.Lock()
	a.stored[key] = string(sig)
	a.mu.Unlock()
	a.trust.add(r.ServiceURL)
	if r.Kind == RefConversation {
		a.log.Info("teams conversation stored",
			slog.String("conversation", r.ConversationID), slog.String("type", r.ConversationType),
			slog.String("name", r.Name), slog.String("team", r.TeamName))
	}
}

// rememberActivity stores what a verified activity teaches about where the bot can post:
// its conversation, the channel it names, and the people in it.
func (a *Adapter) rememberActivity(ctx context.Context, act *activity) {
	if act.Conversation == nil {
		return
	}
	base := ConversationRef{
		Kind:       RefConversation,
		ServiceURL: act.ServiceURL,
		TenantID:   strings.ToLower(act.tenant()),
	}
	if act.Recipient != nil {
		base.BotID = act.Recipient.ID
	}
	if cd := act.ChannelData; cd != nil && cd.Team != nil {
		base.TeamID, base.TeamName = cd.Team.ID, cd.Team.Name
	}
	conv := base
	conv.ConversationID = baseConversationID(act.Conversation.ID)
	conv.ConversationType = act.Conversation.ConversationType
	conv.Name = act.Conversation.Name
	if cd := act.ChannelData; cd != nil && cd.Channel != nil && cd.Channel.ID == conv.ConversationID && cd.Channel.Name != "" {
		conv.Name = cd.Channel.Name
	}
	if conv.ConversationType == convPersonal && act.From != nil && act.From.AADObjectID != "" {
		conv.UserID, conv.AADObjectID = act.From.ID, strings.ToLower(act.From.AADObjectID)
	}
	a.putRef(ctx, conv)

	// A team event may name a channel other than the conversation (channelCreated).
	if cd := act.ChannelData; cd != nil && cd.Channel != nil && cd.Channel.ID != "" && cd.Channel.ID != conv.ConversationID {
		ch := base
		ch.ConversationID, ch.ConversationType, ch.Name = cd.Channel.ID, convChannel, cd.Channel.Name
		a.putRef(ctx, ch)
	}

	people := []channelAccount{}
	if act.From != nil {
		people = append(people, *act.From)
	}
	people = append(people, act.MembersAdded...)
	for _, p := range people {
		if p.AADObjectID == "" || (act.Recipient != nil && p.ID == act.Recipient.ID) {
			continue
		}
		u := base
		u.Kind, u.TeamID, u.TeamName = RefUser, "", ""
		u.UserID, u.AADObjectID, u.Name = p.ID, strings.ToLower(p.AADObjectID), p.Name
		if conv.ConversationType == convPersonal && act.From != nil && p.ID == act.From.ID {
			u.ConversationID, u.ConversationType = conv.ConversationID, convPersonal
		} else if old, ok := a.knownRef(ctx, userKey(p.AADObjectID)); ok && old.ConversationID != "" {
			// Keep the personal chat learnt earlier.
			u.ConversationID, u.ConversationType = old.ConversationID, old.ConversationType
		}
		a.putRef(ctx, u)
	}
}

// knownRef returns the ref stored under key, from this process's memory when it stored
// it, else from the store.
func (a *Adapter) knownRef(ctx context.Context, key string) (ConversationRef, bool) {
	a.mu.Lock()
	sig, ok := a.stored[key]
	a.mu.Unlock()
	var r ConversationRef
	if ok {
		return r, json.Unmarshal([]byte(sig), &r) == nil
	}
	r, err := a.loadRef(ctx, key)
	return r, err == nil
}
