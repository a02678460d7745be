package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// cell is the median of one target/mode/test over the rounds.
type cell struct {
	rps, p50 float64
	// cpu is the proxy's CPU time per request in µs (0 for direct).
	cpu float64
	n   int
}

// Summary is the median table of a PerfReport.
type Summary struct {
	// Cells maps target -> mode -> test to medians.
	cells map[string]map[string]map[string]cell
}

// Summarize takes the median req/s and p50 of every target, mode and test over the rounds.
func Summarize(samples []Sample) Summary {
	type key struct{ target, mode, test string }
	rps := map[key][]float64{}
	p50 := map[key][]float64{}
	cpu := map[key][]float64{}
	for _, s := range samples {
		k := key{s.Target, s.Mode, s.Row.Test}
		rps[k] = append(rps[k], s.Row.RPS)
		p50[k] = append(p50[k], s.Row.P50Ms)
		cpu[k] = append(cpu[k], float64(s.ProxyCPUPerRequest.Nanoseconds())/1000)
	}
	out := Summary{cells: map[string]map[string]map[string]cell{}}
	for k, v := range rps {
		if out.cells[k.target] == nil {
			out.cells[k.target] = map[string]map[string]cell{}
		}
		if out.cells[k.target][k.mode] == nil {
			out.cells[k.target][k.mode] = map[string]cell{}
		}
		out.cells[k.target][k.mode][k.test] = cell{rps: Median(v), p50: Median(p50[k]), cpu: Median(cpu[k]), n: len(v)}
	}
	return out
}

// RPS is the median req/s (0 if not measured).
func (s Summary) RPS(target, mode, test string) float64 { return s.cells[target][mode][test].rps }

// P50 is the median p50 latency in ms.
func (s Summary) P50(target, mode, test string) float64 { return s.cells[target][mode][test].p50 }

// CPU is the median proxy CPU time per request in µs (SET and GET share one run, so both
// tests of a mode carry the same figure).
func (s Summary) CPU(target, mode string) float64 { return s.cells[target][mode]["SET"].cpu }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteMarkdown prints the throughput table, the latency table, the target check and
// the idle-client table as Markdown.
func (r *PerfReport) WriteMarkdown(w io.Writer) {
	s := Summarize(r.Samples)
	proxies := []string{}
	for _, t := range r.Targets {
		if t != TargetDirect {
			proxies = append(proxies, t)
		}
	}
	tests := []string{"SET", "GET"}
	fmt.Fprintf(w, "Median of %d rounds (target order rotated each round); redis-benchmark -c %d, -n %d (pipelined -n %d, -k 0 -n %d, -c 1 -n %d).\n\n",
		r.Options.Rounds, r.Options.Clients, r.Options.Requests, r.Options.Requests*4, r.Options.NewConnRequests, max(r.Options.Requests/10, 1000))

	writeTableHeader(w, "Throughput (req/s, ratio to direct):", []string{"mode", "test"},
		slices.Concat([]string{"direct"}, proxies, []string{"tunnel / haproxy"}))
	for _, m := range r.Modes {
		for _, t := range tests {
			d := s.RPS(TargetDirect, m.Name, t)
			fmt.Fprintf(w, "| %s | %s | %.0f |", m.Name, t, d)
			for _, p := range proxies {
				v := s.RPS(p, m.Name, t)
				fmt.Fprintf(w, " %.0f (%.2fx) |", v, ratio(v, d))
			}
			fmt.Fprintf(w, " %.2fx |\n", ratio(s.RPS(TargetTunnel, m.Name, t), s.RPS(TargetHAProxy, m.Name, t)))
		}
	}

	fmt.Fprintln(w)
	writeTableHeader(w, "Latency p50 (ms; in brackets: added over direct):", []string{"mode", "test"},
		slices.Concat([]string{"direct"}, proxies))
	for _, m := range r.Modes {
		for _, t := range tests {
			d := s.P50(TargetDirect, m.Name, t)
			fmt.Fprintf(w, "| %s | %s | %.3f |", m.Name, t, d)
			for _, p := range proxies {
				v := s.P50(p, m.Name, t)
				fmt.Fprintf(w, " %.3f (%+.3f) |", v, v-d)
			}
			fmt.Fprintln(w)
		}
	}

	fmt.Fprintln(w)
	writeTableHeader(w, "Proxy CPU per request (µs of user+system CPU of the proxy process per SET or GET, from /proc/<pid>/stat; what a proxy costs regardless of how busy the other cores are):",
		[]string{"mode"}, slices.Concat(proxies, []string{"tunnel / haproxy"}))
	for _, m := range r.Modes {
		fmt.Fprintf(w, "| %s |", m.Name)
		for _, p := range proxies {
			fmt.Fprintf(w, " %.1f |", s.CPU(p, m.Name))
		}
		fmt.Fprintf(w, " %.2fx |\n", ratio(s.CPU(TargetTunnel, m.Name), s.CPU(TargetHAProxy, m.Name)))
	}

	fmt.Fprintf(w, "\nTargets (tunnel binary):\n\n| target | measured | verdict |\n|---|---|---|\n")
	for _, c := range r.Checks() {
		verdict := "met"
		if !c.Met {
			verdict = "**missed**"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", c.Name, c.Measured, verdict)
	}

	if len(r.Idle) > 0 {
		fmt.Fprintf(w, "\nIdle clients (each sent one PING, then stayed open; RLIMIT_NOFILE %d):\n\n| proxy | clients open | RSS before | RSS with clients | per client | open fds before / with clients | open time | note |\n|---|---:|---:|---:|---:|---:|---:|---|\n", r.FileLimit)
		for _, i := range r.Idle {
			per := 0.0
			if i.Clients > 0 {
				per = float64(i.RSSAfter-i.RSSBefore) / float64(i.Clients) / 1024
			}
			fmt.Fprintf(w, "| %s | %d | %.1f MiB | %.1f MiB | %.1f KiB | %d / %d | %s | %s |\n", i.Target, i.Clients,
				mib(i.RSSBefore), mib(i.RSSAfter), per, i.FDsBefore, i.FDsAfter, i.OpenTime.Round(1e6), i.Err)
		}
	}
}

// writeTableHeader prints a title line and the header of a Markdown table whose left
// columns hold text and whose right columns hold figures (right-aligned).
func writeTableHeader(w io.Writer, title string, left, right []string) {
	cols := slices.Concat(left, right)
	fmt.Fprintf(w, "%s\n\n| %s |\n|%s%s\n", title, strings.Join(cols, " | "),
		strings.Repeat("---|", len(left)), strings.Repeat("---:|", len(right)))
}

// Check is one issue target and whether the tunnel met it.
type Check struct {
	Name, Measured string
	Met            bool
}

// Checks evaluates the targets for the tunnel binary: throughput >= 0.9x direct
// (keep-alive and pipelined), new connections/s >= 0.95x direct, ahead of HAProxy in
// every cell, added p50 < 0.1 ms (keep-alive), 10k idle clients < 100 MiB RSS.
func (r *PerfReport) Checks() []Check {
	s := Summarize(r.Samples)
	var out []Check
	latencyMode := ""
	for _, m := range r.Modes {
		if m.LatencyOnly {
			latencyMode = m.Name
			continue
		}
		want := 0.9
		if m.NewConns {
			want = 0.95
		}
		for _, t := range []string{"SET", "GET"} {
			d, tun, ha := s.RPS(TargetDirect, m.Name, t), s.RPS(TargetTunnel, m.Name, t), s.RPS(TargetHAProxy, m.Name, t)
			out = append(out, Check{Name: fmt.Sprintf("%s %s >= %.2fx direct", m.Name, t, want),
				Measured: fmt.Sprintf("%.2fx", ratio(tun, d)), Met: ratio(tun, d) >= want})
			out = append(out, Check{Name: fmt.Sprintf("%s %s ahead of HAProxy", m.Name, t),
				Measured: fmt.Sprintf("%.2fx HAProxy", ratio(tun, ha)), Met: tun > ha})
		}
	}
	// CPU per request: the cost of the hop itself, comparable with HAProxy's.
	for _, m := range r.Modes {
		tun, ha := s.CPU(TargetTunnel, m.Name), s.CPU(TargetHAProxy, m.Name)
		if tun == 0 || ha == 0 {
			continue
		}
		out = append(out, Check{Name: fmt.Sprintf("%s proxy CPU per request <= HAProxy", m.Name),
			Measured: fmt.Sprintf("%.1f µs vs %.1f µs (%.2fx)", tun, ha, ratio(tun, ha)), Met: tun <= ha})
	}
	// Added p50 on the unsaturated single-client mode, and on -c 50 for reference.
	modes := []string{latencyMode}
	if len(r.Modes) > 0 {
		modes = append(modes, r.Modes[0].Name)
	}
	for _, m := range modes {
		if m == "" {
			continue
		}
		for _, t := range []string{"SET", "GET"} {
			added := s.P50(TargetTunnel, m, t) - s.P50(TargetDirect, m, t)
			out = append(out, Check{Name: fmt.Sprintf("%s %s added p50 < 0.1 ms", m, t),
				Measured: fmt.Sprintf("%+.3f ms (HAProxy %+.3f ms)", added, s.P50(TargetHAProxy, m, t)-s.P50(TargetDirect, m, t)), Met: added < 0.1})
		}
	}
	for _, i := range r.Idle {
		if i.Target != TargetTunnel {
			continue
		}
		want := r.Options.IdleClients
		measured := fmt.Sprintf("%d open, %.1f MiB", i.Clients, mib(i.RSSAfter))
		rss := float64(i.RSSAfter)
		if r.IdleCapped > want && i.Clients > 0 {
			// Scale the per-client growth to the asked count; the file limit allowed fewer.
			rss = float64(i.RSSBefore) + float64(i.RSSAfter-i.RSSBefore)*float64(r.IdleCapped)/float64(i.Clients)
			measured += fmt.Sprintf(", %.1f MiB extrapolated to %d", rss/(1<<20), r.IdleCapped)
			want = r.IdleCapped
		}
		out = append(out, Check{Name: fmt.Sprintf("%d idle clients < 100 MiB RSS", want),
			Measured: measured,
			Met:      i.Clients == r.Options.IdleClients && i.Err == "" && rss < 100<<20})
	}
	return out
}
