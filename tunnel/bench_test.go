package tunnel

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// BenchmarkSetThroughTunnel compares SET round trips direct to Redis and through an
// in-process tunnel in one run (50 parallel connections, like redis-benchmark -c 50).
// Profile with: go test -run '^$' -bench SetThroughTunnel -cpuprofile cpu.out ./tunnel/
func BenchmarkSetThroughTunnel(b *testing.B) {
	redisproctest.RequireBinaries(b)
	ctx := context.Background()
	c, err := redisproc.StartCluster(ctx, redisproc.ClusterOptions{Sentinels: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tun := startBenchTunnel(b, Config{Sentinels: c.SentinelAddrs(), Masters: []Endpoint{{Name: c.MasterName(), Listen: "127.0.0.1:0"}}})
	master, err := c.Master(ctx)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkSetTargets(b, "bench", []benchTarget{
		{"direct", master.Addr()},
		{"tunnel", tun.MasterAddr(c.MasterName()).String()},
	})
}

// startBenchTunnel starts a tunnel, closes it when the benchmark ends and waits (up to
// 10 s) until it is ready.
func startBenchTunnel(b *testing.B, cfg Config) *Tunnel {
	tun, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := tun.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tun.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for !tun.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return tun
}

// benchTarget is one address a SET benchmark sends to.
type benchTarget struct{ name, addr string }

// benchmarkSetTargets runs SET key round trips against every target, with pipelines of
// 1 and 16, over 50 parallel connections (like redis-benchmark -c 50).
func benchmarkSetTargets(b *testing.B, key string, targets []benchTarget) {
	for _, target := range targets {
		for _, pipeline := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/P%d", target.name, pipeline), func(b *testing.B) {
				b.SetParallelism(25)
				b.ReportAllocs()
				cpuBefore := processCPU(b)
				defer func() {
					// CPU of this process (clients, plus the tunnel when routed through it) per
					// op: unlike ns/op it hardly moves with the load of a shared machine, and
					// tunnel minus direct is what the tunnel itself costs per command.
					b.ReportMetric(float64(processCPU(b)-cpuBefore)/float64(b.N), "cpu-ns/op")
				}()
				b.RunParallel(func(pb *testing.PB) {
					conn, err := redis.Dial("tcp", target.addr)
					if err != nil {
						b.Error(err)
						return
					}
					defer conn.Close()
					for pb.Next() {
						for range pipeline {
							_ = conn.Send("SET", key, "x")
						}
						if err := conn.Flush(); err != nil {
							b.Error(err)
							return
						}
						for range pipeline {
							if _, err := conn.Receive(); err != nil {
								b.Error(err)
								return
							}
						}
					}
				})
			})
		}
	}
}

// processCPU is the user+system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
