package tunnel

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

func TestAcceptsWrites(t *testing.T) {
	tests := map[string]struct {
		reason string
		info   replicationInfo
		needed int
		want   bool
	}{
		"no guard":            {reason: "without min_slaves_good_slaves Redis never refuses for lack of replicas", info: replicationInfo{Role: "master", GoodReplicas: -1}, needed: -1, want: true},
		"guard unmet":         {reason: "0 good replicas with min 1", info: replicationInfo{Role: "master", GoodReplicas: 0}, needed: 1, want: false},
		"guard met":           {reason: "1 good replica with min 1", info: replicationInfo{Role: "master", GoodReplicas: 1}, needed: 1, want: true},
		"guard needs two":     {reason: "the configured minimum counts", info: replicationInfo{Role: "master", GoodReplicas: 1}, needed: 2, want: false},
		"unknown minimum":     {reason: "CONFIG forbidden: the guard's presence proves a minimum of 1", info: replicationInfo{Role: "master", GoodReplicas: 0}, needed: -1, want: false},
		"unknown minimum met": {reason: "CONFIG forbidden: one good replica is the best lower bound", info: replicationInfo{Role: "master", GoodReplicas: 1}, needed: -1, want: true},
		"not master":          {reason: "a replica refuses writes whatever its counters", info: replicationInfo{Role: "slave", GoodReplicas: -1}, needed: -1, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := acceptsWrites(tc.info, tc.needed); got != tc.want {
				t.Errorf("%s: acceptsWrites(%+v, %d) = %v, want %v", tc.reason, tc.info, tc.needed, got, tc.want)
			}
		})
	}
}

func TestPickReplicasToReattach(t *testing.T) {
	slave := func(addr, master string, offset int64) replicaState {
		return replicaState{Addr: addr, Role: roleInfo{Role: "slave", MasterAddr: master, Offset: offset}}
	}
	tests := map[string]struct {
		reason string
		states []replicaState
		want   int
		picked []string
	}{
		"most caught-up first": {
			reason: "the replica with the highest offset resyncs partially",
			states: []replicaState{slave("r1:1", "old:1", 10), slave("r2:1", "old:1", 30)},
			want:   1,
			picked: []string{"r2:1"},
		},
		"already following": {
			reason: "a replica that follows the new master (Sentinel or another tunnel pod moved it) counts",
			states: []replicaState{slave("r1:1", "new:1", 10), slave("r2:1", "old:1", 30)},
			want:   1,
		},
		"never the old or new master": {
			reason: "only the remaining replicas are touched",
			states: []replicaState{
				{Addr: "old:1", Role: roleInfo{Role: "master"}},
				{Addr: "new:1", Role: roleInfo{Role: "master"}},
				slave("old:1", "x:1", 99),
				slave("r1:1", "old:1", 5),
			},
			want:   2,
			picked: []string{"r1:1"},
		},
		"masters and unreachable skipped": {
			reason: "a node must say ROLE slave",
			states: []replicaState{{Addr: "m:1", Role: roleInfo{Role: "master"}}, {Addr: "r1:1", Failed: true}},
			want:   1,
		},
		"nothing wanted": {
			reason: "want 0 moves nobody",
			states: []replicaState{slave("r1:1", "old:1", 10)},
			want:   0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := pickReplicasToReattach(tc.states, "old:1", "new:1", tc.want)
			if diff := cmp.Diff(tc.picked, got); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestOldMasterStillMaster(t *testing.T) {
	tests := map[string]struct {
		reason string
		states []replicaState
		old    string
		want   bool
	}{
		"demoted but still master": {
			reason: "Sentinel converts it only seconds later: the tunnel does it now",
			states: []replicaState{{Addr: "old:1", Role: roleInfo{Role: "master"}}, {Addr: "r1:1", Role: roleInfo{Role: "slave"}}},
			old:    "old:1",
			want:   true,
		},
		"already a replica": {
			reason: "Sentinel, another tunnel pod or an init script moved it already",
			states: []replicaState{{Addr: "old:1", Role: roleInfo{Role: "slave", MasterAddr: "new:1"}}},
			old:    "old:1",
		},
		"dead": {
			reason: "a crashed master does not answer; it rejoins as a replica when it restarts",
			states: []replicaState{{Addr: "old:1", Failed: true}},
			old:    "old:1",
		},
		"no old master": {
			reason: "the first route at start has none",
			states: []replicaState{{Addr: "m:1", Role: roleInfo{Role: "master"}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := oldMasterStillMaster(tc.states, tc.old); got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
}

// TestIntegrationWriteGateNoReplicasErrors runs the composed guard (min-replicas-to-write
// 1): after a graceful failover and after a kill -9, a writer through the tunnel must see
// no -NOREPLICAS error (held instead), with and without the early REPLICAOF.
func TestIntegrationWriteGateNoReplicasErrors(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	for _, leave := range []bool{false, true} {
		name := "reattach"
		if leave {
			name = "leave-to-sentinel"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := redisproctest.StartCluster(t, redisproc.ClusterOptions{
				Replicas:        2,
				Sentinels:       3,
				DownAfter:       1000 * time.Millisecond,
				FailoverTimeout: 4 * time.Second,
				ServerConfig:    "min-replicas-to-write 1\nmin-replicas-max-lag 10\n",
			})
			tun := startTunnel(t, c, func(cfg *Config) { cfg.LeaveReplicasToSentinel = leave })
			ctx := context.Background()
			mname := c.MasterName()
			w := startWriter(t, tun.MasterAddr(mname).String(), "gate")
			waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })

			if err := c.WaitSentinelsReady(ctx, 1); err != nil {
				t.Fatal(err)
			}
			old, err := c.Master(ctx)
			if err != nil {
				t.Fatal(err)
			}
			waitPromotion := promotionClock(t, c, old)
			if _, err := c.Failover(ctx); err != nil {
				t.Fatal(err)
			}
			promotedAt, newMaster := waitPromotion()
			waitFor(t, 5*time.Second, "writes after the graceful failover", func() bool {
				return !firstAckAfter(w.snapshot(), promotedAt).IsZero()
			})
			graceful := firstAckAfter(w.snapshot(), promotedAt).Sub(promotedAt)

			// The demoted master must be a replica again before the kill: the promotion clock
			// would take its stale ROLE master for the promotion.
			waitFor(t, 20*time.Second, "old master back as a replica", func() bool {
				role, err := redisproc.Role(ctx, old)
				return err == nil && role == "slave"
			})
			if err := c.WaitSentinelsReady(ctx, 2); err != nil {
				t.Fatal(err)
			}
			waitPromotion = promotionClock(t, c, newMaster)
			if err := newMaster.Kill(); err != nil {
				t.Fatal(err)
			}
			promotedAt, _ = waitPromotion()
			waitFor(t, 10*time.Second, "writes after the kill -9", func() bool {
				return !firstAckAfter(w.snapshot(), promotedAt).IsZero()
			})
			killed := firstAckAfter(w.snapshot(), promotedAt).Sub(promotedAt)
			w.halt()

			noReplicas := 0
			w.mu.Lock()
			for _, e := range w.errList {
				if strings.Contains(e.Error(), "NOREPLICAS") {
					noReplicas++
				}
			}
			errs := w.errs
			w.mu.Unlock()
			reattached := testutilCounter(t, tun, "redis_ha_tunnel_replicas_reattached_total")
			t.Logf("RESULT write gate (%s): first write %s after the graceful promotion, %s after the kill -9 promotion; %d client errors, %d NOREPLICAS; %v replicas reattached by the tunnel",
				name, graceful.Round(time.Millisecond), killed.Round(time.Millisecond), errs, noReplicas, reattached)
			if noReplicas > 0 {
				t.Errorf("the writer saw %d -NOREPLICAS errors: the tunnel released connections before the new master accepted writes", noReplicas)
			}
			if leave && reattached != 0 {
				t.Errorf("LeaveReplicasToSentinel: the tunnel reattached %v replicas, want 0", reattached)
			}
			if !leave && reattached == 0 {
				t.Error("the tunnel reattached no replica ahead of Sentinel")
			}
			// Without the early REPLICAOF Sentinel needs ~1 s; with it the target is tens of ms.
			// Generous budget for -race on a busy 2-core machine.
			if !leave && (graceful > 700*time.Millisecond || killed > 700*time.Millisecond) {
				t.Errorf("first write %s (graceful) / %s (kill -9) after promotion with reattach, want <= 700ms", graceful, killed)
			}
		})
	}
}

// testutilCounter sums a counter family from the tunnel's registry.
func testutilCounter(t *testing.T, tun *Tunnel, name string) float64 {
	t.Helper()
	mfs, err := tun.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestIntegrationQueryGate reads min-replicas-to-write and INFO replication from a real
// redis-server in one round trip, and still reads INFO for a user refused CONFIG.
func TestIntegrationQueryGate(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	p := redisproctest.Start(t, redisproc.Spec{Kind: redisproc.KindServer, Name: "gate",
		Config: "min-replicas-to-write 2\nmin-replicas-max-lag 10\n"})
	ctx := context.Background()
	admin, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Do("ACL", "SETUSER", "noconfig", "on", ">pw", "~*", "+@all", "-config"); err != nil {
		t.Fatal(err)
	}
	limited, err := redis.DialContext(ctx, "tcp", p.Addr(), redis.DialUsername("noconfig"), redis.DialPassword("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()

	for name, tc := range map[string]struct {
		conn       redis.Conn
		withConfig bool
		want       int
	}{
		"config and info":       {conn: admin, withConfig: true, want: 2},
		"info only":             {conn: admin, withConfig: false, want: -1},
		"CONFIG refused by ACL": {conn: limited, withConfig: true, want: -1},
	} {
		info, needed, err := queryGate(tc.conn, tc.withConfig)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ri, err := parseReplicationInfo(info)
		if err != nil || ri.Role != "master" || ri.GoodReplicas != 0 {
			t.Errorf("%s: INFO replication %+v, %v; want a master with 0 good replicas", name, ri, err)
		}
		if needed != tc.want {
			t.Errorf("%s: min-replicas-to-write %d, want %d", name, needed, tc.want)
		}
		// The connection is still in step: the next command gets its own reply.
		if pong, err := redis.String(tc.conn.Do("PING")); err != nil || pong != "PONG" {
			t.Errorf("%s: PING after the query: %q, %v", name, pong, err)
		}
	}
}
