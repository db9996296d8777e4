package storage_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// BenchmarkAuditAppend appends one audit entry per transaction, each committed (and
// fsynced) to a real SQLite file or PostgreSQL server.
func BenchmarkAuditAppend(b *testing.B) {
	benchEachEngine(b, func(b *testing.B, e engine) {
		ctx := context.Background()
		db := e.open(b)
		ev := approvals.AuditEvent{Time: t0, RequestID: "R-7K2QXA", Type: approvals.EventItem, Actor: cat,
			Detail: "revoke 0f8fad5b-d9cb-469f-a165-70867728950e: done"}
		b.ResetTimer()
		start := time.Now()
		for b.Loop() {
			if err := db.Audit(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	})
}

// BenchmarkFinishItems records a batch of 1,000 item outcomes with their audit entries in
// one transaction, as the executor does.
func BenchmarkFinishItems(b *testing.B) {
	benchEachEngine(b, func(b *testing.B, e engine) {
		ctx := context.Background()
		db := e.open(b)
		const batch = 1000
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			r := running(b, db, "exec", t0.Add(time.Hour))
			if err := db.AddItems(ctx, r.ID, revokeItems(batch)); err != nil {
				b.Fatal(err)
			}
			items, err := db.Items(ctx, r.ID, approvals.ItemPending, 0, 0)
			if err != nil {
				b.Fatal(err)
			}
			for i := range items {
				items[i].State, items[i].Attempts = approvals.ItemDone, 1
			}
			evs := itemEvents(items)
			b.StartTimer()
			start := time.Now()
			if err := db.FinishItems(ctx, items, evs); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(b.N*batch)/total.Seconds(), "items/s")
	})
}

// BenchmarkDecide has 100 deciders approve 100 pending requests concurrently, each
// approval by a different person, and reports the latency of Approve.
func BenchmarkDecide(b *testing.B) {
	benchEachEngine(b, func(b *testing.B, e engine) {
		ctx := context.Background()
		db := e.open(b)
		const deciders, requests = 100, 100
		ids := make([]string, requests)
		for i := range ids {
			ids[i] = newRequest(b, db, func(r *approvals.Request) { r.ExpiresAt = t0.Add(24 * time.Hour) }).ID
		}
		// Enough approvals are never reached, so every call takes the full path.
		required := b.N + 1

		var next atomic.Int64
		lat := make([][]time.Duration, deciders)
		var wg sync.WaitGroup
		b.ResetTimer()
		for w := range deciders {
			wg.Go(func() {
				for {
					n := int(next.Add(1)) - 1
					if n >= b.N {
						return
					}
					a := approvals.Actor{Platform: "slack", ID: fmt.Sprintf("U%08d", n), Name: "Approver"}
					start := time.Now()
					_, err := db.Approve(ctx, ids[n%requests], approvals.Decision{Actor: a, At: t0.Add(time.Minute)}, required,
						approvals.AuditEvent{Type: approvals.EventApproved, Actor: a})
					lat[w] = append(lat[w], time.Since(start))
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()

		all := slices.Concat(lat...)
		slices.Sort(all)
		if len(all) == 0 {
			return
		}
		pct := func(p float64) float64 {
			return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
	})
}
