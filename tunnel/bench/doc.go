// Package bench measures the redis-ha tunnel against direct Redis and against HAProxy
// configured like the redis-ha Helm chart, on real redis-server and redis-sentinel
// processes started by internal/redisproc on loopback.
//
// Two experiments live here, each driven by the command tunnel/bench/cmd/redis-ha-tunnel-bench:
//
//   - RunPerf (make bench-tunnel): redis-benchmark SET/GET throughput and p50 latency
//     (plain, pipelined, one new connection per request) against every target in
//     interleaved rounds, medians per cell, ratios to direct; then idle client
//     connections through the tunnel and its resident memory.
//   - RunChaos (make chaos-tunnel): graceful SENTINEL FAILOVERs and kill -9 failovers
//     while one writer per path (tunnel, HAProxy) writes unique keys; it counts acked
//     writes that the final master does not have, the time from promotion to the first
//     surviving write and the longest gap between acks, and draws a timeline SVG.
//
// The pure parts (redis-benchmark CSV parsing, medians, bucketing, the SVG writer,
// the HAProxy config) are unit tested; everything that starts processes runs only from
// the command, so `go test ./...` stays fast.
package bench
