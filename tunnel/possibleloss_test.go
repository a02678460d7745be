package tunnel

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// TestIntegrationPromotionBehindTheFenceIsReported makes Sentinel promote a replica that
// lacks writes the old master acknowledged (its replication stream is held back by a
// forwarder), which no proxy can undo, and checks the tunnel says so: the possible-loss
// metrics count it, and the writes it warns about are really missing on the new master.
func TestIntegrationPromotionBehindTheFenceIsReported(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	// failover-timeout is also how long Sentinel leaves a replica that follows another
	// address (the forwarder) alone before it "fixes" it: longer than the test.
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{
		Replicas: 1, Sentinels: 3, DownAfter: time.Second, FailoverTimeout: 60 * time.Second,
	})
	ctx := context.Background()
	old, replica := c.Servers()[0], c.Servers()[1]

	fwd := startStallingForwarder(t, old.Addr())
	host, port, _ := net.SplitHostPort(fwd.addr)
	rc, err := replica.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Do("REPLICAOF", host, port); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replica linked through the forwarder", func() bool {
		info, err := redis.String(rc.Do("INFO", "replication"))
		m := redisproc.ParseInfo(info)
		return err == nil && m["master_port"] == port && m["master_link_status"] == "up"
	})
	if err := c.WaitSentinelsReady(ctx, 1); err != nil {
		t.Fatal(err)
	}

	tun := startTunnel(t, c, nil)
	w := startWriter(t, tun.MasterAddr(c.MasterName()).String(), "behind")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })
	fwd.stall()
	stalledAt := time.Now()
	// The old master acknowledges writes its replica never receives.
	waitFor(t, 5*time.Second, "writes acked during the stall", func() bool {
		return len(acksBetween(w.snapshot(), stalledAt.Add(10*time.Millisecond), time.Now())) > 50
	})
	if got := testutilCounter(t, tun, "redis_ha_tunnel_possible_write_loss_total"); got != 0 {
		t.Fatalf("possible loss reported before any failover: %v", got)
	}

	waitPromotion := promotionClock(t, c, old)
	if _, err := c.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	promotedAt, newMaster := waitPromotion()
	waitFor(t, 5*time.Second, "writes after the promotion", func() bool {
		return !firstAckAfter(w.snapshot(), promotedAt).IsZero()
	})
	w.halt()

	if got := testutilCounter(t, tun, "redis_ha_tunnel_possible_write_loss_total"); got != 1 {
		t.Errorf("redis_ha_tunnel_possible_write_loss_total = %v, want 1", got)
	}
	gap := testutilCounter(t, tun, "redis_ha_tunnel_possible_write_loss_bytes_total")
	if gap <= 0 {
		t.Errorf("redis_ha_tunnel_possible_write_loss_bytes_total = %v, want > 0", gap)
	}
	// The warning is true: writes acked while the replica was held back are gone.
	stalled := acksBetween(w.snapshot(), stalledAt.Add(10*time.Millisecond), promotedAt)
	missing := missingKeys(t, newMaster, stalled)
	if len(missing) == 0 {
		t.Fatalf("none of the %d writes acked during the stall is missing on the new master: the stall did not hold the replica back", len(stalled))
	}
	t.Logf("RESULT promotion behind the fence: reported %v bytes behind; %d of %d writes acked during the stall missing on the new master",
		gap, len(missing), len(stalled))
}

// acksBetween returns the acks in [from, to).
func acksBetween(acks []ack, from, to time.Time) []ack {
	var out []ack
	for _, a := range acks {
		if !a.at.Before(from) && a.at.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// stallingForwarder relays TCP connections to a target and can hold back everything the
// target sends (a replication stream that stops arriving while the link stays up).
type stallingForwarder struct {
	addr string

	mu      sync.Mutex
	stalled bool
	resumed chan struct{}
}

func startStallingForwarder(t *testing.T, target string) *stallingForwarder {
	t.Helper()
	f := &stallingForwarder{resumed: make(chan struct{})}
	f.addr = serveLoopback(t, func(c net.Conn) {
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer up.Close()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
		go func() { f.copyHeld(c, up); done <- struct{}{} }()
		<-done
	})
	t.Cleanup(f.resume)
	return f
}

// copyHeld copies src to dst, waiting while the forwarder is stalled.
func (f *stallingForwarder) copyHeld(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			resumed := f.resumed
			stalled := f.stalled
			f.mu.Unlock()
			if stalled {
				<-resumed
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *stallingForwarder) stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalled = true
}

func (f *stallingForwarder) resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stalled {
		f.stalled = false
		close(f.resumed)
		f.resumed = make(chan struct{})
	}
}
