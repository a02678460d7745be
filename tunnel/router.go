package tunnel

import (
	"context"
	"net"
	"sync"
)

// router is the seam between what every mode of the tunnel shares and what decides where
// client connections go. The Tunnel owns the shared front: binding the listen addresses
// and accepting (an accept goroutine, or the reactor's loops), --max-clients, TLS towards
// clients, the metrics registry, /healthz and /readyz, Shutdown and Close, logging. A
// router owns the rest: which listeners exist, the background work that follows the
// topology, and serving each accepted client.
//
// sentinelRouter follows Sentinel and bridges each client to the current master of its
// master name (sessions only copy bytes). clusterRouter follows a Redis Cluster's slot
// map, and its sessions parse the client's commands and route each one by key slot.
type router interface {
	// endpoints lists the listeners to bind, in order.
	endpoints() []routedEndpoint
	// onReactor reports whether plain TCP clients of these listeners may be accepted and
	// served by the reactor's epoll loops (byte-copying sessions only).
	onReactor() bool
	// start begins the background work; it runs until ctx ends, tracked by wg.
	start(ctx context.Context, wg *sync.WaitGroup)
	// serve takes over one accepted client connection (TLS already terminated) and
	// reports whether a session took it; that session calls release when it ends,
	// otherwise the caller does.
	serve(l *listener, client net.Conn, release func()) bool
	// status is the routing state per name for Status and /readyz (Ready ignores draining).
	status() map[string]MasterStatus
	// closeSessions cuts every open session (Close).
	closeSessions()
	// openSessions counts the open sessions.
	openSessions() int
}

// routedEndpoint is one listener a router asks for.
type routedEndpoint struct {
	name, kind, listen string
}

// newRouter builds the router cfg asks for: the only place that chooses the mode.
func newRouter(t *Tunnel) router {
	if t.cfg.Cluster != nil {
		return newClusterRouter(t)
	}
	return newSentinelRouter(t)
}

// validateRouting checks the settings of the mode cfg asks for.
func (c *Config) validateRouting() error {
	if c.Cluster != nil {
		return c.validateCluster()
	}
	return c.validateSentinel()
}

// sentinelRouter is the Sentinel mode: a masterWatcher per master name (its state lives
// in the Tunnel's masters, replicas and watchers) and byte-copying sessions.
type sentinelRouter struct {
	t *Tunnel
}

// newSentinelRouter creates the endpoint and watcher of every master name.
func newSentinelRouter(t *Tunnel) *sentinelRouter {
	cfg := t.cfg
	for _, e := range cfg.Masters {
		t.masters[e.Name] = newMasterEndpoint(e.Name)
	}
	for _, e := range cfg.Replicas {
		t.replicas[e.Name] = newReplicaEndpoint(e.Name, t.masters[e.Name])
	}
	for name, ep := range t.masters {
		w := newMasterWatcher(name, cfg.Sentinels, t.dialer, cfg.PollInterval, cfg.FailoverHold,
			t.log, t.metrics, ep, t.replicas[name])
		w.reattachReplicas = !cfg.LeaveReplicasToSentinel
		t.watchers[name] = w
	}
	return &sentinelRouter{t: t}
}

func (r *sentinelRouter) endpoints() []routedEndpoint {
	var out []routedEndpoint
	for _, e := range r.t.cfg.Masters {
		out = append(out, routedEndpoint{name: e.Name, kind: "master", listen: e.Listen})
	}
	for _, e := range r.t.cfg.Replicas {
		out = append(out, routedEndpoint{name: e.Name, kind: "replicas", listen: e.Listen})
	}
	return out
}

func (r *sentinelRouter) onReactor() bool { return true }

// start runs the watchers and one subscriber per Sentinel.
func (r *sentinelRouter) start(ctx context.Context, wg *sync.WaitGroup) {
	t := r.t
	for _, w := range t.watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	for _, s := range t.cfg.Sentinels {
		sub := &sentinelSubscriber{
			addr:         s,
			dialer:       t.dialer,
			pingInterval: t.cfg.PollInterval,
			log:          t.log,
			deliver: func(src string, ev sentinelEvent) {
				for _, w := range t.watchers {
					w.deliverEvent(ctx, src, ev)
				}
			},
			connected: func(src string, up bool) {
				if up {
					// Events may have been missed while disconnected: poll now.
					for _, w := range t.watchers {
						w.triggerPoll(ctx)
					}
				}
			},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub.run(ctx)
		}()
	}
}

func (r *sentinelRouter) serve(l *listener, client net.Conn, release func()) bool {
	return r.t.serveSentinel(l, client, release)
}

func (r *sentinelRouter) status() map[string]MasterStatus {
	out := make(map[string]MasterStatus, len(r.t.masters))
	for name, ep := range r.t.masters {
		target, fenced, down := ep.current()
		out[name] = MasterStatus{Master: target, Fenced: fenced, Down: down, Ready: r.t.watchers[name].isReady()}
	}
	return out
}

func (r *sentinelRouter) closeSessions() {
	for _, s := range r.sessions() {
		s.close()
	}
}

func (r *sentinelRouter) openSessions() int { return len(r.sessions()) }

func (r *sentinelRouter) sessions() []*session {
	var out []*session
	for _, ep := range r.t.masters {
		out = append(out, ep.allSessions()...)
	}
	for _, ep := range r.t.replicas {
		out = append(out, ep.allSessions()...)
	}
	return out
}
