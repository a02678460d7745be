package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	fs.IntVar(&o.Kills, "kills", 3, "kill -9 rounds (-1 for none)")
	fs.DurationVar(&o.DownAfter, "down-after", time.Second, "Sentinel down-after-milliseconds")
	fs.DurationVar(&o.FailoverTimeout, "failover-timeout", 5*time.Second, "Sentinel failover-timeout")
	fs.DurationVar(&o.Settle, "settle", time.Second, "undisturbed writing before each round")
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
