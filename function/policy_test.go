package function

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// TestTunnelNetworkPolicyPeers checks who may reach the tunnel's client ports.
func TestTunnelNetworkPolicyPeers(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     *instance
		want   []networkingv1.NetworkPolicyIngressRule
	}{
		"DefaultIsOwnNamespace": {
			reason: "Without allowedClients every pod of the namespace (an empty pod selector) may connect, on 6379 and 6380.",
			in:     testInstance(nil),
			want: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{tcpPort(6379), tcpPort(6380)},
			}},
		},
		"AllowedClientsAndMetrics": {
			reason: "allowedClients become the peers; metrics open 8080 from anywhere; no 6380 without the read-only endpoint.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Tunnel.ReadOnlyEndpoint = ptr.To(false)
				s.Metrics.Enabled = true
				s.NetworkPolicy.AllowedClients = []v1alpha1.PeerSelector{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
					{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}},
				}
			}),
			want: []networkingv1.NetworkPolicyIngressRule{
				{
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
						{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}},
					},
					Ports: []networkingv1.NetworkPolicyPort{tcpPort(6379)},
				},
				{Ports: []networkingv1.NetworkPolicyPort{tcpPort(8080)}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ingressOf(t, composeTunnelNetworkPolicy, tc.in)); diff != "" {
				t.Errorf("%s\ncomposeTunnelNetworkPolicy(...): -want ingress, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestRedisNetworkPolicy checks who may reach the Redis pods, on which ports.
func TestRedisNetworkPolicy(t *testing.T) {
	peer := func(component string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
			labelName: appName, labelInstance: "cache", labelComponent: component,
		}}}
	}
	cases := map[string]struct {
		reason string
		in     *instance
		want   []networkingv1.NetworkPolicyIngressRule
	}{
		"Sentinel": {
			reason: "Replication, Sentinel and the tunnel reach 6379.",
			in:     testInstance(nil),
			want: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{tcpPort(6379)}, From: []networkingv1.NetworkPolicyPeer{peer(componentRedis), peer(componentSentinel), peer(componentTunnel)}},
			},
		},
		"ClusterWithMetrics": {
			reason: "Redis pods, the tunnel and the cluster Job reach 6379; only Redis pods the cluster bus 16379; the exporter port is open.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Mode = v1alpha1.ModeCluster
				s.Metrics.Enabled = true
			}),
			want: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{tcpPort(6379)}, From: []networkingv1.NetworkPolicyPeer{peer(componentRedis), peer(componentTunnel), peer(componentClusterJob)}},
				{Ports: []networkingv1.NetworkPolicyPort{tcpPort(16379)}, From: []networkingv1.NetworkPolicyPeer{peer(componentRedis)}},
				{Ports: []networkingv1.NetworkPolicyPort{tcpPort(9121)}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ingressOf(t, composeRedisNetworkPolicy, tc.in)); diff != "" {
				t.Errorf("%s\ncomposeRedisNetworkPolicy(...): -want ingress, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// ingressOf composes a NetworkPolicy and returns its ingress rules.
func ingressOf(t *testing.T, compose func(*instance) (*unstructured.Unstructured, error), in *instance) []networkingv1.NetworkPolicyIngressRule {
	t.Helper()
	u, err := compose(in)
	if err != nil {
		t.Fatal(err)
	}
	var np networkingv1.NetworkPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &np); err != nil {
		t.Fatal(err)
	}
	return np.Spec.Ingress
}

func tcpPort(p int32) networkingv1.NetworkPolicyPort {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(policyPort(p))
	if err != nil {
		panic(err)
	}
	var out networkingv1.NetworkPolicyPort
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &out); err != nil {
		panic(err)
	}
	return out
}

// TestComposedSet checks which composition resources each kind of spec produces.
func TestComposedSet(t *testing.T) {
	always := []string{
		"config", "connection-secret", "redis-headless-service", "redis-pdb", "redis-serviceaccount", "redis-statefulset",
		"sentinel-headless-service", "sentinel-pdb", "sentinel-serviceaccount", "sentinel-statefulset",
		"tunnel-deployment", "tunnel-pdb", "tunnel-service", "tunnel-serviceaccount",
	}
	policies := []string{"redis-networkpolicy", "sentinel-networkpolicy", "tunnel-networkpolicy"}
	clusterAlways := []string{
		"config", "connection-secret", "redis-headless-service", "redis-serviceaccount",
		"tunnel-deployment", "tunnel-pdb", "tunnel-service", "tunnel-serviceaccount",
	}
	cases := map[string]struct {
		reason string
		spec   func(*v1alpha1.RedisHASpec)
		want   []string
	}{
		"Defaults": {
			reason: "Generated password, read-only endpoint and NetworkPolicies are on by default.",
			want:   sorted(always, policies, []string{"password-secret", "tunnel-readonly-service"}),
		},
		"Minimal": {
			reason: "Auth, the read-only endpoint and the NetworkPolicies can all be turned off.",
			spec: func(s *v1alpha1.RedisHASpec) {
				s.Auth.Enabled = ptr.To(false)
				s.Tunnel.ReadOnlyEndpoint = ptr.To(false)
				s.NetworkPolicy.Enabled = ptr.To(false)
			},
			want: sorted(always),
		},
		"MetricsWithServiceMonitor": {
			reason: "The ServiceMonitor brings the tunnel metrics Service; an existing Secret replaces the generated one.",
			spec: func(s *v1alpha1.RedisHASpec) {
				s.Metrics.Enabled = true
				s.Metrics.ServiceMonitor.Enabled = true
				s.Auth.ExistingSecret = &v1alpha1.SecretKeyRef{Name: "mine"}
			},
			want: sorted(always, policies, []string{"servicemonitor", "tunnel-metrics-service", "tunnel-readonly-service"}),
		},
		"Cluster": {
			reason: "Cluster mode: a StatefulSet and a PDB per shard, the cluster Job (named by shape and digest), no Sentinel objects and no read-only Service.",
			spec:   func(s *v1alpha1.RedisHASpec) { s.Mode = v1alpha1.ModeCluster },
			want: sorted(clusterAlways, []string{"password-secret", "redis-networkpolicy", "tunnel-networkpolicy"},
				[]string{"cluster-job-3x1-*", "redis-shard-0-pdb", "redis-shard-0-statefulset", "redis-shard-1-pdb", "redis-shard-1-statefulset", "redis-shard-2-pdb", "redis-shard-2-statefulset"}),
		},
		"ClusterFiveShardsMinimal": {
			reason: "Five shards of three pods; without auth and NetworkPolicies; with the ServiceMonitor.",
			spec: func(s *v1alpha1.RedisHASpec) {
				s.Mode = v1alpha1.ModeCluster
				s.Cluster = &v1alpha1.ClusterSpec{Shards: 5, ReplicasPerShard: 2}
				s.Auth.Enabled = ptr.To(false)
				s.NetworkPolicy.Enabled = ptr.To(false)
				s.Metrics.Enabled = true
				s.Metrics.ServiceMonitor.Enabled = true
			},
			want: sorted(clusterAlways, []string{"servicemonitor", "tunnel-metrics-service", "cluster-job-5x2-*"},
				[]string{"redis-shard-0-pdb", "redis-shard-0-statefulset", "redis-shard-1-pdb", "redis-shard-1-statefulset", "redis-shard-2-pdb", "redis-shard-2-statefulset",
					"redis-shard-3-pdb", "redis-shard-3-statefulset", "redis-shard-4-pdb", "redis-shard-4-statefulset"}),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := configInstance(t, tc.spec)
			src := passwordSources{generate: testPasswordGenerator}
			if in.spec.Auth.ExistingSecret != nil {
				src.existing = &observedSecret("mine", map[string]string{"password": "x"}).Resource.Unstructured
			}
			c, err := composeAll(in, src)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range slices.Sorted(maps.Keys(c.objects)) {
				name := string(n)
				if strings.HasPrefix(name, clusterJobPrefix) {
					// The digest is clusterjob_test.go's concern.
					name = name[:strings.LastIndex(name, "-")] + "-*"
				}
				got = append(got, name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ncomposeAll(...): -want resources, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func sorted(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return out
}
