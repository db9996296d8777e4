package teams

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// ConversationStore keeps conversation references; storage.DB implements it.
type ConversationStore interface {
	PutConversation(ctx context.Context, platform, id string, data []byte) error
	ConversationReader
}

// ConversationReader reads the stored conversation references (Check only reads them);
// storage.DB implements it, also when opened read-only.
type ConversationReader interface {
	// Conversation returns an error with code approvals.ENOTFOUND when id is unknown.
	Conversation(ctx context.Context, platform, id string) ([]byte, error)
	Conversations(ctx context.Context, platform string) ([][]byte, error)
}

var _ bot.Platform = (*Adapter)(nil)

// Adapter is the Microsoft Teams side of mfabot: the messaging endpoint for the Bot
// Connector and a bot.Platform that posts and updates Adaptive Cards.
type Adapter struct {
	cfg     Config
	d       bot.Handler
	convs   ConversationStore
	log     *slog.Logger
	auth    *validator
	rejects *bot.Rejects
	conn    *connector
	trust   *serviceURLs

	bg *bot.Background // work that outlives a request: commands, card updates

	mu      sync.Mutex
	stored  map[string]string      // store key → ref last stored by this process
	cards   map[string]cardMemory  // activity id → the card last sent or answered there
	order   []string               // activity ids of cards, oldest first
	viewers map[string][]string    // conversation → recently active user ids, newest first
	updates map[string]*updateSlot // activity id → coalesced updates
}

// cardMemory is the last known state of a posted card, used to answer an invoke when the
// core is slow.
type cardMemory struct {
	conv string
	msg  bot.Message
}

const maxRememberedCards = 1024

// New builds the adapter. It validates cfg and, unless cfg.Credential is set, builds the
// client-secret credential of the bot's app registration.
func New(cfg Config, d bot.Handler, convs ConversationStore) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d == nil || convs == nil {
		return nil, fmt.Errorf("teams: a dispatcher and a conversation store are required")
	}
	cfg.setDefaults()
	cred := cfg.Credential
	if cred == nil {
		c, err := newSecretCredential(cfg)
		if err != nil {
			return nil, fmt.Errorf("teams: bot credential: %w", err)
		}
		cred = c
	}
	log := cfg.Logger.With(slog.String("platform", PlatformName))
	a := &Adapter{
		cfg:     cfg,
		d:       d,
		convs:   convs,
		log:     log,
		auth:    newValidator(cfg),
		bg:      bot.NewBackground(log),
		stored:  map[string]string{},
		cards:   map[string]cardMemory{},
		viewers: map[string][]string{},
		updates: map[string]*updateSlot{},
	}
	a.auth.keys.base = a.bg.Context()
	a.rejects = bot.NewRejects(cfg.OnReject, a.log, cfg.Clock.Now)
	a.trust = &serviceURLs{set: map[string]bool{}, load: a.storedServiceURLs}
	a.conn = &connector{
		cred:    cred,
		client:  cfg.HTTPClient,
		log:     a.log,
		clock:   cfg.Clock.Now,
		pace:    approvals.PaceClock{},
		limiter: newLimiter(threadLimits),
		app:     newLimiter(appLimits),
		trust:   a.trust,
		retry:   defaultRetry,
	}
	return a, nil
}

func newSecretCredential(cfg Config) (azcore.TokenCredential, error) {
	tenant := cfg.TenantID
	if cfg.MultiTenant {
		tenant = multiTenantAuthority
	}
	opts := &azidentity.ClientSecretCredentialOptions{}
	opts.Transport = cfg.HTTPClient
	if cfg.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
		host := strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(cfg.AuthorityHost, "/"), "https://"))
		opts.DisableInstanceDiscovery = !knownAuthorityHosts[host]
	}
	return azidentity.NewClientSecretCredential(tenant, cfg.AppID, cfg.AppPassword, opts)
}

// Name returns "teams".
func (a *Adapter) Name() string { return PlatformName }

// Handler returns the messaging endpoint (mount it at MessagesPath).
func (a *Adapter) Handler() http.Handler { return http.HandlerFunc(a.serveMessages) }

// Close stops taking requests and waits for background work (commands being handled,
// card updates in flight) to finish, or for ctx to end, whichever comes first.
func (a *Adapter) Close(ctx context.Context) error { return a.bg.Close(ctx) }

// goBackground runs fn on its own goroutine with a bounded context that outlives the
// request that started it. It reports false when the adapter is closing.
func (a *Adapter) goBackground(fn func(ctx context.Context)) bool {
	return a.bg.Go(a.cfg.DispatchTimeout, fn)
}

func (a *Adapter) storedServiceURLs(ctx context.Context) ([]string, error) {
	refs, err := a.KnownConversations(ctx)
	if err != nil {
		return nil, err
	}
	urls := make([]string, 0, len(refs))
	for _, r := range refs {
		urls = append(urls, r.ServiceURL)
	}
	return urls, nil
}

// rememberCard records the latest card of an activity.
func (a *Adapter) rememberCard(activityID, conv string, msg bot.Message) {
	if activityID == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.cards[activityID]; !ok {
		a.order = append(a.order, activityID)
		if len(a.order) > maxRememberedCards {
			delete(a.cards, a.order[0])
			a.order = a.order[1:]
		}
	}
	a.cards[activityID] = cardMemory{conv: conv, msg: msg}
}

func (a *Adapter) lastCard(activityID string) (bot.Message, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cards[activityID]
	return c.msg, ok
}

// noteViewer remembers that a user is active in a conversation: their client is asked to
// refresh the cards posted there automatically.
func (a *Adapter) noteViewer(conv, userID string) {
	if conv == "" || !strings.HasPrefix(userID, "29:") {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := []string{userID}
	for _, id := range a.viewers[conv] {
		if id != userID && len(ids) < MaxRefreshUsers {
			ids = append(ids, id)
		}
	}
	a.viewers[conv] = ids
}

func (a *Adapter) cardOptions(conv string) CardOptions {
	a.mu.Lock()
	defer a.mu.Unlock()
	return CardOptions{RefreshUserIDs: append([]string(nil), a.viewers[baseConversationID(conv)]...)}
}

// cardActivity is a message activity carrying one card and no text: Teams shows text and
// card of one activity badly, so the two never share one.
func cardActivity(msg bot.Message, opts CardOptions) *activity {
	return &activity{
		Type:        typeMessage,
		Summary:     plain(msg.Title),
		Attachments: []attachment{{ContentType: contentTypeAdaptiveCard, Content: RenderCard(msg, opts)}},
	}
}
