package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestChecks(t *testing.T) {
	o := PerfOptions{Requests: 1000, NewConnRequests: 100, Clients: 50, Pipeline: 16, Rounds: 3, IdleClients: 100}
	modes := o.Modes()
	sample := func(target string, mode Mode, test string, rps, p50 float64) Sample {
		// Proxy CPU per request: HAProxy 10 µs, the tunnel 8 µs (9 for the pipelined mode's
		// outlier round, which the median ignores); direct has no proxy.
		cpu := map[string]time.Duration{TargetHAProxy: 10 * time.Microsecond, TargetTunnel: 8 * time.Microsecond}[target]
		if target == TargetTunnel && rps == 10 {
			cpu = 30 * time.Microsecond
		}
		return Sample{Target: target, Mode: mode.Name, Row: BenchmarkRow{Test: test, RPS: rps, P50Ms: p50}, ProxyCPUPerRequest: cpu}
	}
	var samples []Sample
	for _, m := range modes {
		for _, test := range []string{"SET", "GET"} {
			samples = append(samples,
				sample(TargetDirect, m, test, 100, 0.20),
				sample(TargetHAProxy, m, test, 80, 0.40),
				// Three rounds for the tunnel: the median (95) counts, not the outlier.
				sample(TargetTunnel, m, test, 95, 0.25),
				sample(TargetTunnel, m, test, 10, 9.00),
				sample(TargetTunnel, m, test, 96, 0.26),
			)
		}
	}
	rep := &PerfReport{Options: o, Modes: modes, Targets: []string{TargetDirect, TargetHAProxy, TargetTunnel}, Samples: samples,
		Idle: []IdleResult{{Target: TargetTunnel, Clients: 100, RSSBefore: 10 << 20, RSSAfter: 20 << 20}}}
	got := map[string]bool{}
	for _, c := range rep.Checks() {
		got[c.Name] = c.Met
	}
	want := map[string]bool{
		"keep-alive SET >= 0.90x direct": true, "keep-alive GET >= 0.90x direct": true,
		"keep-alive SET ahead of HAProxy": true, "keep-alive GET ahead of HAProxy": true,
		"pipelined -P 16 SET >= 0.90x direct": true, "pipelined -P 16 GET >= 0.90x direct": true,
		"pipelined -P 16 SET ahead of HAProxy": true, "pipelined -P 16 GET ahead of HAProxy": true,
		// 0.95x direct is the bar for new connections: 95 of 100 meets it exactly.
		"new conn (-k 0) SET >= 0.95x direct": true, "new conn (-k 0) GET >= 0.95x direct": true,
		"new conn (-k 0) SET ahead of HAProxy": true, "new conn (-k 0) GET ahead of HAProxy": true,
		// Added p50 0.05 ms (median 0.25 vs 0.20).
		"single client (-c 1) SET added p50 < 0.1 ms": true, "single client (-c 1) GET added p50 < 0.1 ms": true,
		"keep-alive SET added p50 < 0.1 ms": true, "keep-alive GET added p50 < 0.1 ms": true,
		"100 idle clients < 100 MiB RSS": true,
		// 8 µs against HAProxy's 10 µs in every mode.
		"keep-alive proxy CPU per request <= HAProxy": true, "pipelined -P 16 proxy CPU per request <= HAProxy": true,
		"new conn (-k 0) proxy CPU per request <= HAProxy": true, "single client (-c 1) proxy CPU per request <= HAProxy": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks -want +got:\n%s", diff)
	}

	// The file limit forced fewer clients: the RSS is extrapolated to the asked count.
	rep.IdleCapped = 1000
	rep.Idle = []IdleResult{{Target: TargetTunnel, Clients: 100, RSSBefore: 10 << 20, RSSAfter: 30 << 20}}
	for _, c := range rep.Checks() {
		if strings.Contains(c.Name, "idle") {
			if c.Met || !strings.Contains(c.Measured, "210.0 MiB extrapolated to 1000") {
				t.Errorf("capped idle check: %+v, want missed with 210.0 MiB extrapolated to 1000", c)
			}
		}
	}
	var buf bytes.Buffer
	rep.WriteMarkdown(&buf)
	for _, want := range []string{"| keep-alive | SET | 100 | 80 (0.80x) | 95 (0.95x) | 1.19x |", "| keep-alive | 10.0 | 8.0 | 0.80x |", "**missed**",
		"| mode | test | direct | haproxy | tunnel | tunnel / haproxy |\n|---|---|---:|---:|---:|---:|\n",
		"| mode | haproxy | tunnel | tunnel / haproxy |\n|---|---:|---:|---:|\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, buf.String())
		}
	}
}
