package tunnel

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics (Prometheus), /healthz (the process runs: always 200 until
// Close) and /readyz (200 only when every master name has a ROLE-verified master and at
// least one Sentinel answers, and the tunnel is not draining; the body lists each name).
// A failover in progress keeps /readyz at 200: the tunnel holds new connections itself,
// while an unready pod would be removed from its Service and clients refused.
func (t *Tunnel) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(t.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if t.closed.Load() {
			http.Error(w, "closed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		status := t.Status()
		names := make([]string, 0, len(status))
		for n := range status {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		code := http.StatusOK
		if t.draining.Load() {
			code = http.StatusServiceUnavailable
			b.WriteString("draining\n")
		}
		for _, n := range names {
			s := status[n]
			if !s.Ready {
				code = http.StatusServiceUnavailable
			}
			fmt.Fprintf(&b, "%s ready=%t master=%q fenced=%t down=%t\n", n, s.Ready, s.Master, s.Fenced, s.Down)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprint(w, b.String())
	})
	return mux
}
