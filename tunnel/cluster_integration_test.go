package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// startRedisCluster starts 3 shards with replicasPerMaster replicas each.
func startRedisCluster(t *testing.T, replicasPerMaster int, password string) *redisproc.RedisCluster {
	t.Helper()
	requireIntegration(t)
	return redisproctest.StartRedisCluster(t, redisproc.RedisClusterOptions{
		Masters: 3, ReplicasPerMaster: replicasPerMaster, Password: password,
	})
}

// startClusterTunnel runs a cluster-mode tunnel in front of rc and waits until it has a
// complete slot map.
func startClusterTunnel(t *testing.T, rc *redisproc.RedisCluster, mutate func(*Config)) *Tunnel {
	t.Helper()
	cfg := Config{
		Cluster:     &ClusterConfig{Seeds: rc.Seeds()[:1], Listen: "127.0.0.1:0", RefreshInterval: 200 * time.Millisecond},
		DialTimeout: time.Second,
		ReadTimeout: time.Second,
		Logger:      testLogger(),
	}
	return startConfiguredTunnel(t, cfg, mutate)
}

func dialTunnel(t *testing.T, tun *Tunnel, opts ...redis.DialOption) redis.Conn {
	t.Helper()
	c, err := redis.Dial("tcp", tun.ClusterAddr().String(), append([]redis.DialOption{
		redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(10 * time.Second), redis.DialWriteTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ownerOf asks the cluster which master serves key's slot.
func ownerOf(t *testing.T, rc *redisproc.RedisCluster, key string) *redisproc.Process {
	t.Helper()
	p, err := rc.MasterOfSlot(context.Background(), keySlot([]byte(key)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClusterSingleKeyCommandsLandOnTheirShard runs commands of every data type through
// the tunnel over keys spread across the slots, and checks on each shard master directly
// that the key is there with the right type and value.
func TestClusterSingleKeyCommandsLandOnTheirShard(t *testing.T) {
	rc := startRedisCluster(t, 0, "")
	tun := startClusterTunnel(t, rc, nil)
	c := dialTunnel(t, tun)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		reason   string
		write    []any
		read     []any
		want     any
		wantType string
	}{
		"string":     {reason: "SET then GET", write: []any{"SET", "%s", "v"}, read: []any{"GET", "%s"}, want: "v", wantType: "string"},
		"counter":    {reason: "INCRBY creates a string", write: []any{"INCRBY", "%s", 5}, read: []any{"GET", "%s"}, want: "5", wantType: "string"},
		"hash":       {reason: "HSET then HGET", write: []any{"HSET", "%s", "f", "v"}, read: []any{"HGET", "%s", "f"}, want: "v", wantType: "hash"},
		"list":       {reason: "RPUSH then LINDEX", write: []any{"RPUSH", "%s", "a", "b"}, read: []any{"LINDEX", "%s", 1}, want: "b", wantType: "list"},
		"set":        {reason: "SADD then SCARD", write: []any{"SADD", "%s", "a", "b", "c"}, read: []any{"SCARD", "%s"}, want: "3", wantType: "set"},
		"sorted set": {reason: "ZADD then ZSCORE", write: []any{"ZADD", "%s", 2.5, "m"}, read: []any{"ZSCORE", "%s", "m"}, want: "2.5", wantType: "zset"},
		"expiry":     {reason: "SET EX then a TTL within it", write: []any{"SET", "%s", "v", "EX", 100}, read: []any{"EXPIRE", "%s", 200}, want: "1", wantType: "string"},
		"stream":     {reason: "XADD then XLEN", write: []any{"XADD", "%s", "*", "f", "v"}, read: []any{"XLEN", "%s"}, want: "1", wantType: "stream"},
		"hyperlog":   {reason: "PFADD then PFCOUNT", write: []any{"PFADD", "%s", "a", "b"}, read: []any{"PFCOUNT", "%s"}, want: "2", wantType: "string"},
	} {
		t.Run(name, func(t *testing.T) {
			shards := map[string]bool{}
			for i := range 24 {
				key := fmt.Sprintf("%s:%d", strings.ReplaceAll(name, " ", "-"), i)
				if _, err := c.Do(fmt.Sprint(tc.write[0]), withKey(tc.write[1:], key)...); err != nil {
					t.Fatalf("%s: %v through the tunnel: %v", tc.reason, tc.write, err)
				}
				got, err := replyText(c.Do(fmt.Sprint(tc.read[0]), withKey(tc.read[1:], key)...))
				if err != nil || got != tc.want {
					t.Fatalf("%s: %v through the tunnel = %q, %v; want %q", tc.reason, tc.read, got, err, tc.want)
				}
				owner := ownerOf(t, rc, key)
				shards[owner.Addr()] = true
				typ, err := redis.String(owner.Do(ctx, "TYPE", key))
				if err != nil || typ != tc.wantType {
					t.Errorf("%s: key %s on its slot's master %s has TYPE %q (%v), want %q", tc.reason, key, owner.Name(), typ, err, tc.wantType)
				}
			}
			if len(shards) != 3 {
				t.Errorf("keys reached %d shards, want all 3", len(shards))
			}
		})
	}
}

// replyText is a bulk string or integer reply as text.
func replyText(reply any, err error) (string, error) {
	if n, ok := reply.(int64); ok && err == nil {
		return fmt.Sprint(n), nil
	}
	return redis.String(reply, err)
}

// withKey replaces the "%s" argument with key.
func withKey(args []any, key string) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if a == "%s" {
			a = key
		}
		out[i] = a
	}
	return out
}

// TestClusterPipelineKeepsReplyOrder sends 1000 mixed commands over many slots in one
// pipeline; the replies come from 3 masters in any order but must reach the client in
// the order of its commands.
func TestClusterPipelineKeepsReplyOrder(t *testing.T) {
	rc := startRedisCluster(t, 0, "")
	tun := startClusterTunnel(t, rc, nil)
	c := dialTunnel(t, tun)
	type step struct {
		cmd  string
		args []any
		want any
	}
	var steps []step
	for i := 0; len(steps) < 1000; i++ {
		key := fmt.Sprintf("pipe:%d", i)
		steps = append(steps,
			step{"SET", []any{key, i}, "OK"},
			step{"INCRBY", []any{key, 1000}, int64(i + 1000)},
			step{"GET", []any{key}, fmt.Sprint(i + 1000)},
			step{"PING", nil, "PONG"},
			step{"APPEND", []any{"pipe:list:" + key, "ab"}, int64(2)},
		)
	}
	steps = steps[:1000]
	for _, s := range steps {
		if err := c.Send(s.cmd, s.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	var got, want []any
	for _, s := range steps {
		reply, err := c.Receive()
		if err != nil {
			t.Fatalf("reply to %s %v: %v", s.cmd, s.args, err)
		}
		if b, ok := reply.([]byte); ok {
			reply = string(b)
		}
		got = append(got, reply)
		want = append(want, s.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pipelined replies out of order (-want +got):\n%s", diff)
	}
}

// TestClusterKeylessAndRefusedCommands specifies what cluster mode answers for commands
// that are not routed by one key.
func TestClusterKeylessAndRefusedCommands(t *testing.T) {
	rc := startRedisCluster(t, 0, "")
	tun := startClusterTunnel(t, rc, nil)
	c := dialTunnel(t, tun)
	for name, tc := range map[string]struct {
		reason string
		cmd    []any
		want   any // a string, an int64, or an error message prefix as "ERR ..."
	}{
		"ping":             {reason: "answered by the tunnel", cmd: []any{"PING"}, want: "PONG"},
		"ping message":     {reason: "echoes its argument", cmd: []any{"PING", "hi"}, want: "hi"},
		"echo":             {reason: "answered by the tunnel", cmd: []any{"ECHO", "x"}, want: "x"},
		"select 0":         {reason: "the only database of a cluster", cmd: []any{"SELECT", 0}, want: "OK"},
		"select 1":         {reason: "as Redis Cluster answers", cmd: []any{"SELECT", 1}, want: "ERR SELECT is not allowed in cluster mode"},
		"dbsize":           {reason: "whole keyspace", cmd: []any{"DBSIZE"}, want: "ERR redis-ha-tunnel: DBSIZE across the whole keyspace is not supported in cluster mode"},
		"keys":             {reason: "whole keyspace", cmd: []any{"KEYS", "*"}, want: "ERR redis-ha-tunnel: KEYS across the whole keyspace is not supported in cluster mode"},
		"scan":             {reason: "whole keyspace", cmd: []any{"SCAN", 0}, want: "ERR redis-ha-tunnel: SCAN across the whole keyspace is not supported in cluster mode"},
		"flushall":         {reason: "whole keyspace", cmd: []any{"FLUSHALL"}, want: "ERR redis-ha-tunnel: FLUSHALL across the whole keyspace is not supported in cluster mode"},
		"multi":            {reason: "transactions are phase 2", cmd: []any{"MULTI"}, want: "ERR redis-ha-tunnel: MULTI is not supported in cluster mode yet"},
		"subscribe":        {reason: "pub/sub is phase 2", cmd: []any{"SUBSCRIBE", "ch"}, want: "ERR redis-ha-tunnel: SUBSCRIBE is not supported in cluster mode yet"},
		"config set":       {reason: "admin commands go to nodes directly", cmd: []any{"CONFIG", "SET", "maxmemory", "0"}, want: "ERR redis-ha-tunnel: CONFIG SET is an admin command"},
		"cross slot":       {reason: "multi-key commands across slots are phase 2", cmd: []any{"MGET", "a", "b"}, want: "CROSSSLOT Keys in request don't hash to the same slot"},
		"one slot":         {reason: "multi-key commands within one slot go through", cmd: []any{"MSET", "{t}a", "1", "{t}b", "2"}, want: "OK"},
		"eval one slot":    {reason: "a script's keys route it", cmd: []any{"EVAL", "return KEYS[1]", 1, "{t}a"}, want: "{t}a"},
		"publish":          {reason: "a cluster propagates PUBLISH from any node", cmd: []any{"PUBLISH", "ch", "m"}, want: int64(0)},
		"time":             {reason: "any node answers", cmd: []any{"TIME"}, want: "array"},
		"unknown":          {reason: "a node answers as Redis would", cmd: []any{"NOSUCHCMD", "x"}, want: "ERR unknown command 'NOSUCHCMD'"},
		"get without key":  {reason: "a node answers the arity error", cmd: []any{"GET"}, want: "ERR wrong number of arguments for 'get' command"},
		"readonly":         {reason: "a cluster client's handshake is accepted", cmd: []any{"READONLY"}, want: "OK"},
		"auth no password": {reason: "checked against a node, which has no password", cmd: []any{"AUTH", "x"}, want: "ERR AUTH <password> called without any password configured"},
	} {
		t.Run(name, func(t *testing.T) {
			reply, err := c.Do(fmt.Sprint(tc.cmd[0]), tc.cmd[1:]...)
			var got any
			switch r := reply.(type) {
			case []byte:
				got = string(r)
			case []any:
				got = "array"
			default:
				got = r
			}
			if err != nil {
				got = err.Error()
			}
			if w, ok := tc.want.(string); ok && err != nil {
				if !strings.HasPrefix(err.Error(), w) {
					t.Errorf("%s: %v answered error %q, want one starting %q", tc.reason, tc.cmd, err, w)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: %v (-want +got):\n%s", tc.reason, tc.cmd, diff)
			}
		})
	}
}

// TestClusterAuthIsTheClients: the tunnel answers AUTH after checking it on a node and
// opens every shard connection with the client's own credentials.
func TestClusterAuthIsTheClients(t *testing.T) {
	rc := startRedisCluster(t, 0, "s3cret")
	tun := startClusterTunnel(t, rc, func(c *Config) { c.RedisAuth = Auth{Password: "s3cret"} })

	anon := dialTunnel(t, tun)
	if _, err := anon.Do("SET", "k", "v"); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("SET without AUTH = %v, want NOAUTH from the node", err)
	}
	if _, err := anon.Do("AUTH", "wrong"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH wrong = %v, want WRONGPASS", err)
	}

	c := dialTunnel(t, tun, redis.DialPassword("s3cret"))
	for i := range 30 {
		key := fmt.Sprintf("auth:%d", i)
		if _, err := c.Do("SET", key, i); err != nil {
			t.Fatalf("SET %s after AUTH: %v", key, err)
		}
	}
	hello2 := dialTunnel(t, tun)
	if _, err := redis.Values(hello2.Do("HELLO", 2, "AUTH", "default", "s3cret")); err != nil {
		t.Fatalf("HELLO 2 AUTH: %v", err)
	}
	for i := range 30 {
		if got, err := redis.String(hello2.Do("GET", fmt.Sprintf("auth:%d", i))); err != nil || got != fmt.Sprint(i) {
			t.Fatalf("GET auth:%d after HELLO 2 AUTH = %q, %v", i, got, err)
		}
	}

	// RESP3 (redigo cannot read it): HELLO 3 answers a map, and the shard connections
	// opened after it speak RESP3 too.
	raw, err := net.Dial("tcp", tun.ClusterAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	wire := appendCommand(nil, []byte("HELLO"), []byte("3"), []byte("AUTH"), []byte("default"), []byte("s3cret"))
	for i := range 30 {
		wire = appendCommand(wire, []byte("HGETALL"), []byte(fmt.Sprintf("auth:h:%d", i)))
	}
	if _, err := raw.Write(wire); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, reply := range readReplies(t, newRESPReader(raw, 4096), 31) {
		kinds = append(kinds, string(reply[:1]))
	}
	want := []string{"%"}
	for range 30 {
		want = append(want, "%") // HGETALL of a missing key: an empty RESP3 map
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("RESP3 reply types (-want +got):\n%s", diff)
	}
}

// TestClusterSlotMigrationUnderLoad moves a slot, keys and all, while a client writes and
// reads keys of that slot through the tunnel: the client sees no MOVED, no ASK and no
// error, and every acknowledged write is on the new master afterwards.
func TestClusterSlotMigrationUnderLoad(t *testing.T) {
	rc := startRedisCluster(t, 0, "")
	tun := startClusterTunnel(t, rc, nil)
	ctx := context.Background()
	const tag = "{mig}"
	slot := keySlot([]byte(tag))
	from := ownerOf(t, rc, tag)
	var to *redisproc.Process
	for _, n := range rc.Nodes() {
		if n != from {
			to = n
			break
		}
	}
	// Keys already in the slot make the migration take many MIGRATE batches.
	seed := dialTunnel(t, tun)
	for i := range 300 {
		if _, err := seed.Do("SET", fmt.Sprintf("%s:seed:%d", tag, i), i); err != nil {
			t.Fatal(err)
		}
	}
	w := startWriter(t, tun.ClusterAddr().String(), tag+":w")
	reader := startReader(t, tun.ClusterAddr().String(), tag+":seed", 300)
	counter := startIncrementer(t, tun.ClusterAddr().String(), tag+":ctr")
	waitFor(t, 5*time.Second, "writes through the tunnel", func() bool { return w.count() > 100 })
	if err := rc.MigrateSlot(ctx, slot, to, func() { time.Sleep(10 * time.Millisecond) }); err != nil {
		t.Fatal(err)
	}
	before := w.count()
	waitFor(t, 5*time.Second, "writes after the migration", func() bool { return w.count() > before+100 })
	w.halt()
	reader.halt()
	counter.halt()
	if n := w.errorCount(); n != 0 {
		t.Fatalf("writer saw %d errors, first: %v", n, w.firstErr)
	}
	if n, first := reader.errors(); n != 0 {
		t.Fatalf("reader saw %d errors, first: %v", n, first)
	}
	if counter.err != nil {
		t.Fatalf("pipelined INCRs of one key: %v", counter.err)
	}
	if got, err := redis.Int64(to.Do(ctx, "GET", tag+":ctr")); err != nil || got != counter.last {
		t.Errorf("counter on the new master = %d, %v; want %d, the last INCR reply", got, err, counter.last)
	}
	if got := ownerOf(t, rc, tag); got != to {
		t.Fatalf("slot %d is on %s after the migration, want %s", slot, got.Name(), to.Name())
	}
	if missing := missingKeys(t, to, w.snapshot()); len(missing) > 0 {
		t.Errorf("%d acknowledged writes missing on the new master, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	redirects := testutilCounter(t, tun, "redis_ha_tunnel_cluster_redirects_total")
	if redirects == 0 {
		t.Errorf("no MOVED/ASK was followed: the migration did not exercise the redirects")
	}
	t.Logf("%d writes, %d reads, %d pipelined INCRs, %v redirects followed by the tunnel", len(w.snapshot()), reader.count(), counter.last, redirects)
}

// incrementer streams INCR of one key over one connection, up to 200 in flight (a
// sender keeps writing while a receiver reads), and checks that every reply is one more
// than the one before: a reply out of order, or an INCR run twice, lost or overtaken by
// a later one, breaks it. It sends at most incrementerMax INCRs, paced (about 5,000 a
// second at most) so that the nodes of a shared, busy machine still get the CPU a
// failover needs.
type incrementer struct {
	stop, done chan struct{}
	last       int64
	err        error
}

func startIncrementer(t *testing.T, addr, key string) *incrementer {
	in := &incrementer{stop: make(chan struct{}), done: make(chan struct{})}
	c, err := redis.Dial("tcp", addr, redis.DialReadTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan struct{}, 200)
	sent := make(chan int, 1)
	go func() { // sender
		n := 0
		defer func() { sent <- n }()
		for n < incrementerMax {
			select {
			case <-in.stop:
				return
			case inFlight <- struct{}{}:
			}
			time.Sleep(100 * time.Microsecond)
			if err := c.Send("INCR", key); err != nil {
				return
			}
			if err := c.Flush(); err != nil {
				return
			}
			n++
		}
	}()
	go func() { // receiver
		defer close(in.done)
		defer c.Close()
		total := -1
		for received := 0; total < 0 || received < total; received++ {
			select {
			case total = <-sent:
				if received >= total {
					return
				}
			default:
			}
			n, err := redis.Int64(c.Receive())
			if err == nil && n != in.last+1 {
				err = fmt.Errorf("INCR %s answered %d after %d", key, n, in.last)
			}
			if err != nil {
				in.err = err
				<-sent
				return
			}
			in.last = n
			<-inFlight
		}
	}()
	t.Cleanup(in.halt)
	return in
}

// incrementerMax bounds the INCRs of one incrementer.
const incrementerMax = 500000

func (in *incrementer) halt() {
	select {
	case <-in.stop:
	default:
		close(in.stop)
	}
	<-in.done
}

// reader reads known keys in a loop on one connection and counts wrong or failed replies.
type reader struct {
	stop, done chan struct{}
	n, errs    int
	first      error
}

func startReader(t *testing.T, addr, prefix string, keys int) *reader {
	r := &reader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		c, err := redis.Dial("tcp", addr, redis.DialReadTimeout(10*time.Second))
		if err != nil {
			r.errs, r.first = 1, err
			return
		}
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-r.stop:
				return
			default:
			}
			got, err := redis.Int(c.Do("GET", fmt.Sprintf("%s:%d", prefix, i%keys)))
			if err == nil && got != i%keys {
				err = fmt.Errorf("GET %s:%d = %d", prefix, i%keys, got)
			}
			if err != nil {
				r.errs++
				if r.first == nil {
					r.first = err
				}
				if r.errs > 100 {
					return
				}
			}
			r.n++
		}
	}()
	t.Cleanup(r.halt)
	return r
}

func (r *reader) halt() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// errors and count are read after halt.
func (r *reader) errors() (int, error) { return r.errs, r.first }
func (r *reader) count() int           { return r.n }

// TestClusterFailoverUnderWriterLosesNoAckedWrite fails one shard over gracefully
// (CLUSTER FAILOVER on its replica) while a client writes keys of every shard: the
// client sees no error (the demoted master's MOVED is followed) and every acknowledged
// write is on the master of its slot afterwards.
func TestClusterFailoverUnderWriterLosesNoAckedWrite(t *testing.T) {
	rc := startRedisCluster(t, 1, "")
	tun := startClusterTunnel(t, rc, nil)
	ctx := context.Background()
	w := startWriter(t, tun.ClusterAddr().String(), "fo")
	// A stream of INCRs on the shard that fails over ("{fo:0}" hashes like "fo:0").
	counter := startIncrementer(t, tun.ClusterAddr().String(), "{fo:0}:ctr")
	waitFor(t, 5*time.Second, "writes through the tunnel", func() bool { return w.count() > 200 })
	master := ownerOf(t, rc, "fo:0")
	replicas, err := rc.ReplicasOf(ctx, master)
	if err != nil || len(replicas) != 1 {
		t.Fatalf("replicas of %s: %v, %v", master.Name(), replicas, err)
	}
	start := time.Now()
	foCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := rc.Failover(foCtx, replicas[0]); err != nil {
		t.Fatal(err)
	}
	switched := time.Now()
	before := w.count()
	waitFor(t, 5*time.Second, "writes after the failover", func() bool { return w.count() > before+200 })
	w.halt()
	counter.halt()
	if n := w.errorCount(); n != 0 {
		t.Fatalf("writer saw %d errors, first: %v", n, w.firstErr)
	}
	if counter.err != nil {
		t.Fatalf("pipelined INCRs on the shard that failed over: %v", counter.err)
	}
	if got, err := redis.Int64(replicas[0].Do(ctx, "GET", "{fo:0}:ctr")); err != nil || got != counter.last {
		t.Errorf("counter on the promoted master = %d, %v; want %d, the last INCR reply", got, err, counter.last)
	}
	if got := ownerOf(t, rc, "fo:0"); got != replicas[0] {
		t.Fatalf("slot of fo:0 is on %s, want the promoted %s", got.Name(), replicas[0].Name())
	}
	acks := w.snapshot()
	owners, err := redisproc.SlotOwners(ctx, replicas[0])
	if err != nil {
		t.Fatal(err)
	}
	byOwner := map[*redisproc.Process][]ack{}
	for _, a := range acks {
		owner := rc.NodeByAddr(owners[keySlot([]byte(a.key))])
		byOwner[owner] = append(byOwner[owner], a)
	}
	var missing []string
	for owner, keys := range byOwner {
		missing = append(missing, existingMissing(t, owner, keys)...)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged writes lost, e.g. %v", len(missing), len(acks), missing[:min(5, len(missing))])
	}
	t.Logf("%d acknowledged writes and %d pipelined INCRs, 0 lost; longest write gap %v across the failover (%v)",
		len(acks), counter.last, longestGap(acks, start, switched.Add(time.Second)), switched.Sub(start))
}

// existingMissing returns the keys p does not hold, asking EXISTS per key (the keys may be
// in different slots of p, so MGET cannot take them together).
func existingMissing(t *testing.T, p *redisproc.Process, acks []ack) []string {
	t.Helper()
	c, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, a := range acks {
		if err := c.Send("EXISTS", a.key); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, a := range acks {
		n, err := redis.Int(c.Receive())
		if err != nil {
			t.Fatalf("EXISTS %s on %s: %v", a.key, p.Name(), err)
		}
		if n != 1 {
			missing = append(missing, a.key)
		}
	}
	return missing
}

// TestClusterGarbageNeverCrashes: a client sending garbage gets a protocol error and is
// disconnected, a node answering garbage fails only the commands sent to it; the tunnel
// serves on.
func TestClusterGarbageNeverCrashes(t *testing.T) {
	rc := startRedisCluster(t, 0, "")
	tun := startClusterTunnel(t, rc, func(c *Config) { c.Cluster.RefreshInterval = time.Hour })

	t.Run("from a client", func(t *testing.T) {
		for _, garbage := range []string{"*2\r\n$x\r\n", "*1\r\n:5\r\n", "*1\r\n$-7\r\n", "*1\r\n$99999999999999\r\n", "*1\r\n$1\r\nabc"} {
			conn, err := net.Dial("tcp", tun.ClusterAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write([]byte(garbage)); err != nil {
				t.Fatal(err)
			}
			reply, err := io.ReadAll(conn)
			conn.Close()
			if err != nil || !strings.HasPrefix(string(reply), "-ERR Protocol error") {
				t.Errorf("garbage %q answered %q, %v; want -ERR Protocol error and the connection closed", garbage, reply, err)
			}
		}
	})

	t.Run("from a node", func(t *testing.T) {
		garbageNode := serveLoopback(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			for {
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
				if _, err := c.Write([]byte("?garbage\r\n")); err != nil {
					return
				}
			}
		})
		r := tun.router.(*clusterRouter)
		const key = "garbage-key"
		slot := keySlot([]byte(key))
		r.table.set(slot, r.node(garbageNode))
		c := dialTunnel(t, tun)
		if _, err := c.Do("GET", key); err == nil || !strings.Contains(err.Error(), "lost") {
			t.Errorf("GET from a node answering garbage = %v, want an error naming the lost connection", err)
		}
		// The same session goes on for keys of other shards.
		if _, err := c.Do("SET", "other-key", "v"); err != nil {
			t.Errorf("SET on a healthy shard after the garbage: %v", err)
		}
	})

	t.Run("a node that redirects forever", func(t *testing.T) {
		const key = "loop-key"
		slot := keySlot([]byte(key))
		var self string
		self = serveLoopback(t, func(c net.Conn) {
			rr := newRESPReader(c, 4096)
			for {
				if _, ok, err := rr.command(); err != nil {
					return
				} else if !ok {
					if rr.fill() != nil {
						return
					}
					continue
				}
				if _, err := fmt.Fprintf(c, "-MOVED %d %s\r\n", slot, self); err != nil {
					return
				}
			}
		})
		r := tun.router.(*clusterRouter)
		r.table.set(slot, r.node(self))
		c := dialTunnel(t, tun)
		_, err := c.Do("GET", key)
		if err == nil || !strings.HasPrefix(err.Error(), "ERR redis-ha-tunnel: more than 5 MOVED/ASK redirects") {
			t.Errorf("GET from a node that always answers MOVED = %v, want the redirect limit error", err)
		}
		if got := testutilCounter(t, tun, "redis_ha_tunnel_cluster_redirects_total"); got < 6 {
			t.Errorf("%v redirects counted, want the 5 followed and the one given up", got)
		}
	})

	c := dialTunnel(t, tun)
	if got, err := redis.String(c.Do("PING")); err != nil || got != "PONG" {
		t.Fatalf("tunnel after garbage: PING = %q, %v", got, err)
	}
}
