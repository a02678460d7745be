// Command redis-ha-tunnel is the Sentinel-following Redis proxy of redis-ha: applications
// connect to it with a plain Redis client and it forwards their bytes to the current
// master (see package github.com/redis-ha/redis-ha/tunnel). This file only wires flags,
// logging, the metrics server and signals; every flag is also read from the environment
// variable REDIS_HA_TUNNEL_<FLAG> (upper case, dashes as underscores).
//
// SIGTERM or SIGINT: stop accepting, let open sessions finish for up to --drain-timeout,
// close the rest, exit 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis-ha/redis-ha/internal/version"
	"github.com/redis-ha/redis-ha/tunnel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without globals: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, os.ReadFile)
	if errors.Is(err, flag.ErrHelp) {
		fs := newFlagSet(&options{})
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "Usage: redis-ha-tunnel --sentinels host:port,... --master NAME=LISTEN_ADDR [flags]")
		fmt.Fprintln(stdout, "       redis-ha-tunnel --cluster host:port,... --listen ADDR [flags]   (Redis Cluster mode)")
		fs.PrintDefaults()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "redis-ha-tunnel: %v\n", err)
		return 2
	}
	if o.Version {
		fmt.Fprintln(stdout, version.Version)
		return 0
	}
	level, _ := parseLevel(o.LogLevel)
	hopts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(stderr, hopts)
	if o.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(handler)

	cfg, err := o.tunnelConfig(log)
	if err != nil {
		fmt.Fprintf(stderr, "redis-ha-tunnel: %v\n", err)
		return 2
	}
	tun, err := tunnel.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "redis-ha-tunnel: %v\n", err)
		return 2
	}
	metricsLn, err := net.Listen("tcp", o.MetricsListen)
	if err != nil {
		fmt.Fprintf(stderr, "redis-ha-tunnel: flag --metrics-listen: %v\n", err)
		return 1
	}
	if err := tun.Start(ctx); err != nil {
		metricsLn.Close()
		fmt.Fprintf(stderr, "redis-ha-tunnel: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: tun.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("redis-ha-tunnel started", "version", version.Version, "sentinels", o.Sentinels, "cluster", o.Cluster,
		"metrics", metricsLn.Addr().String(), "max_clients", o.MaxClients, "failover_hold", o.FailoverHold)

	<-ctx.Done()
	log.Info("signal received: draining", "drain_timeout", o.DrainTimeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	if err := tun.Shutdown(drainCtx); err != nil {
		log.Warn("drain ended with sessions still open; they were closed", "err", err)
	}
	shutCtx, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	_ = srv.Shutdown(shutCtx)
	log.Info("redis-ha-tunnel stopped")
	return 0
}
