package function

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

func TestTunnelArgs(t *testing.T) {
	clusterSeeds := "--cluster=" + strings.Join([]string{
		"cache-redis-0-0.cache-redis-headless.default.svc:6379", "cache-redis-0-1.cache-redis-headless.default.svc:6379",
		"cache-redis-1-0.cache-redis-headless.default.svc:6379", "cache-redis-1-1.cache-redis-headless.default.svc:6379",
		"cache-redis-2-0.cache-redis-headless.default.svc:6379", "cache-redis-2-1.cache-redis-headless.default.svc:6379",
	}, ",")
	sentinels := "--sentinels=cache-sentinel-0.cache-sentinel-headless.default.svc:26379,cache-sentinel-1.cache-sentinel-headless.default.svc:26379,cache-sentinel-2.cache-sentinel-headless.default.svc:26379"
	cases := map[string]struct {
		reason string
		in     *instance
		want   []string
	}{
		"Defaults": {
			reason: "Per-pod Sentinel DNS names, the master listener on 6379, the read-only listener on 6380, metrics on 8080.",
			in:     testInstance(nil),
			want:   []string{sentinels, "--master=mymaster=:6379", "--replicas=mymaster=:6380", "--metrics-listen=:8080", "--max-clients=10000", "--log-format=json"},
		},
		"NoReadOnlyWithTLS": {
			reason: "No --replicas without the read-only endpoint; TLS flags for clients and upstream.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Tunnel.ReadOnlyEndpoint = ptr.To(false)
				s.Tunnel.MaxClients = 5
				s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
			}),
			want: []string{sentinels, "--master=mymaster=:6379", "--metrics-listen=:8080", "--max-clients=5", "--log-format=json",
				"--tls-cert-file=/etc/redis-ha/tls/tls.crt", "--tls-key-file=/etc/redis-ha/tls/tls.key",
				"--upstream-tls", "--upstream-tls-ca-file=/etc/redis-ha/tls/ca.crt"},
		},
		"Cluster": {
			reason: "Every Redis pod of every shard seeds the slot map; one listener; no Sentinel or replica flags.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Mode = v1alpha1.ModeCluster
				s.Cluster = &v1alpha1.ClusterSpec{Shards: 3, ReplicasPerShard: 1}
			}),
			want: []string{
				clusterSeeds,
				"--listen=:6379", "--metrics-listen=:8080", "--max-clients=10000", "--log-format=json",
			},
		},
		"ClusterWithTLS": {
			reason: "The TLS flags are the same in cluster mode.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Mode = v1alpha1.ModeCluster
				s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
			}),
			want: []string{
				clusterSeeds,
				"--listen=:6379", "--metrics-listen=:8080", "--max-clients=10000", "--log-format=json",
				"--tls-cert-file=/etc/redis-ha/tls/tls.crt", "--tls-key-file=/etc/redis-ha/tls/tls.key",
				"--upstream-tls", "--upstream-tls-ca-file=/etc/redis-ha/tls/ca.crt",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tunnelArgs(tc.in)); diff != "" {
				t.Errorf("%s\ntunnelArgs(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
