package tunnel

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// watcherMsg is one input to a masterWatcher's loop.
type watcherMsg struct {
	kind  watcherMsgKind
	src   string
	event sentinelEvent
	addr  string
	role  roleInfo
	err   error
	views []pollView
	info  replicationInfo
	watch *candidateWatch
}

// candidateWatch is one running watchCandidate goroutine.
type candidateWatch struct {
	cancel context.CancelFunc
}

type watcherMsgKind int

const (
	msgEvent watcherMsgKind = iota + 1
	msgRole
	msgPoll
	msgFenceOffset
	msgPollNow
	msgCandidateDone
)

// candidatePollInterval is how often a chosen replica is asked for ROLE while a failover
// runs: the cutover happens within this much of the promotion.
const candidatePollInterval = 2 * time.Millisecond

// fenceParkWait bounds how long fencing waits for sessions to stop sending before reading
// the old master's replication offset.
const fenceParkWait = 50 * time.Millisecond

// masterWatcher follows one Sentinel master name: it merges events from every Sentinel,
// the poll backstop and its own ROLE checks into failoverMachine decisions and carries
// them out on the masterEndpoint. All state changes happen on its single loop goroutine.
type masterWatcher struct {
	name      string
	sentinels []string
	dialer    *controlDialer
	poll      time.Duration
	hold      time.Duration
	log       *slog.Logger
	metrics   *metrics
	ep        *masterEndpoint
	replicas  *replicaEndpoint // nil without --replicas for this name

	inbox chan watcherMsg

	// Owned by the loop goroutine.
	m              *failoverMachine
	verifying      map[string]bool
	candidates     map[string]*candidateWatch
	pollRunning    bool
	fenceOffset    int64
	fenceOffsetFor string
	fencedAt       time.Time
	// stopPromotion ends what the last cutover started for its new master (the write
	// gate's wait, pointing replicas at it): the next fence or cutover supersedes it.
	stopPromotion context.CancelFunc

	// reattachReplicas points remaining replicas at a new master ahead of Sentinel
	// (see writegate.go); false with Config.LeaveReplicasToSentinel.
	reattachReplicas bool

	mu    sync.Mutex
	ready bool
}

func newMasterWatcher(name string, sentinels []string, d *controlDialer, poll, hold time.Duration,
	log *slog.Logger, m *metrics, ep *masterEndpoint, replicas *replicaEndpoint) *masterWatcher {
	return &masterWatcher{
		name:       name,
		sentinels:  sentinels,
		dialer:     d,
		poll:       poll,
		hold:       hold,
		log:        log.With("master", name),
		metrics:    m,
		ep:         ep,
		replicas:   replicas,
		inbox:      make(chan watcherMsg, 1024),
		m:          newFailoverMachine(name, hold),
		verifying:  map[string]bool{},
		candidates: map[string]*candidateWatch{},
	}
}

// deliverEvent is called by the Sentinel subscribers.
func (w *masterWatcher) deliverEvent(ctx context.Context, src string, ev sentinelEvent) {
	if ev.MasterName != w.name && ev.Channel != "+new-epoch" {
		return
	}
	w.send(ctx, watcherMsg{kind: msgEvent, src: src, event: ev})
}

func (w *masterWatcher) send(ctx context.Context, msg watcherMsg) {
	select {
	case w.inbox <- msg:
	case <-ctx.Done():
	}
}

// isReady reports the /readyz condition for this master name.
func (w *masterWatcher) isReady() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ready
}

// triggerPoll asks for a poll round soon (after a Sentinel reconnects: events may be missed).
func (w *masterWatcher) triggerPoll(ctx context.Context) {
	w.send(ctx, watcherMsg{kind: msgPollNow})
}

func (w *masterWatcher) run(ctx context.Context) {
	pollTicker := time.NewTicker(w.poll)
	defer pollTicker.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	defer func() {
		w.stopCandidates()
		w.endPromotion()
	}()
	w.startPoll(ctx)
	for {
		var acts []action
		select {
		case <-ctx.Done():
			return
		case <-pollTicker.C:
			w.startPoll(ctx)
			continue
		case now := <-tick.C:
			acts = w.m.onTick(now)
		case addr := <-w.ep.dialFailed:
			acts = w.m.onDialFailed(addr)
		case msg := <-w.inbox:
			switch msg.kind {
			case msgEvent:
				w.log.Debug("sentinel event", "sentinel", msg.src, "channel", msg.event.Channel,
					"instance", msg.event.InstanceAddr, "master_addr", msg.event.MasterAddr)
				acts = w.m.onEvent(msg.src, msg.event, time.Now())
			case msgRole:
				delete(w.verifying, msg.addr)
				acts = w.m.onRole(msg.addr, msg.role, msg.err, time.Now())
			case msgCandidateDone:
				// Forget a watch that ended on its own (found master or timed out), so a
				// later failover can watch the same address again.
				if w.candidates[msg.addr] == msg.watch {
					delete(w.candidates, msg.addr)
				}
				continue
			case msgPollNow:
				w.startPoll(ctx)
				continue
			case msgPoll:
				w.pollRunning = false
				acts = w.m.onPoll(msg.views)
			case msgFenceOffset:
				if msg.err != nil {
					w.log.Info("could not read the fenced master's replication offset", "addr", msg.addr, "err", msg.err)
				} else if msg.addr == w.ep.targetAddr() {
					w.fenceOffset, w.fenceOffsetFor = msg.info.MasterReplOffset, msg.addr
				}
			}
		}
		for _, a := range acts {
			w.exec(ctx, a)
		}
		w.updateReady()
	}
}

func (w *masterWatcher) updateReady() {
	ready := w.m.ready()
	w.mu.Lock()
	changed := w.ready != ready
	w.ready = ready
	w.mu.Unlock()
	if changed {
		w.log.Info("readiness changed", "ready", ready, "target", w.m.target, "sentinels_reachable", w.m.reachableSentinels)
	}
	w.metrics.ready.WithLabelValues(w.name).Set(boolFloat(ready))
}

func (w *masterWatcher) exec(ctx context.Context, a action) {
	switch a.Kind {
	case actFence:
		w.log.Info("failover of master began: fencing it", "addr", a.Addr, "reason", a.Reason)
		w.metrics.fenced.WithLabelValues(w.name).Set(1)
		w.fenceOffset, w.fenceOffsetFor = -1, ""
		w.fencedAt = time.Now()
		// Stop pointing replicas at a master whose own failover began.
		w.endPromotion()
		parked := w.ep.fence(a.Addr, fenceParkWait)
		go func() {
			<-parked
			info, err := w.dialer.queryReplication(ctx, a.Addr, min(w.dialer.readTimeout, 250*time.Millisecond))
			w.send(ctx, watcherMsg{kind: msgFenceOffset, addr: a.Addr, info: info, err: err})
		}()
	case actUnfence:
		w.log.Warn("resuming sessions on the old master: no failover happened", "addr", a.Addr, "reason", a.Reason)
		w.metrics.fenced.WithLabelValues(w.name).Set(0)
		w.metrics.unfences.WithLabelValues(w.name).Inc()
		w.fencedAt = time.Time{}
		w.stopCandidates()
		w.ep.unfence(a.Addr)
	case actSetDown:
		if a.Down {
			w.log.Warn("master unreachable: holding new connections", "addr", a.Addr, "err", a.Reason)
		} else {
			w.log.Info("master reachable again", "addr", a.Addr)
		}
		w.ep.setDown(a.Addr, a.Down)
	case actVerify:
		if w.verifying[a.Addr] {
			return
		}
		w.verifying[a.Addr] = true
		go func() {
			ri, err := w.dialer.queryRole(ctx, a.Addr)
			w.send(ctx, watcherMsg{kind: msgRole, addr: a.Addr, role: ri, err: err})
		}()
	case actWatchCandidate:
		if _, ok := w.candidates[a.Addr]; ok {
			return
		}
		w.log.Info("watching failover candidate", "addr", a.Addr, "reason", a.Reason)
		cctx, cancel := context.WithTimeout(ctx, max(w.hold, 5*time.Second))
		watch := &candidateWatch{cancel: cancel}
		w.candidates[a.Addr] = watch
		go func() {
			defer cancel()
			w.watchCandidate(cctx, a.Addr)
			w.send(ctx, watcherMsg{kind: msgCandidateDone, addr: a.Addr, watch: watch})
		}()
	case actCutover:
		w.cutover(ctx, a.From, a.Addr)
	case actPollNow:
		w.startPoll(ctx)
	}
}

// watchCandidate asks addr for ROLE every candidatePollInterval until it says master
// (reported as a msgRole) or ctx ends. Sentinel promotes with MULTI; SLAVEOF NO ONE;
// CLIENT KILL TYPE normal; EXEC, so the connection that would see "master" is killed at
// that very moment: reconnect at once, pause only when the dial itself fails.
func (w *masterWatcher) watchCandidate(ctx context.Context, addr string) {
	for ctx.Err() == nil {
		c, err := w.dialer.redis(ctx, addr, 200*time.Millisecond)
		if err != nil {
			sleepCtx(ctx, 5*time.Millisecond)
			continue
		}
		for ctx.Err() == nil {
			reply, err := c.Do("ROLE")
			if err != nil {
				break
			}
			ri, err := parseRole(reply)
			if err == nil && ri.Role == "master" {
				c.Close()
				w.send(ctx, watcherMsg{kind: msgRole, addr: addr, role: ri})
				return
			}
			sleepCtx(ctx, candidatePollInterval)
		}
		c.Close()
	}
}

// stopCandidates ends every candidate ROLE watch: the failover they belong to is over.
func (w *masterWatcher) stopCandidates() {
	for addr, watch := range w.candidates {
		watch.cancel()
		delete(w.candidates, addr)
	}
}

// cutover moves the route to the verified master to and closes every session on from.
func (w *masterWatcher) cutover(ctx context.Context, from, to string) {
	started := time.Now()
	w.stopCandidates()
	// The write gate's first INFO replication of the new master also tells whether it
	// holds everything the old master acknowledged up to the fence (checkPromotion).
	fenceOffset := int64(-1)
	if from != "" && w.fenceOffsetFor == from {
		fenceOffset = w.fenceOffset
	}
	w.endPromotion()
	// After a switch the new master may refuse writes for a while (min-replicas-to-write):
	// hold new connections until it accepts them, and point a remaining replica at it. The
	// first verified master at start is routed at once: holding it would only delay reads
	// when its replicas are missing.
	gated := from != ""
	cut := w.ep.setTarget(to, gated)
	if gated {
		pctx, cancel := context.WithTimeout(ctx, w.hold)
		w.stopPromotion = cancel
		go w.awaitWritable(pctx, from, to, fenceOffset)
	}
	w.fenceOffset, w.fenceOffsetFor = -1, ""
	w.metrics.fenced.WithLabelValues(w.name).Set(0)
	w.metrics.setMaster(w.name, from, to)
	if from == "" {
		w.log.Info("routing to verified master", "addr", to)
		return
	}
	w.metrics.switches.WithLabelValues(w.name).Inc()
	var fencedFor time.Duration
	if !w.fencedAt.IsZero() {
		fencedFor = time.Since(w.fencedAt)
		w.metrics.failoverDuration.WithLabelValues(w.name).Observe(fencedFor.Seconds())
		w.fencedAt = time.Time{}
	}
	w.log.Info("switched master", "from", from, "to", to, "sessions_closed", cut, "fenced_for", fencedFor, "cutover_took", time.Since(started))
}

// endPromotion stops the write gate and the replica moves of the last cutover, if any.
func (w *masterWatcher) endPromotion() {
	if w.stopPromotion != nil {
		w.stopPromotion()
		w.stopPromotion = nil
	}
}

// checkPromotion reports a new master promoted behind the fenced old master: writes the
// old master acknowledged up to fenceOffset are then missing on the new one. No proxy can
// bring them back (Sentinel chose the replica); the metrics tell the operator.
func (w *masterWatcher) checkPromotion(from, to string, fenceOffset int64, info replicationInfo) {
	if info.promotionOffset() >= fenceOffset {
		w.log.Info("new master holds the old master's stream", "old_offset", fenceOffset, "promotion_offset", info.promotionOffset())
		return
	}
	gap := fenceOffset - info.promotionOffset()
	w.log.Error("possible loss of acknowledged writes: new master promoted behind the fenced old master",
		"old", from, "old_offset", fenceOffset, "new", to, "promotion_offset", info.promotionOffset(), "gap_bytes", gap)
	w.metrics.possibleLoss.WithLabelValues(w.name).Inc()
	w.metrics.possibleLossBytes.WithLabelValues(w.name).Add(float64(gap))
}

// startPoll runs one poll round over all Sentinels in the background.
func (w *masterWatcher) startPoll(ctx context.Context) {
	if w.pollRunning {
		return
	}
	w.pollRunning = true
	go func() {
		views := make([]pollView, len(w.sentinels))
		var wg sync.WaitGroup
		for i, s := range w.sentinels {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := w.dialer.querySentinelMaster(ctx, s, w.name)
				views[i] = pollView{Sentinel: s, View: v, Err: err}
				w.metrics.sentinelUp.WithLabelValues(s).Set(boolFloat(err == nil))
			}()
		}
		wg.Wait()
		if w.replicas != nil {
			w.pollReplicas(ctx, views)
		}
		w.send(ctx, watcherMsg{kind: msgPoll, views: views})
	}()
}

// pollReplicas refreshes the read-only endpoint from the first Sentinel that answered.
func (w *masterWatcher) pollReplicas(ctx context.Context, views []pollView) {
	for _, v := range views {
		if v.Err != nil {
			continue
		}
		views, err := w.dialer.querySentinelReplicas(ctx, v.Sentinel, w.name)
		if err != nil {
			continue
		}
		var healthy []string
		for _, r := range views {
			if r.Healthy {
				healthy = append(healthy, r.Addr)
			}
		}
		w.replicas.setReplicas(healthy)
		return
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
