package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// event is one server-sent event: a message appended or replaced, the direct-message
// counts, or (first on every connection) the whole view.
type event struct {
	Name string
	Data any
}

// itemEvent is the data of "append" and "replace": the item's id, which list it belongs
// to ("timeline" or "direct"), and its HTML.
type itemEvent struct {
	Target string `json:"target"`
	ID     string `json:"id"`
	HTML   string `json:"html"`
}

// resetEvent is the data of "reset": everything one person sees.
type resetEvent struct {
	Timeline string         `json:"timeline"`
	Direct   string         `json:"direct"`
	Counts   map[string]int `json:"counts"`
}

// subscriber is one open /events stream of one person. It is dropped, not waited for,
// when it falls behind: the page reconnects and gets a fresh "reset".
type subscriber struct {
	person string
	ch     chan event
	gone   chan struct{}
}

const subscriberBuffer = 256

func (a *Adapter) subscribe(person string) (*subscriber, event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, event{}, false
	}
	s := &subscriber{person: person, ch: make(chan event, subscriberBuffer), gone: make(chan struct{})}
	a.subs[s] = struct{}{}
	// The snapshot is taken under the same lock as the subscription, so no event falls
	// between the two.
	return s, event{Name: "reset", Data: a.resetLocked(person)}, true
}

func (a *Adapter) unsubscribe(s *subscriber) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.subs[s]; ok {
		delete(a.subs, s)
		close(s.gone)
	}
}

// publishLocked sends ev to the streams of person, or to every stream when person is "".
func (a *Adapter) publishLocked(person string, ev event) {
	for s := range a.subs {
		if person != "" && s.person != person {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(a.subs, s)
			close(s.gone)
			a.log.Warn("console event stream fell behind; dropped", "person", s.person)
		}
	}
}

func (a *Adapter) resetLocked(person string) resetEvent {
	var tl, dm strings.Builder
	for _, it := range a.timelineLocked(person) {
		tl.WriteString(string(a.itemHTML(it)))
	}
	for _, it := range a.direct[person] {
		dm.WriteString(string(a.itemHTML(it)))
	}
	return resetEvent{Timeline: tl.String(), Direct: dm.String(), Counts: a.countsLocked()}
}

func (a *Adapter) itemEventLocked(it *item, target string) itemEvent {
	return itemEvent{Target: target, ID: it.id, HTML: string(a.itemHTML(it))}
}

// itemView is an item as the "item" template shows it.
type itemView struct {
	ID        string
	Kind      string // "channel", "reply", "direct"
	At        time.Time
	Echo      string
	Card      template.HTML
	RequestID string
}

func (a *Adapter) itemHTML(it *item) template.HTML {
	v := itemView{ID: it.id, At: it.at, Echo: it.echo, Card: it.card, RequestID: it.requestID}
	switch it.kind {
	case kindReply:
		v.Kind = "reply"
	case kindDirect:
		v.Kind = "direct"
	default:
		v.Kind = "channel"
	}
	var b bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&b, "item", v); err != nil {
		a.log.Error("render console item", approvals.LogErr, err)
		return ""
	}
	return template.HTML(b.String()) //nolint:gosec // produced by html/template
}

// writeEvent writes ev in the text/event-stream format. JSON never contains a raw
// newline, so one data line suffices.
func writeEvent(w io.Writer, ev event) error {
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Name, data)
	return err
}
