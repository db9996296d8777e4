package approvals_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// benchScale speeds Graph's documented limits and a 200 ms latency up by the same factor
// (as graph's benchmarks do), so a run takes seconds; durations are reported unscaled.
const benchScale = 25

// BenchmarkResetDuringBulk approves a lost-phone reset while a 10,000-member revoke-group
// runs at Graph's documented write limit, through the real Graph client, graphtest and a
// real SQLite file, and reports how long the reset took from approval to its end (unscaled:
// what an admin would wait) and how far the bulk request had come by then. The goal is
// under 10 s; before requests ran concurrently it waited for the whole bulk run (8.6 min).
func BenchmarkResetDuringBulk(b *testing.B) {
	const members = 10000
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		tenant := graphtest.Generate(graphtest.GenOptions{Seed: 5, Users: members + 10})
		g, err := tenant.AddGroup(graphtest.Group{DisplayName: "Everyone"})
		if err != nil {
			b.Fatal(err)
		}
		users := tenant.Users()
		for _, u := range users[10 : members+10] {
			if err := tenant.AddMember(g.ID, u.ID); err != nil {
				b.Fatal(err)
			}
		}
		lost, _ := tenant.User(graphtest.MeganUPN)
		srv := graphtest.Start(b, tenant, graphtest.Options{Latency: 200 * time.Millisecond / benchScale,
			Limits: graphtest.DocumentedLimits(), Scale: benchScale})
		cred, err := srv.Credential()
		if err != nil {
			b.Fatal(err)
		}
		dir, err := graph.New(graph.Config{TenantID: tenant.ID(), ClientID: srv.ClientID(), Credential: cred, BaseURL: srv.URL(),
			HTTPClient: srv.HTTPClient(), WriteRate: 20 * benchScale, Concurrency: 4})
		if err != nil {
			b.Fatal(err)
		}
		db := storagetest.Open(b)
		pol := approvals.Policy{Requesters: mustPrincipals(b, "slack:UANN"), Approvers: mustPrincipals(b, "slack:UBEN"), ConfirmAbove: 100000}
		notes := &recorder{}
		svc := approvals.NewService(db, dir, pol, approvals.ServiceOptions{Notifier: notes})
		ex := approvals.NewExecutor(db, dir, pol, approvals.ExecutorOptions{Notifier: notes, Concurrency: 4})
		svc.SetWake(ex.Wake)
		done := make(chan struct{})
		go func() { _ = ex.Run(ctx); close(done) }()

		annS := approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}
		benS := approvals.Actor{Platform: "slack", ID: "UBEN", Name: "Ben"}
		bulk, err := svc.Create(ctx, annS, approvals.NewRequest{Kind: approvals.KindRevokeGroup, Target: g.ID})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Approve(ctx, benS, bulk.ID); err != nil {
			b.Fatal(err)
		}
		// Wait until the bulk run is well under way.
		for {
			cur, _ := svc.Request(ctx, bulk.ID)
			if cur.Done >= 1000 {
				break
			}
			notes.wait()
		}
		reset, err := svc.Create(ctx, annS, approvals.NewRequest{Kind: approvals.KindReset, Target: lost.UserPrincipalName, Reason: "lost phone"})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := svc.Approve(ctx, benS, reset.ID); err != nil {
			b.Fatal(err)
		}
		var end *approvals.Request
		for {
			end, _ = svc.Request(ctx, reset.ID)
			if end.State.Final() {
				break
			}
			notes.wait()
		}
		took := time.Since(start)
		if end.State != approvals.StateSucceeded {
			b.Fatalf("reset %s: %s", end.State, end.Error)
		}
		cur, _ := svc.Request(ctx, bulk.ID)
		b.ReportMetric(took.Seconds()*benchScale, "reset-s-unscaled")
		b.ReportMetric(float64(cur.Done+cur.Failed)/float64(cur.Total), "bulk-fraction-done-meanwhile")
		cancel()
		<-done
	}
}
