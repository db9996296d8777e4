package graphtest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits are Microsoft Graph's identity and access throttling limits per app and tenant
// (https://learn.microsoft.com/graph/throttling-limits). A zero count turns that limit off;
// the zero Limits throttle nothing.
type Limits struct {
	ResourceUnits      int // per ResourceUnitWindow: 3,500 (S), 5,000 (M), 8,000 (L tenants)
	ResourceUnitWindow time.Duration
	AppWrites          int // writes per app and tenant: 3,000 per 2.5 minutes
	AppWriteWindow     time.Duration
	TenantWrites       int // writes per tenant, all apps: 18,000 per 5 minutes
	TenantWriteWindow  time.Duration
	Reports            int // reports APIs: 5 requests per 10 s per app and tenant
	ReportWindow       time.Duration
	Mail               int // messages sent per mailbox: Exchange Online's 30 per minute
	MailWindow         time.Duration
}

// DocumentedLimits are the limits Microsoft documents for a small tenant (under 50 users).
func DocumentedLimits() Limits { return LimitsFor(0) }

// LimitsFor are the limits Microsoft documents for a tenant of the given number of users:
// 3,500 resource units per 10 s under 50 users, 5,000 up to 500, 8,000 above; the write
// and report limits do not depend on size.
func LimitsFor(users int) Limits {
	ru := 8000
	switch {
	case users < 50:
		ru = 3500
	case users <= 500:
		ru = 5000
	}
	return Limits{
		ResourceUnits: ru, ResourceUnitWindow: 10 * time.Second,
		AppWrites: 3000, AppWriteWindow: 150 * time.Second,
		TenantWrites: 18000, TenantWriteWindow: 5 * time.Minute,
		Reports: 5, ReportWindow: 10 * time.Second,
		Mail: 30, MailWindow: time.Minute,
	}
}

// window is a sliding-window counter: at most limit units in any span of length.
type window struct {
	limit  int
	length time.Duration
	events []event
	sum    int
}

type event struct {
	at time.Time
	n  int
}

func (w *window) prune(now time.Time) {
	k := 0
	for k < len(w.events) && !w.events[k].at.Add(w.length).After(now) {
		w.sum -= w.events[k].n
		k++
	}
	w.events = w.events[k:]
}

// wait is how long until n more units fit; 0 when they fit now.
func (w *window) wait(now time.Time, n int) time.Duration {
	if w == nil || w.limit <= 0 {
		return 0
	}
	w.prune(now)
	if w.sum+n <= w.limit {
		return 0
	}
	need := w.sum + n - w.limit
	for _, e := range w.events {
		need -= e.n
		if need <= 0 {
			return e.at.Add(w.length).Sub(now)
		}
	}
	return w.length
}

func (w *window) add(now time.Time, n int) {
	if w == nil || w.limit <= 0 {
		return
	}
	w.events = append(w.events, event{now, n})
	w.sum += n
}

func (w *window) percent() int {
	if w == nil || w.limit <= 0 {
		return 0
	}
	return w.sum * 100 / w.limit
}

// retryAfterValue spells the wait d as Retry-After: whole seconds, rounded up, when the
// server runs at Graph's speed (scale 1), as Graph does; fractional seconds when it is
// scaled, where whole seconds would be far longer than the scaled limits mean.
func retryAfterValue(d time.Duration, scale float64) string {
	secs := d.Seconds()
	if scale == 1 {
		return strconv.Itoa(int(math.Ceil(secs)))
	}
	return strconv.FormatFloat(math.Ceil(secs*1000)/1000, 'f', -1, 64)
}

// throttler applies Limits, with every window divided by scale.
type throttler struct {
	mu                               sync.Mutex
	ru, appWrites, tenWrites, report *window
	scale                            float64
	mail                             func() *window     // a new mailbox's window, nil without a limit
	mailboxes                        map[string]*window // sending mailbox's user id -> its window
}

func newThrottler(l Limits, scale float64) *throttler {
	if scale <= 0 {
		scale = 1
	}
	mk := func(n int, d time.Duration) *window {
		if n <= 0 || d <= 0 {
			return nil
		}
		return &window{limit: n, length: time.Duration(float64(d) / scale)}
	}
	return &throttler{
		ru:        mk(l.ResourceUnits, l.ResourceUnitWindow),
		appWrites: mk(l.AppWrites, l.AppWriteWindow),
		tenWrites: mk(l.TenantWrites, l.TenantWriteWindow),
		report:    mk(l.Reports, l.ReportWindow),
		scale:     scale,
		mail:      func() *window { return mk(l.Mail, l.MailWindow) },
		mailboxes: map[string]*window{},
	}
}

// verdict is the throttler's answer for one request.
type verdict struct {
	wait   time.Duration
	reason string // x-ms-throttle-information: which limit was hit
	scope  string // x-ms-throttle-scope's <Scope>/<Limit>
	ru     int
	pct    int
}

// Reasons a request was throttled, as x-ms-throttle-information spells them; Stats
// counts 429s by these names.
const (
	ThrottledResourceUnits = "ResourceUnitLimitExceeded"
	ThrottledAppWrites     = "WriteLimitExceeded"
	ThrottledTenantWrites  = "TenantWriteLimitExceeded"
	ThrottledReports       = "ReportLimitExceeded"
	ThrottledMail          = "MailboxMessageRateExceeded"
)

// admit counts a request of cost resource units (a write when write, a report read when
// report) or says how long it must wait.
func (t *throttler) admit(now time.Time, cost int, write, report bool) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := verdict{ru: cost}
	check := func(w *window, n int, reason, scope string) bool {
		if d := w.wait(now, n); d > 0 {
			v.wait, v.reason, v.scope = d, reason, scope
			return false
		}
		return true
	}
	if report && !check(t.report, 1, ThrottledReports, "Tenant_Application/Read") {
		return v
	}
	if !check(t.ru, cost, ThrottledResourceUnits, "Tenant_Application/ReadWrite") {
		return v
	}
	if write && (!check(t.appWrites, 1, ThrottledAppWrites, "Tenant_Application/Write") ||
		!check(t.tenWrites, 1, ThrottledTenantWrites, "Tenant/Write")) {
		return v
	}
	t.ru.add(now, cost)
	if report {
		t.report.add(now, 1)
	}
	if write {
		t.appWrites.add(now, 1)
		t.tenWrites.add(now, 1)
	}
	v.pct = t.ru.percent()
	return v
}

// setHeaders writes Graph's throttling headers: x-ms-resource-unit always,
// x-ms-throttle-limit-percentage from 80 % of the resource-unit limit, and on a 429
// Retry-After with x-ms-throttle-scope (<Scope>/<Limit>/<app id>/<tenant id>) and
// x-ms-throttle-information. Retry-After is whole seconds unscaled, and fractional when
// the limits are scaled up so that the wait stays proportional.
func (t *throttler) setHeaders(h http.Header, v verdict, appID, tenantID string) {
	h.Set("x-ms-resource-unit", strconv.Itoa(v.ru))
	if v.pct >= 80 {
		h.Set("x-ms-throttle-limit-percentage", fmt.Sprintf("%.1f", float64(v.pct)/100))
	}
	if v.wait <= 0 {
		return
	}
	h.Set("Retry-After", retryAfterValue(v.wait, t.scale))
	h.Set("x-ms-throttle-scope", v.scope+"/"+appID+"/"+tenantID)
	h.Set("x-ms-throttle-information", v.reason)
}
