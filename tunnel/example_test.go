package tunnel_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/redis-ha/redis-ha/tunnel"
)

// Example runs a tunnel for one Sentinel master name with its metrics and health
// endpoints, and drains on shutdown. (Compiled, not run: it needs real Sentinels.)
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t, err := tunnel.New(tunnel.Config{
		Sentinels:    []string{"sentinel-0.sentinel:26379", "sentinel-1.sentinel:26379", "sentinel-2.sentinel:26379"},
		Masters:      []tunnel.Endpoint{{Name: "mymaster", Listen: ":6379"}},
		Replicas:     []tunnel.Endpoint{{Name: "mymaster", Listen: ":6380"}},
		FailoverHold: 10 * time.Second,
		Logger:       slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		slog.Error("bad config", "err", err)
		return
	}
	if err := t.Start(ctx); err != nil {
		slog.Error("listen", "err", err)
		return
	}
	go func() { _ = http.ListenAndServe(":8080", t.Handler()) }()

	<-ctx.Done() // e.g. signal.NotifyContext(ctx, syscall.SIGTERM)
	drain, stop := context.WithTimeout(context.Background(), 15*time.Second)
	defer stop()
	_ = t.Shutdown(drain)
}
