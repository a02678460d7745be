// Command redis-ha-tunnel-bench runs the tunnel benchmarks of package
// github.com/redis-ha/redis-ha/tunnel/bench on real Redis processes on loopback:
//
//	redis-ha-tunnel-bench perf  --tunnel-binary _output/bin/redis-ha-tunnel   (make bench-tunnel)
//	redis-ha-tunnel-bench chaos --tunnel-binary _output/bin/redis-ha-tunnel   (make chaos-tunnel)
//	redis-ha-tunnel-bench forward --listen ADDR --target ADDR --copy rawread   (reference forwarder perf starts)
//
// This file only wires flags; results go to stdout as Markdown, progress to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis-ha/redis-ha/tunnel/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: redis-ha-tunnel-bench perf|chaos|forward [flags] (-h for flags)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "perf":
		err = runPerf(ctx, args[1:], stdout, stderr)
	case "chaos":
		err = runChaos(ctx, args[1:], stdout, stderr)
	case "forward":
		err = runForward(ctx, args[1:], stderr)
	default:
		fmt.Fprintf(stderr, "redis-ha-tunnel-bench: unknown subcommand %q; %s\n", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "redis-ha-tunnel-bench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func runPerf(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o bench.PerfOptions
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.TunnelBinary, "tunnel-binary", "_output/bin/redis-ha-tunnel", "redis-ha-tunnel executable to measure")
	fs.StringVar(&o.RedisBenchmark, "redis-benchmark", "redis-benchmark", "redis-benchmark executable")
	fs.IntVar(&o.Requests, "requests", 200000, "requests per keep-alive run (-n; pipelined runs use 4x)")
	fs.IntVar(&o.NewConnRequests, "newconn-requests", 20000, "requests per -k 0 run (one TCP connection each)")
	fs.IntVar(&o.Clients, "clients", 50, "redis-benchmark -c")
	fs.IntVar(&o.Pipeline, "pipeline", 16, "redis-benchmark -P for the pipelined mode")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds of the whole matrix (medians are reported)")
	fs.IntVar(&o.IdleClients, "idle-clients", 10000, "idle connections for the RSS measurement (-1 skips)")
	fs.BoolVar(&o.InProcess, "inprocess", false, "also measure the tunnel as a library inside this process")
	fs.BoolVar(&o.Forwarders, "forwarders", false, "also measure minimal reference forwarders (splice, read/write, rawread copy) as child processes")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the in-process tunnel (needs --inprocess)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.Progress = stderr
	rep, err := bench.RunPerf(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "## make bench-tunnel, %s (took %s)\n\n", rep.Started.UTC().Format(time.RFC3339), rep.Duration.Round(time.Second))
	fmt.Fprintf(stdout, "%s\nLoad average (1/5/15 min) before: %s, after: %s\n\n", bench.MachineInfo(), rep.LoadBefore, rep.LoadAfter)
	rep.WriteMarkdown(stdout)
	return nil
}

func runForward(ctx context.Context, args []string, stderr io.Writer) error {
	var listen, target, mode string
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "listen address")
	fs.StringVar(&target, "target", "", "host:port to forward every connection to (required)")
	fs.StringVar(&mode, "copy", bench.CopySplice, fmt.Sprintf("copy mode, one of %v", bench.CopyModes))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if target == "" {
		return errors.New("flag --target is required")
	}
	f, err := bench.StartForwarder(ctx, listen, target, mode)
	if err != nil {
		return fmt.Errorf("flag --copy/--listen: %w", err)
	}
	<-ctx.Done()
	f.Close()
	return nil
}
