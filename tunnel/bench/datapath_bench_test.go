package bench

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
	"github.com/redis-ha/redis-ha/tunnel"
)

// BenchmarkDataPath compares the tunnel's data path (in process, over loopback) with a
// direct connection to the same master: one round trip per op, 16 pipelined commands per
// op, and one new connection (connect, PING, close) per op. Run with make bench-tunnel-go
// or `go test -run '^$' -bench DataPath -cpuprofile cpu.out ./tunnel/bench/`.
func BenchmarkDataPath(b *testing.B) {
	redisproctest.RequireBinaries(b, "redis-server", "redis-sentinel")
	c := redisproctest.StartCluster(b, redisproc.ClusterOptions{Replicas: 1, Sentinels: 3, DownAfter: 5 * time.Second})
	tun, err := tunnel.New(tunnel.Config{Sentinels: c.SentinelAddrs(),
		Masters: []tunnel.Endpoint{{Name: c.MasterName(), Listen: "127.0.0.1:0"}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := tun.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tun.Close() })
	tunAddr := tun.MasterAddr(c.MasterName()).String()
	if err := waitRole(context.Background(), tunAddr); err != nil {
		b.Fatal(err)
	}
	master, err := c.Master(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, target := range []struct{ name, addr string }{{"direct", master.Addr()}, {"tunnel", tunAddr}} {
		b.Run(target.name+"/roundtrip", func(b *testing.B) { benchPipeline(b, target.addr, 1) })
		b.Run(target.name+"/pipeline16", func(b *testing.B) { benchPipeline(b, target.addr, 16) })
		b.Run(target.name+"/connect", func(b *testing.B) {
			for b.Loop() {
				conn, err := net.Dial("tcp", target.addr)
				if err != nil {
					b.Fatal(err)
				}
				if err := ping(conn, 1); err != nil {
					b.Fatal(err)
				}
				conn.Close()
			}
		})
	}
}

// benchPipeline sends depth PINGs per op on one connection and reads the replies.
func benchPipeline(b *testing.B, addr string, depth int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	b.SetBytes(int64(depth * (len("PING\r\n") + len("+PONG\r\n"))))
	for b.Loop() {
		if err := ping(conn, depth); err != nil {
			b.Fatal(err)
		}
	}
}

func ping(conn net.Conn, depth int) error {
	if _, err := conn.Write([]byte(strings.Repeat("PING\r\n", depth))); err != nil {
		return err
	}
	buf := make([]byte, depth*len("+PONG\r\n"))
	_, err := io.ReadFull(conn, buf)
	return err
}
