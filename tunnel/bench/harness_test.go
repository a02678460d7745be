package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// buildTunnel builds the redis-ha-tunnel command into a temp dir, as make bench-binaries does.
func buildTunnel(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redis-ha-tunnel")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/redis-ha/redis-ha/tunnel/cmd/redis-ha-tunnel").CombinedOutput()
	if err != nil {
		t.Fatalf("go build the tunnel: %v\n%s", err, out)
	}
	return bin
}

// TestHarnessRunsEndToEnd keeps make bench-tunnel and make chaos-tunnel working: both
// harnesses run for real (redis-server, redis-sentinel, redis-benchmark, HAProxy, the
// tunnel binary) at a tiny size, and their reports hold what the docs promise. No figure
// is judged here: speed belongs to the benchmarks, not to tests.
func TestHarnessRunsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real Redis, Sentinel, HAProxy and the tunnel")
	}
	redisproctest.RequireBinaries(t, "redis-server", "redis-sentinel", "redis-benchmark", "haproxy")
	tunnelBin := buildTunnel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	t.Run("perf", func(t *testing.T) {
		rep, err := RunPerf(ctx, PerfOptions{TunnelBinary: tunnelBin, Requests: 2000, NewConnRequests: 300, Rounds: 1, IdleClients: 50})
		if err != nil {
			t.Fatalf("RunPerf: %v", err)
		}
		s := Summarize(rep.Samples)
		for _, target := range []string{TargetDirect, TargetHAProxy, TargetTunnel} {
			for _, m := range rep.Modes {
				for _, test := range []string{"SET", "GET"} {
					if s.RPS(target, m.Name, test) <= 0 {
						t.Errorf("%s %s %s: no req/s measured", target, m.Name, test)
					}
				}
			}
		}
		// 4000 requests through a proxy take tens of ms of its CPU: a 0 means the
		// /proc accounting is broken, not that the proxy is fast.
		for _, target := range []string{TargetHAProxy, TargetTunnel} {
			if s.CPU(target, "keep-alive") <= 0 {
				t.Errorf("%s: no proxy CPU per request measured", target)
			}
		}
		for _, i := range rep.Idle {
			if i.Clients != 50 || i.Err != "" || i.RSSAfter <= 0 || i.FDsAfter < 100 {
				t.Errorf("idle clients through %s: %+v, want 50 open with RSS and >= 100 descriptors", i.Target, i)
			}
		}
		var md bytes.Buffer
		rep.WriteMarkdown(&md)
		for _, want := range []string{"Throughput (req/s, ratio to direct)", "Proxy CPU per request", "Targets (tunnel binary)", "Idle clients"} {
			if !strings.Contains(md.String(), want) {
				t.Errorf("perf report lacks %q", want)
			}
		}
	})

	t.Run("chaos", func(t *testing.T) {
		rep, err := RunChaos(ctx, ChaosOptions{TunnelBinary: tunnelBin, Graceful: 1, Kills: 1, Settle: 500 * time.Millisecond})
		if err != nil {
			t.Fatalf("RunChaos: %v", err)
		}
		for _, p := range rep.Paths {
			if len(p.Rounds) != 2 {
				t.Fatalf("%s path: %d rounds, want 1 graceful + 1 kill -9", p.Name, len(p.Rounds))
			}
			for _, r := range p.Rounds {
				if r.Err != "" || r.Promoted <= 0 {
					t.Errorf("%s path, round %d (%s): err %q, promoted %s; want a promotion", p.Name, r.Index, r.Kind, r.Err, r.Promoted)
				}
			}
		}
		p := rep.Path(TargetTunnel)
		if p == nil || rep.Path(TargetHAProxy) == nil {
			t.Fatalf("paths %+v, want the tunnel's and HAProxy's", rep.Paths)
		}
		for i, r := range p.Rounds {
			pr := p.Analyze(i)
			// The tunnel's promise, checked with real processes: no acked write lost,
			// except one a killed master took with it before replicating it.
			if pr.Acked == 0 || pr.Lost != pr.LostInKillWindow || pr.FirstWrite < 0 {
				t.Errorf("tunnel, round %d (%s): %+v; want acked writes, none lost (but in the %s before a kill), a write after the promotion\n%s",
					r.Index, r.Kind, pr, KillLossWindow, lostAcks(*p, r))
			}
		}
		if t.Failed() {
			t.Logf("tunnel log (run started %s):\n%s", rep.Started.Format(time.TimeOnly+".000"), p.ProxyLog)
		}
		var doc bytes.Buffer
		if err := rep.Timeline(10 * time.Millisecond).WriteSVG(&doc); err != nil || !bytes.Contains(doc.Bytes(), []byte("<svg")) {
			t.Errorf("timeline SVG: %v", err)
		}
	})
}

// lostAcks describes the lost acks of a round against its timeline, for failure messages.
func lostAcks(p PathResult, r Round) string {
	var b strings.Builder
	fmt.Fprintf(&b, "round %d started %s after the run, promoted %s after it", r.Index, r.Start, rel(r.Promoted, r.Start))
	for _, a := range p.Acks {
		if a.Lost && a.At >= r.WindowStart() && a.At < r.End {
			fmt.Fprintf(&b, "\n  lost seq %d acked %s after the round start", a.Seq, a.At-r.Start)
		}
	}
	return b.String()
}
