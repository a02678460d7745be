package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"
)

// ClusterConfig turns on Redis Cluster mode (Config.Cluster).
type ClusterConfig struct {
	// Seeds are addresses (host:port) of any nodes of the cluster; the tunnel learns the
	// others from them.
	Seeds []string
	// Listen is the client listen address, e.g. ":6379".
	Listen string
	// RefreshInterval is how often the slot map is read again from every known node
	// (default 2s); a MOVED reply triggers a refresh at once.
	RefreshInterval time.Duration
	// MaxRedirects bounds the MOVED/ASK redirects followed for one command (default 5);
	// past it the client gets an error.
	MaxRedirects int
}

// clusterListenerName names the cluster-mode listener in logs, metrics and Status.
const clusterListenerName = "cluster"

// validateCluster checks the settings of cluster mode.
func (c *Config) validateCluster() error {
	cc := c.Cluster
	switch {
	case len(c.Sentinels) > 0:
		return errors.New("Cluster: cannot be combined with Sentinels; a tunnel follows either Sentinel or a Redis Cluster: remove one of them")
	case len(c.Masters) > 0 || len(c.Replicas) > 0:
		return errors.New("Cluster: cannot be combined with Masters or Replicas; cluster mode has one listener, Cluster.Listen: remove Masters and Replicas")
	case len(cc.Seeds) == 0:
		return errors.New("Cluster.Seeds: at least one cluster node address (host:port) is required")
	}
	for _, s := range cc.Seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("Cluster.Seeds: %q is not host:port: %w", s, err)
		}
	}
	if _, _, err := net.SplitHostPort(cc.Listen); err != nil {
		return fmt.Errorf("Cluster.Listen: %q is not host:port (e.g. :6379): %w", cc.Listen, err)
	}
	if cc.RefreshInterval < 0 {
		return fmt.Errorf("Cluster.RefreshInterval: must not be negative, got %s", cc.RefreshInterval)
	}
	if cc.MaxRedirects < 0 {
		return fmt.Errorf("Cluster.MaxRedirects: must not be negative, got %d", cc.MaxRedirects)
	}
	return nil
}

// clusterNode is one master the slot map routes to, one per address.
type clusterNode struct {
	addr string
	// connections counts the sessions' open connections to this master.
	connections prometheus.Gauge
}

// slotTable is the slot map the sessions route by: the master of every slot. Sessions
// read it without locks; version grows with every change, so a session can tell that
// commands it has in flight were routed by an older map (see clusterSession.route).
type slotTable struct {
	owners  [clusterSlots]atomic.Pointer[clusterNode]
	version atomic.Uint64
	covered atomic.Int32
}

// set makes n the master of slot and reports whether that changed anything. The version
// grows before the owner changes: a session that read the new owner and then the
// version sees the new version (see clusterSession.route).
func (st *slotTable) set(slot int, n *clusterNode) bool {
	if st.owners[slot].Load() == n {
		return false
	}
	st.version.Add(1)
	old := st.owners[slot].Swap(n)
	if old == nil && n != nil {
		st.covered.Add(1)
	} else if old != nil && n == nil {
		st.covered.Add(-1)
	}
	return old != n
}

// clusterRouter is the Redis Cluster mode: it keeps the slot map (refreshed on a timer
// and at once after a MOVED) and serves every client with a clusterSession, which routes
// each command to the master of its key's slot.
type clusterRouter struct {
	t   *Tunnel
	cfg ClusterConfig

	table slotTable

	mu       sync.Mutex
	nodes    map[string]*clusterNode
	known    []string // addresses the next refresh asks: seeds and every node seen
	sessions map[*clusterSession]struct{}
	// ready is closed (and replaced by nil) once every slot has a master.
	ready chan struct{}

	// refreshNow asks the refresh loop for a refresh at once (a MOVED was seen).
	refreshNow chan struct{}
	// controls are the refresh loop's connections to the nodes, by address.
	controls map[string]redis.Conn
}

func newClusterRouter(t *Tunnel) *clusterRouter {
	cfg := *t.cfg.Cluster
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 2 * time.Second
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = 5
	}
	return &clusterRouter{
		t:          t,
		cfg:        cfg,
		nodes:      map[string]*clusterNode{},
		known:      slices.Clone(cfg.Seeds),
		sessions:   map[*clusterSession]struct{}{},
		ready:      make(chan struct{}),
		refreshNow: make(chan struct{}, 1),
		controls:   map[string]redis.Conn{},
	}
}

func (r *clusterRouter) endpoints() []routedEndpoint {
	return []routedEndpoint{{name: clusterListenerName, kind: "cluster", listen: r.cfg.Listen}}
}

// onReactor is false: cluster sessions parse commands on goroutines.
func (r *clusterRouter) onReactor() bool { return false }

// node interns the clusterNode of addr.
func (r *clusterRouter) node(addr string) *clusterNode {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[addr]
	if n == nil {
		n = &clusterNode{addr: addr, connections: r.t.metrics.clusterShardConnections.WithLabelValues(addr)}
		r.nodes[addr] = n
	}
	return n
}

// start runs the refresh loop.
func (r *clusterRouter) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.refreshLoop(ctx)
	}()
}

// refreshLoop reads the slot map from every known node now, then every RefreshInterval
// and whenever a session saw a MOVED (at most every 50 ms, so a slot migration's stream
// of MOVEDs does not become a stream of refreshes).
func (r *clusterRouter) refreshLoop(ctx context.Context) {
	defer func() {
		for _, c := range r.controls {
			_ = c.Close()
		}
	}()
	ticker := time.NewTicker(r.cfg.RefreshInterval)
	defer ticker.Stop()
	for {
		r.refresh(ctx)
		// Until the first full map, retry soon: clients are waiting for it.
		retry := ticker.C
		if r.table.covered.Load() < clusterSlots {
			retry = time.After(100 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-retry:
		case <-r.refreshNow:
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// triggerRefresh asks for a refresh without waiting.
func (r *clusterRouter) triggerRefresh() {
	select {
	case r.refreshNow <- struct{}{}:
	default:
	}
}

// refresh asks every known node for its view in parallel, merges the views (see
// mergeClusterViews) and applies the result to the slot table.
func (r *clusterRouter) refresh(ctx context.Context) {
	r.mu.Lock()
	known := slices.Clone(r.known)
	r.mu.Unlock()
	views := make([]clusterView, len(known))
	errs := make([]error, len(known))
	conns := make([]redis.Conn, len(known))
	for i, addr := range known {
		conns[i] = r.controls[addr]
	}
	var wg sync.WaitGroup
	for i, addr := range known {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if conns[i] == nil {
				dctx, cancel := context.WithTimeout(ctx, r.t.cfg.DialTimeout)
				conns[i], errs[i] = r.t.dialer.redis(dctx, addr, 0)
				cancel()
				if errs[i] != nil {
					return
				}
			}
			views[i], errs[i] = queryClusterView(conns[i], addr, r.t.cfg.UpstreamTLS != nil)
		}()
	}
	wg.Wait()
	var answered []clusterView
	seen := map[string]bool{}
	for _, s := range r.cfg.Seeds {
		seen[s] = true
	}
	nextKnown := slices.Clone(r.cfg.Seeds)
	for i, addr := range known {
		if errs[i] != nil {
			r.t.log.Debug("cluster node did not answer its view", "addr", addr, "err", errs[i])
			if conns[i] != nil {
				_ = conns[i].Close()
			}
			delete(r.controls, addr)
			continue
		}
		r.controls[addr] = conns[i]
		answered = append(answered, views[i])
		for _, n := range append([]string{addr}, views[i].nodes...) {
			if !seen[n] {
				seen[n] = true
				nextKnown = append(nextKnown, n)
			}
		}
	}
	// Forget connections to nodes no view names any more.
	for addr, c := range r.controls {
		if !seen[addr] {
			_ = c.Close()
			delete(r.controls, addr)
		}
	}
	if len(answered) == 0 {
		r.t.metrics.clusterRefreshes.WithLabelValues("error").Inc()
		r.t.log.Warn("no cluster node answered for the slot map", "nodes", known)
		return
	}
	r.mu.Lock()
	r.known = nextKnown
	r.mu.Unlock()
	owners := mergeClusterViews(answered)
	changed := 0
	for slot, addr := range owners {
		var n *clusterNode
		if addr != "" {
			n = r.node(addr)
		}
		if r.table.set(slot, n) {
			changed++
		}
	}
	covered := r.table.covered.Load()
	if covered < clusterSlots {
		r.t.metrics.clusterRefreshes.WithLabelValues("error").Inc()
		r.t.log.Warn("cluster slot map has slots without a master", "covered", covered)
		return
	}
	r.t.metrics.clusterRefreshes.WithLabelValues("ok").Inc()
	if changed > 0 {
		r.t.log.Info("cluster slot map updated", "slots_changed", changed, "views", len(answered))
	}
	r.mu.Lock()
	if r.ready != nil {
		close(r.ready)
		r.ready = nil
	}
	r.mu.Unlock()
}

// moved records a MOVED reply: slot is served by addr now. The table is updated at once
// (the next command for the slot goes there) and a full refresh is asked for.
func (r *clusterRouter) moved(slot int, addr string) *clusterNode {
	n := r.node(addr)
	r.table.set(slot, n)
	r.triggerRefresh()
	return n
}

// anyNode is a master for commands without a key: the master of slot 0, else of any slot.
func (r *clusterRouter) anyNode() *clusterNode {
	for s := 0; s < clusterSlots; s += 512 {
		if n := r.table.owners[s].Load(); n != nil {
			return n
		}
	}
	return nil
}

// serve waits (up to FailoverHold) for the first complete slot map, then runs a cluster
// session for the client on a goroutine.
func (r *clusterRouter) serve(l *listener, client net.Conn, release func()) bool {
	start := time.Now()
	r.mu.Lock()
	ready := r.ready
	r.mu.Unlock()
	if ready != nil {
		timer := time.NewTimer(r.t.cfg.FailoverHold)
		defer timer.Stop()
		select {
		case <-ready:
		case <-timer.C:
			r.t.metrics.rejected.WithLabelValues(l.name, "no-master").Inc()
			r.t.log.Warn("no complete cluster slot map within failover-hold, closing client", "hold", r.t.cfg.FailoverHold)
			_ = client.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = client.Write([]byte("-CLUSTERDOWN redis-ha-tunnel: no complete slot map from the cluster yet\r\n"))
			_ = client.Close()
			return false
		case <-r.t.ctx.Done():
			_ = client.Close()
			return false
		}
	}
	l.held.Observe(time.Since(start).Seconds())
	s := newClusterSession(r, l, client, release)
	r.mu.Lock()
	r.sessions[s] = struct{}{}
	r.mu.Unlock()
	l.sessionsOpen.Inc()
	l.sessionsTotal.Inc()
	go s.run()
	return true
}

// sessionEnded forgets a session once it ended.
func (r *clusterRouter) sessionEnded(s *clusterSession) {
	r.mu.Lock()
	delete(r.sessions, s)
	r.mu.Unlock()
	s.l.sessionsOpen.Dec()
}

// status names each shard by its master's address.
func (r *clusterRouter) status() map[string]MasterStatus {
	ready := r.table.covered.Load() == clusterSlots
	out := map[string]MasterStatus{}
	for s := range r.table.owners {
		if n := r.table.owners[s].Load(); n != nil {
			out["shard "+n.addr] = MasterStatus{Master: n.addr, Ready: ready}
		}
	}
	if len(out) == 0 {
		out[clusterListenerName] = MasterStatus{Down: true}
	} else if !ready {
		out[clusterListenerName+" slots covered "+strconv.Itoa(int(r.table.covered.Load()))] = MasterStatus{}
	}
	return out
}

func (r *clusterRouter) closeSessions() {
	r.mu.Lock()
	all := make([]*clusterSession, 0, len(r.sessions))
	for s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}

func (r *clusterRouter) openSessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// ClusterAddr is the bound address of the cluster-mode listener (nil before Start or in
// Sentinel mode).
func (t *Tunnel) ClusterAddr() net.Addr { return t.listenerAddr(clusterListenerName, "cluster") }
