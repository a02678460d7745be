package tunnel

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{Sentinels: []string{"s:26379"}, Masters: []Endpoint{{Name: "m", Listen: ":6379"}}}
	}
	tests := map[string]struct {
		reason  string
		mutate  func(*Config)
		wantErr string
	}{
		"valid":             {reason: "minimal config", mutate: func(*Config) {}},
		"no sentinels":      {reason: "required", mutate: func(c *Config) { c.Sentinels = nil }, wantErr: "Sentinels: at least one"},
		"bad sentinel":      {reason: "host:port", mutate: func(c *Config) { c.Sentinels = []string{"s"} }, wantErr: "Sentinels: \"s\""},
		"no masters":        {reason: "required", mutate: func(c *Config) { c.Masters = nil }, wantErr: "Masters: at least one"},
		"bad listen":        {reason: "host:port", mutate: func(c *Config) { c.Masters[0].Listen = "6379" }, wantErr: "Masters: listen address"},
		"space in name":     {reason: "Sentinel names have no spaces", mutate: func(c *Config) { c.Masters[0].Name = "a b" }, wantErr: "Masters: master name"},
		"duplicate":         {reason: "one listener per name", mutate: func(c *Config) { c.Masters = append(c.Masters, c.Masters[0]) }, wantErr: "given twice"},
		"orphan replicas":   {reason: "needs a master", mutate: func(c *Config) { c.Replicas = []Endpoint{{Name: "x", Listen: ":1"}} }, wantErr: "Replicas: \"x\" has no Masters entry"},
		"negative hold":     {reason: "durations", mutate: func(c *Config) { c.FailoverHold = -time.Second }, wantErr: "FailoverHold"},
		"negative clients":  {reason: "limit", mutate: func(c *Config) { c.MaxClients = -1 }, wantErr: "MaxClients"},
		"bad data path":     {reason: "two engines", mutate: func(c *Config) { c.DataPath = "epoll" }, wantErr: "DataPath: \"epoll\" is not"},
		"goroutines":        {reason: "A/B switch", mutate: func(c *Config) { c.DataPath = DataPathGoroutines }},
		"replicas for name": {reason: "read-only endpoint next to the master", mutate: func(c *Config) { c.Replicas = []Endpoint{{Name: "m", Listen: ":6380"}} }},
		"cluster mode": {reason: "Cluster replaces Sentinels and Masters", mutate: func(c *Config) {
			c.Sentinels, c.Masters, c.Cluster = nil, nil, &ClusterConfig{Seeds: []string{"n:7000"}, Listen: ":6379"}
		}},
		"cluster and sentinels": {reason: "one mode at a time", mutate: func(c *Config) {
			c.Masters, c.Cluster = nil, &ClusterConfig{Seeds: []string{"n:7000"}, Listen: ":6379"}
		}, wantErr: "Cluster: cannot be combined with Sentinels"},
		"cluster and masters": {reason: "one listener in cluster mode", mutate: func(c *Config) {
			c.Sentinels, c.Cluster = nil, &ClusterConfig{Seeds: []string{"n:7000"}, Listen: ":6379"}
		}, wantErr: "Cluster: cannot be combined with Masters or Replicas"},
		"cluster no seeds": {reason: "seeds required", mutate: func(c *Config) {
			c.Sentinels, c.Masters, c.Cluster = nil, nil, &ClusterConfig{Listen: ":6379"}
		}, wantErr: "Cluster.Seeds: at least one"},
		"cluster bad seed": {reason: "host:port", mutate: func(c *Config) {
			c.Sentinels, c.Masters, c.Cluster = nil, nil, &ClusterConfig{Seeds: []string{"n"}, Listen: ":6379"}
		}, wantErr: "Cluster.Seeds: \"n\" is not host:port"},
		"cluster bad listen": {reason: "host:port", mutate: func(c *Config) {
			c.Sentinels, c.Masters, c.Cluster = nil, nil, &ClusterConfig{Seeds: []string{"n:1"}, Listen: "6379"}
		}, wantErr: "Cluster.Listen: \"6379\" is not host:port"},
		"cluster negative refresh": {reason: "durations", mutate: func(c *Config) {
			c.Sentinels, c.Masters, c.Cluster = nil, nil, &ClusterConfig{Seeds: []string{"n:1"}, Listen: ":1", RefreshInterval: -time.Second}
		}, wantErr: "Cluster.RefreshInterval: must not be negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := valid()
			tc.mutate(&cfg)
			_, err := New(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("%s: New() error = %v", tc.reason, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%s: New() error = %v, want containing %q", tc.reason, err, tc.wantErr)
			}
		})
	}
}

func TestAcceptBackoffAndLimiter(t *testing.T) {
	var b acceptBackoff
	var got []time.Duration
	for i := 0; i < 10; i++ {
		got = append(got, b.next())
	}
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond,
		80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond, 640 * time.Millisecond, time.Second, time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff sequence -want +got:\n%s", diff)
	}
	b.reset()
	if d := b.next(); d != 5*time.Millisecond {
		t.Errorf("after reset: %s", d)
	}

	l := &clientLimiter{max: 2}
	results := []bool{l.acquire(), l.acquire(), l.acquire()}
	l.release()
	results = append(results, l.acquire())
	if diff := cmp.Diff([]bool{true, true, false, true}, results); diff != "" {
		t.Errorf("limiter -want +got:\n%s", diff)
	}
}
