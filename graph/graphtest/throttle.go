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
}

// DocumentedLimits are the limits Microsoft documents for a small tenant.
func DocumentedLimits() Limits {
	return Limits{
		ResourceUnits: 3500, ResourceUnitWindow: 10 * time.Second,
		AppWrites: 3000, AppWriteWindow: 150 * time.Second,
		TenantWrites: 18000, TenantWriteWindow: 5 * time.Minute,
		Reports: 5, ReportWindow: 10 * time.Second,
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

// throttler applies Limits, with every window divided by scale.
type throttler struct {
	mu                               sync.Mutex
	ru, appWrites, tenWrites, report *window
	scale                            float64
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
	}
}

// verdict is the throttler's answer for one request.
type verdict struct {
	wait  time.Duration
	scope string // x-ms-throttle-information
	ru    int
	pct   int
}

// admit counts a request of cost resource units (a write when write, a report read when
// report) or says how long it must wait.
func (t *throttler) admit(now time.Time, cost int, write, report bool) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := verdict{ru: cost}
	check := func(w *window, n int, scope string) bool {
		if d := w.wait(now, n); d > 0 {
			v.wait, v.scope = d, scope
			return false
		}
		return true
	}
	if report && !check(t.report, 1, "ReportLimitExceeded") {
		return v
	}
	if !check(t.ru, cost, "ResourceUnitLimitExceeded") {
		return v
	}
	if write && (!check(t.appWrites, 1, "WriteLimitExceeded") || !check(t.tenWrites, 1, "TenantWriteLimitExceeded")) {
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

// setThrottleHeaders writes Graph's throttling headers; Retry-After is whole seconds
// unscaled, and fractional when the limits are scaled up so the wait stays proportional.
func (t *throttler) setHeaders(h http.Header, v verdict, appID, tenantID string) {
	h.Set("x-ms-resource-unit", strconv.Itoa(v.ru))
	if v.pct >= 80 {
		h.Set("x-ms-throttle-limit-percentage", fmt.Sprintf("%.1f", float64(v.pct)/100))
	}
	if v.wait <= 0 {
		return
	}
	secs := v.wait.Seconds()
	if t.scale == 1 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	} else {
		h.Set("Retry-After", strconv.FormatFloat(math.Ceil(secs*1000)/1000, 'f', -1, 64))
	}
	h.Set("x-ms-throttle-scope", "Tenant_Application/ReadWrite/"+appID+"/"+tenantID)
	h.Set("x-ms-throttle-information", v.scope)
}
