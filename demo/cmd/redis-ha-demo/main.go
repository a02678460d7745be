// Command redis-ha-demo runs a RedisHA on this machine with no cluster: the composition
// function renders the example, the composed Redis, Sentinel and tunnel run as local
// processes, and the demo application keeps writing through two failovers. See package demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis-ha/redis-ha/demo"
)

func main() {
	o := demo.Options{Out: os.Stdout}
	flag.StringVar(&o.Example, "example", "examples/redisha.yaml", "the RedisHA to render and run")
	flag.StringVar(&o.BinDir, "bin-dir", "_output/bin", "where redis-ha-tunnel and demo-app were built")
	flag.StringVar(&o.WorkDir, "work-dir", "", "keep configs, data and logs here (default: a temporary directory, removed at the end)")
	flag.DurationVar(&o.Warmup, "warmup", 0, "how long the application writes before the first failover (default 3s)")
	flag.BoolVar(&o.KeepRunning, "keep-running", false, "leave everything running after the report, until Ctrl-C")
	flag.StringVar(&o.ReportPath, "report", "", "also write the report as JSON to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "redis-ha-demo: unexpected argument %q: use flags, e.g. --example=%s\n", flag.Arg(0), flag.Arg(0))
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := demo.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "redis-ha-demo:", err)
		os.Exit(1)
	}
}
