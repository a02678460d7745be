package function

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// podSim runs the composed ConfigMap's config files and scripts as real local processes, the
// way the pods do, with only ports, paths and host names remapped (all nodes on 127.0.0.1).
type podSim struct {
	t             *testing.T
	cfgDir        string
	password      string
	redisPorts    []int
	sentinelPorts []int
	redis         []*redisproc.Process
	sentinels     []*redisproc.Process
	// lastLog is what the last init script printed (its decision log).
	lastLog string
}

const simPassword = "SIMPASSWORD"

func newPodSim(t *testing.T) *podSim {
	t.Helper()
	redisproctest.RequireBinaries(t, "redis-server", "redis-sentinel", "redis-cli", "timeout")
	xr := xrFromYAML(t, `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: sim, namespace: test},
		spec: {sentinel: {downAfter: 1s, failoverTimeout: 10s}}}`)
	r, err := Render(context.Background(), RenderInput{XR: xr, Options: []Option{WithPasswordGenerator(func() string { return simPassword })}})
	if err != nil {
		t.Fatal(err)
	}
	data := r.Composed[string(resourceConfigMap)].Object["data"].(map[string]any)
	s := &podSim{t: t, cfgDir: t.TempDir(), password: simPassword}
	for key, v := range data {
		text := v.(string)
		// The only remapping: dir /data is a path of the pods. Ports and host names come
		// from the environment and from redisproc's overrides.
		text = strings.ReplaceAll(text, "\ndir "+dataDir+"\n", "\ndir "+s.cfgDir+"\n")
		if err := os.WriteFile(filepath.Join(s.cfgDir, key), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		s.redisPorts = append(s.redisPorts, freePort(t))
		s.sentinelPorts = append(s.sentinelPorts, freePort(t))
	}
	s.redis = make([]*redisproc.Process, 3)
	s.sentinels = make([]*redisproc.Process, 3)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := redisproc.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addrs(ports []int) string {
	var out []string
	for _, p := range ports {
		out = append(out, "127.0.0.1:"+strconv.Itoa(p))
	}
	return strings.Join(out, " ")
}

// runScript runs one of the pod scripts with the environment the StatefulSets give it.
func (s *podSim) runScript(script string, args []string, port int, extraEnv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{filepath.Join(s.cfgDir, script)}, args...)...)
	cmd.Env = append(os.Environ(),
		"REDISCLI_AUTH="+s.password,
		"REDIS_HA_CLI=redis-cli",
		"REDIS_HA_MASTER_NAME="+masterName,
		"REDIS_HA_SENTINELS="+addrs(s.sentinelPorts),
		"REDIS_HA_REDIS_NODES="+addrs(s.redisPorts),
		"REDIS_HA_ANNOUNCE_HOST=127.0.0.1",
		"REDIS_HA_PORT="+strconv.Itoa(port),
		"REDIS_HA_TIMEOUT=1",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// initRedis runs redis-init.sh for node i and returns the config it wrote.
func (s *podSim) initRedis(i int) string {
	s.t.Helper()
	conf := filepath.Join(s.cfgDir, fmt.Sprintf("redis-%d.conf", i))
	dataDir := filepath.Join(s.cfgDir, fmt.Sprintf("data-%d", i))
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	out, err := s.runScript("redis-init.sh", nil, s.redisPorts[i],
		"REDIS_HA_BASE_CONF="+filepath.Join(s.cfgDir, configKeyRedis), "REDIS_HA_CONF="+conf,
		"REDIS_HA_DATA_DIR="+dataDir, "REDIS_HA_FAILOVER_WAIT=15")
	if err != nil {
		s.t.Fatalf("redis-init.sh for node %d: %v\n%s", i, err, out)
	}
	s.lastLog = out
	b, err := os.ReadFile(conf)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// initSentinel runs sentinel-init.sh for Sentinel i and returns the config it wrote.
func (s *podSim) initSentinel(i int) string {
	s.t.Helper()
	conf := filepath.Join(s.cfgDir, fmt.Sprintf("sentinel-%d.conf", i))
	out, err := s.runScript("sentinel-init.sh", nil, s.sentinelPorts[i],
		"REDIS_HA_BASE_CONF="+filepath.Join(s.cfgDir, configKeySentinel), "REDIS_HA_CONF="+conf)
	if err != nil {
		s.t.Fatalf("sentinel-init.sh for sentinel %d: %v\n%s", i, err, out)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

func (s *podSim) startRedis(i int, conf string) {
	s.t.Helper()
	s.redis[i] = redisproctest.Start(s.t, redisproc.Spec{Kind: redisproc.KindServer, Name: fmt.Sprintf("redis-%d", i),
		Config: conf, Port: s.redisPorts[i], Dir: filepath.Join(s.cfgDir, fmt.Sprintf("data-%d", i)), Password: s.password})
}

func (s *podSim) startSentinel(i int, conf string) {
	s.t.Helper()
	dir := filepath.Join(s.cfgDir, fmt.Sprintf("sentinel-data-%d", i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	s.sentinels[i] = redisproctest.Start(s.t, redisproc.Spec{Kind: redisproc.KindSentinel, Name: fmt.Sprintf("sentinel-%d", i),
		Config: conf, Port: s.sentinelPorts[i], Dir: dir, Password: s.password})
}

// sentinelMasterPort asks Sentinel i for the master's port.
func (s *podSim) sentinelMasterPort(ctx context.Context, i int) (int, error) {
	v, err := s.sentinels[i].Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
	if err != nil {
		return 0, err
	}
	parts, ok := v.([]any)
	if !ok || len(parts) != 2 {
		return 0, fmt.Errorf("unexpected reply %v", v)
	}
	return strconv.Atoi(string(parts[1].([]byte)))
}

// waitFor polls check until it succeeds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if last = check(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s: %v", what, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func hasLine(conf, line string) bool {
	for _, l := range strings.Split(conf, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestPodScriptsAgainstRealRedis bootstraps a Redis + Sentinel deployment from the composed
// ConfigMap alone, then checks the property the scripts exist for: after a failover, a
// restarted old master asks the Sentinels and comes back as a replica of the new master, and
// a restarted Sentinel monitors the new master too. It also checks the preStop hook hands the
// master role over and the readiness probe.
func TestPodScriptsAgainstRealRedis(t *testing.T) {
	s := newPodSim(t)
	port := func(i int) string { return strconv.Itoa(s.redisPorts[i]) }

	// Bootstrap: nothing is running, so node 0 is the master and the others follow it.
	conf0 := s.initRedis(0)
	if strings.Contains(conf0, "replicaof") {
		t.Fatalf("node 0 at first bootstrap must start as master, got:\n%s", conf0)
	}
	for _, want := range []string{"include " + filepath.Join(s.cfgDir, configKeyRedis), "replica-announce-ip 127.0.0.1", `requirepass "` + simPassword + `"`, `masterauth "` + simPassword + `"`} {
		if !hasLine(conf0, want) {
			t.Errorf("node 0 config lacks %q:\n%s", want, conf0)
		}
	}
	s.startRedis(0, conf0)
	for i := 1; i < 3; i++ {
		conf := s.initRedis(i)
		if want := "replicaof 127.0.0.1 " + port(0); !hasLine(conf, want) {
			t.Fatalf("node %d at bootstrap: want %q (node 0 reports role master), got:\n%s", i, want, conf)
		}
		s.startRedis(i, conf)
	}
	for i := range 3 {
		conf := s.initSentinel(i)
		if want := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 2", masterName, port(0)); !hasLine(conf, want) {
			t.Fatalf("sentinel %d at bootstrap: want %q, got:\n%s", i, want, conf)
		}
		s.startSentinel(i, conf)
	}
	waitFor(t, "replicas in sync with node 0", 30*time.Second, func(ctx context.Context) error {
		for i := 1; i < 3; i++ {
			info, err := s.redis[i].Do(ctx, "INFO", "replication")
			if err != nil {
				return err
			}
			if !strings.Contains(string(info.([]byte)), "master_link_status:up") {
				return fmt.Errorf("node %d not in sync", i)
			}
		}
		return nil
	})
	for _, probe := range []struct {
		kind string
		port int
	}{{"redis-live", s.redisPorts[0]}, {"redis-ready", s.redisPorts[0]}, {"redis-ready", s.redisPorts[1]}, {"sentinel-live", s.sentinelPorts[0]}} {
		if out, err := s.runScript("probe.sh", []string{probe.kind}, probe.port); err != nil {
			t.Errorf("probe.sh %s on port %d: %v\n%s", probe.kind, probe.port, err, out)
		}
	}
	waitFor(t, "probe.sh sentinel-ready", 10*time.Second, func(context.Context) error {
		if out, err := s.runScript("probe.sh", []string{"sentinel-ready"}, s.sentinelPorts[1]); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if _, err := s.runScript("probe.sh", []string{"redis-ready"}, freePort(t)); err == nil {
		t.Error("probe.sh redis-ready succeeded on a port where nothing listens")
	}

	// Fail over away from node 0, as Sentinel would after a crash.
	waitFor(t, "sentinel failover accepted", 30*time.Second, func(ctx context.Context) error {
		v, err := s.sentinels[0].Do(ctx, "SENTINEL", "FAILOVER", masterName)
		if err != nil {
			return err
		}
		if fmt.Sprint(v) != "OK" {
			return fmt.Errorf("SENTINEL FAILOVER: %v", v)
		}
		return nil
	})
	newMaster := 0
	waitFor(t, "all sentinels agree on a new master", 30*time.Second, func(ctx context.Context) error {
		for i := range 3 {
			p, err := s.sentinelMasterPort(ctx, i)
			if err != nil {
				return err
			}
			if p == s.redisPorts[0] {
				return fmt.Errorf("sentinel %d still reports node 0", i)
			}
			newMaster = p
		}
		return nil
	})

	// The old master restarts: it must come back as a replica of the new master.
	if err := s.redis[0].Close(); err != nil {
		t.Fatal(err)
	}
	conf0 = s.initRedis(0)
	if want := "replicaof 127.0.0.1 " + strconv.Itoa(newMaster); !hasLine(conf0, want) {
		t.Fatalf("restarted old master: want %q, got:\n%s", want, conf0)
	}
	if want := fmt.Sprintf("sentinels report master 127.0.0.1 %d", newMaster); !strings.Contains(s.lastLog, want) {
		t.Errorf("restarted old master must take the Sentinels' answer (log %q), got log:\n%s", want, s.lastLog)
	}
	s.startRedis(0, conf0)
	waitFor(t, "restarted old master replicates the new master", 30*time.Second, func(ctx context.Context) error {
		role, err := redisproc.Role(ctx, s.redis[0])
		if err != nil {
			return err
		}
		if role != "slave" {
			return fmt.Errorf("role %s", role)
		}
		return nil
	})

	// A restarted Sentinel learns the new master from the others.
	if err := s.sentinels[2].Close(); err != nil {
		t.Fatal(err)
	}
	conf2 := s.initSentinel(2)
	if !hasLine(conf2, fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", masterName, newMaster)) {
		t.Fatalf("restarted sentinel must monitor the new master on port %d, got:\n%s", newMaster, conf2)
	}
	s.startSentinel(2, conf2)

	// preStop on the current master hands the role over before it stops.
	out, err := s.runScript("redis-prestop.sh", nil, newMaster, "REDIS_HA_PRESTOP_WAIT=30")
	if err != nil {
		t.Fatalf("redis-prestop.sh: %v\n%s", err, out)
	}
	p, err := s.sentinelMasterPort(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if p == newMaster {
		t.Fatalf("after redis-prestop.sh on the master (port %d) the sentinels still report it as master; its log:\n%s", newMaster, out)
	}

	// The master crashes and loses its data, and restarts before the Sentinels notice:
	// starting as master would replicate its empty dataset over the replicas, so it waits
	// for the failover and follows the new master.
	lost := slices.IndexFunc(s.redisPorts, func(port int) bool { return port == p })
	if err := s.redis[lost].Close(); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(s.cfgDir, fmt.Sprintf("data-%d", lost))
	for _, f := range []string{"appendonlydir", "dump.rdb"} {
		if err := os.RemoveAll(filepath.Join(dataDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	conf := s.initRedis(lost)
	if !strings.Contains(s.lastLog, "it has no data: waiting") {
		t.Errorf("a master without data must wait for a failover, log:\n%s", s.lastLog)
	}
	if hasLine(conf, "replicaof 127.0.0.1 "+strconv.Itoa(p)) || !strings.Contains(conf, "replicaof 127.0.0.1 ") {
		t.Errorf("a master that lost its data must come back as a replica of another node, got:\n%s", conf)
	}
}
