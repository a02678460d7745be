package function

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// clusterSim runs the composed ConfigMap of a cluster-mode RedisHA as real local processes, the
// way the pods and the cluster Job do, with only ports, paths and addresses remapped. Each node
// listens on its own loopback IP (127.x.y.z), which it announces as its IP and host name, so a
// pod that comes back with a new IP can be played by moving a node to another loopback IP.
type clusterSim struct {
	t        *testing.T
	cfgDir   string
	password string
	// subnet is the first three octets of the nodes' loopback IPs, random per test so that
	// parallel test runs do not meet each other's nodes.
	subnet string
	nodes  []*simNode
	// nextIP is the last octet the next node (or moved node) gets.
	nextIP int
}

// simNode is one pod of the cluster.
type simNode struct {
	shard int
	ip    string
	port  int
	dir   string
	conf  string
	proc  *redisproc.Process
}

func (n *simNode) addr() string { return net.JoinHostPort(n.ip, strconv.Itoa(n.port)) }

// newClusterSim renders a cluster-mode RedisHA and prepares shards x perShard nodes (not
// started).
func newClusterSim(t *testing.T, shards, perShard int) *clusterSim {
	t.Helper()
	redisproctest.RequireBinaries(t, "redis-server", "redis-cli", "timeout")
	xr := xrFromYAML(t, fmt.Sprintf(`{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: sim, namespace: test},
		spec: {mode: cluster, cluster: {shards: %d, replicasPerShard: %d}}}`, shards, perShard-1))
	r, err := Render(context.Background(), RenderInput{XR: xr, Options: []Option{WithPasswordGenerator(func() string { return simPassword })}})
	if err != nil {
		t.Fatal(err)
	}
	s := &clusterSim{t: t, cfgDir: scratchDir(t), password: simPassword,
		subnet: fmt.Sprintf("127.%d.%d", 100+rand.IntN(100), rand.IntN(250)), nextIP: 10}
	data := r.Composed[string(resourceConfigMap)].Object["data"].(map[string]any)
	for key, v := range data {
		text := strings.ReplaceAll(v.(string), "\ndir "+dataDir+"\n", "\ndir "+s.cfgDir+"\n")
		if err := os.WriteFile(filepath.Join(s.cfgDir, key), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.addShards(shards, perShard)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range s.nodes {
				if n.proc != nil {
					t.Logf("---- shard %d node %s log tail ----\n%s", n.shard, n.addr(), n.proc.LogTail(2000))
				}
			}
		}
	})
	return s
}

// scratchDir is a directory in memory when possible: cluster nodes fsync nodes.conf on every
// change, which a disk busy with compiles can stall for seconds.
func scratchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "cluster-sim-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// addShards adds (unstarted) nodes for shards more shards of perShard nodes each.
func (s *clusterSim) addShards(shards, perShard int) []*simNode {
	first := 0
	if len(s.nodes) > 0 {
		first = s.nodes[len(s.nodes)-1].shard + 1
	}
	var added []*simNode
	for k := first; k < first+shards; k++ {
		for range perShard {
			n := &simNode{shard: k, ip: s.newIP()}
			n.port = freePort(s.t)
			n.dir = filepath.Join(s.cfgDir, fmt.Sprintf("node-%s", strings.ReplaceAll(n.ip, ".", "-")))
			s.nodes = append(s.nodes, n)
			added = append(added, n)
		}
	}
	return added
}

func (s *clusterSim) newIP() string {
	s.nextIP++
	if s.nextIP > 250 {
		s.t.Fatal("out of loopback addresses")
	}
	return fmt.Sprintf("%s.%d", s.subnet, s.nextIP)
}

// clusterNodes is REDIS_HA_CLUSTER_NODES.
func (s *clusterSim) clusterNodes() string {
	var out []string
	for _, n := range s.nodes {
		out = append(out, fmt.Sprintf("%d/%s", n.shard, n.addr()))
	}
	return strings.Join(out, " ")
}

// runScript runs one of the cluster scripts as node n's pod (or, with n nil, as the cluster
// Job) would, and returns its output and error.
func (s *clusterSim) runScript(ctx context.Context, script string, n *simNode, args []string, extraEnv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", append([]string{filepath.Join(s.cfgDir, script)}, args...)...)
	cmd.Env = append(os.Environ(),
		"REDISCLI_AUTH="+s.password,
		"REDIS_HA_CLI=redis-cli",
		"REDIS_HA_CLUSTER_NODES="+s.clusterNodes(),
		// Generous: the test machine may be busy.
		"REDIS_HA_TIMEOUT=5",
	)
	if n != nil {
		cmd.Env = append(cmd.Env,
			"REDIS_HA_ANNOUNCE_HOST="+n.ip,
			"REDIS_HA_ANNOUNCE_IP="+n.ip,
			"REDIS_HA_PROBE_HOST="+n.ip,
			"REDIS_HA_PORT="+strconv.Itoa(n.port),
		)
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRun runs a script and fails the test when it fails.
func (s *clusterSim) mustRun(script string, n *simNode, args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := s.runScript(ctx, script, n, args)
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// start runs cluster-init.sh for node n and starts redis-server with the config it wrote.
func (s *clusterSim) start(n *simNode) {
	s.t.Helper()
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	conf := filepath.Join(n.dir, "init.conf")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.runScript(ctx, "cluster-init.sh", n, nil,
		"REDIS_HA_BASE_CONF="+filepath.Join(s.cfgDir, configKeyRedis), "REDIS_HA_CONF="+conf)
	if err != nil {
		s.t.Fatalf("cluster-init.sh for %s: %v\n%s", n.addr(), err, out)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		s.t.Fatal(err)
	}
	n.conf = string(b)
	n.proc = redisproctest.Start(s.t, redisproc.Spec{Kind: redisproc.KindServer, Name: "node-" + n.ip,
		Config: n.conf, Port: n.port, BindAddr: n.ip, Dir: n.dir, Password: s.password})
}

// startAll starts every node that has not been started.
func (s *clusterSim) startAll() {
	s.t.Helper()
	for _, n := range s.nodes {
		if n.proc == nil {
			s.start(n)
		}
	}
}

// do runs one command on node n.
func (s *clusterSim) do(ctx context.Context, n *simNode, cmd string, args ...any) (any, error) {
	return n.proc.Do(ctx, cmd, args...)
}

// info returns a field of node n's CLUSTER INFO.
func (s *clusterSim) info(ctx context.Context, n *simNode, field string) string {
	v, err := redis.String(s.do(ctx, n, "CLUSTER", "INFO"))
	if err != nil {
		return ""
	}
	return redisproc.ParseInfo(v)[field]
}

// waitStateOK waits until every node reports cluster_state:ok.
func (s *clusterSim) waitStateOK(what string) {
	s.t.Helper()
	waitFor(s.t, what, 60*time.Second, func(ctx context.Context) error {
		for _, n := range s.nodes {
			if st := s.info(ctx, n, "cluster_state"); st != "ok" {
				return fmt.Errorf("%s: cluster_state %q", n.addr(), st)
			}
		}
		return nil
	})
}

// nodeLine is one line of CLUSTER NODES.
type nodeLine struct {
	id, addr, flags, master string
	slots                   []string
}

// view returns node n's CLUSTER NODES by node ID.
func (s *clusterSim) view(ctx context.Context, n *simNode) (map[string]nodeLine, error) {
	v, err := redis.String(s.do(ctx, n, "CLUSTER", "NODES"))
	if err != nil {
		return nil, err
	}
	out := map[string]nodeLine{}
	for _, l := range strings.Split(strings.TrimSpace(v), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q", l)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out[f[0]] = nodeLine{id: f[0], addr: addr, flags: f[2], master: f[3], slots: f[8:]}
	}
	return out, nil
}

// topology describes the cluster as node n sees it, one line per node of the sim, in order:
// "shard/addr master slots..." or "shard/addr replica-of addr". Node IDs are replaced by
// addresses, so two topologies compare across runs.
func (s *clusterSim) topology(ctx context.Context, n *simNode) (string, error) {
	view, err := s.view(ctx, n)
	if err != nil {
		return "", err
	}
	addrOf := map[string]string{}
	for id, l := range view {
		addrOf[id] = l.addr
	}
	var lines []string
	for _, m := range s.nodes {
		id, err := redis.String(s.do(ctx, m, "CLUSTER", "MYID"))
		if err != nil {
			return "", err
		}
		l, ok := view[id]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("%d/%s unknown", m.shard, m.addr()))
		case l.master != "-":
			lines = append(lines, fmt.Sprintf("%d/%s replica-of %s", m.shard, m.addr(), addrOf[l.master]))
		default:
			lines = append(lines, fmt.Sprintf("%d/%s master %s", m.shard, m.addr(), strings.Join(l.slots, " ")))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// waitTopology waits until the first node's view of the cluster is want: a node learns of
// another's new role through the cluster bus, a moment after the change.
func (s *clusterSim) waitTopology(what, want string) {
	s.t.Helper()
	waitFor(s.t, what, 30*time.Second, func(ctx context.Context) error {
		got, err := s.topology(ctx, s.nodes[0])
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("topology:\n%s\nwant:\n%s", got, want)
		}
		return nil
	})
}

// shardLayout is the topology every shard must have: its first node the master owning the
// given slots, every other node its replica.
func (s *clusterSim) shardLayout(slots map[int]string) string {
	var lines []string
	first := map[int]*simNode{}
	for _, m := range s.nodes {
		if f, ok := first[m.shard]; ok {
			lines = append(lines, fmt.Sprintf("%d/%s replica-of %s", m.shard, m.addr(), f.addr()))
			continue
		}
		first[m.shard] = m
		lines = append(lines, fmt.Sprintf("%d/%s master %s", m.shard, m.addr(), slots[m.shard]))
	}
	return strings.Join(lines, "\n")
}

// clusterWriter is a minimal cluster-aware client for the tests: it sends each command to the
// node it last heard owns the key's slot (any node at first) and follows MOVED and ASK.
type clusterWriter struct {
	password string
	seed     string
	conns    map[string]redis.Conn
}

func newClusterWriter(password, seed string) *clusterWriter {
	return &clusterWriter{password: password, seed: seed, conns: map[string]redis.Conn{}}
}

func (w *clusterWriter) conn(addr string) (redis.Conn, error) {
	if c, ok := w.conns[addr]; ok {
		return c, nil
	}
	c, err := redis.Dial("tcp", addr, redis.DialPassword(w.password),
		redis.DialConnectTimeout(5*time.Second), redis.DialReadTimeout(10*time.Second), redis.DialWriteTimeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	w.conns[addr] = c
	return c, nil
}

func (w *clusterWriter) drop(addr string) {
	if c, ok := w.conns[addr]; ok {
		_ = c.Close()
		delete(w.conns, addr)
	}
}

// do runs a single-key command, following at most 10 redirections.
func (w *clusterWriter) do(cmd string, args ...any) (any, error) {
	addr, asking := w.seed, false
	for range 10 {
		c, err := w.conn(addr)
		if err != nil {
			return nil, err
		}
		if asking {
			if err := c.Send("ASKING"); err != nil {
				w.drop(addr)
				return nil, err
			}
		}
		reply, err := c.Do(cmd, args...)
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			if err != nil {
				w.drop(addr)
			}
			return reply, err
		}
		f := strings.Fields(rerr.Error())
		switch {
		case len(f) == 3 && f[0] == "MOVED":
			addr, asking = f[2], false
		case len(f) == 3 && f[0] == "ASK":
			addr, asking = f[2], true
		default:
			return reply, err
		}
	}
	return nil, fmt.Errorf("%s: too many redirections", cmd)
}

func (w *clusterWriter) close() {
	for addr := range w.conns {
		w.drop(addr)
	}
}

// writeKeys sets prefix:i to i for i in [0, n) and fails the test on any error.
func writeKeys(t *testing.T, w *clusterWriter, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := w.do("SET", fmt.Sprintf("%s:%d", prefix, i), i); err != nil {
			t.Fatalf("SET %s:%d: %v", prefix, i, err)
		}
	}
}

// checkKeys reads prefix:i for i in [0, n) and fails the test on any missing or wrong value.
func checkKeys(t *testing.T, w *clusterWriter, prefix string, n int) {
	t.Helper()
	missing := 0
	for i := range n {
		v, err := redis.Int(w.do("GET", fmt.Sprintf("%s:%d", prefix, i)))
		if err != nil || v != i {
			if missing++; missing <= 5 {
				t.Errorf("GET %s:%d: %v, %v; want %d", prefix, i, v, err, i)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged %s keys are missing or wrong", missing, n, prefix)
	}
}

// evenSlots is the slot range of each of shards shards when the cluster is created.
func evenSlots(shards int) map[int]string {
	out := map[int]string{}
	for k := range shards {
		out[k] = fmt.Sprintf("%d-%d", k*16384/shards, (k+1)*16384/shards-1)
	}
	return out
}

// TestClusterScriptsAgainstRealRedis runs the cluster-mode scripts from the composed ConfigMap
// against real redis-server processes, through a cluster's life: created once by the cluster
// Job and unchanged by a second run, a shard added under writes with no acknowledged write
// lost, a pod that lost its data rejoining its shard, every pod back on new IPs, and a master
// handing its slots to its replica before it stops.
func TestClusterScriptsAgainstRealRedis(t *testing.T) {
	s := newClusterSim(t, 3, 2)
	s.startAll()
	ctx := context.Background()

	// Before the cluster exists, a pod's postStart hook leaves its node alone: the cluster
	// Job needs every node untouched to create it.
	for _, n := range s.nodes {
		if out := s.mustRun("cluster-poststart.sh", n); !strings.Contains(out, "no cluster yet") {
			t.Errorf("cluster-poststart.sh before the cluster exists on %s, output:\n%s", n.addr(), out)
		}
		if known := s.info(ctx, n, "cluster_known_nodes"); known != "1" {
			t.Errorf("%s knows %s nodes after its postStart hook; want 1 (untouched)", n.addr(), known)
		}
	}
	if err := exec.Command("sh", filepath.Join(s.cfgDir, "cluster-probe.sh"), "ready").Run(); err == nil {
		t.Error("cluster-probe.sh ready succeeded without REDIS_HA_PORT")
	}
	if out, err := s.runScript(ctx, "cluster-probe.sh", s.nodes[0], []string{"ready"}); err == nil {
		t.Errorf("cluster-probe.sh ready succeeded before the cluster exists:\n%s", out)
	}

	// The cluster Job creates the cluster: each shard's first node owns an even share of the
	// slots, the others replicate it.
	s.mustRun("cluster-reconcile.sh", nil)
	s.waitStateOK("every node ok after the cluster Job")
	created := s.shardLayout(evenSlots(3))
	s.waitTopology("the topology after the cluster Job", created)
	waitFor(t, "every node ready (cluster-probe.sh ready)", 60*time.Second, func(ctx context.Context) error {
		for _, n := range s.nodes {
			if out, err := s.runScript(ctx, "cluster-probe.sh", n, []string{"ready"}); err != nil {
				return fmt.Errorf("%s: %v %s", n.addr(), err, out)
			}
		}
		return nil
	})

	// Running the Job again changes nothing.
	s.mustRun("cluster-reconcile.sh", nil)
	s.waitTopology("the topology after a second cluster Job run (unchanged)", created)

	w := newClusterWriter(s.password, s.nodes[0].addr())
	defer w.close()
	writeKeys(t, w, "before", 1000)

	// Add a shard. Its pods' postStart hooks do not make them masters (the Job does, with
	// slots); the Job moves slots onto it while a writer keeps writing.
	added := s.addShards(1, 2)
	for _, n := range added {
		s.start(n)
		s.mustRun("cluster-poststart.sh", n)
		if known := s.info(ctx, n, "cluster_known_nodes"); known != "1" {
			t.Errorf("new shard node %s joined the cluster on its own (knows %s nodes); only the cluster Job adds shards", n.addr(), known)
		}
	}
	var (
		wg           sync.WaitGroup
		acked        int
		writeErr     error
		stopWriting  = make(chan struct{})
		duringWriter = newClusterWriter(s.password, s.nodes[1].addr())
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer duringWriter.close()
		// Bounded: at most 100k writes, and no longer than the Job takes.
		for acked < 100000 {
			select {
			case <-stopWriting:
				return
			default:
			}
			if _, err := duringWriter.do("SET", fmt.Sprintf("during:%d", acked), acked); err != nil {
				writeErr = err
				return
			}
			acked++
		}
	}()
	out := s.mustRun("cluster-reconcile.sh", nil)
	close(stopWriting)
	wg.Wait()
	if writeErr != nil {
		t.Errorf("a write during the rebalance failed (after %d acknowledged): %v", acked, writeErr)
	}
	if !strings.Contains(out, "moving slots onto the masters of new shards") {
		t.Errorf("the cluster Job did not rebalance onto the new shard; output:\n%s", out)
	}
	s.waitStateOK("every node ok after adding a shard")
	view, err := s.view(ctx, added[0])
	if err != nil {
		t.Fatal(err)
	}
	id, _ := redis.String(s.do(ctx, added[0], "CLUSTER", "MYID"))
	if l := view[id]; l.master != "-" || len(l.slots) == 0 {
		t.Errorf("the new shard's first node is %+v; want a master owning slots", l)
	}
	if role, _ := redisproc.Role(ctx, added[1].proc); role != "slave" {
		t.Errorf("the new shard's second node has role %q; want a replica", role)
	}
	t.Logf("%d writes acknowledged while the Job moved slots onto the new shard", acked)
	checkKeys(t, w, "before", 1000)
	checkKeys(t, w, "during", acked)

	// A pod of shard 1 loses its data (nodes.conf too) and comes back: its postStart hook
	// joins it to its own shard as a replica, and the cluster forgets its old ID.
	lost := s.nodes[3]
	oldID, _ := redis.String(s.do(ctx, lost, "CLUSTER", "MYID"))
	if err := lost.proc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(lost.dir); err != nil {
		t.Fatal(err)
	}
	s.start(lost)
	if out := s.mustRun("cluster-poststart.sh", lost); !strings.Contains(out, "joined shard 1") {
		t.Errorf("cluster-poststart.sh on a node that lost its data, output:\n%s", out)
	}
	s.waitStateOK("every node ok after a pod rejoined")
	master, err := s.shardMaster(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejoined node replicates its shard's master", 30*time.Second, func(ctx context.Context) error {
		return s.replicates(ctx, lost, master)
	})
	for _, n := range s.nodes {
		view, err := s.view(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := view[oldID]; ok {
			t.Errorf("%s still lists the old ID %s of the node that lost its data", n.addr(), oldID)
		}
	}

	// Every pod restarts with a new IP: each node's nodes.conf names only addresses where no
	// node listens any more. The postStart hooks ask the others to meet each node at its new
	// IP, and the cluster serves every key again.
	for _, n := range s.nodes {
		if err := n.proc.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range s.nodes {
		n.ip = s.newIP()
		s.start(n)
	}
	waitFor(t, "the restarted nodes notice they cannot reach each other", 30*time.Second, func(ctx context.Context) error {
		if st := s.info(ctx, s.nodes[0], "cluster_state"); st != "fail" {
			return fmt.Errorf("cluster_state %q", st)
		}
		return nil
	})
	for _, n := range s.nodes {
		if out := s.mustRun("cluster-poststart.sh", n); !strings.Contains(out, "asked the other nodes to meet this node") {
			t.Errorf("cluster-poststart.sh on %s after a restart, output:\n%s", n.addr(), out)
		}
	}
	s.waitStateOK("every node ok after every pod came back on a new IP")
	w.close()
	w = newClusterWriter(s.password, s.nodes[0].addr())
	checkKeys(t, w, "before", 1000)
	checkKeys(t, w, "during", acked)

	// preStop on a master hands its slots to its replica, which then has every write.
	master, err = s.shardMaster(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	out = s.mustRun("cluster-prestop.sh", master, "REDIS_HA_PRESTOP_WAIT=30")
	if role, _ := redisproc.Role(ctx, master.proc); role != "slave" {
		t.Fatalf("after cluster-prestop.sh the old master has role %q; output:\n%s", role, out)
	}
	if role, _ := redisproc.Role(ctx, s.otherInShard(master).proc); role != "master" {
		t.Errorf("after cluster-prestop.sh its replica has role %q; want master", role)
	}
	s.waitStateOK("every node ok after the preStop failover")
	checkKeys(t, w, "before", 1000)
	checkKeys(t, w, "during", acked)
	w.close()
}

// shardMaster returns the node of a shard that is its master.
func (s *clusterSim) shardMaster(ctx context.Context, shard int) (*simNode, error) {
	for _, n := range s.nodes {
		if n.shard != shard {
			continue
		}
		if role, err := redisproc.Role(ctx, n.proc); err == nil && role == "master" {
			return n, nil
		}
	}
	return nil, fmt.Errorf("shard %d has no master", shard)
}

// otherInShard returns another node of n's shard.
func (s *clusterSim) otherInShard(n *simNode) *simNode {
	for _, m := range s.nodes {
		if m.shard == n.shard && m != n {
			return m
		}
	}
	s.t.Fatalf("shard %d has only %s", n.shard, n.addr())
	return nil
}

// replicates checks that node n is a replica of master with its link up.
func (s *clusterSim) replicates(ctx context.Context, n, master *simNode) error {
	v, err := redis.String(s.do(ctx, n, "INFO", "replication"))
	if err != nil {
		return err
	}
	info := redisproc.ParseInfo(v)
	if info["role"] != "slave" || info["master_host"] != master.ip || info["master_port"] != strconv.Itoa(master.port) || info["master_link_status"] != "up" {
		return fmt.Errorf("%s: role %s of %s:%s link %s; want replica of %s", n.addr(), info["role"], info["master_host"], info["master_port"], info["master_link_status"], master.addr())
	}
	return nil
}

// TestClusterReconcileFinishesInterruptedRuns starts the cluster Job's script on the states an
// interrupted run leaves behind: one shard's master got its slots before the run was cut short
// (a creation), and a node met the cluster but was never made a replica (a join). The next
// run completes each.
func TestClusterReconcileFinishesInterruptedRuns(t *testing.T) {
	s := newClusterSim(t, 3, 2)
	s.startAll()
	ctx := context.Background()
	want := s.shardLayout(evenSlots(3))

	if v, err := s.do(ctx, s.nodes[2], "CLUSTER", "ADDSLOTSRANGE", 16384/3, 2*16384/3-1); err != nil || fmt.Sprint(v) != "OK" {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v %v", v, err)
	}
	out := s.mustRun("cluster-reconcile.sh", nil)
	s.waitStateOK("every node ok after a creation cut short")
	s.waitTopology("the topology after finishing a creation cut short; cluster-reconcile.sh said:\n"+out, want)

	// Shard 1's replica loses its data and meets the cluster again, but is not made a replica.
	n := s.nodes[3]
	if err := n.proc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(n.dir); err != nil {
		t.Fatal(err)
	}
	s.start(n)
	if v, err := s.do(ctx, n, "CLUSTER", "MEET", s.nodes[0].ip, s.nodes[0].port); err != nil || fmt.Sprint(v) != "OK" {
		t.Fatalf("CLUSTER MEET: %v %v", v, err)
	}
	waitFor(t, "the meet", 30*time.Second, func(ctx context.Context) error {
		if k := s.info(ctx, n, "cluster_known_nodes"); k == "1" || k == "" {
			return fmt.Errorf("known nodes %q", k)
		}
		return nil
	})
	out = s.mustRun("cluster-reconcile.sh", nil)
	s.waitStateOK("every node ok after a join cut short")
	if !strings.Contains(out, "is an empty master beside") {
		t.Errorf("the join cut short was not noticed; output:\n%s", out)
	}
	s.waitTopology("the topology after finishing a join cut short; cluster-reconcile.sh said:\n"+out, want)
	view, err := s.view(ctx, s.nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(view) != len(s.nodes) {
		t.Errorf("%s knows %d nodes, want %d: the old ID of the node that lost its data is not forgotten", s.nodes[0].addr(), len(view), len(s.nodes))
	}

	// A slot migration from shard 0 to shard 1 was started and never finished, with a key
	// still on shard 0. After waiting for it to close, the Job finishes it: the key moves
	// with its slot.
	w := newClusterWriter(s.password, s.nodes[0].addr())
	defer w.close()
	key := "{interrupted}migration"
	if _, err := w.do("SET", key, "kept"); err != nil {
		t.Fatal(err)
	}
	slot, err := redis.Int(s.do(ctx, s.nodes[0], "CLUSTER", "KEYSLOT", key))
	if err != nil {
		t.Fatal(err)
	}
	from, err := s.slotOwner(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	to := s.nodes[(slices.Index(s.nodes, from)+2)%len(s.nodes)]
	fromID, _ := redis.String(s.do(ctx, from, "CLUSTER", "MYID"))
	toID, _ := redis.String(s.do(ctx, to, "CLUSTER", "MYID"))
	for _, step := range []struct {
		n    *simNode
		args []any
	}{{to, []any{"SETSLOT", slot, "IMPORTING", fromID}}, {from, []any{"SETSLOT", slot, "MIGRATING", toID}}} {
		if v, err := s.do(ctx, step.n, "CLUSTER", step.args...); err != nil || fmt.Sprint(v) != "OK" {
			t.Fatalf("CLUSTER %v on %s: %v %v", step.args, step.n.addr(), v, err)
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	out, err = s.runScript(runCtx, "cluster-reconcile.sh", nil, nil, "REDIS_HA_MIGRATION_WAIT=3")
	if err != nil || !strings.Contains(out, "finishing a slot migration an earlier run left open") {
		t.Fatalf("cluster-reconcile.sh with an open slot: %v\n%s", err, out)
	}
	if owner, err := s.slotOwner(ctx, slot); err != nil || owner != to {
		t.Errorf("slot %d is owned by %v (%v) after the Job finished its migration; want %s", slot, owner, err, to.addr())
	}
	if v, err := redis.String(w.do("GET", key)); err != nil || v != "kept" {
		t.Errorf("GET %s after the migration was finished: %q, %v; want kept", key, v, err)
	}
}

// slotOwner returns the node that owns a slot, as the first node sees it.
func (s *clusterSim) slotOwner(ctx context.Context, slot int) (*simNode, error) {
	view, err := s.view(ctx, s.nodes[0])
	if err != nil {
		return nil, err
	}
	for _, l := range view {
		for _, r := range l.slots {
			lo, hi, _ := strings.Cut(r, "-")
			if hi == "" {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || slot < a || slot > b {
				continue
			}
			for _, n := range s.nodes {
				if n.addr() == l.addr {
					return n, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no node owns slot %d", slot)
}
