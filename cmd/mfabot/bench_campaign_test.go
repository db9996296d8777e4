package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// nudgeScale speeds Slack's documented limits up (one message a second becomes 250, Tier
// 2's 20 users.list calls a minute 20 per 0.24 s), the fake's and mfabot's alike, so that
// a nudge of 10,000 takes seconds; the figures are reported unscaled.
const nudgeScale = 250

// BenchmarkNudge10k nudges 10,000 unregistered users who are all on Slack, through the App
// as serve builds it (the executor, a real SQLite file, the real Graph client reading the
// registration report from graphtest) and the real Slack adapter against slacktest
// enforcing Slack's documented limits, and reports the wall time from approval to the
// last message against the lower bound Slack's documented rate sets (10,000 messages at
// one a second): the goal is at most 1.2×, with no 429.
func BenchmarkNudge10k(b *testing.B) { benchNudge(b, 10000) }

// BenchmarkNudge2k is BenchmarkNudge10k for 2,000 people.
func BenchmarkNudge2k(b *testing.B) { benchNudge(b, 2000) }

func benchNudge(b *testing.B, people int) {
	for range b.N {
		tn := graphtest.NewTenant()
		g, err := tn.AddGroup(graphtest.Group{DisplayName: "Everyone", MailNickname: "everyone-group"})
		if err != nil {
			b.Fatal(err)
		}
		fake := slacktest.New()
		for i := range people {
			u, err := tn.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("user%05d@contoso.com", i), Mail: fmt.Sprintf("user%05d@contoso.com", i),
				DisplayName: fmt.Sprintf("User %d", i), AccountEnabled: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := tn.AddMember(g.ID, u.ID); err != nil {
				b.Fatal(err)
			}
			fake.AddUser(slacktest.User{ID: fmt.Sprintf("U%05d", i), Name: u.DisplayName, Email: u.Mail})
		}
		fake.AddUser(slacktest.User{ID: "UANN", Name: "ann"})
		fake.AddUser(slacktest.User{ID: "UBEN", Name: "ben"})
		fake.EnforceLimits(slacktest.DocumentedLimits(), nudgeScale)
		gs := graphtest.Start(b, tn, graphtest.Options{})
		vars := map[string]string{
			"MFABOT_DB": filepath.Join(b.TempDir(), "mfabot.db"), "MFABOT_GRAPH_URL": gs.URL(), "AZURE_TENANT_ID": tn.ID(),
			"AZURE_CLIENT_ID": gs.ClientID(), "AZURE_CLIENT_SECRET": gs.ClientSecret(), "AZURE_AUTHORITY_HOST": gs.AuthorityURL(),
			"MFABOT_SLACK_BOT_TOKEN": slacktest.BotToken, "MFABOT_SLACK_SIGNING_SECRET": "bench-secret",
			"MFABOT_SLACK_API_URL": fake.APIURL(), "MFABOT_SLACK_CHANNEL": slacktest.Channel,
			"MFABOT_REQUESTERS": "slack:UANN,slack:UBEN", "MFABOT_APPROVERS": "slack:UANN,slack:UBEN",
			"MFABOT_CONFIRM_ABOVE": "100000", "MFABOT_LOG_LEVEL": "error",
		}
		cfg, err := config.Load("", envOf(vars))
		if err != nil {
			b.Fatal(err)
		}
		direct := slack.DirectLimits{Rate: nudgeScale, ListWindow: time.Duration(float64(time.Minute) / nudgeScale)}
		app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler), envOf(vars), appDeps{
			GraphHTTPClient: gs.HTTPClient(), ReportLimit: 5, ReportWindow: 10 * time.Second / nudgeScale, SlackDirect: direct,
		})
		if err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx, ln, false) }()

		ask := func(who, text string) bot.Response {
			return app.Dispatcher.Handle(ctx, bot.Event{Actor: approvals.Actor{Platform: "slack", ID: who, Name: who}, Text: text})
		}
		resp := ask("UANN", "nudge everyone-group")
		if resp.Card == nil {
			b.Fatalf("nudge: %+v", resp.Reply)
		}
		id := resp.Card.RequestID
		start := time.Now()
		if r := ask("UBEN", "approve "+id); r.Reply == nil || !strings.HasPrefix(r.Reply.Title, "Approved") {
			b.Fatalf("approve: %+v", r.Reply)
		}
		var end *approvals.Request
		waitForWithin(b, "the end of the nudge", time.Hour, func() bool {
			if end, err = app.DB.Request(ctx, id); err != nil {
				b.Fatal(err)
			}
			return end.State.Final()
		})
		took := time.Since(start)
		if end.State != approvals.StateSucceeded || end.Done != people {
			b.Fatalf("nudge %s: %d of %d, %s", end.State, end.Done, end.Total, end.Error)
		}
		bound := time.Duration(float64(people) / nudgeScale * float64(time.Second))
		b.ReportMetric(took.Seconds()/bound.Seconds(), "x-lower-bound")
		b.ReportMetric(took.Seconds()*nudgeScale/3600, "hours-unscaled")
		b.ReportMetric(float64(fake.Throttled("chat.postMessage")+fake.Throttled("users.list")), "429s")
		b.ReportMetric(float64(len(fake.Calls("users.list"))), "users.list-calls")
		cancel()
		<-done
		app.Close()
		fake.Close()
	}
}
