package redisproc_test

import (
	"context"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// TestStartRedisClusterServesEverySlot starts 3 masters with a replica each and checks
// that every slot has a master, that each master has its replica, and that Close stops
// every node.
func TestStartRedisClusterServesEverySlot(t *testing.T) {
	c := redisproctest.StartRedisCluster(t, redisproc.RedisClusterOptions{Masters: 3, ReplicasPerMaster: 1, Password: "pw"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n := len(c.Nodes()); n != 6 {
		t.Fatalf("%d nodes, want 6", n)
	}
	owners, err := redisproc.SlotOwners(ctx, c.Nodes()[0])
	if err != nil {
		t.Fatal(err)
	}
	masters := map[string]bool{}
	for slot, addr := range owners {
		if addr == "" {
			t.Fatalf("slot %d has no master", slot)
		}
		masters[addr] = true
	}
	if len(masters) != 3 {
		t.Fatalf("%d masters serve the slots, want 3", len(masters))
	}
	for addr := range masters {
		replicas, err := c.ReplicasOf(ctx, c.NodeByAddr(addr))
		if err != nil {
			t.Fatal(err)
		}
		if len(replicas) != 1 {
			t.Errorf("master %s has %d replicas, want 1", addr, len(replicas))
		}
	}
	// A key is served by its slot's master.
	slotMaster, err := c.MasterOfSlot(ctx, 12182) // CLUSTER KEYSLOT foo
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slotMaster.Do(ctx, "SET", "foo", "bar"); err != nil {
		t.Fatalf("SET foo on the master of its slot: %v", err)
	}
	if got, err := redis.String(slotMaster.Do(ctx, "GET", "foo")); err != nil || got != "bar" {
		t.Fatalf("GET foo = %q, %v", got, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		if n.Running() {
			t.Errorf("%s still runs after Close", n.Name())
		}
	}
}
