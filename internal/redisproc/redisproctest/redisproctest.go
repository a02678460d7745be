// Package redisproctest is the testing wrapper around redisproc: it skips a test when
// redis-server or redis-sentinel is missing on a laptop (and fails it when CI=true),
// starts processes with a test-scoped context and registers cleanup with t.Cleanup.
package redisproctest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// RequireBinaries skips the test when one of the programs (default redis-server and
// redis-sentinel) is not on PATH, or fails it when the environment variable CI is "true":
// CI must never silently skip the integration tests.
func RequireBinaries(t testing.TB, programs ...string) {
	t.Helper()
	if len(programs) == 0 {
		programs = []string{"redis-server", "redis-sentinel"}
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI (install redis-server / redis-sentinel): %v", p, err)
			}
			t.Skipf("%s not installed: %v", p, err)
		}
	}
}

// StartCluster starts a cluster (see redisproc.StartCluster) or fails the test, and closes
// it when the test ends. With -short it still runs: callers decide what is too slow.
func StartCluster(t testing.TB, opts redisproc.ClusterOptions) *redisproc.Cluster {
	t.Helper()
	RequireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := redisproc.StartCluster(ctx, opts)
	if err != nil {
		t.Fatalf("start redis cluster: %v", err)
	}
	t.Cleanup(func() {
		logTailsOnFailure(t, append(c.Servers(), c.Sentinels()...))
		_ = c.Close()
	})
	return c
}

// Start starts one process (see redisproc.Start) or fails the test, and closes it when
// the test ends.
func Start(t testing.TB, spec redisproc.Spec) *redisproc.Process {
	t.Helper()
	bin := spec.Binary
	if bin == "" {
		bin = "redis-server"
		if spec.Kind == redisproc.KindSentinel {
			bin = "redis-sentinel"
		}
	}
	RequireBinaries(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := redisproc.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start %s: %v", spec.Name, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// StartRedisCluster starts a Redis Cluster (see redisproc.StartRedisCluster) or fails the
// test, and closes it when the test ends (printing every node's log tail on failure).
func StartRedisCluster(t testing.TB, opts redisproc.RedisClusterOptions) *redisproc.RedisCluster {
	t.Helper()
	RequireBinaries(t, "redis-server", "redis-cli")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := redisproc.StartRedisCluster(ctx, opts)
	if err != nil {
		t.Fatalf("start redis cluster: %v", err)
	}
	t.Cleanup(func() {
		logTailsOnFailure(t, c.Nodes())
		_ = c.Close()
	})
	return c
}

// logTailsOnFailure logs the end of every process's log when the test failed.
func logTailsOnFailure(t testing.TB, procs []*redisproc.Process) {
	if !t.Failed() {
		return
	}
	for _, p := range procs {
		t.Logf("---- %s (%s) log tail ----\n%s", p.Name(), p.Addr(), p.LogTail(3000))
	}
}
