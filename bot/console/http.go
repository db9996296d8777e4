package console

import (
	"context"
	"encoding/json"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// contentSecurityPolicy allows only the console's own script, style and images: no
// inline script or style, no framing, no form posts elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

const heartbeat = 20 * time.Second

// Texts shown to the person at the page.
const (
	msgNoPrefix = "Commands start with /mfa, as in Slack. Try /mfa help."
	msgTooLong  = "That command is too long."
)

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"initials": initials,
	"clock":    func(t time.Time) string { return t.UTC().Format("15:04") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).ParseFS(assets, "assets/page.html"))

// Handler serves the console: the page (GET /?as=<person>), its live updates
// (GET /events?as=<person>, server-sent events), what the person types or presses
// (POST /command), images and attachments (GET /files/{id}) and the page's script and
// style (GET /static/…). Requests must name a loopback host, POSTs must come from the
// page itself, and every response carries a strict Content-Security-Policy.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.handlePage)
	mux.HandleFunc("GET /events", a.handleEvents)
	mux.HandleFunc("POST /command", a.handleCommand)
	mux.HandleFunc("GET /files/{id}", a.handleFile)
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", noCache(http.FileServerFS(static))))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.log.Warn("console: cross-origin request refused", "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		writeError(w, r, http.StatusForbidden, "cross-origin request refused")
	}))
	return securityHeaders(loopbackOnly(cop.Handler(mux)))
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// loopbackOnly refuses requests for any host name but localhost or a loopback address:
// a web page that rebinds its own DNS name to 127.0.0.1 would otherwise be same-origin
// with the console.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsLoopbackHost(r.Host) {
			writeError(w, r, http.StatusMisdirectedRequest, "the console answers only on localhost or a loopback address")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopbackHost reports whether hostport names this machine only (approvals.IsLoopbackHost).
func IsLoopbackHost(hostport string) bool { return approvals.IsLoopbackHost(hostport) }

func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// person is the person a request names in "as"; the first configured one when it names
// nobody (a page opened without ?as=).
func (a *Adapter) person(as string) (Person, bool) {
	if as == "" {
		return a.cfg.People[0], true
	}
	p, ok := a.people[as]
	return p, ok
}

type personView struct {
	Person
	Current bool
	Direct  int
}

type pageView struct {
	Title       string
	ChannelName string
	Me          Person
	People      []personView
	Timeline    []template.HTML
	Direct      []template.HTML
}

func (a *Adapter) handlePage(w http.ResponseWriter, r *http.Request) {
	me, ok := a.person(r.URL.Query().Get("as"))
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v := pageView{Title: a.cfg.Title, ChannelName: a.cfg.ChannelName, Me: me}
	a.mu.Lock()
	counts := a.countsLocked()
	for _, p := range a.cfg.People {
		v.People = append(v.People, personView{Person: p, Current: p.ID == me.ID, Direct: counts[p.ID]})
	}
	for _, it := range a.timelineLocked(me.ID) {
		v.Timeline = append(v.Timeline, a.itemHTML(it))
	}
	for _, it := range a.direct[me.ID] {
		v.Direct = append(v.Direct, a.itemHTML(it))
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTemplate.ExecuteTemplate(w, "page.html", v); err != nil {
		a.log.Error("render console page", approvals.LogErr, err)
	}
}

func (a *Adapter) handleEvents(w http.ResponseWriter, r *http.Request) {
	p, ok := a.person(r.URL.Query().Get("as"))
	if !ok {
		writeError(w, r, http.StatusBadRequest, "unknown person")
		return
	}
	s, reset, ok := a.subscribe(p.ID)
	if !ok {
		writeError(w, r, http.StatusServiceUnavailable, "the console is shutting down")
		return
	}
	defer a.unsubscribe(s)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	if writeEvent(w, reset) != nil || rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.done:
			return
		case <-s.gone:
			return
		case <-tick.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case ev := <-s.ch:
			if writeEvent(w, ev) != nil {
				return
			}
			// Send whatever else is queued before flushing.
			for drained := false; !drained; {
				select {
				case ev := <-s.ch:
					if writeEvent(w, ev) != nil {
						return
					}
				default:
					drained = true
				}
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

// handleCommand turns what a person typed ("/mfa reset …") or pressed (a button's
// command, plus a reason when the button asks for one) into a bot.Event for the
// dispatcher, and shows the answer to that person alone unless it is public.
func (a *Adapter) handleCommand(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		writeError(w, r, http.StatusUnsupportedMediaType, "send a form (application/x-www-form-urlencoded)")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, r, http.StatusBadRequest, "unreadable form")
		return
	}
	p, ok := a.people[r.PostForm.Get("as")]
	if !ok {
		writeError(w, r, http.StatusBadRequest, "unknown person")
		return
	}
	typed := strings.TrimSpace(r.PostForm.Get("text"))
	button := r.PostForm.Get("button") == "true"
	reason := r.PostForm.Get("reason")
	var form map[string]string
	if r.PostForm.Get("form") == "1" {
		form = formValues(r.PostForm)
		for _, v := range form {
			if !utf8.ValidString(v) {
				writeError(w, r, http.StatusBadRequest, "text is not UTF-8")
				return
			}
		}
	} else if r.ContentLength > maxBody {
		writeError(w, r, http.StatusRequestEntityTooLarge, "that is too much for a command")
		return
	}
	if !utf8.ValidString(typed) || !utf8.ValidString(reason) {
		writeError(w, r, http.StatusBadRequest, "text is not UTF-8")
		return
	}
	if typed == "" {
		writeError(w, r, http.StatusBadRequest, "nothing to send")
		return
	}
	text, echo := typed, ""
	if !button {
		echo = typed
		var ok bool
		if text, ok = commandText(typed); !ok {
			a.replyOrLog(p, echo, bot.Message{Text: msgNoPrefix, Tone: bot.ToneWarning})
			writeOK(w, r, p)
			return
		}
	}
	if utf8.RuneCountInString(text) > maxCommandText {
		a.replyOrLog(p, echo, bot.Message{Text: msgTooLong, Tone: bot.ToneBad})
		writeOK(w, r, p)
		return
	}

	// The answer is shown even if the page goes away meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.DispatchTimeout)
	defer cancel()
	ev := bot.Event{Actor: p.Actor(), Conversation: a.Conversation(), Text: text, Button: button, Form: form}
	if button {
		ev.Reason = reason
	}
	a.log.DebugContext(ctx, "console event", "person", p.ID, "button", button)
	resp := a.d.Handle(ctx, ev)
	if resp.Form != nil {
		if err := a.replyForm(p, echo, *resp.Form); err != nil {
			a.log.ErrorContext(ctx, "console form", approvals.LogErr, err)
		}
		writeOK(w, r, p)
		return
	}
	msg := resp.Reply
	if msg == nil && !button {
		msg = resp.Card
	}
	switch {
	case msg == nil:
	case resp.Public:
		if _, err := a.post(*msg); err != nil {
			a.log.ErrorContext(ctx, "console post", approvals.LogErr, err)
		}
	default:
		a.replyOrLog(p, echo, *msg)
	}
	writeOK(w, r, p)
}

func (a *Adapter) replyOrLog(p Person, echo string, msg bot.Message) {
	if err := a.reply(p, echo, msg); err != nil {
		a.log.Error("console reply", "person", p.ID, approvals.LogErr, err)
	}
}

// commandText strips the "/mfa" a person types, as Slack strips the slash command.
func commandText(typed string) (string, bool) {
	const prefix = "/mfa"
	if len(typed) < len(prefix) || !strings.EqualFold(typed[:len(prefix)], prefix) {
		return "", false
	}
	rest := typed[len(prefix):]
	if rest != "" && !unicode.IsSpace(rune(rest[0])) {
		return "", false // "/mfabot", "/mfa-x"
	}
	return strings.TrimSpace(rest), true
}

// wantsJSON tells the page's script (which asks for JSON) from a plain form post.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeOK(w http.ResponseWriter, r *http.Request, p Person) {
	if !wantsJSON(r) {
		http.Redirect(w, r, "/?as="+p.ID, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, status)
}

// handleFile serves an image or attachment of a message from memory. Images are shown
// inline; anything else is a download, so a file can never run as a page.
func (a *Adapter) handleFile(w http.ResponseWriter, r *http.Request) {
	f, ok := a.file(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	ct, _, err := mime.ParseMediaType(f.ContentType)
	if err != nil {
		ct = "application/octet-stream"
	}
	h := w.Header()
	switch ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		h.Set("Content-Type", ct)
	default:
		h.Set("Content-Type", f.ContentType)
		if err != nil {
			h.Set("Content-Type", ct)
		}
		name := f.Name
		if name == "" {
			name = "attachment"
		}
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	_, _ = w.Write(f.Data)
}

// initials are the one or two letters of a person's avatar.
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		r, _ := utf8.DecodeRuneInString(w)
		out = append(out, unicode.ToUpper(r))
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}
