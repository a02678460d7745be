package function

import (
	"context"
	"slices"
	"testing"
	"time"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
)

// BenchmarkRunFunction runs the function on the full example (every option on) with every
// composed resource observed, the most work one call does. Besides ns/op it reports the 99th
// percentile of single calls (p99-ms); the target is below 5 ms.
func BenchmarkRunFunction(b *testing.B) {
	ex := examples()["redisha-full"]
	req := runRequest(b, readExample(b, ex.file), withReadyStatus(goldenObjects(b, "redisha-full")))
	req.RequiredResources = map[string]*fnv1.Resources{requiredExistingSecret: {Items: []*fnv1.Resource{{Resource: resource.MustStructObject(ex.existing)}}}}
	f := newTestFunction()
	ctx := context.Background()

	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		rsp, err := f.RunFunction(ctx, req)
		durations = append(durations, time.Since(start))
		if err != nil || len(rsp.GetResults()) > 0 {
			b.Fatalf("RunFunction: %v %v", err, rsp.GetResults())
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	p99 := durations[len(durations)*99/100]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}
