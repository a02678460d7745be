// Package tunnel is a Sentinel-following TCP proxy for Redis: applications connect to one
// address with a plain Redis client and the tunnel forwards their bytes, untouched, to the
// current master of a Sentinel-managed replication group. In Redis Cluster mode
// (Config.Cluster) it instead routes each command of a plain client to the master of its
// key's slot.
//
// Two routers, one front: a Tunnel owns what every mode shares (binding and accepting,
// --max-clients, TLS towards clients, metrics, /healthz and /readyz, Shutdown and Close,
// logging) and hands each accepted client to its router (see router.go), the only part
// that differs. sentinelRouter bridges a client to the current master of its master name
// with a byte-copying session; clusterRouter serves it with a clusterSession, which parses
// RESP, routes every command by slot over one connection per shard master, keeps the
// replies in the client's order and follows MOVED and ASK itself (clustersession.go; the
// slot map: clustertopology.go; the command table generated from a server's COMMAND:
// commands.go). New picks the router from the Config; nothing else branches on the mode.
//
// State and data path are kept apart, in the style of tcpproxy: a masterWatcher per master
// name decides where connections go (events from every Sentinel, a poll backstop, its own
// ROLE checks; see failoverMachine for the rules), and a session only copies bytes. On
// Linux plain TCP is served by a reactor: a few goroutines each run a level-triggered
// epoll loop that accepts, dials the upstream with a non-blocking connect and moves the
// bytes of many sessions (one read per readiness, a shared scratch buffer, a pooled one
// only for a write the socket did not take whole), so a new connection costs no goroutine
// and an idle session holds its two sockets and a small struct. A client that has to wait
// for a route (a fence, the write gate, no master) is handed to a goroutine that holds it.
// TLS sessions, other platforms and
// Config.DataPath "goroutines" use two goroutines per session instead (waiting for
// readability without a buffer, then read+write with a pooled buffer). The watcher acts on sessions
// in three ways only: fence (stop reading client bytes, replies keep flowing), unfence
// (resume, nothing lost) and cut (close).
//
// Failover: on the first event of a failover of the current master (+elected-leader,
// +selected-slave, ... from any Sentinel; +try-failover already when the master is
// objectively down) the tunnel fences the old master and holds new connections. It polls the selected replica's ROLE every few
// milliseconds and, the moment it is master, compares the old master's replication offset
// (read after fencing) with the new master's promotion offset, closes every session on the
// old master and releases the held connections to the new one. An aborted failover, or a
// hold that expires while the old master is still master, unfences. A master that cannot
// be reached holds new connections up to FailoverHold while Sentinel fails over.
//
// Write gate: a promoted master with min-replicas-to-write refuses writes (-NOREPLICAS)
// until a replica follows it, which Sentinel arranges only ~1 s after the promotion. So
// after a cutover new connections stay held (up to FailoverHold) until INFO replication
// shows enough good replicas, and the tunnel itself sends REPLICAOF <new master> to the
// remaining replicas at once, the command Sentinel sends a second later (see writegate.go
// for why that cannot fight Sentinel; Config.LeaveReplicasToSentinel turns it off).
//
// Example:
//
//	t, err := tunnel.New(tunnel.Config{
//		Sentinels: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
//		Masters:   []tunnel.Endpoint{{Name: "mymaster", Listen: ":6379"}},
//		Logger:    slog.Default(),
//	})
//	if err != nil {
//		return err
//	}
//	if err := t.Start(ctx); err != nil {
//		return err
//	}
//	go http.ListenAndServe(":8080", t.Handler()) // /metrics, /healthz, /readyz
//	<-ctx.Done()
//	drain, cancel := context.WithTimeout(context.Background(), 15*time.Second)
//	defer cancel()
//	return t.Shutdown(drain)
package tunnel
