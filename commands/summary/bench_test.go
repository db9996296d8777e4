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
)

// heapPeak samples the live heap every millisecond until stop, which returns the largest
// value seen. Sampling misses spikes shorter than a millisecond; GC makes those rare.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
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
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
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
