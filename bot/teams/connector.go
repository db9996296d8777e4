package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfabot/mfabot/approvals"
)

// The Bot Connector REST API (v3), the few operations mfabot needs: send to a
// conversation, reply to an activity, update an activity, create a conversation. The
// bot's token goes only to service URLs that arrived in a verified activity.

// retryPolicy is the backoff for the statuses Teams documents as transient: 429, 412,
// 502 and 504.
type retryPolicy struct {
	attempts      int           // tries in all
	base          time.Duration // first backoff
	max           time.Duration // largest backoff
	maxRetryAfter time.Duration // largest Retry-After honoured
}

var defaultRetry = retryPolicy{attempts: 5, base: time.Second, max: 20 * time.Second, maxRetryAfter: time.Minute}

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusPreconditionFailed, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// delay is how long to wait before try attempt+1: Retry-After when the service sent one,
// else exponential backoff with ±20 % jitter (so that retries do not collide).
func (p retryPolicy) delay(attempt int, retryAfter string, now time.Time) time.Duration {
	if retryAfter != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, p.maxRetryAfter)
		}
		if t, err := http.ParseTime(retryAfter); err == nil {
			return min(max(t.Sub(now), 0), p.maxRetryAfter)
		}
	}
	d := p.base << (attempt - 1)
	if d > p.max || d <= 0 {
		d = p.max
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// ConnectorError is a refusal by the Bot Connector.
type ConnectorError struct {
	Status  int
	Code    string // the error code of the response body, when any
	Message string
}

func (e *ConnectorError) Error() string {
	s := "bot connector: status " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func parseConnectorError(status int, body []byte) *ConnectorError {
	e := &ConnectorError{Status: status}
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		e.Code, e.Message = v.Error.Code, v.Error.Message
		if e.Message == "" {
			e.Message = v.Message
		}
	}
	if len(e.Message) > 300 {
		e.Message = e.Message[:300]
	}
	return e
}

// serviceURLs is the set of service URLs the bot's token may be sent to: those of verified
// activities, and those of the references stored from such activities.
type serviceURLs struct {
	load func(ctx context.Context) ([]string, error)

	mu  sync.Mutex
	set map[string]bool
}

// normalizeServiceURL returns u in a canonical form ending in "/", or an error when u is
// not an https URL (plain http only on a loopback address).
func normalizeServiceURL(s string) (string, error) {
	if err := checkEndpointURL(s); err != nil {
		return "", fmt.Errorf("service URL: %w", err)
	}
	u, err := url.Parse(s)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("service URL: not a plain URL")
	}
	p := u.EscapedPath()
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + p, nil
}

func (s *serviceURLs) add(u string) {
	n, err := normalizeServiceURL(u)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.set[n] = true
	s.mu.Unlock()
}

// trusted returns the canonical form of u when the bot may send its token there.
func (s *serviceURLs) trusted(ctx context.Context, u string) (string, error) {
	n, err := normalizeServiceURL(u)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	ok := s.set[n]
	s.mu.Unlock()
	if ok {
		return n, nil
	}
	if s.load != nil {
		stored, err := s.load(ctx)
		if err != nil {
			return "", fmt.Errorf("load trusted service URLs: %w", err)
		}
		for _, su := range stored {
			s.add(su)
		}
		s.mu.Lock()
		ok = s.set[n]
		s.mu.Unlock()
	}
	if !ok {
		return "", fmt.Errorf("service URL %s was never seen in a verified activity", n)
	}
	return n, nil
}

// connector is the Bot Connector client.
type connector struct {
	cred    azcore.TokenCredential
	client  *http.Client
	log     *slog.Logger
	clock   func() time.Time
	pace    clock // waits between tries (approvals.PaceClock; a test's fake clock may stand in)
	limiter *limiter
	app     *limiter // appLimits, under one key
	trust   *serviceURLs
	retry   retryPolicy
}

// escapeID escapes a conversation or activity id for a URL path the way
// encodeURIComponent does: Teams ids contain ':', '@', ';' and '='.
func escapeID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (c *connector) sendToConversation(ctx context.Context, serviceURL, convID string, act *activity) (string, error) {
	var rr resourceResponse
	path := "v3/conversations/" + escapeID(convID) + "/activities"
	if err := c.do(ctx, http.MethodPost, serviceURL, path, baseConversationID(convID), act, &rr); err != nil {
		return "", err
	}
	return rr.ID, nil
}

func (c *connector) replyToActivity(ctx context.Context, serviceURL, convID, activityID string, act *activity) (string, error) {
	var rr resourceResponse
	act.ReplyToID = activityID
	path := "v3/conversations/" + escapeID(convID) + "/activities/" + escapeID(activityID)
	if err := c.do(ctx, http.MethodPost, serviceURL, path, baseConversationID(convID), act, &rr); err != nil {
		return "", err
	}
	return rr.ID, nil
}

func (c *connector) updateActivity(ctx context.Context, serviceURL, convID, activityID string, act *activity) error {
	act.ID = activityID
	path := "v3/conversations/" + escapeID(convID) + "/activities/" + escapeID(activityID)
	return c.do(ctx, http.MethodPut, serviceURL, path, baseConversationID(convID), act, nil)
}

func (c *connector) createConversation(ctx context.Context, serviceURL string, params conversationParameters) (conversationResourceResponse, error) {
	var cr conversationResourceResponse
	key := "create"
	if len(params.Members) > 0 {
		key += ":" + params.Members[0].ID
	}
	err := c.do(ctx, http.MethodPost, serviceURL, "v3/conversations", key, params, &cr)
	return cr, err
}

// do sends one Connector request, paced per conversation and retried on transient statuses.
func (c *connector) do(ctx context.Context, method, serviceURL, path, limitKey string, body, out any) error {
	base, err := c.trust.trusted(ctx, serviceURL)
	if err != nil {
		return approvals.WrapError(approvals.EFORBIDDEN, err, "the Teams service URL is not trusted")
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode activity: %w", err)
	}
	target := base + path
	for attempt := 1; ; attempt++ {
		if err := c.limiter.wait(ctx, limitKey); err != nil {
			return err
		}
		if c.app != nil {
			if err := c.app.wait(ctx, "app"); err != nil {
				return err
			}
		}
		tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{BotFrameworkScope}})
		if err != nil {
			return approvals.WrapError(approvals.EUPSTREAM, err, "Teams is unavailable: the bot could not get its token")
		}
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("connector request: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Accept", "application/json")
		resp, err := c.client.Do(req)
		if err != nil {
			// A POST that timed out may have been delivered; only the idempotent PUT is retried.
			if method == http.MethodPut && attempt < c.retry.attempts && ctx.Err() == nil {
				if err := c.pace.Sleep(ctx, c.retry.delay(attempt, "", c.clock())); err != nil {
					return err
				}
				continue
			}
			return approvals.WrapError(approvals.EUPSTREAM, err, "Teams is unavailable")
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out != nil && len(bytes.TrimSpace(data)) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return approvals.WrapError(approvals.EUPSTREAM, err, "Teams answered with something unreadable")
				}
			}
			return nil
		}
		cerr := parseConnectorError(resp.StatusCode, data)
		if retryable(resp.StatusCode) && attempt < c.retry.attempts {
			d := c.retry.delay(attempt, resp.Header.Get("Retry-After"), c.clock())
			c.log.Debug("teams connector retry", slog.String("method", method), slog.Int("status", resp.StatusCode),
				slog.Int("attempt", attempt), slog.Duration("delay", d))
			if err := c.pace.Sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		return approvals.WrapError(approvals.EUPSTREAM, cerr, "Teams refused the message (HTTP %d)", resp.StatusCode)
	}
}
