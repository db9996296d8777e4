package graph_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// benchScale speeds Graph's documented limits and a 200 ms latency up by the same factor,
// so a run takes seconds; the ratios are what count.
const benchScale = 25

func benchClient(b *testing.B, users int, o graphtest.Options, cfg graph.Config) (*graph.Client, *graphtest.Server) {
	b.Helper()
	srv := graphtest.Start(b, graphtest.Generate(graphtest.GenOptions{Seed: 9, Users: users}), o)
	cred, err := srv.Credential()
	if err != nil {
		b.Fatal(err)
	}
	cfg.TenantID, cfg.ClientID, cfg.Credential, cfg.BaseURL, cfg.HTTPClient = srv.Tenant().ID(), srv.ClientID(), cred, srv.URL(), srv.HTTPClient()
	c, err := graph.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c, srv
}

// BenchmarkRevokeGroup10k revokes every member of a 10,000-member group under the
// documented limits, where the write limit binds (3,000 per 2.5 minutes: 20 writes/s), and
// reports writes/s as a fraction of that limit, the 429s, and the speed-up over revoking
// one user at a time (the PowerShell way), measured on a sample of 200 and extrapolated.
func BenchmarkRevokeGroup10k(b *testing.B) {
	const members = 10000
	latency := 200 * time.Millisecond / benchScale
	limit := 20.0 * benchScale
	for range b.N {
		c, srv := benchClient(b, members, graphtest.Options{Latency: latency, Limits: graphtest.DocumentedLimits(), Scale: benchScale},
			graph.Config{WriteRate: limit, Concurrency: 4})
		tn := srv.Tenant()
		g, err := tn.AddGroup(graphtest.Group{DisplayName: "Everyone to revoke"})
		if err != nil {
			b.Fatal(err)
		}
		for _, u := range tn.Users()[:members] {
			if err := tn.AddMember(g.ID, u.ID); err != nil {
				b.Fatal(err)
			}
		}
		ctx := context.Background()
		// The executor's shape: the members stream in pages of 999, each page goes out in
		// batches of 20, four in flight, while the next page is read.
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int64
		var ids []string
		sem := make(chan struct{}, 4)
		err = c.GroupMembers(ctx, g.ID, func(us []approvals.User) error {
			for i := 0; i < len(us); i += 20 {
				part := make([]string, 0, 20)
				for _, u := range us[i:min(i+20, len(us))] {
					part = append(part, u.ID)
				}
				ids = append(ids, part...)
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					for _, err := range c.RevokeSessions(ctx, part) {
						if err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			return nil
		})
		wg.Wait()
		if err != nil || len(ids) != members {
			b.Fatalf("streamed %d members: %v", len(ids), err)
		}
		elapsed := time.Since(start)
		if failed.Load() > 0 || srv.Count(graphtest.OpRevoke, "") != members {
			b.Fatalf("%d failed, %d revoked", failed.Load(), srv.Count(graphtest.OpRevoke, ""))
		}
		rate := members / elapsed.Seconds()

		// Sequential: one request at a time, waiting for each answer.
		seqStart := time.Now()
		for _, id := range ids[:200] {
			if errs := c.RevokeSessions(ctx, []string{id}); errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
		seqRate := 200 / time.Since(seqStart).Seconds()
		b.ReportMetric(rate/limit, "fraction-of-write-limit")
		b.ReportMetric(rate/benchScale, "writes/s-unscaled")
		b.ReportMetric(float64(srv.Stats().Throttled), "429s")
		b.ReportMetric(rate/seqRate, "speedup-vs-sequential")
		b.ReportMetric(elapsed.Seconds()*benchScale, "s-unscaled")
	}
}

// BenchmarkRegistrations100k streams the registration report of 100,000 users under the
// reports limit (5 requests per 10 s) and reports the wall time against the lower bound
// that limit sets, and the peak heap.
func BenchmarkRegistrations100k(b *testing.B) {
	const users = 100000
	window := 10 * time.Second / benchScale
	for range b.N {
		c, _ := benchClient(b, users, graphtest.Options{Limits: graphtest.Limits{Reports: 5, ReportWindow: 10 * time.Second}, Scale: benchScale},
			graph.Config{ReportLimit: 5, ReportWindow: window})
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		// Two views of the heap: HeapAlloc includes garbage not yet collected (its peak
		// depends on GOGC), the live heap after each GC is what streaming holds on to.
		var peak, peakLive atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var m runtime.MemStats
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					runtime.ReadMemStats(&m)
					peak.Store(max(peak.Load(), m.HeapAlloc))
					metrics.Read(live)
					peakLive.Store(max(peakLive.Load(), live[0].Value.Uint64()))
				}
			}
		}()
		start := time.Now()
		n, pages := 0, 0
		err := c.Registrations(context.Background(), func(rs []approvals.Registration) error {
			n += len(rs)
			pages++
			return nil
		})
		elapsed := time.Since(start)
		close(stop)
		<-done
		if err != nil || n != users {
			b.Fatalf("streamed %d: %v", n, err)
		}
		// The lower bound of the brief: pages at 0.5 requests per second (scaled). A sliding
		// window lets the first 5 pages go at once, so the exact bound is 5 pages shorter.
		bound := float64(pages) / (0.5 * benchScale)
		exact := float64(pages-5) / 5 * window.Seconds()
		b.ReportMetric(elapsed.Seconds()/bound, "x-lower-bound")
		b.ReportMetric(elapsed.Seconds()/exact, "x-exact-window-bound")
		b.ReportMetric(elapsed.Seconds()*benchScale, "s-unscaled")
		// The simulated tenant lives in this process too; count what streaming added.
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapAlloc))/(1<<20), "peak-heap-MB-above-tenant")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB-with-tenant")
		b.ReportMetric(float64(peakLive.Load()-min(peakLive.Load(), base.HeapAlloc))/(1<<20), "peak-live-heap-MB-above-tenant")
		b.ReportMetric(float64(pages), "pages")
	}
}

// BenchmarkRevokeAdaptive is the case the documentation does not cover: Graph throttles at
// half the documented write limit (other apps share the tenant, or Graph is busy), while
// mfabot still paces for the documented one. It reports the writes/s achieved as a fraction
// of the limit Graph really enforced, and the 429s it took to find it.
func BenchmarkRevokeAdaptive(b *testing.B) {
	const users = 6000
	latency := 200 * time.Millisecond / benchScale
	real := graphtest.DocumentedLimits()
	real.AppWrites /= 2 // 1,500 per 2.5 minutes: 10 writes/s
	realRate := 10.0 * benchScale
	for range b.N {
		c, srv := benchClient(b, users, graphtest.Options{Latency: latency, Limits: real, Scale: benchScale},
			graph.Config{WriteRate: 20 * benchScale, Concurrency: 4})
		ids := make([]string, 0, users)
		for _, u := range srv.Tenant().Users()[:users] {
			ids = append(ids, u.ID)
		}
		start := time.Now()
		failed := 0
		for _, err := range c.RevokeSessions(context.Background(), ids) {
			if err != nil {
				failed++
			}
		}
		elapsed := time.Since(start)
		if failed > 0 {
			b.Fatalf("%d of %d failed", failed, users)
		}
		rate := users / elapsed.Seconds()
		b.ReportMetric(rate/realRate, "fraction-of-enforced-limit")
		b.ReportMetric(float64(srv.Stats().Throttled), "429s")
		b.ReportMetric(float64(c.Stats().Retries), "retries")
		b.ReportMetric(c.Stats().WriteRate/benchScale, "pace-at-end-writes/s-unscaled")
	}
}

// BenchmarkRevokeFaults revokes a 2,000-member set under the documented limits while Graph
// misbehaves as it really does: one answer in ten (plain responses and batch items) is a
// 503 with Retry-After, and a third of the way in the tenant answers nothing but 429 for
// 3 s. It reports the rate as a fraction of the best possible one (the write limit, with
// nothing written during the 429 window: members / (members/limit + window)), the users
// that ended with an error, and what Graph answered.
func BenchmarkRevokeFaults(b *testing.B) {
	const members = 2000
	latency := 200 * time.Millisecond / benchScale
	limit := 20.0 * benchScale
	window := 3 * time.Second / benchScale
	for range b.N {
		c, srv := benchClient(b, members, graphtest.Options{Latency: latency, Limits: graphtest.DocumentedLimits(), Scale: benchScale},
			graph.Config{WriteRate: limit, Concurrency: 4})
		srv.SetFaults(graphtest.Faults{Unavailable: 0.1, InBatches: true})
		ids := make([]string, 0, members)
		for _, u := range srv.Tenant().Users()[:members] {
			ids = append(ids, u.ID)
		}
		ideal := time.Duration(float64(members) / limit * float64(time.Second))
		throttle := time.AfterFunc(ideal/3, func() { srv.ThrottleFor(window) })
		start := time.Now()
		errs := c.RevokeSessions(context.Background(), ids)
		elapsed := time.Since(start)
		throttle.Stop()
		failed := 0
		for i, err := range errs {
			revoked := srv.Count(graphtest.OpRevoke, ids[i]) > 0
			switch {
			case err == nil && !revoked:
				b.Fatalf("user %d reported revoked, Graph has no record", i)
			case err != nil && !strings.Contains(err.Error(), "HTTP "):
				b.Fatalf("user %d failed without Graph's reason: %v", i, err)
			case err != nil:
				failed++
			}
		}
		st := srv.Stats()
		if st.ThrottledBy[graphtest.ThrottledTenantWrites] == 0 || st.Injected5xx == 0 {
			b.Fatalf("the faults never happened: %+v", st)
		}
		best := float64(members) / (ideal + window).Seconds()
		b.ReportMetric(float64(members)/elapsed.Seconds()/best, "fraction-of-best")
		b.ReportMetric(float64(failed), "failed")
		b.ReportMetric(float64(st.Throttled), "429s")
		b.ReportMetric(float64(st.Injected5xx), "503s")
		b.ReportMetric(elapsed.Seconds()*benchScale, "s-unscaled")
	}
}
