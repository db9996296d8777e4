package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

//go:embed assets
var assets embed.FS

// PlatformName is the console's name in Actor.Platform and MessageRef.Platform.
const PlatformName = "console"

// ChannelID is the id of the console's one channel in MessageRef.Channel and
// bot.Conversation.ID.
const ChannelID = "approvals"

// Defaults of Config.
const (
	DefaultChannelName     = "mfa-approvals"
	DefaultTitle           = "mfabot demo"
	DefaultDispatchTimeout = 2 * time.Minute
	DefaultMaxMessages     = 200
)

// Limits on what is kept in memory and accepted from the page.
const (
	maxEphemeral   = 50       // replies kept per person
	maxDirect      = 100      // direct messages kept per person
	maxFileBytes   = 64 << 20 // files served from memory
	maxCommandText = 4000
	maxBody        = 16 << 10
)

// Person is someone the page can act as. Who may do what is not decided here: the
// policy's requesters and approvers name console people as "console:<ID>".
type Person struct {
	ID      string // short and URL-safe: "ann"; becomes Actor.ID
	Name    string // "Ann Admin"
	Role    string // shown under the name in the switcher: "requester · approver"
	EntraID string // linked Entra object id, optional (Actor.EntraID)
	Email   string // for Tell by e-mail (Recipient.Email), optional
}

// Actor is the person as the core sees them.
func (p Person) Actor() approvals.Actor {
	return approvals.Actor{Platform: PlatformName, ID: p.ID, Name: p.Name, EntraID: p.EntraID}
}

// Config configures an Adapter.
type Config struct {
	People          []Person // at least one; the first is selected when the page names nobody
	ChannelName     string   // shown as "# mfa-approvals"; default DefaultChannelName
	Title           string   // page title; default DefaultTitle
	DispatchTimeout time.Duration
	MaxMessages     int // channel messages kept; older ones are dropped
	// History returns the channel as it was before this process started (the cards of
	// recent requests, oldest first), so that a restarted demo shows what happened.
	// LoadHistory calls it. Optional.
	History func(ctx context.Context) ([]bot.Message, error)
	Clock   approvals.Clock
	Logger  *slog.Logger
}

var personID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Adapter is the console: a bot.Platform whose channel and direct messages live in memory
// and are shown by its http.Handler.
type Adapter struct {
	cfg    Config
	d      bot.Handler
	log    *slog.Logger
	people map[string]Person
	prefix string // makes message ids unique across restarts

	mu       sync.Mutex
	next     int64 // sequence of items and message ids
	channel  []*item
	replies  map[string][]*item // person id → ephemeral replies
	direct   map[string][]*item // person id → direct messages
	files    map[string]bot.File
	fileList []string // ids in the order added, for eviction
	fileSize int
	subs     map[*subscriber]struct{}
	closed   bool
	done     chan struct{}
}

var _ bot.Platform = (*Adapter)(nil)

// item is one message on the page.
type item struct {
	seq       int64
	id        string // MessageRef.MessageID and the DOM id
	kind      itemKind
	msg       bot.Message
	card      template.HTML
	at        time.Time
	echo      string // the command the person typed, shown above an ephemeral reply
	requestID string
}

type itemKind int

const (
	kindChannel itemKind = iota
	kindReply            // shown to one person only
	kindDirect
)

// New returns a console adapter that hands events to d.
func New(cfg Config, d bot.Handler) (*Adapter, error) {
	if d == nil {
		return nil, errors.New("console: no dispatcher")
	}
	if len(cfg.People) == 0 {
		return nil, errors.New("console: no people configured")
	}
	people := make(map[string]Person, len(cfg.People))
	for _, p := range cfg.People {
		if !personID.MatchString(p.ID) {
			return nil, fmt.Errorf("console: person id %q: use 1-32 lower-case letters, digits, - or _", p.ID)
		}
		if _, dup := people[p.ID]; dup {
			return nil, fmt.Errorf("console: person id %q configured twice", p.ID)
		}
		if p.Name == "" {
			p.Name = p.ID
		}
		people[p.ID] = p
	}
	for i := range cfg.People {
		cfg.People[i] = people[cfg.People[i].ID]
	}
	if cfg.ChannelName == "" {
		cfg.ChannelName = DefaultChannelName
	}
	if cfg.Title == "" {
		cfg.Title = DefaultTitle
	}
	if cfg.DispatchTimeout <= 0 {
		cfg.DispatchTimeout = DefaultDispatchTimeout
	}
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.Clock == nil {
		cfg.Clock = approvals.SystemClock{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Adapter{
		cfg: cfg, d: d, log: log, people: people, prefix: "m-" + hex.EncodeToString(b[:]) + "-",
		replies: map[string][]*item{}, direct: map[string][]*item{},
		files: map[string]bot.File{}, subs: map[*subscriber]struct{}{}, done: make(chan struct{}),
	}, nil
}

// Name is PlatformName.
func (a *Adapter) Name() string { return PlatformName }

// Conversation is the console's channel as events report it.
func (a *Adapter) Conversation() bot.Conversation {
	return bot.Conversation{Platform: PlatformName, ID: ChannelID, Name: a.cfg.ChannelName}
}

// LoadHistory puts the messages Config.History returns into the channel. Call it once,
// before serving; without Config.History it does nothing.
func (a *Adapter) LoadHistory(ctx context.Context) error {
	if a.cfg.History == nil {
		return nil
	}
	msgs, err := a.cfg.History(ctx)
	if err != nil {
		return fmt.Errorf("load console history: %w", err)
	}
	for _, m := range msgs {
		if _, err := a.post(m); err != nil {
			return err
		}
	}
	a.log.InfoContext(ctx, "console history loaded", "messages", len(msgs))
	return nil
}

// Post appends msg to the channel and shows it on every open page.
func (a *Adapter) Post(ctx context.Context, msg bot.Message) (bot.MessageRef, error) {
	id, err := a.post(msg)
	if err != nil {
		return bot.MessageRef{}, err
	}
	return bot.MessageRef{Platform: PlatformName, Channel: ChannelID, MessageID: id}, nil
}

func (a *Adapter) post(msg bot.Message) (string, error) {
	card, err := RenderMessage(msg)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	it := a.newItemLocked(kindChannel, msg, card)
	a.channel = append(a.channel, it)
	if over := len(a.channel) - a.cfg.MaxMessages; over > 0 {
		a.channel = append([]*item(nil), a.channel[over:]...)
	}
	a.publishLocked("", event{Name: "append", Data: a.itemEventLocked(it, "timeline")})
	return it.id, nil
}

// Update replaces a posted message in place on every open page. A message this process
// never posted (one from before a restart that History did not bring back) is found by
// its RequestID when it has one, and otherwise appended, so the channel stays truthful.
func (a *Adapter) Update(ctx context.Context, ref bot.MessageRef, msg bot.Message) error {
	if ref.Platform != PlatformName {
		return fmt.Errorf("console: update of a %q message", ref.Platform)
	}
	card, err := RenderMessage(msg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	it := a.findLocked(ref.MessageID, msg.RequestID)
	if it == nil {
		it = a.newItemLocked(kindChannel, msg, card)
		a.channel = append(a.channel, it)
		a.publishLocked("", event{Name: "append", Data: a.itemEventLocked(it, "timeline")})
		return nil
	}
	it.msg, it.card, it.requestID = msg, card, msg.RequestID
	a.registerFilesLocked(msg)
	a.publishLocked("", event{Name: "replace", Data: a.itemEventLocked(it, "timeline")})
	return nil
}

func (a *Adapter) findLocked(id, requestID string) *item {
	for _, it := range a.channel {
		if it.id == id {
			return it
		}
	}
	if requestID == "" {
		return nil
	}
	for i := len(a.channel) - 1; i >= 0; i-- {
		if a.channel[i].requestID == requestID {
			return a.channel[i]
		}
	}
	return nil
}

// Tell puts msg into a person's direct messages: a console actor by id, or a configured
// person by e-mail. Anyone else is unreachable.
func (a *Adapter) Tell(ctx context.Context, to bot.Recipient, msg bot.Message) error {
	p, ok := a.recipient(to)
	if !ok {
		return fmt.Errorf("console: %w", bot.ErrUnreachable)
	}
	card, err := RenderMessage(msg)
	if err != nil {
		return err
	}
	_, cancel, err := approvals.BeginSend(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	a.mu.Lock()
	defer a.mu.Unlock()
	it := a.newItemLocked(kindDirect, msg, card)
	dms := append(a.direct[p.ID], it)
	if over := len(dms) - maxDirect; over > 0 {
		dms = append([]*item(nil), dms[over:]...)
	}
	a.direct[p.ID] = dms
	a.publishLocked(p.ID, event{Name: "append", Data: a.itemEventLocked(it, "direct")})
	a.publishLocked("", event{Name: "counts", Data: a.countsLocked()})
	return nil
}

func (a *Adapter) recipient(to bot.Recipient) (Person, bool) {
	if to.Actor != nil {
		if to.Actor.Platform != PlatformName {
			return Person{}, false
		}
		p, ok := a.people[to.Actor.ID]
		return p, ok
	}
	for _, p := range a.cfg.People {
		if p.Email != "" && (strings.EqualFold(p.Email, to.Email) || strings.EqualFold(p.Email, to.UPN)) {
			return p, true
		}
	}
	return Person{}, false
}

// reply shows msg to one person only, below the command they typed (echo).
func (a *Adapter) reply(p Person, echo string, msg bot.Message) error {
	card, err := RenderMessage(msg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	it := a.newItemLocked(kindReply, msg, card)
	it.echo = echo
	rs := append(a.replies[p.ID], it)
	if over := len(rs) - maxEphemeral; over > 0 {
		rs = append([]*item(nil), rs[over:]...)
	}
	a.replies[p.ID] = rs
	a.publishLocked(p.ID, event{Name: "append", Data: a.itemEventLocked(it, "timeline")})
	return nil
}

func (a *Adapter) newItemLocked(kind itemKind, msg bot.Message, card template.HTML) *item {
	a.next++
	a.registerFilesLocked(msg)
	return &item{
		seq: a.next, id: fmt.Sprintf("%s%d", a.prefix, a.next), kind: kind,
		msg: msg, card: card, at: a.cfg.Clock.Now(), requestID: msg.RequestID,
	}
}

// registerFilesLocked keeps msg's image and files for /files/{id}, dropping the oldest
// files once they take more than maxFileBytes.
func (a *Adapter) registerFilesLocked(msg bot.Message) {
	fs := msg.Files
	if msg.Image != nil {
		fs = append([]bot.File{*msg.Image}, fs...)
	}
	for _, f := range fs {
		id := fileID(f)
		if _, ok := a.files[id]; ok {
			continue
		}
		a.files[id] = f
		a.fileList = append(a.fileList, id)
		a.fileSize += len(f.Data)
	}
	for a.fileSize > maxFileBytes && len(a.fileList) > 1 {
		old := a.fileList[0]
		a.fileList = a.fileList[1:]
		a.fileSize -= len(a.files[old].Data)
		delete(a.files, old)
	}
}

func (a *Adapter) file(id string) (bot.File, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.files[id]
	return f, ok
}

// timelineLocked is what person sees in the channel: every channel message and their
// own replies, in the order they arrived.
func (a *Adapter) timelineLocked(person string) []*item {
	ch, rs := a.channel, a.replies[person]
	out := make([]*item, 0, len(ch)+len(rs))
	for len(ch) > 0 || len(rs) > 0 {
		if len(rs) == 0 || (len(ch) > 0 && ch[0].seq < rs[0].seq) {
			out, ch = append(out, ch[0]), ch[1:]
		} else {
			out, rs = append(out, rs[0]), rs[1:]
		}
	}
	return out
}

func (a *Adapter) countsLocked() map[string]int {
	c := make(map[string]int, len(a.people))
	for id := range a.people {
		c[id] = len(a.direct[id])
	}
	return c
}

// Close ends every open event stream (so that an http.Server can shut down) and refuses
// new ones. Posting and updating keep working.
func (a *Adapter) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.closed = true
	close(a.done)
}
