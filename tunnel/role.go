package tunnel

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// roleInfo is the part of a ROLE reply the tunnel needs.
type roleInfo struct {
	// Role is "master", "slave" or "sentinel".
	Role string
	// MasterAddr is host:port of the master a replica follows.
	MasterAddr string
	// LinkState is a replica's link state: "connect", "connecting", "sync", "connected".
	LinkState string
	// Offset is the master's replication offset, or the replica's processed offset.
	Offset int64
}

// parseRole reads a ROLE reply:
//
//	master:   ["master", offset, [[ip, port, offset], ...]]
//	replica:  ["slave", ip, port, state, offset]
//	sentinel: ["sentinel", [names...]]
func parseRole(reply any) (roleInfo, error) {
	vals, err := redis.Values(reply, nil)
	if err != nil {
		return roleInfo{}, fmt.Errorf("ROLE reply: %w", err)
	}
	if len(vals) == 0 {
		return roleInfo{}, fmt.Errorf("ROLE reply is empty")
	}
	role, err := redis.String(vals[0], nil)
	if err != nil {
		return roleInfo{}, fmt.Errorf("ROLE reply: role: %w", err)
	}
	ri := roleInfo{Role: role}
	switch role {
	case "master":
		if len(vals) < 2 {
			return ri, fmt.Errorf("ROLE master reply has %d elements, want 3", len(vals))
		}
		if ri.Offset, err = redis.Int64(vals[1], nil); err != nil {
			return ri, fmt.Errorf("ROLE master reply: offset: %w", err)
		}
	case "slave":
		if len(vals) < 5 {
			return ri, fmt.Errorf("ROLE slave reply has %d elements, want 5", len(vals))
		}
		host, err := redis.String(vals[1], nil)
		if err != nil {
			return ri, fmt.Errorf("ROLE slave reply: master host: %w", err)
		}
		port, err := redis.Int64(vals[2], nil)
		if err != nil {
			return ri, fmt.Errorf("ROLE slave reply: master port: %w", err)
		}
		if ri.MasterAddr, err = joinHostPort(host, strconv.FormatInt(port, 10)); err != nil {
			return ri, fmt.Errorf("ROLE slave reply: master address: %w", err)
		}
		if ri.LinkState, err = redis.String(vals[3], nil); err != nil {
			return ri, fmt.Errorf("ROLE slave reply: state: %w", err)
		}
		if ri.Offset, err = redis.Int64(vals[4], nil); err != nil {
			return ri, fmt.Errorf("ROLE slave reply: offset: %w", err)
		}
	case "sentinel":
	default:
		return ri, fmt.Errorf("ROLE reply: unknown role %q", role)
	}
	return ri, nil
}

// replicationInfo is the part of INFO replication used to check that a promoted replica
// holds everything the old master acknowledged.
type replicationInfo struct {
	Role string
	// MasterReplOffset is the node's current replication offset.
	MasterReplOffset int64
	// SecondReplOffset is, on a promoted replica, the old master's offset +1 at which the
	// promotion happened (-1 when the node was never promoted).
	SecondReplOffset int64
	// SlaveReplOffset is a replica's processed offset.
	SlaveReplOffset int64
	// MasterLinkStatus is a replica's "up"/"down".
	MasterLinkStatus string
	// GoodReplicas is min_slaves_good_slaves: the replicas within min-replicas-max-lag.
	// Redis prints it only when min-replicas-to-write and min-replicas-max-lag are both
	// set, so -1 (absent) means the master never refuses writes for lack of replicas.
	GoodReplicas int
}

// parseReplicationInfo reads the text of INFO replication. Unknown lines are ignored;
// role is required.
func parseReplicationInfo(text string) (replicationInfo, error) {
	ri := replicationInfo{SecondReplOffset: -1, SlaveReplOffset: -1, GoodReplicas: -1}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "role":
			ri.Role = v
		case "master_repl_offset":
			ri.MasterReplOffset, err = strconv.ParseInt(v, 10, 64)
		case "second_repl_offset":
			ri.SecondReplOffset, err = strconv.ParseInt(v, 10, 64)
		case "slave_repl_offset":
			ri.SlaveReplOffset, err = strconv.ParseInt(v, 10, 64)
		case "master_link_status":
			ri.MasterLinkStatus = v
		case "min_slaves_good_slaves":
			ri.GoodReplicas, err = strconv.Atoi(v)
		}
		if err != nil {
			return ri, fmt.Errorf("INFO replication: %s: %w", k, err)
		}
	}
	if ri.Role == "" {
		return ri, fmt.Errorf("INFO replication: no role field")
	}
	return ri, nil
}

// promotionOffset is the replication offset up to which a node holds the old master's
// stream: for a promoted master second_repl_offset-1, for a replica its processed offset,
// otherwise its own offset.
func (ri replicationInfo) promotionOffset() int64 {
	switch {
	case ri.Role == "master" && ri.SecondReplOffset > 0:
		return ri.SecondReplOffset - 1
	case ri.Role == "slave" && ri.SlaveReplOffset >= 0:
		return ri.SlaveReplOffset
	default:
		return ri.MasterReplOffset
	}
}

// sentinelMasterView is one Sentinel's answer to SENTINEL MASTER <name>.
type sentinelMasterView struct {
	Addr        string
	ConfigEpoch uint64
	Flags       string
}

// parseSentinelMaster reads the flat field/value list of SENTINEL MASTER.
func parseSentinelMaster(fields map[string]string) (sentinelMasterView, error) {
	var v sentinelMasterView
	addr, err := joinHostPort(fields["ip"], fields["port"])
	if err != nil {
		return v, fmt.Errorf("SENTINEL MASTER: address: %w", err)
	}
	v.Addr = addr
	v.Flags = fields["flags"]
	if e := fields["config-epoch"]; e != "" {
		if v.ConfigEpoch, err = strconv.ParseUint(e, 10, 64); err != nil {
			return v, fmt.Errorf("SENTINEL MASTER: config-epoch %q: %w", e, err)
		}
	}
	return v, nil
}

// sentinelReplicaView is one entry of SENTINEL REPLICAS <name>.
type sentinelReplicaView struct {
	Addr    string
	Healthy bool
}

// parseSentinelReplica reads one SENTINEL REPLICAS entry; Healthy means Sentinel sees it
// up, not disconnected, with its link to the master ok.
func parseSentinelReplica(fields map[string]string) (sentinelReplicaView, error) {
	addr, err := joinHostPort(fields["ip"], fields["port"])
	if err != nil {
		return sentinelReplicaView{}, fmt.Errorf("SENTINEL REPLICAS: address: %w", err)
	}
	healthy := fields["master-link-status"] == "ok"
	for _, f := range strings.Split(fields["flags"], ",") {
		switch f {
		case "s_down", "o_down", "disconnected", "master":
			healthy = false
		}
	}
	return sentinelReplicaView{Addr: addr, Healthy: healthy}, nil
}

// hostOf returns the host part of host:port (or the input when it has no port).
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
