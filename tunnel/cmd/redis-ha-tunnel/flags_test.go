package main

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/redis-ha/redis-ha/tunnel"
)

func defaults(mut func(o *options)) *options {
	o := &options{
		Sentinels:        []string{"s0:26379", "s1:26379"},
		Masters:          []tunnel.Endpoint{{Name: "mymaster", Listen: ":6379"}},
		MetricsListen:    ":8080",
		MaxClients:       10000,
		FailoverHold:     10 * time.Second,
		DrainTimeout:     15 * time.Second,
		DialTimeout:      2 * time.Second,
		ReadTimeout:      2 * time.Second,
		PollInterval:     time.Second,
		ReattachReplicas: true,
		LogLevel:         "info",
		LogFormat:        "text",
		DataPath:         "reactor",

		ClusterRefresh:      2 * time.Second,
		ClusterMaxRedirects: 5,
	}
	if mut != nil {
		mut(o)
	}
	return o
}

func TestParseFlags(t *testing.T) {
	base := []string{"--sentinels", "s0:26379,s1:26379", "--master", "mymaster=:6379"}
	files := map[string]string{"/run/pw": "file-secret\n"}
	readFile := func(name string) ([]byte, error) {
		if v, ok := files[name]; ok {
			return []byte(v), nil
		}
		return nil, os.ErrNotExist
	}
	tests := map[string]struct {
		reason  string
		args    []string
		env     map[string]string
		want    *options
		wantErr string
	}{
		"minimal": {
			reason: "the two required flags, everything else defaulted per the contract",
			args:   base,
			want:   defaults(nil),
		},
		"everything": {
			reason: "every flag of the contract is accepted",
			args: append(append([]string(nil), base...), "--master", "other=127.0.0.1:7000", "--replicas", "mymaster=:6380",
				"--metrics-listen", ":9090", "--sentinel-username", "su", "--sentinel-password-file", "/run/pw",
				"--redis-username", "ru", "--max-clients", "5", "--failover-hold", "3s", "--drain-timeout", "1s",
				"--dial-timeout", "100ms", "--read-timeout", "200ms", "--poll-interval", "500ms", "--log-level", "debug",
				"--log-format", "json", "--upstream-tls", "--upstream-tls-server-name", "redis.svc"),
			env: map[string]string{"REDIS_HA_TUNNEL_REDIS_PASSWORD": "env-secret"},
			want: defaults(func(o *options) {
				o.Masters = append(o.Masters, tunnel.Endpoint{Name: "other", Listen: "127.0.0.1:7000"})
				o.Replicas = []tunnel.Endpoint{{Name: "mymaster", Listen: ":6380"}}
				o.MetricsListen = ":9090"
				o.SentinelUsername, o.SentinelPasswordFile, o.SentinelPassword = "su", "/run/pw", "file-secret"
				o.RedisUsername, o.RedisPassword = "ru", "env-secret"
				o.MaxClients, o.FailoverHold, o.DrainTimeout = 5, 3*time.Second, time.Second
				o.DialTimeout, o.ReadTimeout, o.PollInterval = 100*time.Millisecond, 200*time.Millisecond, 500*time.Millisecond
				o.LogLevel, o.LogFormat = "debug", "json"
				o.UpstreamTLS, o.UpstreamTLSServer = true, "redis.svc"
			}),
		},
		"env fallback": {
			reason: "every flag can come from REDIS_HA_TUNNEL_<FLAG>; repeatable ones comma-separated",
			env: map[string]string{
				"REDIS_HA_TUNNEL_SENTINELS":     "a:1, b:2",
				"REDIS_HA_TUNNEL_MASTER":        "m1=:1,m2=:2",
				"REDIS_HA_TUNNEL_MAX_CLIENTS":   "7",
				"REDIS_HA_TUNNEL_FAILOVER_HOLD": "4s",
				"REDIS_HA_TUNNEL_UPSTREAM_TLS":  "true",
			},
			want: defaults(func(o *options) {
				o.Sentinels = []string{"a:1", "b:2"}
				o.Masters = []tunnel.Endpoint{{Name: "m1", Listen: ":1"}, {Name: "m2", Listen: ":2"}}
				o.MaxClients, o.FailoverHold, o.UpstreamTLS = 7, 4*time.Second, true
			}),
		},
		"goroutine data path": {
			reason: "--data-path goroutines, also from the environment, selects the goroutine pumps for A/B runs",
			args:   base,
			env:    map[string]string{"REDIS_HA_TUNNEL_DATA_PATH": "goroutines"},
			want:   defaults(func(o *options) { o.DataPath = "goroutines" }),
		},
		"leave replicas to sentinel": {
			reason: "--reattach-replicas=false, also from the environment, turns the early REPLICAOF off",
			args:   base,
			env:    map[string]string{"REDIS_HA_TUNNEL_REATTACH_REPLICAS": "false"},
			want:   defaults(func(o *options) { o.ReattachReplicas = false }),
		},
		"flag beats env": {
			reason: "a flag given on the command line wins over its environment variable",
			args:   append(append([]string(nil), base...), "--max-clients", "3"),
			env:    map[string]string{"REDIS_HA_TUNNEL_MAX_CLIENTS": "9", "REDIS_HA_TUNNEL_SENTINELS": "ignored:1"},
			want:   defaults(func(o *options) { o.MaxClients = 3 }),
		},
		"cluster mode": {
			reason: "--cluster and --listen replace --sentinels and --master",
			args:   []string{"--cluster", "n0:7000,n1:7001", "--listen", ":6379", "--cluster-refresh-interval", "500ms", "--cluster-max-redirects", "3"},
			want: defaults(func(o *options) {
				o.Sentinels, o.Masters = nil, nil
				o.Cluster, o.Listen = []string{"n0:7000", "n1:7001"}, ":6379"
				o.ClusterRefresh, o.ClusterMaxRedirects = 500*time.Millisecond, 3
			}),
		},
		"cluster mode from env": {
			reason: "REDIS_HA_TUNNEL_CLUSTER and REDIS_HA_TUNNEL_LISTEN like every flag",
			env:    map[string]string{"REDIS_HA_TUNNEL_CLUSTER": "n0:7000", "REDIS_HA_TUNNEL_LISTEN": "127.0.0.1:6379"},
			want: defaults(func(o *options) {
				o.Sentinels, o.Masters = nil, nil
				o.Cluster, o.Listen = []string{"n0:7000"}, "127.0.0.1:6379"
			}),
		},
		"cluster and sentinels": {reason: "the modes exclude each other", args: append(append([]string(nil), base...), "--cluster", "n0:7000", "--listen", ":6379"),
			wantErr: "flags --cluster and --sentinels exclude each other"},
		"cluster and sentinel auth": {reason: "Sentinel settings mean Sentinel mode", args: []string{"--cluster", "n0:7000", "--listen", ":1", "--sentinel-username", "u"},
			wantErr: "flags --cluster and --sentinel-username exclude each other"},
		"cluster without listen": {reason: "cluster mode needs its listen address", args: []string{"--cluster", "n0:7000"}, wantErr: "flag --listen is required with --cluster"},
		"cluster bad listen":     {reason: "host:port", args: []string{"--cluster", "n0:7000", "--listen", "6379"}, wantErr: "flag --listen: \"6379\" is not host:port"},
		"cluster bad seed":       {reason: "host:port", args: []string{"--cluster", "n0", "--listen", ":1"}, wantErr: "flag --cluster"},
		"listen without cluster": {reason: "Sentinel mode listens per --master", args: append(append([]string(nil), base...), "--listen", ":6379"), wantErr: "flag --listen needs --cluster"},
		"missing sentinels":      {reason: "required", args: []string{"--master", "m=:1"}, wantErr: "flag --sentinels is required"},
		"missing master":         {reason: "required", args: []string{"--sentinels", "a:1"}, wantErr: "flag --master is required"},
		"bad sentinel":           {reason: "host:port", args: []string{"--sentinels", "a", "--master", "m=:1"}, wantErr: "flag --sentinels"},
		"bad master":             {reason: "NAME=ADDR", args: []string{"--sentinels", "a:1", "--master", "m"}, wantErr: "flag --master"},
		"bad master addr":        {reason: "host:port", args: []string{"--sentinels", "a:1", "--master", "m=6379"}, wantErr: "flag --master"},
		"duplicate master":       {reason: "one listener per name", args: append(append([]string(nil), base...), "--master", "mymaster=:1"), wantErr: "given twice"},
		"bad number":             {reason: "names flag", args: append(append([]string(nil), base...), "--max-clients", "many"), wantErr: "flag --max-clients"},
		"bad data path":          {reason: "names the flag and the choices", args: append(append([]string(nil), base...), "--data-path", "epoll"), wantErr: "flag --data-path must be reactor or goroutines"},
		"zero clients":           {reason: "positive", args: append(append([]string(nil), base...), "--max-clients", "0"), wantErr: "flag --max-clients must be > 0"},
		"bad duration env":       {reason: "names flag and env", args: base, env: map[string]string{"REDIS_HA_TUNNEL_DRAIN_TIMEOUT": "soon"}, wantErr: "flag --drain-timeout: invalid value \"soon\" from REDIS_HA_TUNNEL_DRAIN_TIMEOUT"},
		"negative hold":          {reason: "positive", args: append(append([]string(nil), base...), "--failover-hold", "-1s"), wantErr: "flag --failover-hold must be a positive duration"},
		"bad level":              {reason: "enum", args: append(append([]string(nil), base...), "--log-level", "loud"), wantErr: "flag --log-level"},
		"bad format":             {reason: "enum", args: append(append([]string(nil), base...), "--log-format", "xml"), wantErr: "flag --log-format"},
		"cert without key":       {reason: "pairs", args: append(append([]string(nil), base...), "--tls-cert-file", "c.pem"), wantErr: "flag --tls-cert-file and --tls-key-file"},
		"ca without tls":         {reason: "needs upstream-tls", args: append(append([]string(nil), base...), "--upstream-tls-ca-file", "ca.pem"), wantErr: "flag --upstream-tls-ca-file needs --upstream-tls"},
		"replicas orphan":        {reason: "name must have a master", args: append(append([]string(nil), base...), "--replicas", "x=:1"), wantErr: "flag --replicas: x has no --master"},
		"missing pw file":        {reason: "names flag", args: append(append([]string(nil), base...), "--redis-password-file", "/nope"), wantErr: "flag --redis-password-file: cannot read /nope"},
		"unknown flag":           {reason: "typo", args: append(append([]string(nil), base...), "--max-client", "1"), wantErr: "unknown flag --max-client"},
		"positional":             {reason: "no positional args", args: append(append([]string(nil), base...), "extra"), wantErr: "unexpected argument \"extra\""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			got, err := parseFlags(tc.args, getenv, readFile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: parseFlags() error = %v, want containing %q", tc.reason, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: error spans lines: %q", tc.reason, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: parseFlags() error = %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: parseFlags() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	if _, err := parseFlags([]string{"--help"}, func(string) string { return "" }, os.ReadFile); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: err = %v, want flag.ErrHelp", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := envName("upstream-tls-ca-file"); got != "REDIS_HA_TUNNEL_UPSTREAM_TLS_CA_FILE" {
		t.Errorf("envName = %q", got)
	}
}
