package tunnel

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the tunnel's Prometheus series, registered on a per-Tunnel registry (no
// global state, so several tunnels can run in one test binary).
type metrics struct {
	registry *prometheus.Registry

	master            *prometheus.GaugeVec
	switches          *prometheus.CounterVec
	failoverDuration  *prometheus.HistogramVec
	fenced            *prometheus.GaugeVec
	unfences          *prometheus.CounterVec
	possibleLoss      *prometheus.CounterVec
	possibleLossBytes *prometheus.CounterVec
	sessionsOpen      *prometheus.GaugeVec
	sessionsTotal     *prometheus.CounterVec
	bytes             *prometheus.CounterVec
	held              *prometheus.HistogramVec
	writeWait         *prometheus.HistogramVec
	reattached        *prometheus.CounterVec
	oldMastersDemoted *prometheus.CounterVec
	rejected          *prometheus.CounterVec
	acceptErrors      prometheus.Counter
	sentinelUp        *prometheus.GaugeVec
	ready             *prometheus.GaugeVec
}

func newMetrics() *metrics {
	r := prometheus.NewRegistry()
	m := &metrics{
		registry: r,
		master: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_ha_tunnel_master", Help: "1 for the master address each master name currently routes to.",
		}, []string{"name", "addr"}),
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_master_switches_total", Help: "Cutovers from one verified master to another.",
		}, []string{"name"}),
		failoverDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_ha_tunnel_failover_duration_seconds", Help: "Time from fencing the old master to routing to the new one.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}, []string{"name"}),
		fenced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_ha_tunnel_fenced", Help: "1 while a failover is in progress and client bytes to the old master are held.",
		}, []string{"name"}),
		unfences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_unfences_total", Help: "Fences lifted without a switch (failover aborted or hold expired).",
		}, []string{"name"}),
		possibleLoss: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_possible_write_loss_total", Help: "Cutovers where the new master was promoted behind the fenced old master's offset.",
		}, []string{"name"}),
		possibleLossBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_possible_write_loss_bytes_total", Help: "Replication bytes the new master was behind the fenced old master.",
		}, []string{"name"}),
		sessionsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_ha_tunnel_sessions_open", Help: "Client sessions currently bridged.",
		}, []string{"name", "endpoint"}),
		sessionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_sessions_total", Help: "Client sessions bridged since start.",
		}, []string{"name", "endpoint"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_bytes_total", Help: "Bytes forwarded (direction up = client to Redis, down = Redis to client).",
		}, []string{"name", "direction"}),
		held: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_ha_tunnel_connection_hold_seconds", Help: "Time new connections waited for a usable master.",
			Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}, []string{"name"}),
		writeWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_ha_tunnel_write_wait_seconds", Help: "Time from a cutover until the new master accepted writes (min-replicas-to-write met) and held connections went through.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
		}, []string{"name"}),
		reattached: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_replicas_reattached_total", Help: "Replicas the tunnel pointed at a new master ahead of Sentinel.",
		}, []string{"name"}),
		oldMastersDemoted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_old_masters_demoted_total", Help: "Old masters the tunnel made replicas of the new master ahead of Sentinel.",
		}, []string{"name"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_rejected_clients_total", Help: "Client connections refused (reason max-clients, no-master, tls, draining).",
		}, []string{"name", "reason"}),
		acceptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "redis_ha_tunnel_accept_errors_total", Help: "Accept errors (e.g. EMFILE) that made the listener back off.",
		}),
		sentinelUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_ha_tunnel_sentinel_up", Help: "1 when the Sentinel answered the last poll.",
		}, []string{"sentinel"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_ha_tunnel_ready", Help: "1 when the master name has a verified master and a reachable Sentinel.",
		}, []string{"name"}),
	}
	r.MustRegister(m.own()...)
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// own lists the tunnel's own collectors (the README documents each of them).
func (m *metrics) own() []prometheus.Collector {
	return []prometheus.Collector{m.master, m.switches, m.failoverDuration, m.fenced, m.unfences, m.possibleLoss,
		m.possibleLossBytes, m.sessionsOpen, m.sessionsTotal, m.bytes, m.held, m.writeWait, m.reattached, m.oldMastersDemoted, m.rejected,
		m.acceptErrors, m.sentinelUp, m.ready}
}

// setMaster moves the master gauge of name from one address to another. from is the address
// name routed to before ("" for its first verified master): the name's watcher, the only
// caller, passes its previous target, so each name keeps exactly one series.
func (m *metrics) setMaster(name, from, to string) {
	if from != "" {
		m.master.DeleteLabelValues(name, from)
	}
	m.master.WithLabelValues(name, to).Set(1)
}
