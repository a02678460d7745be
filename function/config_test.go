package function

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// confLines returns the non-comment, non-blank lines of a rendered config.
func confLines(conf string) []string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func configInstance(t *testing.T, mutate func(*v1alpha1.RedisHASpec)) *instance {
	t.Helper()
	in := testInstance(mutate)
	var errs field.ErrorList
	if in.parsed, errs = in.spec.Parse(); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	return in
}

func TestRenderRedisConf(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     func(t *testing.T) *instance
		want   []string
	}{
		"DefaultsAOF": {
			reason: "AOF with fsync every second, maxmemory 75% of the small preset's 256Mi, the replica write guard.",
			in:     func(t *testing.T) *instance { return configInstance(t, nil) },
			want: []string{
				"port 6379", "protected-mode no", "dir /data",
				"appendonly yes", "appendfsync everysec", `save ""`,
				"maxmemory 201326592", "maxmemory-policy noeviction",
				"min-replicas-to-write 1", "min-replicas-max-lag 10",
				"replica-read-only yes", "replica-serve-stale-data yes", "repl-diskless-sync yes", "repl-diskless-sync-delay 0",
			},
		},
		"RDBTLSAndExtraSettings": {
			reason: "RDB snapshots, TLS-only ports, extra settings sorted and quoted where needed, after the managed ones so they win.",
			in: func(t *testing.T) *instance {
				return configInstance(t, func(s *v1alpha1.RedisHASpec) {
					s.Size = v1alpha1.SizeMedium
					s.Redis.Persistence.Mode = v1alpha1.PersistenceRDB
					s.Redis.MaxMemoryPolicy = "allkeys-lru"
					s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
					s.Redis.Config = map[string]v1alpha1.RedisConfigValue{"timeout": "300", "notify-keyspace-events": "", "appendfsync": "always"}
				})
			},
			want: []string{
				"port 0", "tls-port 6379",
				"tls-cert-file /etc/redis-ha/tls/tls.crt", "tls-key-file /etc/redis-ha/tls/tls.key", "tls-ca-cert-file /etc/redis-ha/tls/ca.crt",
				"tls-replication yes", "tls-auth-clients no",
				"protected-mode no", "dir /data",
				"appendonly no", "save 3600 1 300 100 60 10000",
				"maxmemory 805306368", "maxmemory-policy allkeys-lru",
				"min-replicas-to-write 1", "min-replicas-max-lag 10",
				"replica-read-only yes", "replica-serve-stale-data yes", "repl-diskless-sync yes", "repl-diskless-sync-delay 0",
				"appendfsync always", `notify-keyspace-events ""`, "timeout 300",
			},
		},
		"NoPersistence": {
			reason: "Memory only: no AOF, no snapshots.",
			in: func(t *testing.T) *instance {
				return configInstance(t, func(s *v1alpha1.RedisHASpec) { s.Redis.Persistence.Mode = v1alpha1.PersistenceNone })
			},
			want: []string{
				"port 6379", "protected-mode no", "dir /data",
				"appendonly no", `save ""`,
				"maxmemory 201326592", "maxmemory-policy noeviction",
				"min-replicas-to-write 1", "min-replicas-max-lag 10",
				"replica-read-only yes", "replica-serve-stale-data yes", "repl-diskless-sync yes", "repl-diskless-sync-delay 0",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, confLines(renderRedisConf(tc.in(t)))); diff != "" {
				t.Errorf("%s\nrenderRedisConf(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRenderClusterRedisConf(t *testing.T) {
	cluster := []string{
		"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 5000",
		"cluster-preferred-endpoint-type hostname", "cluster-allow-replica-migration no", "cluster-require-full-coverage no",
	}
	cases := map[string]struct {
		reason string
		in     func(t *testing.T) *instance
		want   [][]string // in order
	}{
		"Defaults": {
			reason: "The sentinel mode's data settings, the cluster settings, and no min-replicas-to-write.",
			in: func(t *testing.T) *instance {
				return configInstance(t, func(s *v1alpha1.RedisHASpec) { s.Mode = v1alpha1.ModeCluster })
			},
			want: [][]string{
				{"port 6379", "protected-mode no", "dir /data", "appendonly yes", "appendfsync everysec", `save ""`, "maxmemory 201326592", "maxmemory-policy noeviction"},
				cluster,
				{"replica-read-only yes", "replica-serve-stale-data yes", "repl-diskless-sync yes", "repl-diskless-sync-delay 0"},
			},
		},
		"TLSAndExtraSettings": {
			reason: "The cluster bus uses TLS too; extra settings come last so they win.",
			in: func(t *testing.T) *instance {
				return configInstance(t, func(s *v1alpha1.RedisHASpec) {
					s.Mode = v1alpha1.ModeCluster
					s.Redis.Persistence.Mode = v1alpha1.PersistenceNone
					s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
					s.Redis.Config = map[string]v1alpha1.RedisConfigValue{"timeout": "300"}
				})
			},
			want: [][]string{
				{"port 0", "tls-port 6379",
					"tls-cert-file /etc/redis-ha/tls/tls.crt", "tls-key-file /etc/redis-ha/tls/tls.key", "tls-ca-cert-file /etc/redis-ha/tls/ca.crt",
					"tls-replication yes", "tls-auth-clients no", "protected-mode no", "dir /data", "tls-cluster yes",
					"appendonly no", `save ""`, "maxmemory 201326592", "maxmemory-policy noeviction"},
				cluster,
				{"replica-read-only yes", "replica-serve-stale-data yes", "repl-diskless-sync yes", "repl-diskless-sync-delay 0", "timeout 300"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(slices.Concat(tc.want...), confLines(renderClusterRedisConf(tc.in(t)))); diff != "" {
				t.Errorf("%s\nrenderClusterRedisConf(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRenderSentinelConf(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     func(t *testing.T) *instance
		want   []string
	}{
		"Defaults": {
			reason: "Host names resolved and announced, declared before the monitor line that names pod 0 with the majority quorum.",
			in:     func(t *testing.T) *instance { return configInstance(t, nil) },
			want: []string{
				"port 26379", "protected-mode no", "dir /data",
				"sentinel resolve-hostnames yes", "sentinel announce-hostnames yes",
				"sentinel monitor mymaster cache-redis-0.cache-redis-headless.default.svc 6379 2",
				"sentinel down-after-milliseconds mymaster 5000",
				"sentinel failover-timeout mymaster 60000",
				"sentinel parallel-syncs mymaster 1",
			},
		},
		"FiveSentinelsQuorumFourTLS": {
			reason: "Explicit quorum and TLS ports.",
			in: func(t *testing.T) *instance {
				return configInstance(t, func(s *v1alpha1.RedisHASpec) {
					s.Sentinel.Replicas, s.Sentinel.Quorum = 5, 4
					s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
				})
			},
			want: []string{
				"port 0", "tls-port 26379",
				"tls-cert-file /etc/redis-ha/tls/tls.crt", "tls-key-file /etc/redis-ha/tls/tls.key", "tls-ca-cert-file /etc/redis-ha/tls/ca.crt",
				"tls-replication yes", "tls-auth-clients no",
				"protected-mode no", "dir /data",
				"sentinel resolve-hostnames yes", "sentinel announce-hostnames yes",
				"sentinel monitor mymaster cache-redis-0.cache-redis-headless.default.svc 6379 4",
				"sentinel down-after-milliseconds mymaster 5000",
				"sentinel failover-timeout mymaster 60000",
				"sentinel parallel-syncs mymaster 1",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, confLines(renderSentinelConf(tc.in(t)))); diff != "" {
				t.Errorf("%s\nrenderSentinelConf(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestQuoteConfValue(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   string
	}{
		"Word":      {reason: "A plain word stays bare.", in: "300", want: "300"},
		"Empty":     {reason: "Empty needs quotes or Redis reads no argument.", in: "", want: `""`},
		"Spaces":    {reason: "Spaces are quoted.", in: "a b", want: `"a b"`},
		"Backslash": {reason: "Quotes and backslashes are escaped.", in: `a"b\c`, want: `"a\"b\\c"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := quoteConfValue(tc.in); got != tc.want {
				t.Errorf("%s\nquoteConfValue(%q) = %s, want %s", tc.reason, tc.in, got, tc.want)
			}
		})
	}
}

func TestConfigChecksum(t *testing.T) {
	a := map[string]string{"redis.conf": "x", "sentinel.conf": "y"}
	b := map[string]string{"sentinel.conf": "y", "redis.conf": "x"}
	c := map[string]string{"redis.conf": "x", "sentinel.conf": "z"}
	if configChecksum(a) != configChecksum(b) {
		t.Error("configChecksum depends on map order; pods would roll on every reconcile")
	}
	if configChecksum(a) == configChecksum(c) {
		t.Error("configChecksum did not change with the config; pods would not pick up a change")
	}
	if configChecksum(a, configKeyRedis) != configChecksum(c, configKeyRedis) {
		t.Error("a sentinel.conf change changed the Redis checksum; it would restart Redis and fail over for nothing")
	}
}

// TestConfigKeysCoverConfigMap guards the per-component checksums: every ConfigMap key must be
// read by some component, or a change to it would roll no pod. The one exception is the
// cluster Job's script, which the next Job run reads and which must not restart the cluster.
func TestConfigKeysCoverConfigMap(t *testing.T) {
	cases := map[string]struct {
		reason string
		mode   v1alpha1.Mode
		extra  func(in *instance) []string
	}{
		"Sentinel": {
			reason: "Redis and Sentinel pods read every key between them.",
			mode:   v1alpha1.ModeSentinel,
			extra:  func(*instance) []string { return sentinelConfigKeys() },
		},
		"Cluster": {
			reason: "The Redis pods read every key but the cluster Job's script; there is no sentinel.conf.",
			mode:   v1alpha1.ModeCluster,
			extra:  func(*instance) []string { return []string{"cluster-reconcile.sh"} },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := configInstance(t, func(s *v1alpha1.RedisHASpec) { s.Mode = tc.mode })
			data, err := configData(in)
			if err != nil {
				t.Fatal(err)
			}
			covered := map[string]bool{}
			for _, k := range append(redisConfigKeys(in), tc.extra(in)...) {
				if _, ok := data[k]; !ok {
					t.Errorf("%s\nchecksum key %q is not in the ConfigMap", tc.reason, k)
				}
				covered[k] = true
			}
			for k := range data {
				if !covered[k] {
					t.Errorf("%s\nConfigMap key %q is in no component's checksum", tc.reason, k)
				}
			}
		})
	}
}
