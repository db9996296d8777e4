package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// graph.Client is what status reads.
var _ commands.StatusSource = (*graph.Client)(nil)

// chat is an approvals channel on one platform: it keeps every card posted and updated,
// and what was told to whom.
type chat struct {
	name string

	mu    sync.Mutex
	cards map[string]bot.Message
	told  map[string][]bot.Message // actor key or e-mail -> messages
}

func newChat(name string) *chat {
	return &chat{name: name, cards: map[string]bot.Message{}, told: map[string][]bot.Message{}}
}

func (c *chat) Name() string { return c.name }

func (c *chat) Post(_ context.Context, m bot.Message) (bot.MessageRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := fmt.Sprintf("%s-%d", c.name, len(c.cards)+1)
	c.cards[id] = m
	return bot.MessageRef{Platform: c.name, Channel: "approvals", MessageID: id}, nil
}

func (c *chat) Update(_ context.Context, ref bot.MessageRef, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cards[ref.MessageID]; !ok {
		return fmt.Errorf("no message %s", ref.MessageID)
	}
	c.cards[ref.MessageID] = m
	return nil
}

func (c *chat) Tell(_ context.Context, to bot.Recipient, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := to.Email
	if to.Actor != nil {
		key = to.Actor.Key()
	}
	c.told[key] = append(c.told[key], m)
	return nil
}

// card returns the one card of a request in this channel.
func (c *chat) card(t *testing.T, id string) bot.Message {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []bot.Message
	for _, m := range c.cards {
		if m.RequestID == id {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s has %d cards for %s; want 1", c.name, len(found), id)
	}
	return found[0]
}

func (c *chat) messagesTo(key string) []bot.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bot.Message(nil), c.told[key]...)
}

type stack struct {
	tenant   *graphtest.Tenant
	db       *storage.DB
	svc      *approvals.Service
	exec     *approvals.Executor
	d        *commands.Dispatcher
	notifier *bot.Notifier
	slack    *chat
	teams    *chat
}

// newStack wires what cmd/mfabot wires, with the real storage, the real Graph client
// over HTTP against the simulated tenant, and two recording chat platforms.
func newStack(t *testing.T, users int) *stack {
	t.Helper()
	tn := graphtest.Generate(graphtest.GenOptions{Seed: 7, Users: users})
	srv := graphtest.Start(t, tn, graphtest.Options{})
	cred, err := graph.NewCredential(graph.CredentialOptions{
		TenantID: tn.ID(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthorityHost: srv.AuthorityURL(), HTTPClient: srv.HTTPClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := graph.New(graph.Config{TenantID: tn.ID(), ClientID: srv.ClientID(), Credential: cred,
		BaseURL: srv.URL(), HTTPClient: srv.HTTPClient(), WriteRate: 1000, ReportWindow: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db := storagetest.Open(t)
	admins, _ := approvals.ParsePrincipals("slack:UANN,slack:UBEN,teams:cleo-aad")
	pol := approvals.Policy{Requesters: admins, Approvers: admins, ConfirmAbove: 50,
		ProtectedGroups: []string{graphtest.GroupEmergencyAccess}, EnforceEnabled: true}
	pol, err = approvals.PinPolicy(context.Background(), gc, pol)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{tenant: tn, db: db, slack: newChat("slack"), teams: newChat("teams")}
	s.svc = approvals.NewService(db, gc, pol, approvals.ServiceOptions{})
	s.exec = approvals.NewExecutor(db, gc, pol, approvals.ExecutorOptions{})
	s.d = commands.NewDispatcher(commands.Options{Service: s.svc, Status: gc})
	s.notifier = bot.NewNotifier(db, []bot.Platform{s.slack, s.teams}, s.d, bot.NotifierOptions{ProgressEvery: -1})
	s.svc.SetNotifier(s.notifier)
	s.exec.SetNotifier(s.notifier)
	t.Cleanup(func() { _ = s.notifier.Close(context.Background()) })
	return s
}

func (s *stack) do(a approvals.Actor, text string) bot.Response {
	return s.d.Handle(context.Background(), bot.Event{Actor: a, Text: text})
}

func (s *stack) run(t *testing.T) {
	t.Helper()
	ran, err := s.exec.RunOnce(context.Background())
	if err != nil || !ran {
		t.Fatalf("executor ran %v: %v", ran, err)
	}
	flush(t, s.notifier)
}

func flush(t *testing.T, n *bot.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationReset(t *testing.T) {
	t.Parallel()
	s := newStack(t, 60)
	adele, _ := s.tenant.User(graphtest.AdeleUPN)
	before := len(s.tenant.Methods(adele.ID))

	resp := s.do(ann, "status <mailto:"+graphtest.AdeleUPN+"|"+graphtest.AdeleUPN+">")
	says(t, resp.Reply, "MFA status of Adele Vance", "MFA registered: yes", "Default method:", fmt.Sprintf("Methods (%d)", before), "/mfa reset "+graphtest.AdeleUPN)

	resp = s.do(ann, "reset "+graphtest.AdeleUPN+" lost her phone")
	if resp.Card == nil {
		t.Fatalf("reset answered %+v", resp.Reply)
	}
	id := resp.Card.RequestID
	flush(t, s.notifier)
	for _, c := range []*chat{s.slack, s.teams} {
		card := c.card(t, id)
		says(t, &card, "Waiting for approval", fmt.Sprintf("Methods to delete (%d)", before-1))
		if len(card.Buttons) != 2 {
			t.Fatalf("%s card has no buttons: %+v", c.name, card)
		}
	}
	approve := s.slack.card(t, id).Buttons[0].Command
	says(t, s.do(ann, approve).Reply, "you cannot approve or deny your own request")
	says(t, s.do(cleo, approve).Reply, "Approved "+id)
	s.run(t)

	for _, c := range []*chat{s.slack, s.teams} {
		card := c.card(t, id)
		says(t, &card, "Succeeded", "must register again at next sign-in")
		if card.Tone != bot.ToneGood || card.Progress == nil || card.Progress.Done != card.Progress.Total || len(card.Buttons) != 0 {
			t.Fatalf("%s final card = %+v", c.name, card)
		}
	}
	if ms := s.tenant.Methods(adele.ID); len(ms) != 1 || ms[0].Type != graphtest.MethodPassword {
		t.Fatalf("Adele still has %+v", ms)
	}
	if s.tenant.RevokedAt(adele.ID).IsZero() {
		t.Fatal("Adele's sessions were not revoked")
	}
	var titles []string
	for _, m := range s.slack.messagesTo(ann.Key()) {
		titles = append(titles, m.Title)
	}
	if len(titles) != 2 || !strings.Contains(titles[0], "was approved by Cleo") || !strings.Contains(titles[1], "succeeded") {
		t.Fatalf("Ann was told %q", titles)
	}
	for _, c := range []*chat{s.slack, s.teams} {
		if got := c.messagesTo(graphtest.AdeleUPN); len(got) != 1 || !strings.Contains(got[0].Text, "https://aka.ms/mfasetup") {
			t.Fatalf("Adele was told %+v on %s", got, c.name)
		}
	}

	// After the reset, status says so through Graph.
	says(t, s.do(ben, "status "+graphtest.AdeleUPN).Reply, "Methods (1)")
}

func TestIntegrationRevokeGroup(t *testing.T) {
	t.Parallel()
	s := newStack(t, 120)
	all, ok := func() (graphtest.Group, bool) {
		for _, g := range s.tenant.Groups() {
			if g.DisplayName == graphtest.GroupAllStaff {
				return g, true
			}
		}
		return graphtest.Group{}, false
	}()
	if !ok {
		t.Fatal("no All Staff group")
	}
	members := len(s.tenant.TransitiveUsers(all.ID))

	says(t, s.do(ann, `revoke-group "All Staff" enrollment`).Reply, "more than 50", fmt.Sprintf("--confirm %d", members))
	says(t, s.do(ann, `revoke-group “Emergency Access”`).Reply, "protected group")
	resp := s.do(ann, fmt.Sprintf(`revoke-group “All Staff” --confirm=%s enrollment`, bot.Thousands(members)))
	if resp.Card == nil {
		t.Fatalf("revoke-group answered %+v", resp.Reply)
	}
	id := resp.Card.RequestID
	says(t, resp.Card, fmt.Sprintf("the requester confirmed the count with --confirm %d", members))
	says(t, s.do(ben, "approve "+id).Reply, "It runs now")
	s.run(t)
	card := s.slack.card(t, id)
	says(t, &card, "Succeeded", fmt.Sprintf("revoked the sign-in sessions of %s members", bot.Thousands(members)))
	says(t, s.do(ann, "pending").Reply, "Nothing is waiting")
}

func TestIntegrationStatusWithoutLicence(t *testing.T) {
	t.Parallel()
	s := newStack(t, 60)
	s.tenant.SetLicensed(false)
	resp := s.do(ann, "status "+graphtest.AdeleUPN)
	says(t, resp.Reply, "MFA status of Adele Vance", "Registration details not available:", "P1 or P2", "Microsoft Authenticator")
	if resp.Reply.Tone != bot.ToneGood {
		t.Fatalf("tone %q; Adele's methods show she has MFA", resp.Reply.Tone)
	}
}
