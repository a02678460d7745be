package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-ha/redis-ha/tunnel/bench"
)

func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o bench.ChaosOptions
	var svgPath string
	var bucket time.Duration
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.TunnelBinary, "tunnel-binary", "_output/bin/redis-ha-tunnel", "redis-ha-tunnel executable to test")
	fs.IntVar(&o.Graceful, "graceful", 3, "SENTINEL FAILOVER rounds (-1 for none)")
	fs.IntVar(&o.GracefulKillPairs, "graceful-kill-pairs", 0, "then this many SENTINEL FAILOVER rounds each followed at once by a kill -9 round")
	fs.IntVar(&o.Kills, "kills", 3, "then this many kill -9 rounds (-1 for none)")
	fs.DurationVar(&o.DownAfter, "down-after", time.Second, "Sentinel down-after-milliseconds")
	fs.DurationVar(&o.FailoverTimeout, "failover-timeout", 5*time.Second, "Sentinel failover-timeout")
	fs.DurationVar(&o.Settle, "settle", time.Second, "undisturbed writing before each round")
	fs.IntVar(&o.WriteRate, "write-rate", 0, "writes a second per writer (0: as fast as the path answers)")
	fs.DurationVar(&o.KillDownFor, "kill-down-for", 0, "how long a killed master stays dead after the Sentinels named a new one")
	fs.DurationVar(&o.SentinelPingPeriod, "sentinel-ping-period", 0, "SENTINEL DEBUG ping-period for every Sentinel (above --down-after: Sentinel fails over a healthy new master at most switches)")
	var sentinelLog string
	fs.StringVar(&sentinelLog, "sentinel-log", "", "write every Sentinel event of the run to this file (each line starts with the path whose cluster it belongs to)")
	fs.StringVar(&svgPath, "svg", "docs/images/failover-timeline.svg", "where to write the timeline SVG (empty: none)")
	fs.DurationVar(&bucket, "bucket", 10*time.Millisecond, "timeline bucket width")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if bucket <= 0 {
		return fmt.Errorf("flag --bucket must be positive, got %s", bucket)
	}
	o.Progress = stderr
	rep, err := bench.RunChaos(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "## make chaos-tunnel, %s (took %s)\n\n", rep.Started.UTC().Format(time.RFC3339), rep.Duration.Round(time.Second))
	fmt.Fprintf(stdout, "%s\nLoad average (1/5/15 min) before: %s, after: %s\n\n", bench.MachineInfo(), rep.LoadBefore, rep.LoadAfter)
	rep.WriteMarkdown(stdout)
	fmt.Fprintln(stdout)
	rep.WriteTargets(stdout)
	if sentinelLog != "" {
		var lines []string
		for _, p := range rep.Paths {
			for _, l := range p.SentinelLog {
				lines = append(lines, p.Name+" "+l)
			}
		}
		if err := os.WriteFile(sentinelLog, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("flag --sentinel-log: %w", err)
		}
	}
	if svgPath != "" {
		if err := os.MkdirAll(filepath.Dir(svgPath), 0o755); err != nil {
			return fmt.Errorf("flag --svg: %w", err)
		}
		f, err := os.Create(svgPath)
		if err != nil {
			return fmt.Errorf("flag --svg: %w", err)
		}
		if err := rep.Timeline(bucket).WriteSVG(f); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", svgPath, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", svgPath, err)
		}
		fmt.Fprintf(stdout, "\nTimeline: %s\n", svgPath)
	}
	return nil
}
