package summary_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// liveHeap is the heap the last GC found live. Unlike the allocated heap it does not count
// garbage waiting for the next cycle, whose amount scales with GOGC and everything else
// the process holds (here: the simulated tenant), not with what the summary keeps.
const liveHeap = "/gc/heap/live:bytes"

// heapPeak samples the live heap every millisecond until stop, which returns the largest
// value seen: the most the process held at any GC while it ran.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: liveHeap}}
	done, out := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-out }
}

func heapNow() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: liveHeap}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// synthetic is a Source that makes a tenant up page by page, holding none of it: it shows
// what the aggregation alone costs, without HTTP and JSON.
type synthetic struct{ users int }

func (s synthetic) Users(ctx context.Context, fn func([]approvals.User) error) error {
	for lo := 0; lo < s.users; lo += 999 {
		page := make([]approvals.User, 0, 999)
		for i := lo; i < min(lo+999, s.users); i++ {
			page = append(page, approvals.User{ID: guid(i), Enabled: i%20 != 0, Guest: i%10 == 1})
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

func (s synthetic) Registrations(ctx context.Context, fn func([]approvals.Registration) error) error {
	for lo := 0; lo < s.users; lo += 999 {
		page := make([]approvals.Registration, 0, 999)
		for i := lo; i < min(lo+999, s.users); i++ {
			typ := "member"
			if i%10 == 1 {
				typ = "guest"
			}
			mfa := i%5 >= 2 // 60% registered
			var methods []string
			if mfa {
				methods = []string{"microsoftAuthenticatorPush", "mobilePhone"}
			}
			page = append(page, approvals.Registration{
				UserID: guid(i), UPN: fmt.Sprintf("user%06d@contoso.com", i), DisplayName: fmt.Sprintf("User %d", i),
				UserType: typ, IsAdmin: i%997 == 0, IsMfaRegistered: mfa, IsMfaCapable: mfa,
				MethodsRegistered: methods, LastUpdated: updated,
			})
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkCollect100kSynthetic summarises 100,000 made-up users without Graph: the
// aggregation's own time and the heap it adds (the CSV dominates).
func BenchmarkCollect100kSynthetic(b *testing.B) {
	benchCollect(b, synthetic{users: 100_000}, 100_000)
}

func benchCollect(b *testing.B, src summary.Source, users int) {
	ctx := context.Background()
	base := heapNow()
	stop := heapPeak()
	var s *summary.Summary
	start := time.Now()
	for b.Loop() {
		var err error
		if s, err = summary.Collect(ctx, src, summary.Options{Day: "2026-11-22"}); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	peak := stop()
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(users*b.N)/elapsed.Seconds(), "users/s")
	b.ReportMetric(float64(len(s.CSV))/(1<<20), "csv-MiB")
	if s.Members.Enabled+s.Guests.Enabled == 0 {
		b.Fatal("nothing summarised")
	}
}

// BenchmarkSummary100k summarises a generated tenant of 100,000 users streamed over HTTP
// through the real Graph client (JSON paging, pacing under the reports limit, scaled from
// 5 per 10 s to 5 per 20 ms). peak-heap-MiB is the most live heap above what was live
// before (the simulated tenant): the summary's own share (see the synthetic benchmark),
// the SDK decoding a page, the CSV, and the in-process simulator, which copies its whole
// user list for every page it serves, so that part grows with the tenant.
func BenchmarkSummary100k(b *testing.B) { benchGraph(b, 100_000) }

// BenchmarkSummary10k is BenchmarkSummary100k at a tenth of the size.
func BenchmarkSummary10k(b *testing.B) { benchGraph(b, 10_000) }

func benchGraph(b *testing.B, users int) {
	tn := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: users})
	client := newGraphClient(b, tn)
	benchCollect(b, client, users)
}
