package tunnel

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// sentinelEvent is one message a Sentinel publishes on its own Pub/Sub channels,
// e.g. channel "+selected-slave" with payload
// "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379".
type sentinelEvent struct {
	// Channel is the event name: "+switch-master", "+odown", "-failover-abort-not-elected", ...
	Channel string
	// InstanceType is "master", "slave" or "sentinel" for instance events, "" otherwise.
	InstanceType string
	// InstanceAddr is host:port of the instance the event is about.
	InstanceAddr string
	// MasterName is the Sentinel master name the event belongs to.
	MasterName string
	// MasterAddr is host:port of that master as the Sentinel knows it at event time; for
	// +switch-master it is the old master.
	MasterAddr string
	// NewMasterAddr is the promoted master of +switch-master.
	NewMasterAddr string
	// Epoch is the number of +new-epoch.
	Epoch uint64
}

// parseSentinelEvent turns a Sentinel Pub/Sub message into a sentinelEvent. Payload
// formats (Sentinel's "%@" expansion):
//
//	master <name> <ip> <port> [extra...]
//	<slave|sentinel> <name> <ip> <port> @ <master-name> <master-ip> <master-port> [extra...]
//	+switch-master: <master-name> <old-ip> <old-port> <new-ip> <new-port>
//	+new-epoch: <epoch>
//
// With announce-hostnames the ip fields are hostnames. Channels it does not know with a
// payload it cannot read return an error; callers ignore those events.
func parseSentinelEvent(channel, payload string) (sentinelEvent, error) {
	ev := sentinelEvent{Channel: channel}
	f := strings.Fields(payload)
	switch channel {
	case "+switch-master":
		if len(f) != 5 {
			return ev, fmt.Errorf("event %s: want 5 fields <name> <old-ip> <old-port> <new-ip> <new-port>, got %q", channel, payload)
		}
		old, err := joinHostPort(f[1], f[2])
		if err != nil {
			return ev, fmt.Errorf("event %s: old master: %w", channel, err)
		}
		nu, err := joinHostPort(f[3], f[4])
		if err != nil {
			return ev, fmt.Errorf("event %s: new master: %w", channel, err)
		}
		ev.MasterName, ev.MasterAddr, ev.NewMasterAddr = f[0], old, nu
		return ev, nil
	case "+new-epoch":
		if len(f) < 1 {
			return ev, fmt.Errorf("event %s: missing epoch", channel)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return ev, fmt.Errorf("event %s: epoch %q: %w", channel, f[0], err)
		}
		ev.Epoch = n
		return ev, nil
	}
	if len(f) < 4 {
		return ev, fmt.Errorf("event %s: want <type> <name> <ip> <port>, got %q", channel, payload)
	}
	addr, err := joinHostPort(f[2], f[3])
	if err != nil {
		return ev, fmt.Errorf("event %s: instance: %w", channel, err)
	}
	ev.InstanceType, ev.InstanceAddr = f[0], addr
	switch f[0] {
	case "master":
		ev.MasterName, ev.MasterAddr = f[1], addr
		return ev, nil
	case "slave", "sentinel":
		if len(f) < 8 || f[4] != "@" {
			return ev, fmt.Errorf("event %s: %s instance without \"@ <master> <ip> <port>\": %q", channel, f[0], payload)
		}
		maddr, err := joinHostPort(f[6], f[7])
		if err != nil {
			return ev, fmt.Errorf("event %s: master: %w", channel, err)
		}
		ev.MasterName, ev.MasterAddr = f[5], maddr
		return ev, nil
	default:
		return ev, fmt.Errorf("event %s: unknown instance type %q", channel, f[0])
	}
}

// joinHostPort validates a port and joins it with host (IPv6-safe).
func joinHostPort(host, port string) (string, error) {
	if host == "" {
		return "", fmt.Errorf("empty host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("bad port %q", port)
	}
	return net.JoinHostPort(host, port), nil
}

// failoverBeginEvents are the events that say a failover of the master named in the event
// has started (published by the leading Sentinel one timer tick apart, before it sends
// SLAVEOF NO ONE). Each but +try-failover, a bid that may never be elected, fences the
// old master (see failoverMachine.onEvent).
var failoverBeginEvents = map[string]bool{
	"+try-failover":                      true,
	"+elected-leader":                    true,
	"+failover-state-select-slave":       true,
	"+selected-slave":                    true,
	"+failover-state-send-slaveof-noone": true,
	"+failover-state-wait-promotion":     true,
	"+promoted-slave":                    true,
	"+failover-state-reconf-slaves":      true,
}

// candidateEvents name, as their instance, the replica chosen to become master.
var candidateEvents = map[string]bool{
	"+selected-slave":                    true,
	"+failover-state-send-slaveof-noone": true,
	"+failover-state-wait-promotion":     true,
	"+promoted-slave":                    true,
}

// isFailoverAbort reports whether the channel ends a failover attempt without a switch.
func isFailoverAbort(channel string) bool {
	return strings.HasPrefix(channel, "-failover-abort")
}
