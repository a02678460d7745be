package tunnel

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// slotRange is one range of slots and the master that serves it, as one node sees it.
type slotRange struct {
	start, end int
	master     string
}

// clusterView is one node's picture of the cluster: its current epoch, the master of
// every slot range it knows, and every node address it names (for discovery).
type clusterView struct {
	from   string
	epoch  int64
	ranges []slotRange
	nodes  []string
}

// queryClusterView asks the node behind conn (dialed as addr) for CLUSTER INFO and CLUSTER
// SHARDS in one round trip, falling back to CLUSTER SLOTS on a server without SHARDS
// (before Redis 7). preferTLSPort picks each node's tls-port where SHARDS names one.
func queryClusterView(conn redis.Conn, addr string, preferTLSPort bool) (clusterView, error) {
	v := clusterView{from: addr}
	if err := conn.Send("CLUSTER", "INFO"); err != nil {
		return v, err
	}
	if err := conn.Send("CLUSTER", "SHARDS"); err != nil {
		return v, err
	}
	if err := conn.Flush(); err != nil {
		return v, err
	}
	info, err := redis.String(conn.Receive())
	if err != nil {
		return v, fmt.Errorf("CLUSTER INFO: %w", err)
	}
	if v.epoch, err = parseClusterEpoch(info); err != nil {
		return v, err
	}
	shards, err := conn.Receive()
	if err == nil {
		v.ranges, v.nodes, err = parseClusterShards(shards, addr, preferTLSPort)
		return v, err
	}
	var redisErr redis.Error
	if !errors.As(err, &redisErr) {
		return v, fmt.Errorf("CLUSTER SHARDS: %w", err)
	}
	slots, err := conn.Do("CLUSTER", "SLOTS")
	if err != nil {
		return v, fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	v.ranges, v.nodes, err = parseClusterSlots(slots, addr)
	return v, err
}

// parseClusterEpoch reads cluster_current_epoch from CLUSTER INFO; a node in a cluster
// that is down for it (cluster_state:fail) still answers its view, with its epoch.
func parseClusterEpoch(info string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_current_epoch:"); ok {
			epoch, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("CLUSTER INFO: cluster_current_epoch %q: %w", v, err)
			}
			return epoch, nil
		}
	}
	return 0, errors.New("CLUSTER INFO: no cluster_current_epoch (is cluster-enabled yes set?)")
}

// parseClusterShards reads a CLUSTER SHARDS reply (RESP2: every map a flat array). A node
// without a known endpoint (a lone node does not know its own IP yet) is taken to be on
// the host of from, the node that answered.
func parseClusterShards(reply any, from string, preferTLSPort bool) (ranges []slotRange, nodes []string, err error) {
	shards, err := redis.Values(reply, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("CLUSTER SHARDS: %w", err)
	}
	for _, sh := range shards {
		fields, err := flatMap(sh)
		if err != nil {
			return nil, nil, fmt.Errorf("CLUSTER SHARDS: %w", err)
		}
		slots, err := redis.Ints(fields["slots"], nil)
		if err != nil || len(slots)%2 != 0 {
			return nil, nil, fmt.Errorf("CLUSTER SHARDS: slots %v: %v", fields["slots"], err)
		}
		members, err := redis.Values(fields["nodes"], nil)
		if err != nil {
			return nil, nil, fmt.Errorf("CLUSTER SHARDS: nodes: %w", err)
		}
		master := ""
		for _, m := range members {
			nf, err := flatMap(m)
			if err != nil {
				return nil, nil, fmt.Errorf("CLUSTER SHARDS: node: %w", err)
			}
			host, _ := redis.String(nf["endpoint"], nil)
			if host == "" || host == "?" {
				host, _ = redis.String(nf["ip"], nil)
			}
			port, err := redis.Int(nf["port"], nil)
			if tlsPort, terr := redis.Int(nf["tls-port"], nil); terr == nil && (preferTLSPort || err != nil) {
				port, err = tlsPort, nil
			}
			if err != nil {
				return nil, nil, fmt.Errorf("CLUSTER SHARDS: node without a port: %v", m)
			}
			addr := nodeAddr(host, port, from)
			nodes = append(nodes, addr)
			if role, _ := redis.String(nf["role"], nil); role == "master" {
				master = addr
			}
		}
		if master == "" {
			continue // a shard without a master (failed, no replica promoted yet) serves nothing
		}
		for i := 0; i < len(slots); i += 2 {
			r := slotRange{start: slots[i], end: slots[i+1], master: master}
			if err := r.check(); err != nil {
				return nil, nil, fmt.Errorf("CLUSTER SHARDS: %w", err)
			}
			ranges = append(ranges, r)
		}
	}
	return ranges, nodes, nil
}

// parseClusterSlots reads a CLUSTER SLOTS reply: [start, end, [host, port, id, ...], replicas...].
func parseClusterSlots(reply any, from string) (ranges []slotRange, nodes []string, err error) {
	entries, err := redis.Values(reply, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	for _, e := range entries {
		parts, err := redis.Values(e, nil)
		if err != nil || len(parts) < 3 {
			return nil, nil, fmt.Errorf("CLUSTER SLOTS: entry %v: want start, end, master", e)
		}
		start, err1 := redis.Int(parts[0], nil)
		end, err2 := redis.Int(parts[1], nil)
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, fmt.Errorf("CLUSTER SLOTS: range: %w", err)
		}
		for i, p := range parts[2:] {
			node, err := redis.Values(p, nil)
			if err != nil || len(node) < 2 {
				return nil, nil, fmt.Errorf("CLUSTER SLOTS: node %v", p)
			}
			host, _ := redis.String(node[0], nil)
			port, err := redis.Int(node[1], nil)
			if err != nil {
				return nil, nil, fmt.Errorf("CLUSTER SLOTS: port: %w", err)
			}
			addr := nodeAddr(host, port, from)
			nodes = append(nodes, addr)
			if i == 0 {
				r := slotRange{start: start, end: end, master: addr}
				if err := r.check(); err != nil {
					return nil, nil, fmt.Errorf("CLUSTER SLOTS: %w", err)
				}
				ranges = append(ranges, r)
			}
		}
	}
	return ranges, nodes, nil
}

func (r slotRange) check() error {
	if r.start < 0 || r.end >= clusterSlots || r.start > r.end {
		return fmt.Errorf("slot range %d-%d is not within 0-%d", r.start, r.end, clusterSlots-1)
	}
	return nil
}

// nodeAddr joins host and port; an unknown host ("", "?") is the host of from.
func nodeAddr(host string, port int, from string) string {
	if host == "" || host == "?" {
		host, _, _ = net.SplitHostPort(from)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// flatMap reads a RESP2 map (a flat array of field, value pairs) keyed by field name.
func flatMap(v any) (map[string]any, error) {
	items, err := redis.Values(v, nil)
	if err != nil {
		return nil, err
	}
	if len(items)%2 != 0 {
		return nil, fmt.Errorf("map of %d items", len(items))
	}
	m := make(map[string]any, len(items)/2)
	for i := 0; i < len(items); i += 2 {
		k, err := redis.String(items[i], nil)
		if err != nil {
			return nil, err
		}
		m[k] = items[i+1]
	}
	return m, nil
}

// mergeClusterViews decides the master of every slot from the views of several nodes. A
// node's current epoch only grows, and every failover and slot move bumps the epoch of
// the nodes that learn of it; so the view with the highest epoch is the freshest, and a
// stale node (partitioned, or a demoted master that has not heard of its demotion) cannot
// win over it. Each slot takes the master of the freshest view that covers it; among
// views of equal epoch the node that claims the slot for itself is trusted first (a master
// knows its own slots), then the order of addresses. owners[slot] is "" where no view
// names a master.
func mergeClusterViews(views []clusterView) (owners [clusterSlots]string) {
	ordered := slices.Clone(views)
	slices.SortStableFunc(ordered, func(a, b clusterView) int {
		if a.epoch != b.epoch {
			if a.epoch > b.epoch {
				return -1
			}
			return 1
		}
		return strings.Compare(a.from, b.from)
	})
	decided := make([]bool, clusterSlots)
	assign := func(selfOnly bool, epoch int64) {
		for _, v := range ordered {
			if v.epoch != epoch {
				continue
			}
			for _, r := range v.ranges {
				if selfOnly && r.master != v.from {
					continue
				}
				for s := r.start; s <= r.end; s++ {
					if !decided[s] {
						owners[s], decided[s] = r.master, true
					}
				}
			}
		}
	}
	for i, v := range ordered {
		if i > 0 && ordered[i-1].epoch == v.epoch {
			continue // this epoch was done with its first view
		}
		assign(true, v.epoch)
		assign(false, v.epoch)
	}
	return owners
}
