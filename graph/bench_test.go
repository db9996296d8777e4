package graph_test

import (
	"context"
	"runtime"
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
		users := srv.Tenant().Users()
		ids := make([]string, members)
		for i := range ids {
			ids[i] = users[i].ID
		}
		ctx := context.Background()
		// The executor's shape: batches of 20, four in flight.
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int64
		sem := make(chan struct{}, 4)
		for i := 0; i < members; i += 20 {
			wg.Add(1)
			sem <- struct{}{}
			go func(part []string) {
				defer wg.Done()
				defer func() { <-sem }()
				for _, err := range c.RevokeSessions(ctx, part) {
					if err != nil {
						failed.Add(1)
					}
				}
			}(ids[i:min(i+20, members)])
		}
		wg.Wait()
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
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
					runtime.ReadMemStats(&m)
					if m.HeapAlloc > peak.Load() {
						peak.Store(m.HeapAlloc)
					}
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
		if err != nil || n != users {
			b.Fatalf("streamed %d: %v", n, err)
		}
		// The first 5 pages go at once; every later 5 wait for the window.
		bound := time.Duration(float64(pages-5)/5) * window
		b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "x-lower-bound")
		b.ReportMetric(elapsed.Seconds()*benchScale, "s-unscaled")
		// The simulated tenant lives in this process too; count what streaming added.
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapAlloc))/(1<<20), "peak-heap-MB-above-tenant")
		b.ReportMetric(float64(pages), "pages")
	}
}
