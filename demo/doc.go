// Package demo runs a RedisHA on one machine with no cluster: it renders an example with the
// composition function, starts what was composed as real redis-server, redis-sentinel and
// redis-ha-tunnel processes on loopback (only ports, paths and hostnames remapped), points
// the demo application at the tunnel, and then fails the master over twice, gracefully and
// with kill -9, while counting every acknowledged write.
//
// The command demo/cmd/redis-ha-demo wires it to flags; `make demo` runs it.
package demo
