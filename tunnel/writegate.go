package tunnel

import (
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"
)

// The write gate: a replica promoted by Sentinel starts as a master without replicas. With
// min-replicas-to-write set (the composed redis.conf sets 1) it answers every write with
// -NOREPLICAS until a replica follows it, and Sentinel re-points the remaining replicas
// only in its reconf-slaves step, after its next INFO poll of the promoted node (~1 s
// later). Sessions released at the cutover would see ~1 s of errors; so after a cutover
// the endpoint holds new connections (a pause, bounded by --failover-hold) until INFO
// replication shows enough good replicas.
//
// Re-pointing replicas ahead of Sentinel (on unless Config.LeaveReplicasToSentinel):
// right after ROLE confirmed the promotion the tunnel sends REPLICAOF <new master> to as
// many remaining replicas as min-replicas-to-write needs (at least one, also without the
// guard), most caught-up first. Until then the writes the new master acknowledges exist
// on that one node: after a crash failover, a second failure or a second failover in
// that second (with a short down-after, Sentinel starts one of a healthy new master now
// and then: see failoverMachine.onEvent) would lose them. This is
// the very command Sentinel's leader sends a second later (sentinelFailoverReconfNextSlave
// -> sentinelSendSlaveOf, same announced address as its events), and there is no
// conflict with Sentinel:
//   - Redis answers a REPLICAOF naming the master it already follows with "+OK Already
//     connected to specified master" and does nothing (replicaofCommand), so Sentinel's
//     own SLAVEOF ... CONFIG REWRITE; CLIENT KILL transaction still runs, persists the
//     config, and its state machine moves the replica RECONF_SENT -> INPROG -> DONE as
//     usual on the next INFO (it compares master_host with the promoted address).
//   - A Sentinel that has not learned of the failover yet would "+fix-slave-config" a
//     replica following another master only after failover-timeout without a change of
//     its master (slave_conf_change_time), exactly as for Sentinel's own reconfiguration.
//   - Replicas are touched only if they say ROLE slave, and only after the promoted node
//     itself said ROLE master: the promotion (SLAVEOF NO ONE) already happened, so the
//     replicas would be moved there anyway.
//   - The old master, if it still says ROLE master, is made a replica of the new one as
//     well: Sentinel does that only seconds later (+convert-to-slave, 8 s after it sees
//     the demoted node), and never while it takes it for down, which is how it leaves a
//     healthy node demoted by a bid (see failoverMachine.onEvent). Such a node has not
//     followed the new master, and a later bid that selects it, which Sentinel does,
//     promotes a node without everything the new master acknowledged (issue 14: 5,793
//     acknowledged writes lost in a triple failover). Sentinel's own conversion later is
//     then a no-op. The tunnel fenced the old master, so no client of the tunnel loses a
//     write; clients that bypass the tunnel get -READONLY sooner instead of writing to a
//     demoted node.
//   - Several tunnel pods doing the same is idempotent (the second REPLICAOF is a no-op).
//   - At most max(min-replicas-to-write, 1) replicas are moved, so Sentinel's parallel-syncs
//     (1 in the composed sentinel.conf) still paces the rest; a promoted replica keeps its
//     replication ID history, so the moved replica usually resyncs partially, in ms.
// A control user without the REPLICAOF permission only loses the speed-up (logged).

// writeGatePollInterval is how often a just-promoted master is asked whether it accepts
// writes: held connections go through within this much of the first good replica.
const writeGatePollInterval = 3 * time.Millisecond

// writeGateQueryTimeout bounds each control query of the write gate.
const writeGateQueryTimeout = 250 * time.Millisecond

// acceptsWrites reports whether a master whose INFO replication is ri accepts writes,
// given min-replicas-to-write (needed < 0: unknown, e.g. CONFIG forbidden by ACL). Without
// min_slaves_good_slaves Redis has no min-replicas guard active. With it but an unknown
// minimum, the guard's presence proves a minimum of at least 1, the best lower bound.
func acceptsWrites(ri replicationInfo, needed int) bool {
	if ri.Role != "master" {
		return false
	}
	if ri.GoodReplicas < 0 {
		return true
	}
	return ri.GoodReplicas >= max(needed, 1)
}

// minReplicasToWrite reads the reply to CONFIG GET min-replicas-to-write; -1 when the
// command is renamed, forbidden by ACL or answers something unexpected.
func minReplicasToWrite(reply any, err error) int {
	kv, err := redis.StringMap(reply, err)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(kv["min-replicas-to-write"])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// awaitWritable holds new connections to the just-promoted master to until it accepts
// writes, then opens the gate, and points a remaining replica at it (see the file
// comment). promotion bounds both (--failover-hold) and ends when a later fence or
// cutover supersedes this one. from is the old master, never touched. fenceOffset >= 0 is
// the old master's offset at the fence, checked against the first INFO replication
// (checkPromotion): one connection and one round trip serve the loss check,
// min-replicas-to-write and the first gate sample.
func (w *masterWatcher) awaitWritable(promotion context.Context, from, to string, fenceOffset int64) {
	ctx, stopGate := context.WithCancel(promotion)
	defer stopGate()
	started := time.Now()
	reason := "" // why the gate opened; "" when ctx ended first
	defer func() {
		w.ep.openWriteGate(to)
		waited := time.Since(started)
		if fenceOffset >= 0 {
			w.log.Warn("could not read the new master's promotion offset", "addr", to, "err", ctx.Err())
		}
		switch {
		case reason != "":
			w.metrics.writeWait.WithLabelValues(w.name).Observe(waited.Seconds())
			w.log.Info("new master accepts writes: released held connections", "addr", to, "waited", waited, "reason", reason)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			w.metrics.writeWait.WithLabelValues(w.name).Observe(waited.Seconds())
			w.log.Warn("new master still refuses writes after failover-hold: releasing held connections",
				"addr", to, "waited", waited)
		default:
			// Superseded by another cutover, or shutting down.
		}
	}()
	var conn redis.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	needed, askedConfig, reattaching := -1, false, false
	for ctx.Err() == nil {
		if conn == nil {
			c, err := w.dialer.redis(ctx, to, writeGateQueryTimeout)
			if err != nil {
				w.log.Debug("write gate: cannot reach the new master", "addr", to, "err", err)
				sleepCtx(ctx, writeGatePollInterval)
				continue
			}
			conn = c
		}
		text, n, err := queryGate(conn, !askedConfig)
		if err != nil {
			conn.Close()
			conn = nil
			continue
		}
		if !askedConfig {
			askedConfig, needed = true, n
		}
		ri, err := parseReplicationInfo(text)
		if err != nil {
			w.log.Warn("write gate: cannot read INFO replication: releasing held connections", "addr", to, "err", err)
			reason = "INFO replication unreadable"
			return
		}
		if fenceOffset >= 0 {
			w.checkPromotion(from, to, fenceOffset, ri)
			fenceOffset = -1
		}
		if !reattaching && ri.Role == "master" && w.reattachReplicas {
			// Also without min-replicas-to-write: until a replica follows it, whatever
			// the new master acknowledges lives on that node alone, and a second failure
			// (or a second failover, which picks a replica) within that second loses it.
			reattaching = true
			go w.reattach(promotion, from, to, max(needed, 1))
		}
		if acceptsWrites(ri, needed) {
			reason = "min-replicas-to-write met"
			if ri.GoodReplicas < 0 {
				reason = "no min-replicas-to-write guard"
			}
			return
		}
		sleepCtx(ctx, writeGatePollInterval)
	}
}

// queryGate reads INFO replication on conn; withConfig also reads min-replicas-to-write
// in the same round trip (needed: see minReplicasToWrite; -1 without withConfig).
func queryGate(conn redis.Conn, withConfig bool) (info string, needed int, err error) {
	if !withConfig {
		info, err = redis.String(conn.Do("INFO", "replication"))
		return info, -1, err
	}
	_ = conn.Send("CONFIG", "GET", "min-replicas-to-write")
	if err := conn.Send("INFO", "replication"); err != nil {
		return "", -1, err
	}
	if err := conn.Flush(); err != nil {
		return "", -1, err
	}
	reply, err := conn.Receive()
	var refused redis.Error
	if err != nil && !errors.As(err, &refused) {
		return "", -1, err // the connection failed, not the command
	}
	needed = minReplicasToWrite(reply, err)
	info, err = redis.String(conn.Receive())
	return info, needed, err
}

// sleepCtx pauses d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// replicaState is one known replica as the reattach step sees it.
type replicaState struct {
	Addr   string
	Role   roleInfo
	Failed bool // ROLE did not answer
}

// pickReplicasToReattach chooses which replicas to point at newMaster: nodes that say
// ROLE slave and do not follow newMaster yet, most caught-up first, as many as still
// missing after counting those that already follow it. oldMaster and newMaster themselves
// are never chosen.
func pickReplicasToReattach(states []replicaState, oldMaster, newMaster string, want int) []string {
	var cands []replicaState
	for _, s := range states {
		if s.Failed || s.Addr == oldMaster || s.Addr == newMaster || s.Role.Role != "slave" {
			continue
		}
		if s.Role.MasterAddr == newMaster {
			want--
			continue
		}
		cands = append(cands, s)
	}
	if want <= 0 {
		return nil
	}
	slices.SortStableFunc(cands, func(a, b replicaState) int { return cmp.Compare(b.Role.Offset, a.Role.Offset) })
	var out []string
	for _, c := range cands[:min(want, len(cands))] {
		out = append(out, c.Addr)
	}
	return out
}

// reattach points up to want remaining replicas at the promoted master to, counting
// those that already follow it, and makes the old master from a replica of it too if it
// still says ROLE master (see the file comment for why neither can fight Sentinel).
// Replicas come from every Sentinel's SENTINEL REPLICAS list; each must say ROLE slave.
func (w *masterWatcher) reattach(ctx context.Context, from, to string, want int) {
	host, port, err := net.SplitHostPort(to)
	if err != nil {
		return
	}
	addrs := w.knownReplicas(ctx)
	if from != "" && !slices.Contains(addrs, from) {
		addrs = append(addrs, from)
	}
	states := make([]replicaState, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			states[i].Addr = addr
			qctx, cancel := context.WithTimeout(ctx, writeGateQueryTimeout)
			defer cancel()
			ri, err := w.dialer.queryRole(qctx, addr)
			states[i].Role, states[i].Failed = ri, err != nil
		})
	}
	wg.Wait()
	replicaOf := func(addr string) error {
		qctx, cancel := context.WithTimeout(ctx, writeGateQueryTimeout)
		defer cancel()
		c, err := w.dialer.redis(qctx, addr, writeGateQueryTimeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Do("REPLICAOF", host, port)
		return err
	}
	// follow makes addr (what: "the old master" or "a replica") follow the new master.
	follow := func(addr, what string, done *prometheus.CounterVec) {
		wg.Go(func() {
			if err := replicaOf(addr); err != nil {
				w.log.Info("could not make "+what+" follow the new master ahead of Sentinel (Sentinel will)", "addr", addr, "master", to, "err", err)
				return
			}
			done.WithLabelValues(w.name).Inc()
			w.log.Info("made "+what+" follow the new master ahead of Sentinel", "addr", addr, "master", to)
		})
	}
	if oldMasterStillMaster(states, from) {
		follow(from, "the old master", w.metrics.oldMastersDemoted)
	}
	for _, addr := range pickReplicasToReattach(states, from, to, want) {
		follow(addr, "a replica", w.metrics.reattached)
	}
	wg.Wait()
}

// oldMasterStillMaster reports whether the old master answered ROLE master: Sentinel
// demoted it but converts it into a replica only seconds later (+convert-to-slave), or,
// when the failover was a bid of a Sentinel that took it for down, whenever that
// Sentinel sees it again.
func oldMasterStillMaster(states []replicaState, oldMaster string) bool {
	if oldMaster == "" {
		return false
	}
	for _, s := range states {
		if s.Addr == oldMaster {
			return !s.Failed && s.Role.Role == "master"
		}
	}
	return false
}

// knownReplicas is the union of every reachable Sentinel's replica list for the name.
func (w *masterWatcher) knownReplicas(ctx context.Context) []string {
	lists := make([][]sentinelReplicaView, len(w.sentinels))
	var wg sync.WaitGroup
	for i, s := range w.sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qctx, cancel := context.WithTimeout(ctx, writeGateQueryTimeout)
			defer cancel()
			lists[i], _ = w.dialer.querySentinelReplicas(qctx, s, w.name)
		}()
	}
	wg.Wait()
	var out []string
	for _, l := range lists {
		for _, r := range l {
			if !slices.Contains(out, r.Addr) {
				out = append(out, r.Addr)
			}
		}
	}
	return out
}
