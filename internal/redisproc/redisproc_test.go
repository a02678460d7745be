package redisproc_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

func TestParseInfo(t *testing.T) {
	tests := map[string]struct {
		reason string
		in     string
		want   map[string]string
	}{
		"replication": {
			reason: "sections and comments are dropped, values keep their colons",
			in:     "# Replication\r\nrole:master\r\nslave0:ip=127.0.0.1,port=1,state=online\r\nmaster_repl_offset:42\r\n",
			want:   map[string]string{"role": "master", "slave0": "ip=127.0.0.1,port=1,state=online", "master_repl_offset": "42"},
		},
		"empty": {reason: "no fields", in: "", want: map[string]string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, redisproc.ParseInfo(tc.in)); diff != "" {
				t.Errorf("%s: ParseInfo() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestStartKillRestartCustomConfig(t *testing.T) {
	ctx := context.Background()
	// Caller-provided config text, including lines the overrides must win against.
	p := redisproctest.Start(t, redisproc.Spec{
		Kind:     redisproc.KindServer,
		Name:     "custom",
		Config:   "port 6379\nbind 0.0.0.0\nrequirepass s3cret\nappendonly yes\nappendfsync always\n",
		Password: "s3cret",
	})
	if strings.HasSuffix(p.Addr(), ":6379") || !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("override did not apply, addr %s", p.Addr())
	}
	if _, err := p.Do(ctx, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	// Without the password the server must refuse: the config text was really used.
	c, err := redis.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do("GET", "k"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("GET without AUTH: got %v, want NOAUTH", err)
	}
	c.Close()

	pid := p.Pid()
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("still running after Kill")
	}
	if err := p.Ping(ctx); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Pid() == pid || p.Pid() == 0 {
		t.Fatalf("pid after restart %d (before %d)", p.Pid(), pid)
	}
	// appendfsync always: the write survived kill -9, same dir and config were reused.
	got, err := redis.String(p.Do(ctx, "GET", "k"))
	if err != nil || got != "v" {
		t.Fatalf("GET after restart = %q, %v; want v", got, err)
	}
	dir := p.Dir()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s not removed: %v", dir, err)
	}
}

func TestStartFailsWithLogTail(t *testing.T) {
	redisproctest.RequireBinaries(t, "redis-server")
	_, err := redisproc.Start(context.Background(), redisproc.Spec{Kind: redisproc.KindServer, Config: "no-such-directive yes\n"})
	if err == nil || !strings.Contains(err.Error(), "no-such-directive") {
		t.Fatalf("want error quoting the bad directive, got %v", err)
	}
}

func TestClusterFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{Replicas: 2, Sentinels: 3, Password: "pw", SentinelPassword: "spw"})
	if got := len(c.SentinelAddrs()); got != 3 {
		t.Fatalf("sentinels = %d", got)
	}
	m, err := c.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m != c.Servers()[0] {
		t.Fatalf("initial master %s, want redis-0", m.Name())
	}
	if _, err := m.Do(ctx, "SET", "before", "1"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReplicasInSync(ctx, m); err != nil {
		t.Fatal(err)
	}
	newMaster, err := c.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newMaster == m {
		t.Fatal("failover kept the old master")
	}
	if got, err := redis.String(newMaster.Do(ctx, "GET", "before")); err != nil || got != "1" {
		t.Fatalf("GET before on new master = %q, %v", got, err)
	}
	// The old master must become a replica of the new one soon after.
	deadline := time.Now().Add(20 * time.Second)
	for {
		role, err := redisproc.Role(ctx, m)
		if err == nil && role == "slave" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old master role %q, %v; want slave", role, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
