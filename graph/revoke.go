package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"

	"github.com/mfabot/mfabot/approvals"
)

// batchSize is how many requests Graph takes in one JSON batch.
const batchSize = 20

// maxItemAttempts bounds how often one batch item is sent after 429/503/504.
const maxItemAttempts = 5

// RevokeSessions revokes the sign-in sessions of each user and returns one error per user
// (nil for success) in the order given. One user is one plain request with priority over
// bulk work (a reset's revocation); more go in JSON batches of 20, Concurrency batches at
// a time, paced as bulk writes by the shared write pacer. A batch item that Graph
// answers 429, 503 or 504 is retried on its own after its Retry-After; only a 429 slows
// the other writers down.
func (c *Client) RevokeSessions(ctx context.Context, userIDs []string) []error {
	errs := make([]error, len(userIDs))
	if len(userIDs) == 1 {
		errs[0] = c.revokeOne(ctx, userIDs[0])
		return errs
	}
	sem := make(chan struct{}, c.conc)
	var wg sync.WaitGroup
	for start := 0; start < len(userIDs); start += batchSize {
		end := min(start+batchSize, len(userIDs))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.revokeBatch(ctx, userIDs[start:end], errs[start:end])
		}()
	}
	wg.Wait()
	return errs
}

func (c *Client) revokeOne(ctx context.Context, userID string) error {
	ctx = withPriority(ctx, c.writes)
	_, err := c.sdk.Users().ByUserId(userID).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
	if err != nil {
		return mapError(opRevoke, userID, err)
	}
	return nil
}

type batchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// revokeBatch revokes up to 20 users with JSON batches, retrying the items Graph answered
// 429, 503 or 504 after their Retry-After. Those items alone wait, in this goroutine;
// a 429 also holds and slows every writer (it says the shared budget is spent), a 503 or
// 504 does not (it says one request met a busy server). A retried item that Graph
// answered 503 is not paid for again: Graph never ran it.
func (c *Client) revokeBatch(ctx context.Context, ids []string, errs []error) {
	pending := make([]int, len(ids))
	for i := range ids {
		pending[i] = i
	}
	cost := len(ids)
	for attempt := 1; len(pending) > 0; attempt++ {
		reqs := make([]batchRequest, len(pending))
		for k, i := range pending {
			reqs[k] = batchRequest{ID: strconv.Itoa(i), Method: http.MethodPost, URL: "/users/" + pathEscape(ids[i]) + "/revokeSignInSessions",
				Headers: map[string]string{"Content-Type": "application/json"}, Body: json.RawMessage("{}")}
		}
		resps, err := c.batch(withPacing(ctx, c.writes, cost), reqs)
		if err != nil {
			err = mapError(opBatch, "", err)
			for _, i := range pending {
				errs[i] = err
			}
			return
		}
		var retry []int
		var wait, throttle time.Duration
		cost = 0
		now := c.clk.Now()
		for _, r := range resps {
			i, err := strconv.Atoi(r.ID)
			if err != nil || i < 0 || i >= len(ids) {
				continue
			}
			c.stats.batchItem(r.Status)
			switch {
			case r.Status >= 200 && r.Status < 300:
				errs[i] = nil
			case retriable(r.Status) && attempt < maxItemAttempts && ctx.Err() == nil:
				d := retryDelay(headerOf(r.Headers, "Retry-After"), attempt-1, now)
				wait = max(wait, d)
				if r.Status == http.StatusTooManyRequests {
					throttle = max(throttle, d)
				}
				if r.Status != http.StatusServiceUnavailable {
					cost++
				}
				retry = append(retry, i)
				errs[i] = itemError(r, ids[i])
			default:
				errs[i] = itemError(r, ids[i])
			}
		}
		for _, i := range pending {
			if !answered(resps, i) {
				errs[i] = approvals.Errorf(approvals.EUPSTREAM, "Graph's batch response had no answer for %s", ids[i])
			}
		}
		if len(retry) == 0 {
			return
		}
		c.stats.retries.Add(int64(len(retry)))
		if throttle > 0 {
			c.writes.throttled(throttle)
		}
		if err := c.clk.Sleep(ctx, wait); err != nil {
			return
		}
		pending = retry
	}
}

func answered(resps []batchResponse, i int) bool {
	id := strconv.Itoa(i)
	for _, r := range resps {
		if r.ID == id {
			return true
		}
	}
	return false
}

func headerOf(h map[string]string, name string) string {
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			return v
		}
	}
	return ""
}

// itemError maps one failed batch item like a plain response.
func itemError(r batchResponse, userID string) error {
	f := failure{status: r.Status, retryAfter: parseRetryAfter(headerOf(r.Headers, "Retry-After"), time.Now())}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &body) == nil {
		f.code, f.message = body.Error.Code, body.Error.Message
	}
	return mapError(opRevoke, userID, f)
}

// batch sends one JSON batch ($batch, at most 20 requests) and returns its responses.
func (c *Client) batch(ctx context.Context, reqs []batchRequest) ([]batchResponse, error) {
	if len(reqs) > batchSize {
		return nil, fmt.Errorf("batch of %d requests: Graph takes at most %d", len(reqs), batchSize)
	}
	body, err := json.Marshal(map[string]any{"requests": reqs})
	if err != nil {
		return nil, err
	}
	out, err := c.raw(ctx, abstractions.POST, "/v1.0/$batch", body)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Responses []batchResponse `json:"responses"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("decode batch response: %w", err)
	}
	return resp.Responses, nil
}
