package slacktest

import (
	"strings"
	"time"
)

// Limits are Slack's documented Web API rate limits
// (https://docs.slack.dev/apis/web-api/rate-limits), which the fake enforces once
// EnforceLimits is called; tests that do not care about them run unthrottled.
type Limits struct {
	// PerMinute is each tiered method's limit, calls a minute per workspace: Tier 2 20+,
	// Tier 3 50+, Tier 4 100+ (the fake takes the documented floor).
	PerMinute map[string]int
	// PostPerChannel is chat.postMessage's special limit, messages a second in one
	// channel (a direct conversation is a channel), with PostBurst allowed at once.
	PostPerChannel float64
	// PostPerWorkspace is chat.postMessage across the workspace, a second. Slack keeps a
	// workspace-wide limit it does not publish; the fake stands it in with the documented
	// one message a second, with PostBurst.
	PostPerWorkspace float64
	PostBurst        int
}

// DocumentedLimits are the limits of the methods mfabot calls, as Slack documents them.
func DocumentedLimits() Limits {
	return Limits{
		PerMinute: map[string]int{
			"users.list":          20,  // Tier 2
			"users.lookupByEmail": 50,  // Tier 3
			"conversations.open":  50,  // Tier 3
			"chat.update":         50,  // Tier 3
			"users.info":          100, // Tier 4
		},
		PostPerChannel:   1,
		PostPerWorkspace: 1,
		PostBurst:        3,
	}
}

// enforced is the state of the limits EnforceLimits turned on.
type enforced struct {
	l       Limits
	scale   float64
	calls   map[string][]time.Time // method -> calls within the last (scaled) minute
	channel map[string]time.Time   // channel -> theoretical arrival time of its next message
	space   time.Time              // the workspace's
}

// EnforceLimits makes the fake answer 429 with Retry-After, as Slack does, to calls beyond
// l, with every window divided by scale (scale 100 allows 100 messages a second where
// Slack allows one), so that a benchmark of Slack's pace takes seconds. The windows run
// on the fake's clock (SetClock).
func (s *Server) EnforceLimits(l Limits, scale float64) {
	if scale <= 0 {
		scale = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enforced = &enforced{l: l, scale: scale, calls: map[string][]time.Time{}, channel: map[string]time.Time{}}
}

// Throttled returns how many calls of method the limits refused so far.
func (s *Server) Throttled(method string) int {
	n := 0
	for _, c := range s.Calls(method) {
		if c.RateLimited {
			n++
		}
	}
	return n
}

// overLimit counts a call against the enforced limits, or says how long it must wait.
// s.mu must be held.
func (s *Server) overLimit(method string, args map[string]string) (time.Duration, bool) {
	e := s.enforced
	if e == nil {
		return 0, false
	}
	now := s.now()
	if method == "chat.postMessage" {
		ch := args["channel"]
		if strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W") {
			ch = "D" + strings.TrimLeft(ch, "UW")
		}
		if d := gcra(e.channel[ch], now, e.l.PostPerChannel*e.scale, e.l.PostBurst); d > 0 {
			return d, true
		}
		if d := gcra(e.space, now, e.l.PostPerWorkspace*e.scale, e.l.PostBurst); d > 0 {
			return d, true
		}
		e.channel[ch] = advance(e.channel[ch], now, e.l.PostPerChannel*e.scale)
		e.space = advance(e.space, now, e.l.PostPerWorkspace*e.scale)
		return 0, false
	}
	n, ok := e.l.PerMinute[method]
	if !ok || n <= 0 {
		return 0, false
	}
	window := time.Duration(float64(time.Minute) / e.scale)
	calls := e.calls[method]
	cut := 0
	for cut < len(calls) && now.Sub(calls[cut]) >= window {
		cut++
	}
	calls = calls[cut:]
	if len(calls) >= n {
		e.calls[method] = calls
		return calls[0].Add(window).Sub(now), true
	}
	e.calls[method] = append(calls, now)
	return 0, false
}

// gcra is how long a message must wait at rate per second with burst, given the
// theoretical arrival time tat of the next one; 0 when it may go now.
func gcra(tat, now time.Time, rate float64, burst int) time.Duration {
	if rate <= 0 {
		return 0
	}
	per := time.Duration(float64(time.Second) / rate)
	if allowed := tat.Add(-time.Duration(max(burst, 1)-1) * per); allowed.After(now) {
		return allowed.Sub(now)
	}
	return 0
}

func advance(tat, now time.Time, rate float64) time.Time {
	if rate <= 0 {
		return tat
	}
	if tat.Before(now) {
		tat = now
	}
	return tat.Add(time.Duration(float64(time.Second) / rate))
}
