// Command demo-app is the application of the redis-ha demo: a plain Redis client (redigo,
// no Sentinel support) that knows one address only, the tunnel's. It writes unique keys at a
// steady rate, reads some of them back, and counts the writes Redis acknowledged. On SIGUSR1
// it checks that every acknowledged write is still readable and reports how many are missing;
// on SIGINT or SIGTERM (or after --duration) it checks once more and exits.
//
// Every line it prints on stdout is one JSON object (see report.go), so the demo runner and
// people alike can follow it:
//
//	demo-app --addr 127.0.0.1:6379 --rate 2000
//	{"event":"progress","acked":1999,"failed":0,...}
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demo-app:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	verifyRequests := make(chan os.Signal, 1)
	signal.Notify(verifyRequests, syscall.SIGUSR1)
	defer signal.Stop(verifyRequests)

	app := newWriter(cfg, newReporter(os.Stdout))
	return app.run(ctx, verifyRequests)
}

// config is what the flags set.
type config struct {
	addr        string
	username    string
	password    string
	rate        int
	duration    time.Duration
	timeout     time.Duration
	readEvery   int
	keyPrefix   string
	progressDur time.Duration
	gapReport   time.Duration
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("demo-app", flag.ContinueOnError)
	cfg := config{}
	fs.StringVar(&cfg.addr, "addr", envOr("REDIS_ADDR", "127.0.0.1:6379"), "Redis address: the tunnel's Service (env REDIS_ADDR)")
	fs.StringVar(&cfg.username, "username", os.Getenv("REDIS_USERNAME"), "ACL user name, empty for the default user (env REDIS_USERNAME)")
	fs.IntVar(&cfg.rate, "rate", 2000, "writes per second")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until SIGINT/SIGTERM)")
	fs.DurationVar(&cfg.timeout, "timeout", 500*time.Millisecond, "dial, read and write timeout of one command")
	fs.IntVar(&cfg.readEvery, "read-every", 10, "read back one earlier key every N writes (0: never)")
	fs.StringVar(&cfg.keyPrefix, "key-prefix", fmt.Sprintf("demo:%d", time.Now().UnixNano()), "prefix of the keys written")
	fs.DurationVar(&cfg.progressDur, "progress", time.Second, "how often to print a progress line")
	fs.DurationVar(&cfg.gapReport, "gap-report", 100*time.Millisecond, "print a \"resumed\" line when writes resume after a gap this long")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	// The password comes from the environment only, so it never shows in a process list.
	cfg.password = os.Getenv("REDIS_PASSWORD")
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected argument %q: demo-app takes flags only", fs.Arg(0))
	case cfg.rate <= 0 || cfg.rate > 100000:
		return config{}, errors.New("--rate must be between 1 and 100000 writes per second")
	case cfg.timeout <= 0:
		return config{}, errors.New("--timeout must be positive, e.g. 500ms")
	case cfg.readEvery < 0:
		return config{}, errors.New("--read-every must be 0 (never) or positive")
	case cfg.progressDur <= 0:
		return config{}, errors.New("--progress must be positive, e.g. 1s")
	case cfg.gapReport <= 0:
		return config{}, errors.New("--gap-report must be positive, e.g. 100ms")
	}
	return cfg, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
