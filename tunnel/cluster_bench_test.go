package tunnel

import (
	"context"
	"testing"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// BenchmarkClusterSetThroughTunnel compares SET round trips sent directly to the slot's
// master (what a cluster-aware client does) with the same SETs through an in-process
// cluster-mode tunnel, in one run (50 parallel connections). cpu-ns/op and allocs/op
// count this whole process (clients, plus the tunnel when routed through it): tunnel
// minus direct is what the tunnel costs per command.
// Profile with: go test -run '^$' -bench ClusterSetThroughTunnel -cpuprofile cpu.out ./tunnel/
func BenchmarkClusterSetThroughTunnel(b *testing.B) {
	redisproctest.RequireBinaries(b, "redis-server", "redis-cli")
	ctx := context.Background()
	rc, err := redisproc.StartRedisCluster(ctx, redisproc.RedisClusterOptions{Masters: 3})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	tun := startBenchTunnel(b, Config{Cluster: &ClusterConfig{Seeds: rc.Seeds(), Listen: "127.0.0.1:0"}})
	const key = "bench"
	owner, err := rc.MasterOfSlot(ctx, keySlot([]byte(key)))
	if err != nil {
		b.Fatal(err)
	}
	benchmarkSetTargets(b, key, []benchTarget{
		{"direct", owner.Addr()},
		{"tunnel", tun.ClusterAddr().String()},
	})
}
