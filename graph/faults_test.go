package graph_test

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// ceiling is the pace a client configured for Graph's 20 writes/s keeps.
const ceiling = graph.DefaultWriteRate * 0.97

func methodOf(t *testing.T, c *graph.Client, userID, typ string) approvals.Method {
	t.Helper()
	ms, err := c.Methods(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Type == typ {
			return m
		}
	}
	t.Fatalf("user %s has no %s method", userID, typ)
	return approvals.Method{}
}

// TestUnavailableHoldsOnlyItsRequest: a 503 holds the request that got it for its
// Retry-After while other writers go on and the pace stays; a 429 holds every writer and
// halves the pace. Fake time stands still unless the test moves it, so "held" means
// asleep on the clock and "went on" means done without sleeping.
func TestUnavailableHoldsOnlyItsRequest(t *testing.T) {
	t.Parallel()
	clk := approvalstest.NewManualClock(t, t0)
	c, srv := startClock(t, 50, graphtest.Options{}, clk)
	tn := srv.Tenant()
	ctx := context.Background()
	adele, _ := tn.User(graphtest.AdeleUPN)
	megan, _ := tn.User(graphtest.MeganUPN)
	alex, _ := tn.User(graphtest.AlexUPN)
	diego, _ := tn.User(graphtest.DiegoUPN)
	fido := methodOf(t, c, adele.ID, approvals.MethodFido2)
	authenticator := methodOf(t, c, megan.ID, approvals.MethodAuthenticator)

	// Every answer a 503: the deletion sleeps on its Retry-After.
	srv.SetFaults(graphtest.Faults{Unavailable: 1})
	deleted := make(chan error, 1)
	go func() { deleted <- c.DeleteMethod(ctx, adele.ID, fido) }()
	<-clk.AtLeast(1)
	if r := c.Stats().WriteRate; math.Abs(r-ceiling) > 1e-9 {
		t.Fatalf("a 503 moved the pace to %.2f/s", r)
	}
	// Graph recovers; another writer is not held by the first one's 503.
	srv.SetFaults(graphtest.Faults{})
	revoked := make(chan error, 1)
	go func() { revoked <- c.RevokeSessions(ctx, []string{alex.ID})[0] }()
	select {
	case err := <-revoked:
		if err != nil {
			t.Fatalf("revoke while another request waits out a 503: %v", err)
		}
	case <-clk.AtLeast(2):
		t.Fatal("a writer waits for another request's 503")
	}
	clk.WakeNext()
	if err := <-deleted; err != nil {
		t.Fatalf("delete after its 503: %v", err)
	}
	if n := srv.Count(graphtest.OpDeleteMethod, adele.ID); n != 1 {
		t.Fatalf("%d deletions recorded", n)
	}

	// A 429 window: the writer that meets it holds everyone and halves the pace.
	srv.ThrottleFor(time.Second)
	go func() { deleted <- c.DeleteMethod(ctx, megan.ID, authenticator) }()
	<-clk.AtLeast(1)
	if r := c.Stats().WriteRate; math.Abs(r-ceiling/2) > 1e-9 {
		t.Fatalf("pace after a 429 %.2f/s, want %.2f", r, ceiling/2)
	}
	go func() { revoked <- c.RevokeSessions(ctx, []string{diego.ID})[0] }()
	select {
	case err := <-revoked:
		t.Fatalf("a writer went on during another's 429 hold (%v)", err)
	case <-clk.AtLeast(2):
	}
	done := make(chan struct{})
	go clk.RunUntil(done)
	errDel, errRev := <-deleted, <-revoked
	close(done)
	if errDel != nil || errRev != nil {
		t.Fatalf("after the hold: delete %v, revoke %v", errDel, errRev)
	}
	if srv.Count(graphtest.OpRevoke, diego.ID) != 1 || srv.Count(graphtest.OpDeleteMethod, megan.ID) != 1 {
		t.Fatal("writes held by the 429 never reached Graph")
	}
}

// TestBatchItemsUnavailable: with a third of the items in every batch (and of the batches
// themselves) answered 503, Graph never throttles and the pace never drops: only the
// failed items were held. Every user ends revoked, or (after five 503s in a row, which
// is rare) with the 503 and Graph's reason, not revoked.
func TestBatchItemsUnavailable(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 400, graphtest.Options{Limits: graphtest.DocumentedLimits()})
	srv.SetFaults(graphtest.Faults{Unavailable: 0.3, InBatches: true})
	var ids []string
	for _, u := range srv.Tenant().Users()[:300] {
		ids = append(ids, u.ID)
	}
	failed := 0
	for i, err := range c.RevokeSessions(context.Background(), ids) {
		n := srv.Count(graphtest.OpRevoke, ids[i])
		switch {
		case err == nil && n != 1:
			t.Fatalf("user %d reported revoked, Graph revoked it %d times", i, n)
		case err != nil && (n != 0 || !errors.Is(err, graph.ErrUnavailable) || !strings.Contains(err.Error(), "serviceNotAvailable")):
			t.Fatalf("user %d: %v (revoked %d times)", i, err, n)
		case err != nil:
			failed++
		}
	}
	if failed > len(ids)/10 {
		t.Fatalf("%d of %d users failed", failed, len(ids))
	}
	st := c.Stats()
	if st.BatchItems[503] == 0 || st.ByStatus[503] == 0 {
		t.Fatalf("no 503 items (%v) or batches (%v): the test proves nothing", st.BatchItems, st.ByStatus)
	}
	if st.Throttled != 0 || srv.Stats().Throttled != 0 {
		t.Fatalf("%d 429s: retrying 503s overran Graph's limits", srv.Stats().Throttled)
	}
	if math.Abs(st.WriteRate-ceiling) > 1e-9 {
		t.Fatalf("pace %.2f/s after 503s, want the ceiling %.2f", st.WriteRate, ceiling)
	}
}

// TestNothingLostUnderFaults: a window of 429s and one answer in ten a 503 (batches and
// items): every user ends revoked or with an error that carries Graph's reason, and no
// user is reported revoked that Graph did not revoke. (The window is long because the
// The skip clock runs fast while batches wait their turn: it must still be on when the first
// batch lands.)
func TestNothingLostUnderFaults(t *testing.T) {
	t.Parallel()
	c, srv := start(t, 600, graphtest.Options{Limits: graphtest.DocumentedLimits()})
	srv.SetFaults(graphtest.Faults{Unavailable: 0.1, InBatches: true})
	srv.ThrottleFor(30 * time.Second)
	var ids []string
	for _, u := range srv.Tenant().Users()[:500] {
		ids = append(ids, u.ID)
	}
	failed := 0
	for i, err := range c.RevokeSessions(context.Background(), ids) {
		n := srv.Count(graphtest.OpRevoke, ids[i])
		switch {
		case err == nil && n != 1:
			t.Errorf("user %d reported revoked, Graph revoked it %d times", i, n)
		case err != nil:
			failed++
			if approvals.ErrorCode(err) != approvals.EUPSTREAM || !strings.Contains(err.Error(), "HTTP ") || !approvals.Transient(err) {
				t.Errorf("user %d: error without Graph's reason: %v", i, err)
			}
		}
	}
	if srv.Stats().Throttled == 0 || srv.Stats().Injected5xx == 0 {
		t.Fatalf("stats %+v: the faults never happened", srv.Stats())
	}
	if failed > 5 {
		t.Fatalf("%d of %d users failed", failed, len(ids))
	}
}

// TestPriorityWriteGoesAheadOfBulk: while a revoke of 400 users waits for its pace, a
// single deletion and a single user's revocation go through at once: they finish while
// the bulk revoke is still in progress (fake time frozen, so the bulk work cannot move).
func TestPriorityWriteGoesAheadOfBulk(t *testing.T) {
	t.Parallel()
	clk := approvalstest.NewManualClock(t, t0)
	c, srv := startClock(t, 500, graphtest.Options{}, clk)
	tn := srv.Tenant()
	ctx := context.Background()
	adele, _ := tn.User(graphtest.AdeleUPN)
	megan, _ := tn.User(graphtest.MeganUPN)
	fido := methodOf(t, c, adele.ID, approvals.MethodFido2)
	var bulk []string
	for _, u := range tn.Users()[10:410] {
		bulk = append(bulk, u.ID)
	}
	bulkErrs := make(chan []error, 1)
	go func() { bulkErrs <- c.RevokeSessions(ctx, bulk) }()
	// One batch goes on the burst; then every one of the Concurrency slots waits its turn.
	<-clk.AtLeast(graph.DefaultConcurrency)
	started := srv.Count(graphtest.OpRevoke, "")

	single := []struct {
		name string
		call func() error
		done func() bool
	}{
		{"DeleteMethod", func() error { return c.DeleteMethod(ctx, adele.ID, fido) },
			func() bool { return srv.Count(graphtest.OpDeleteMethod, adele.ID) == 1 }},
		{"RevokeOne", func() error { return c.RevokeSessions(ctx, []string{megan.ID})[0] },
			func() bool { return srv.Count(graphtest.OpRevoke, megan.ID) == 1 }},
	}
	for _, s := range single {
		t.Run(s.name, func(t *testing.T) {
			res := make(chan error, 1)
			go func() { res <- s.call() }()
			select {
			case err := <-res:
				if err != nil || !s.done() {
					t.Fatalf("err %v, done in Graph %v", err, s.done())
				}
			case <-clk.AtLeast(graph.DefaultConcurrency + 1):
				t.Fatal("the single write queues behind the bulk revoke")
			}
			if n := srv.Count(graphtest.OpRevoke, ""); n-started > 1 || n >= len(bulk) {
				t.Fatalf("the bulk revoke moved on (%d revoked) while time stood still", n)
			}
		})
	}

	done := make(chan struct{})
	go clk.RunUntil(done)
	errs := <-bulkErrs
	close(done)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, id := range bulk {
		if srv.Count(graphtest.OpRevoke, id) != 1 {
			t.Fatalf("%s not revoked", id)
		}
	}
}

// TestRetriesThroughTheClient: what the middleware repeats, counted at the simulator.
// Refusals (4xx other than 429) go once and are final; 429 and 503 are repeated; every
// error is transient exactly when repeating it later may succeed.
func TestRetriesThroughTheClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(*graphtest.Server)
		call      func(*graph.Client, *graphtest.Tenant) error
		requests  int64 // HTTP requests Graph saw; 0: more than one
		kind      error // nil: success
		transient bool
	}{
		{"OKThrottledThenServed", func(s *graphtest.Server) { s.ThrottleFor(time.Second) },
			resolve(graphtest.AdeleUPN), 0, nil, false},
		{"ErrForbiddenOnce", func(s *graphtest.Server) { s.Tenant().SetGranted([]string{"AuditLog.Read.All"}) },
			resolve(graphtest.AdeleUPN), 1, graph.ErrAccessDenied, false},
		{"ErrNotFoundOnce", nil,
			func(c *graph.Client, _ *graphtest.Tenant) error {
				_, err := c.ResolveUser(ctx, "00000000-0000-4000-8000-000000000000")
				return err
			}, 1, graph.ErrNotFound, false},
		{"ErrDefaultMethodOnce", nil,
			func(c *graph.Client, tn *graphtest.Tenant) error {
				alex, _ := tn.User(graphtest.AlexUPN)
				return c.DeleteMethod(ctx, alex.ID, approvals.Method{ID: graphtest.MobilePhoneID,
					ODataType: "#microsoft.graph.phoneAuthenticationMethod", Type: approvals.MethodPhone, PhoneType: approvals.PhoneMobile})
			}, 1, approvals.ErrDefaultMethod, false},
		{"ErrUnavailableRepeated", func(s *graphtest.Server) { s.SetFaults(graphtest.Faults{Unavailable: 1}) },
			resolve(graphtest.AdeleUPN), 5, graph.ErrUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := start(t, 10, graphtest.Options{})
			adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
			if _, err := c.ResolveUser(ctx, adele.ID); err != nil { // the token, fetched once
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(srv)
			}
			before := srv.Stats().Requests
			err := tt.call(c, srv.Tenant())
			n := srv.Stats().Requests - before
			switch {
			case tt.kind == nil && err != nil:
				t.Fatalf("err %v", err)
			case tt.kind != nil && !errors.Is(err, tt.kind):
				t.Fatalf("err %v, want %v", err, tt.kind)
			case approvals.Transient(err) != tt.transient:
				t.Fatalf("Transient(%v) = %v", err, approvals.Transient(err))
			case tt.requests == 0 && n < 2, tt.requests != 0 && n != tt.requests:
				t.Fatalf("Graph saw %d requests, want %d (0: a repeat)", n, tt.requests)
			}
		})
	}
}

func resolve(upn string) func(*graph.Client, *graphtest.Tenant) error {
	return func(c *graph.Client, tn *graphtest.Tenant) error {
		u, _ := tn.User(upn)
		_, err := c.ResolveUser(context.Background(), u.ID)
		return err
	}
}

// TestTransportErrorsAreTransient: a request that times out, or a Graph that cannot be
// reached, ends in a transient ErrUnavailable; reads are repeated, writes that may have
// reached Graph are not.
func TestTransportErrorsAreTransient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, srv := start(t, 10, graphtest.Options{})
	adele, _ := srv.Tenant().User(graphtest.AdeleUPN)
	if _, err := c.ResolveUser(ctx, adele.ID); err != nil {
		t.Fatal(err)
	}
	graph.SetAttemptTimeout(c, 50*time.Millisecond)
	srv.SetFaults(graphtest.Faults{Timeouts: 1}) // Graph never answers

	before := c.Stats().TransportErrors
	_, err := c.ResolveUser(ctx, adele.ID)
	if !errors.Is(err, graph.ErrUnavailable) || !approvals.Transient(err) || !strings.Contains(approvals.ErrorMessage(err), "did not answer in time") {
		t.Fatalf("read that timed out: %v", err)
	}
	if n := c.Stats().TransportErrors - before; n != 5 {
		t.Fatalf("read attempted %d times, want 5", n)
	}
	before = c.Stats().TransportErrors
	err = c.SetMFAState(ctx, adele.ID, approvals.MFAEnforced)
	if !errors.Is(err, graph.ErrUnavailable) || !approvals.Transient(err) {
		t.Fatalf("write that timed out: %v", err)
	}
	if n := c.Stats().TransportErrors - before; n != 1 {
		t.Fatalf("write that may have reached Graph attempted %d times, want 1", n)
	}

	// Nothing listens where Graph should be.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cred, err := srv.Credential()
	if err != nil {
		t.Fatal(err)
	}
	gone, err := graph.New(graph.Config{Credential: cred, BaseURL: "http://" + addr, HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	graph.SetClock(gone, newSkipClock())
	_, err = gone.ResolveUser(ctx, adele.ID)
	if !errors.Is(err, graph.ErrUnavailable) || !approvals.Transient(err) || !strings.Contains(approvals.ErrorMessage(err), "unreachable") {
		t.Fatalf("unreachable Graph: %v", err)
	}
}
