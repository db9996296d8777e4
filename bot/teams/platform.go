package teams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Post posts msg as a card to the approvals channel (Config.Channel). The MessageRef's
// Data is the serviceUrl the card lives behind.
func (a *Adapter) Post(ctx context.Context, msg bot.Message) (bot.MessageRef, error) {
	if a.cfg.Channel == "" {
		return bot.MessageRef{}, approvals.Errorf(approvals.EINVALID, "no Teams approvals channel is configured (MFABOT_TEAMS_CHANNEL)")
	}
	serviceURL, err := a.channelServiceURL(ctx, a.cfg.Channel)
	if err != nil {
		return bot.MessageRef{}, err
	}
	id, err := a.conn.sendToConversation(ctx, serviceURL, a.cfg.Channel, cardActivity(msg, a.cardOptions(a.cfg.Channel)))
	if err != nil {
		return bot.MessageRef{}, fmt.Errorf("post to teams channel: %w", err)
	}
	a.rememberCard(id, a.cfg.Channel, msg)
	return bot.MessageRef{Platform: PlatformName, Channel: a.cfg.Channel, MessageID: id, Data: serviceURL}, nil
}

// channelServiceURL finds the serviceUrl of a conversation from its stored reference.
// Until the bot has seen the channel itself, the serviceUrl of the tenant's other
// conversations serves: Teams gives one tenant one serviceUrl.
func (a *Adapter) channelServiceURL(ctx context.Context, conv string) (string, error) {
	ref, err := a.loadRef(ctx, baseConversationID(conv))
	if err == nil && ref.ServiceURL != "" {
		return ref.ServiceURL, nil
	}
	if err != nil && approvals.ErrorCode(err) != approvals.ENOTFOUND {
		return "", fmt.Errorf("load teams channel reference: %w", err)
	}
	refs, err := a.KnownConversations(ctx)
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	var only string
	for _, r := range refs {
		if r.ServiceURL != "" && strings.EqualFold(r.TenantID, a.cfg.TenantID) && !seen[strings.ToLower(r.ServiceURL)] {
			seen[strings.ToLower(r.ServiceURL)] = true
			only = r.ServiceURL
		}
	}
	if len(seen) == 1 {
		a.log.Warn("teams channel not seen yet; using the tenant's service URL", slog.String("conversation", conv))
		return only, nil
	}
	return "", approvals.Errorf(approvals.ENOTFOUND,
		"Teams does not know the conversation %s yet: add mfabot to its team, or mention @mfabot there once", conv)
}

// Update replaces a posted card. Updates of one card are coalesced: while one is on its
// way, only the newest waiting state is sent next (the others return nil), so progress
// stays within Teams' limits and the final state always goes out.
func (a *Adapter) Update(ctx context.Context, ref bot.MessageRef, msg bot.Message) error {
	if ref.Platform != PlatformName || ref.Channel == "" || ref.MessageID == "" || ref.Data == "" {
		return approvals.Errorf(approvals.EINVALID, "not a Teams message reference")
	}
	return a.updateActivity(ctx, ref.Data, ref.Channel, ref.MessageID, msg)
}

type updateSlot struct {
	pending *pendingUpdate
	running bool
}

type pendingUpdate struct {
	serviceURL, conv, activityID string
	msg                          bot.Message
	done                         chan error
}

func (a *Adapter) updateActivity(ctx context.Context, serviceURL, conv, activityID string, msg bot.Message) error {
	p := &pendingUpdate{serviceURL: serviceURL, conv: conv, activityID: activityID, msg: msg, done: make(chan error, 1)}
	a.rememberCard(activityID, conv, msg)
	direct := func() error {
		return a.conn.updateActivity(ctx, serviceURL, conv, activityID, cardActivity(msg, a.cardOptions(conv)))
	}
	a.mu.Lock()
	if a.bg.Closed() && a.updates[activityID] == nil {
		a.mu.Unlock()
		return direct() // closing: no new worker, send this one directly
	}
	slot := a.updates[activityID]
	if slot == nil {
		slot = &updateSlot{}
		a.updates[activityID] = slot
	}
	if old := slot.pending; old != nil {
		old.done <- nil // superseded by a newer state
	}
	slot.pending = p
	start := !slot.running
	slot.running = true
	a.mu.Unlock()
	if start && !a.bg.Go(0, func(ctx context.Context) { a.runUpdates(ctx, activityID, slot) }) {
		// Closed meanwhile: no worker will take it, so send it here.
		a.mu.Lock()
		slot.running, slot.pending = false, nil
		delete(a.updates, activityID)
		a.mu.Unlock()
		return direct()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runUpdates sends the waiting update of one card until none is left. It runs on the
// adapter's context, not the caller's, so that a final state is not lost to an impatient
// caller.
func (a *Adapter) runUpdates(life context.Context, activityID string, slot *updateSlot) {
	for {
		a.mu.Lock()
		p := slot.pending
		slot.pending = nil
		if p == nil {
			slot.running = false
			delete(a.updates, activityID)
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(life, a.cfg.DispatchTimeout)
		err := a.conn.updateActivity(ctx, p.serviceURL, p.conv, p.activityID, cardActivity(p.msg, a.cardOptions(p.conv)))
		cancel()
		p.done <- err
	}
}

// Tell sends msg to one person in their personal chat with the bot: an actor, or an Entra
// user by to.EntraID. Teams lets a bot message someone only where its app is installed for
// them: the personal chat stored when they installed the app or wrote to the bot, or —
// created on demand — a 1:1 chat with someone the bot has seen in a team or group chat
// where it is installed. Otherwise the error wraps bot.ErrUnreachable.
func (a *Adapter) Tell(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	var aad string
	switch {
	case to.Actor != nil && to.Actor.Platform == PlatformName:
		aad = to.Actor.ID
	case to.Actor != nil && to.Actor.EntraID != "":
		aad = to.Actor.EntraID
	case to.Actor == nil:
		aad = to.EntraID
	}
	if !IsGUID(aad) {
		return fmt.Errorf("teams: no Entra id for the recipient: %w", bot.ErrUnreachable)
	}
	ref, err := a.loadRef(ctx, userKey(aad))
	if err != nil {
		if approvals.ErrorCode(err) == approvals.ENOTFOUND {
			return fmt.Errorf("teams: mfabot has never seen this person: %w", bot.ErrUnreachable)
		}
		return fmt.Errorf("load teams user reference: %w", err)
	}
	if ref.ConversationID == "" {
		ref, err = a.createPersonalChat(ctx, ref)
		if err != nil {
			return err
		}
	}
	// Within a nudge the send is begun now: a personal chat created twice is harmless, a
	// message sent twice is not.
	sctx, cancel, err := approvals.BeginSend(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := a.conn.sendToConversation(sctx, ref.ServiceURL, ref.ConversationID, cardActivity(msg, CardOptions{})); err != nil {
		var ce *ConnectorError
		if errors.As(err, &ce) && (ce.Status == http.StatusForbidden || ce.Status == http.StatusNotFound) {
			return fmt.Errorf("teams: personal chat refused (%v): %w", err, bot.ErrUnreachable)
		}
		return fmt.Errorf("send teams personal message: %w", err)
	}
	return nil
}

func (a *Adapter) createPersonalChat(ctx context.Context, ref ConversationRef) (ConversationRef, error) {
	if ref.UserID == "" || ref.ServiceURL == "" {
		return ref, fmt.Errorf("teams: no Teams user id known: %w", bot.ErrUnreachable)
	}
	botID := ref.BotID
	if botID == "" {
		botID = "28:" + a.cfg.AppID
	}
	params := conversationParameters{
		IsGroup:     false,
		Bot:         &channelAccount{ID: botID},
		Members:     []channelAccount{{ID: ref.UserID}},
		TenantID:    a.cfg.TenantID,
		ChannelData: &channelData{Tenant: &idName{ID: a.cfg.TenantID}},
	}
	cr, err := a.conn.createConversation(ctx, ref.ServiceURL, params)
	if err != nil {
		var ce *ConnectorError
		if errors.As(err, &ce) && (ce.Status == http.StatusForbidden || ce.Status == http.StatusNotFound || ce.Status == http.StatusBadRequest) {
			return ref, fmt.Errorf("teams: cannot open a personal chat (%v): %w", err, bot.ErrUnreachable)
		}
		return ref, fmt.Errorf("create teams personal chat: %w", err)
	}
	if cr.ID == "" {
		return ref, fmt.Errorf("teams: empty conversation id: %w", bot.ErrUnreachable)
	}
	ref.ConversationID, ref.ConversationType = cr.ID, convPersonal
	a.putRef(ctx, ref)
	return ref, nil
}
