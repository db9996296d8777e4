package graphtest_test

import (
	"testing"

	"github.com/mfabot/mfabot/graph/graphtest"
)

// BenchmarkGenerate100k: a 100,000-user tenant must be ready in well under a second.
func BenchmarkGenerate100k(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		t := graphtest.Generate(graphtest.GenOptions{Seed: 1, Users: 100000})
		if t.UserCount() != 100000 {
			b.Fatal(t.UserCount())
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/tenant")
}
