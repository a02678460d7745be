package redisproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

// RedisClusterOptions shapes a Redis Cluster for StartRedisCluster (sharded, not Sentinel:
// see StartCluster for that). Zero values pick small, test-friendly defaults.
type RedisClusterOptions struct {
	// Masters is the number of shards (default 3; redis-cli needs at least 3).
	Masters int
	// ReplicasPerMaster is the number of replicas of each shard master (0 is allowed).
	ReplicasPerMaster int
	// NodeTimeout is cluster-node-timeout (default 5s): how soon a dead master is failed
	// over. Much less makes nodes of a busy test machine mark each other as failing.
	NodeTimeout time.Duration
	// Password sets requirepass and masterauth on every node.
	Password string
	// ServerConfig is extra config text for every node.
	ServerConfig string
	// ReadyTimeout bounds the whole start (default 60s).
	ReadyTimeout time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

func (o *RedisClusterOptions) defaults() {
	if o.Masters == 0 {
		o.Masters = 3
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = 5 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
}

// RedisCluster is a running Redis Cluster: Masters shards of one master and
// ReplicasPerMaster replicas each, every slot assigned.
type RedisCluster struct {
	opts      RedisClusterOptions
	nodes     []*Process
	closeOnce sync.Once
}

// RedisClusterNodeConfig renders the config of one cluster node.
func RedisClusterNodeConfig(opts RedisClusterOptions) string {
	opts.defaults()
	var b strings.Builder
	b.WriteString("save \"\"\nappendonly no\nprotected-mode no\n")
	b.WriteString("repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n")
	b.WriteString("cluster-enabled yes\ncluster-config-file nodes.conf\n")
	fmt.Fprintf(&b, "cluster-node-timeout %d\n", opts.NodeTimeout.Milliseconds())
	if opts.Password != "" {
		fmt.Fprintf(&b, "requirepass %s\nmasterauth %s\n", quote(opts.Password), quote(opts.Password))
	}
	b.WriteString(opts.ServerConfig)
	b.WriteByte('\n')
	return b.String()
}

// StartRedisCluster starts Masters*(1+ReplicasPerMaster) cluster-enabled servers, joins
// them with redis-cli --cluster create (which assigns the slots evenly and pairs the
// replicas) and waits until every node says cluster_state:ok, all agree on the slot map
// and every replica is in sync. On error everything started is cleaned up.
func StartRedisCluster(ctx context.Context, opts RedisClusterOptions) (_ *RedisCluster, err error) {
	opts.defaults()
	if opts.Masters < 3 || opts.ReplicasPerMaster < 0 {
		return nil, fmt.Errorf("redisproc: RedisClusterOptions.Masters must be >= 3 (redis-cli --cluster create) and ReplicasPerMaster >= 0")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redisproc: find redis-cli: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	c := &RedisCluster{opts: opts}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	total := opts.Masters * (1 + opts.ReplicasPerMaster)
	for i := range total {
		p, err := Start(ctx, Spec{Kind: KindServer, Name: fmt.Sprintf("cluster-node-%d", i),
			Config: RedisClusterNodeConfig(opts), Password: opts.Password, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, p)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Seeds()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.ReplicasPerMaster), "--cluster-yes")
	if opts.Password != "" {
		args = append(args, "-a", opts.Password, "--no-auth-warning")
	}
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redisproc: redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.WaitSettled(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Nodes returns every node, in start order (roles change with failovers).
func (c *RedisCluster) Nodes() []*Process { return slices.Clone(c.nodes) }

// Seeds returns every node's host:port.
func (c *RedisCluster) Seeds() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// NodeByAddr finds the node listening on addr, or nil.
func (c *RedisCluster) NodeByAddr(addr string) *Process {
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// NodeID asks a node for CLUSTER MYID.
func NodeID(ctx context.Context, p *Process) (string, error) {
	return redis.String(p.Do(ctx, "CLUSTER", "MYID"))
}

// SlotOwners reads CLUSTER SLOTS from node and returns the master address of every slot
// ("" for a slot it does not know to be served).
func SlotOwners(ctx context.Context, node *Process) ([]string, error) {
	reply, err := redis.Values(node.Do(ctx, "CLUSTER", "SLOTS"))
	if err != nil {
		return nil, err
	}
	owners := make([]string, 16384)
	for _, e := range reply {
		parts, err := redis.Values(e, nil)
		if err != nil || len(parts) < 3 {
			return nil, fmt.Errorf("redisproc: %s: CLUSTER SLOTS entry %v", node.Name(), e)
		}
		start, _ := redis.Int(parts[0], nil)
		end, _ := redis.Int(parts[1], nil)
		master, err := redis.Values(parts[2], nil)
		if err != nil || len(master) < 2 || start < 0 || end >= len(owners) {
			return nil, fmt.Errorf("redisproc: %s: CLUSTER SLOTS entry %v", node.Name(), e)
		}
		host, _ := redis.String(master[0], nil)
		port, _ := redis.Int(master[1], nil)
		if host == "" {
			host = node.Host()
		}
		for s := start; s <= end; s++ {
			owners[s] = fmt.Sprintf("%s:%d", host, port)
		}
	}
	return owners, nil
}

// MasterOfSlot returns the node every running node names as the master of slot.
func (c *RedisCluster) MasterOfSlot(ctx context.Context, slot int) (*Process, error) {
	var addr string
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		owners, err := SlotOwners(ctx, n)
		if err != nil {
			return nil, err
		}
		if addr != "" && owners[slot] != addr {
			return nil, fmt.Errorf("redisproc: nodes disagree on slot %d: %s vs %s", slot, addr, owners[slot])
		}
		addr = owners[slot]
	}
	p := c.NodeByAddr(addr)
	if p == nil {
		return nil, fmt.Errorf("redisproc: slot %d is served by %q, not one of our nodes", slot, addr)
	}
	return p, nil
}

// ReplicasOf returns the running nodes replicating master.
func (c *RedisCluster) ReplicasOf(ctx context.Context, master *Process) ([]*Process, error) {
	var out []*Process
	for _, n := range c.nodes {
		if n == master || !n.Running() {
			continue
		}
		info, err := redis.String(n.Do(ctx, "INFO", "replication"))
		if err != nil {
			return nil, err
		}
		f := ParseInfo(info)
		if f["role"] == "slave" && f["master_port"] == strconv.Itoa(master.Port()) {
			out = append(out, n)
		}
	}
	return out, nil
}

// WaitSettled waits until every running node says cluster_state:ok, every running node
// names the same master for every slot, that master says ROLE master, and every replica
// has its link to its master up.
func (c *RedisCluster) WaitSettled(ctx context.Context) error {
	return poll(ctx, 50*time.Millisecond, func() error {
		var first []string
		for _, n := range c.nodes {
			if !n.Running() {
				continue
			}
			info, err := redis.String(n.Do(ctx, "CLUSTER", "INFO"))
			if err != nil {
				return err
			}
			if s := ParseInfo(info)["cluster_state"]; s != "ok" {
				return fmt.Errorf("redisproc: %s: cluster_state %s", n.Name(), s)
			}
			owners, err := SlotOwners(ctx, n)
			if err != nil {
				return err
			}
			if first == nil {
				first = owners
			} else if !slices.Equal(first, owners) {
				return fmt.Errorf("redisproc: %s disagrees on the slot map", n.Name())
			}
			repl, err := redis.String(n.Do(ctx, "INFO", "replication"))
			if err != nil {
				return err
			}
			f := ParseInfo(repl)
			if f["role"] == "slave" && f["master_link_status"] != "up" {
				return fmt.Errorf("redisproc: %s: master link %s", n.Name(), f["master_link_status"])
			}
		}
		for _, addr := range first {
			if addr == "" {
				return errors.New("redisproc: a slot has no master")
			}
		}
		for _, addr := range uniq(first) {
			p := c.NodeByAddr(addr)
			if p == nil {
				return fmt.Errorf("redisproc: slot master %s is not one of our nodes", addr)
			}
			if role, err := Role(ctx, p); err != nil || role != "master" {
				return fmt.Errorf("redisproc: slot master %s says ROLE %s (%v)", p.Name(), role, err)
			}
		}
		return nil
	})
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// Failover runs CLUSTER FAILOVER (graceful: the master stops taking writes until the
// replica has caught up) on replica and waits until it is master and the cluster settled.
// A manual failover that does not complete within its 5 s (the replica's cluster bus link
// to its master may not be up yet, or a busy machine starved a node) is asked for again.
func (c *RedisCluster) Failover(ctx context.Context, replica *Process) error {
	const retry = 6 * time.Second // CLUSTER_MF_TIMEOUT is 5 s
	var asked time.Time
	if err := poll(ctx, 20*time.Millisecond, func() error {
		if time.Since(asked) > retry {
			if _, err := replica.Do(ctx, "CLUSTER", "FAILOVER"); err != nil {
				return err
			}
			asked = time.Now()
		}
		role, err := Role(ctx, replica)
		if err != nil {
			return err
		}
		if role != "master" {
			return fmt.Errorf("redisproc: %s still says ROLE %s", replica.Name(), role)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.WaitSettled(ctx)
}

// MigrateSlot moves slot, keys included, from its master to to, the way redis-cli
// --cluster reshard does: IMPORTING on to, MIGRATING on the source, MIGRATE the keys in
// batches, then SETSLOT NODE on every master. Between batches it calls between (may be
// nil), so a test can interleave its own traffic.
func (c *RedisCluster) MigrateSlot(ctx context.Context, slot int, to *Process, between func()) error {
	from, err := c.MasterOfSlot(ctx, slot)
	if err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("redisproc: slot %d is on %s already", slot, to.Name())
	}
	fromID, err := NodeID(ctx, from)
	if err != nil {
		return err
	}
	toID, err := NodeID(ctx, to)
	if err != nil {
		return err
	}
	if _, err := to.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID); err != nil {
		return err
	}
	if _, err := from.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID); err != nil {
		return err
	}
	for {
		keys, err := redis.Strings(from.Do(ctx, "CLUSTER", "GETKEYSINSLOT", slot, 10))
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		args := []any{to.Host(), to.Port(), "", 0, 5000}
		if c.opts.Password != "" {
			args = append(args, "AUTH", c.opts.Password)
		}
		args = append(args, "KEYS")
		for _, k := range keys {
			args = append(args, k)
		}
		if _, err := from.Do(ctx, "MIGRATE", args...); err != nil {
			return fmt.Errorf("redisproc: MIGRATE slot %d: %w", slot, err)
		}
		if between != nil {
			between()
		}
	}
	// The new owner first, so it serves the slot before the source redirects to it.
	if _, err := to.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID); err != nil {
		return err
	}
	if _, err := from.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if n == to || n == from || !n.Running() {
			continue
		}
		if role, err := Role(ctx, n); err == nil && role == "master" {
			if _, err := n.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID); err != nil {
				return err
			}
		}
	}
	return c.WaitSettled(ctx)
}

// Close stops every node and removes their directories.
func (c *RedisCluster) Close() error {
	var errs []error
	c.closeOnce.Do(func() {
		for _, n := range c.nodes {
			errs = append(errs, n.Close())
		}
	})
	return errors.Join(errs...)
}
