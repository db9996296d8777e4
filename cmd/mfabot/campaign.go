package main

import (
	"context"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// courier builds the bot.Courier that delivers nudges and tells affected users: the chat
// platforms in the order configured (counted like every platform call), then mail from
// notify.mail_from when it is set.
func (a *App) courier() *bot.Courier {
	var ps []bot.Platform
	for _, p := range a.platforms {
		ps = append(ps, a.Metrics.courierPlatform(p))
	}
	o := bot.CourierOptions{Users: a.Graph, Logger: a.log.With(approvals.LogComponent, "courier")}
	if a.cfg.NotifyMailFrom != "" {
		o.Mail = a.Graph.Mailbox(a.cfg.NotifyMailFrom)
	}
	return bot.NewCourier(ps, a.Dispatcher, o)
}

// courierPlatform counts a platform's calls for the courier; one that sends direct
// messages in bulk (Slack) keeps that ability.
func (m *metrics) courierPlatform(p bot.Platform) bot.Platform {
	c := &countedPlatform{Platform: p, m: m}
	if dm, ok := p.(bot.DirectMessenger); ok {
		return &countedDirect{countedPlatform: c, dm: dm}
	}
	return c
}

type countedDirect struct {
	*countedPlatform
	dm bot.DirectMessenger
}

func (c *countedDirect) DirectMessage(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	err := c.dm.DirectMessage(ctx, to, msg)
	c.count("direct", err)
	return err
}

// PostGroup lets /mfa summary <group> post through the same job as the daily post.
func (s summaryPoster) PostGroup(ctx context.Context, group string) error {
	return s.a.Summary.PostGroup(ctx, group)
}
