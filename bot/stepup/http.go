package stepup

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
)

// Handler serves the step-up endpoints for d:
//
//	GET  /stepup/{token}   the link's page: what is being approved, and a button to sign in
//	POST /stepup/{token}   starts the sign-in (once) and redirects to Entra's authorize endpoint
//	POST /stepup/callback  Entra's answer (form_post): the code is redeemed, the ID token
//	                       checked, and the approval made through d
//
// Every answer is a page for a person, never cached, not frameable, without scripts, and
// sends no referrer (the link's token must not leave in a Referer header).
func (f *Flow) Handler(d Decider) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+CallbackPath, func(w http.ResponseWriter, r *http.Request) { f.callback(w, r, d) })
	mux.HandleFunc("GET "+CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		f.page(w, r, http.StatusMethodNotAllowed, refusal("This address takes Microsoft Entra ID's answer to a sign-in, sent by your browser as a form. Open the link from the chat instead."), nil)
	})
	mux.HandleFunc("GET /stepup/{token}", func(w http.ResponseWriter, r *http.Request) { f.landing(w, r, d) })
	// The start must come from the landing page itself (same origin), never from another
	// site's form.
	cop := http.NewCrossOriginProtection()
	// A proxy may rewrite Host; the public origin is the page's own either way.
	_ = cop.AddTrustedOrigin(f.public.String())
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.page(w, r, http.StatusForbidden, refusal("This sign-in can only be started from its own page."), nil)
	}))
	mux.Handle("POST /stepup/{token}", cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.start(w, r, d) })))
	mux.HandleFunc("/stepup/", func(w http.ResponseWriter, r *http.Request) {
		f.page(w, r, http.StatusNotFound, refusal("There is nothing here. Open the sign-in link from the chat."), nil)
	})
	return f.headers(f.limited(mux))
}

// Bodies: the landing page's form is empty; Entra's form_post carries a code, a state
// and perhaps an error description.
const maxBody = 64 << 10

// landing shows what the link approves and a button that starts the sign-in. It changes
// nothing, so a link preview (Slack's, Teams') that fetches it spends nothing.
func (f *Flow) landing(w http.ResponseWriter, r *http.Request, d Decider) {
	ctx := r.Context()
	c, msg, status := f.usable(ctx, r.PathValue("token"))
	if msg != nil {
		f.page(w, r, status, *msg, nil)
		return
	}
	preview, ok := d.StepUpPreview(ctx, c.Actor, c.RequestID)
	if !ok {
		f.page(w, r, http.StatusConflict, preview, nil)
		return
	}
	// The page's CSP names the authority the form's redirect goes to: read it now.
	if _, err := f.authority.metadata(ctx); err != nil {
		f.log.WarnContext(ctx, "step-up: Entra ID metadata", approvals.LogErr, err)
	}
	form := &formView{Label: "Sign in to Microsoft Entra ID as " + c.Actor.Name + " to approve",
		Note: fmt.Sprintf("This link works once, for %s only, until %s.", c.Actor.Name, c.ExpiresAt.UTC().Format("15:04 UTC"))}
	f.page(w, r, http.StatusOK, preview, form)
}

// usable loads the challenge of a link token and says why it cannot start a sign-in, if
// it cannot: unknown, already used, expired.
func (f *Flow) usable(ctx context.Context, token string) (Challenge, *bot.Message, int) {
	if token == "" || len(token) > 128 {
		m := refusal("This sign-in link is not valid. Press Approve in the chat again for a new one.")
		return Challenge{}, &m, http.StatusNotFound
	}
	c, err := f.cfg.Store.Challenge(ctx, hash(token))
	switch {
	case approvals.ErrorCode(err) == approvals.ENOTFOUND:
		m := refusal("This sign-in link is not valid. Press Approve in the chat again for a new one.")
		return Challenge{}, &m, http.StatusNotFound
	case err != nil:
		f.log.ErrorContext(ctx, "load step-up link", approvals.LogErr, err)
		m := refusal("mfabot could not read this link just now. Try again in a moment.")
		return Challenge{}, &m, http.StatusServiceUnavailable
	case !c.StartedAt.IsZero():
		m := refusal(fmt.Sprintf("This sign-in link was already used at %s; each link works once. Press Approve in the chat again for a new one.", c.StartedAt.UTC().Format("15:04:05 UTC")))
		return c, &m, http.StatusGone
	case !f.cfg.Clock.Now().Before(c.ExpiresAt):
		m := refusal(fmt.Sprintf("This sign-in link expired at %s (links last %s). Press Approve in the chat again for a new one.", c.ExpiresAt.UTC().Format("15:04 UTC"), LinkLifetime))
		return c, &m, http.StatusGone
	}
	return c, nil, http.StatusOK
}

// start begins the sign-in: one compare-and-set marks the link used and records the
// sign-in's state (hashed), nonce and PKCE verifier; the browser gets a binding cookie and
// is sent to Entra.
func (f *Flow) start(w http.ResponseWriter, r *http.Request, d Decider) {
	ctx := r.Context()
	c, msg, status := f.usable(ctx, r.PathValue("token"))
	if msg != nil {
		f.page(w, r, status, *msg, nil)
		return
	}
	if preview, ok := d.StepUpPreview(ctx, c.Actor, c.RequestID); !ok {
		f.page(w, r, http.StatusConflict, preview, nil)
		return
	}
	// The authority first: when Entra cannot be reached the link stays unused.
	m, err := f.authority.metadata(ctx)
	if err != nil {
		f.log.ErrorContext(ctx, "step-up: Entra ID metadata", approvals.LogErr, err)
		f.page(w, r, http.StatusBadGateway, refusal("Microsoft Entra ID's sign-in could not be reached just now; the link is still good until it expires. Try again in a moment."), nil)
		return
	}
	state, nonce, verifier, binding := randomString(), randomString(), randomString(), randomString()
	now := f.cfg.Clock.Now()
	err = f.cfg.Store.StartChallenge(ctx, c.ID, Start{At: now, StateHash: hash(state), BindingHash: hash(binding), Nonce: nonce, Verifier: verifier})
	if err != nil {
		if _, msg, status := f.usable(ctx, r.PathValue("token")); msg != nil {
			f.page(w, r, status, *msg, nil)
			return
		}
		f.log.ErrorContext(ctx, "start step-up", approvals.LogErr, err)
		f.page(w, r, http.StatusServiceUnavailable, refusal("mfabot could not start the sign-in just now. Try again in a moment."), nil)
		return
	}
	http.SetCookie(w, f.bindingCookie(c.ID, binding, int(SignInLifetime.Seconds())))
	f.log.InfoContext(ctx, "step-up sign-in started", approvals.LogRequestID, c.RequestID, approvals.LogActor, c.Actor.Key(), "challenge", short(c.ID))
	http.Redirect(w, r, f.authorizeURL(m, state, nonce, verifier, f.loginHint(ctx, c.Actor)), http.StatusSeeOther)
}

// loginHint is the approver's user principal name, so that Entra offers the right account;
// without it the person picks one, and the core refuses any other than theirs.
func (f *Flow) loginHint(ctx context.Context, a approvals.Actor) string {
	if f.cfg.Users == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u, err := f.cfg.Users.ResolveUser(ctx, a.EntraID)
	if err != nil {
		f.log.WarnContext(ctx, "step-up: look up the approver's UPN", approvals.LogActor, a.Key(), approvals.LogErr, err)
		return ""
	}
	return u.UPN
}

// bindingCookie binds a sign-in to the browser that started it: the callback refuses a
// sign-in that comes back in another browser (an authorize URL sent to the approver by
// someone else). Entra's answer is a cross-site POST, so on https the cookie must be
// SameSite=None (and Secure); plain http is allowed for loopback only, where Entra's
// stand-in is the same site and Lax is sent.
func (f *Flow) bindingCookie(id, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: cookieName(id), Value: value, Path: "/stepup/", HttpOnly: true, MaxAge: maxAge}
	if f.public.Scheme == "https" {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	} else {
		c.SameSite = http.SameSiteLaxMode
	}
	return c
}

// cookieName is per challenge, so that two sign-ins started side by side do not overwrite
// each other's binding.
func cookieName(id string) string { return "mfabot-stepup-" + short(id) }

// callback takes Entra's answer. The state is single use (a compare-and-set), and must
// come back to the browser that started the sign-in, within SignInLifetime; then the code
// is redeemed, the ID token verified, and the approval made through d. Every refusal is
// shown, and audited under the approver the link was bound to; none changes the request.
func (f *Flow) callback(w http.ResponseWriter, r *http.Request, d Decider) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		f.page(w, r, http.StatusBadRequest, refusal("The sign-in's answer could not be read."), nil)
		return
	}
	state := r.PostForm.Get("state")
	if state == "" || len(state) > 128 {
		f.page(w, r, http.StatusBadRequest, refusal("The sign-in's answer carries no state; nothing was approved. Open the link from the chat."), nil)
		return
	}
	now := f.cfg.Clock.Now()
	c, err := f.cfg.Store.FinishChallenge(ctx, hash(state), now)
	switch {
	case approvals.ErrorCode(err) == approvals.ENOTFOUND:
		f.log.WarnContext(ctx, "step-up callback with an unknown state")
		f.page(w, r, http.StatusBadRequest, refusal("This sign-in is not one mfabot started; nothing was approved. Press Approve in the chat for a new link."), nil)
		return
	case approvals.ErrorCode(err) == approvals.ECONFLICT:
		why := fmt.Sprintf("this sign-in's answer came back a second time (first at %s); each works once", c.FinishedAt.UTC().Format("15:04:05 UTC"))
		f.refuse(w, r, d, c, http.StatusConflict, why)
		return
	case err != nil:
		f.log.ErrorContext(ctx, "finish step-up", approvals.LogErr, err)
		f.page(w, r, http.StatusServiceUnavailable, refusal("mfabot could not record the sign-in just now; nothing was approved. Press Approve in the chat again."), nil)
		return
	}
	http.SetCookie(w, f.bindingCookie(c.ID, "", -1))
	if now.Sub(c.StartedAt) > SignInLifetime {
		f.refuse(w, r, d, c, http.StatusGone, fmt.Sprintf("the sign-in took longer than %s (started %s)", SignInLifetime, c.StartedAt.UTC().Format("15:04:05 UTC")))
		return
	}
	if ck, err := r.Cookie(cookieName(c.ID)); err != nil || subtle.ConstantTimeCompare([]byte(hash(ck.Value)), []byte(c.BindingHash)) != 1 {
		f.refuse(w, r, d, c, http.StatusForbidden, "the sign-in came back to another browser than the one that opened the link")
		return
	}
	if e := r.PostForm.Get("error"); e != "" {
		desc, _, _ := strings.Cut(r.PostForm.Get("error_description"), "\n")
		f.refuse(w, r, d, c, http.StatusForbidden, fmt.Sprintf("Microsoft Entra ID did not sign you in (%s: %s)", clip(e, 64), clip(strings.TrimSpace(desc), 300)))
		return
	}
	code := r.PostForm.Get("code")
	if code == "" {
		f.refuse(w, r, d, c, http.StatusBadRequest, "the sign-in's answer carries no code")
		return
	}
	m, err := f.authority.metadata(ctx)
	if err != nil {
		f.log.ErrorContext(ctx, "step-up: Entra ID metadata", approvals.LogErr, err)
		f.page(w, r, http.StatusBadGateway, refusal("Microsoft Entra ID could not be reached to finish the sign-in; nothing was approved. Press Approve in the chat again."), nil)
		return
	}
	raw, err := f.redeem(ctx, m, code, c.Verifier)
	if err != nil {
		var ee *entraError
		if errors.As(err, &ee) {
			f.refuse(w, r, d, c, http.StatusBadGateway, "Microsoft Entra ID refused the sign-in's code ("+clip(ee.Error(), 300)+")")
			return
		}
		f.log.ErrorContext(ctx, "step-up: redeem the code", approvals.LogRequestID, c.RequestID, approvals.LogErr, err)
		f.page(w, r, http.StatusBadGateway, refusal("Microsoft Entra ID could not be reached to finish the sign-in; nothing was approved. Press Approve in the chat again."), nil)
		return
	}
	in, err := f.verify(ctx, m, raw, c.Nonce)
	if err != nil {
		var tp *tokenProblem
		if errors.As(err, &tp) {
			f.refuse(w, r, d, c, http.StatusForbidden, tp.why)
			return
		}
		f.log.ErrorContext(ctx, "step-up: verify the ID token", approvals.LogRequestID, c.RequestID, approvals.LogErr, err)
		f.page(w, r, http.StatusBadGateway, refusal("Microsoft Entra ID's signing keys could not be read to check the sign-in; nothing was approved. Press Approve in the chat again."), nil)
		return
	}
	f.log.InfoContext(ctx, "step-up sign-in verified", approvals.LogRequestID, c.RequestID, approvals.LogActor, c.Actor.Key(),
		"challenge", short(c.ID), "oid", in.ObjectID, "token", in.TokenID)
	msg := d.ApproveSignedIn(ctx, c.Actor, c.RequestID, in)
	status := http.StatusOK
	if msg.Tone == bot.ToneBad || msg.Tone == bot.ToneWarning {
		status = http.StatusForbidden
	}
	f.page(w, r, status, msg, nil)
}

// refuse shows why a sign-in was refused before it reached the core, and audits it under
// the approver the link was bound to.
func (f *Flow) refuse(w http.ResponseWriter, r *http.Request, d Decider, c Challenge, status int, why string) {
	f.log.WarnContext(r.Context(), "step-up refused", approvals.LogRequestID, c.RequestID, approvals.LogActor, c.Actor.Key(), "challenge", short(c.ID), "why", why)
	d.StepUpRefused(context.WithoutCancel(r.Context()), c.Actor, c.RequestID, why)
	f.page(w, r, status, refusal(upperFirst(why)+"; nothing was approved. Press Approve in the chat again for a new link."), nil)
}

func refusal(text string) bot.Message {
	return bot.Message{Title: "Nothing was approved", Tone: bot.ToneBad, Text: text}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// clip shortens text from outside (an error description) for a page and the audit.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// --- pages ---

type formView struct {
	Label string
	Note  string
}

type pageView struct {
	Msg    bot.Message
	Tone   string
	Form   *formView
	Action string
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"paragraphs": func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, "\n\n") {
			if strings.TrimSpace(p) != "" {
				out = append(out, p)
			}
		}
		return out
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>mfabot · {{.Msg.Title}}</title><style>` + pageStyle + `</style></head>
<body><main class="card tone-{{.Tone}}" id="stepup">
<p class="brand">mfabot · approval sign-in</p>
<h1 id="title">{{.Msg.Title}}</h1>
{{range paragraphs .Msg.Text}}<p class="text">{{.}}</p>
{{end}}{{with .Msg.Facts}}<dl>{{range .}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{end}}{{with .Form}}<form method="post" action="{{$.Action}}"><button type="submit" id="continue">{{.Label}}</button></form>
<p class="note">{{.Note}}</p>
{{else}}<p class="note">You can close this tab; the card in the chat shows where the request stands.</p>
{{end}}</main></body></html>
`))

const pageStyle = `body{font-family:system-ui,sans-serif;background:#f4f4f6;margin:0;color:#1d1c1d}
main{max-width:560px;margin:48px auto;background:#fff;padding:28px 36px;border-radius:8px;border-top:6px solid #888;box-shadow:0 1px 4px rgba(0,0,0,.15)}
main.tone-good{border-top-color:#2eb67d}main.tone-bad{border-top-color:#e01e5a}main.tone-pending{border-top-color:#1264a3}main.tone-warning{border-top-color:#ecb22e}
.brand{color:#616061;font-size:13px;margin:0}h1{font-size:22px;margin:8px 0 14px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;font-size:14px}dt{color:#616061}dd{margin:0}
button{background:#1264a3;color:#fff;border:0;border-radius:4px;padding:10px 16px;font-size:15px;cursor:pointer}
.note{color:#616061;font-size:13px}`

// styleHash lets the page's one inline style through a CSP that allows nothing else.
var styleHash = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

func (f *Flow) page(w http.ResponseWriter, r *http.Request, status int, msg bot.Message, form *formView) {
	tone := string(msg.Tone)
	if tone == "" {
		tone = "neutral"
	}
	v := pageView{Msg: msg, Tone: tone, Form: form}
	if form != nil {
		v.Action = r.URL.Path // the same link: POST starts the sign-in
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", f.contentSecurityPolicy())
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, v); err != nil {
		f.log.ErrorContext(r.Context(), "render step-up page", approvals.LogErr, err)
	}
}

// contentSecurityPolicy allows the page's own style and nothing else: no script, no
// image, no frame around it. form-action names the authority because browsers hold the
// redirect that answers the start's POST to it too.
func (f *Flow) contentSecurityPolicy() string {
	formAction := "'self'"
	if m, err := f.authority.cachedMetadata(); err == nil {
		if u, err := url.Parse(m.AuthorizationEndpoint); err == nil {
			formAction += " " + u.Scheme + "://" + u.Host
		}
	}
	return "default-src 'none'; style-src " + styleHash + "; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// headers sets the security headers on every answer (the pages add their CSP).
func (f *Flow) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if f.public.Scheme == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// cachedMetadata is the metadata if it was fetched already; the headers never wait on
// the network.
func (a *authority) cachedMetadata() (metadata, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.meta == nil {
		return metadata{}, errors.New("not fetched yet")
	}
	return *a.meta, nil
}

// --- rate limiting ---

// limiter allows perClient requests a minute from one address and total in all, in
// fixed one-minute windows on the flow's clock. The address is the connection's: a
// forwarded-for header is the client's to write, so it is not trusted; behind a proxy
// every browser shares the proxy's address, and perClient is a ceiling for all of them.
type limiter struct {
	perClient, total int
	clock            approvals.Clock

	mu     sync.Mutex
	window time.Time
	counts map[string]int
	all    int
}

func newLimiter(perClient, total int, clock approvals.Clock) *limiter {
	return &limiter{perClient: perClient, total: total, clock: clock, counts: map[string]int{}}
}

// allow counts a request from addr and reports whether it may go ahead, and if not, how
// long until the window ends.
func (l *limiter) allow(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if w := now.Truncate(time.Minute); !w.Equal(l.window) {
		l.window, l.all = w, 0
		clear(l.counts)
	}
	if l.all >= l.total || l.counts[addr] >= l.perClient {
		return false, l.window.Add(time.Minute).Sub(now)
	}
	l.all++
	l.counts[addr]++
	return true, 0
}

func (f *Flow) limited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ok, wait := f.limit.allow(host); !ok {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			f.page(w, r, http.StatusTooManyRequests, refusal("Too many sign-in requests; wait a minute and open the link again."), nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}
