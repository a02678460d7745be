package v1alpha1_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
	"github.com/redis-ha/redis-ha/internal/schemacheck"
)

// TestAllowedRedisConfigKeysMatchSchema proves the Go allow-list, the CEL rule and the CEL
// message expression of spec.redis.config name exactly the same keys.
func TestAllowedRedisConfigKeysMatchSchema(t *testing.T) {
	keys := v1alpha1.AllowedRedisConfigKeys()
	if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Fatalf("AllowedRedisConfigKeys() must be sorted and unique (IsAllowedRedisConfigKey binary-searches it): %v", keys)
	}
	x, err := schemacheck.LoadXRD(xrdFiles()[v1alpha1.RedisHAKind])
	if err != nil {
		t.Fatal(err)
	}
	config := x.Schema().Properties["spec"].Properties["redis"].Properties["config"]
	if len(config.XValidations) != 1 {
		t.Fatalf("spec.redis.config: want one CEL rule, got %d", len(config.XValidations))
	}
	list := regexp.MustCompile(`\[('[^\]]*)\]`)
	quoted := regexp.MustCompile(`'([^']*)'`)
	for what, expr := range map[string]string{"rule": config.XValidations[0].Rule, "messageExpression": config.XValidations[0].MessageExpression} {
		m := list.FindStringSubmatch(expr)
		if m == nil {
			t.Fatalf("no key list in the %s: %s", what, expr)
		}
		var got []string
		for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
			got = append(got, q[1])
		}
		slices.Sort(got)
		if diff := cmp.Diff(keys, got); diff != "" {
			t.Errorf("spec.redis.config %s lists other keys than AllowedRedisConfigKeys() -Go +schema:\n%s", what, diff)
		}
	}
}

func TestIsAllowedRedisConfigKey(t *testing.T) {
	cases := map[string]struct {
		reason string
		key    string
		want   bool
	}{
		"Tuning":      {reason: "timeouts are tuning", key: "timeout", want: true},
		"LastInOrder": {reason: "binary search finds the last key", key: "zset-max-listpack-value", want: true},
		"Replication": {reason: "replicaof belongs to Sentinel", key: "replicaof", want: false},
		"Auth":        {reason: "requirepass belongs to spec.auth", key: "requirepass", want: false},
		"Memory":      {reason: "maxmemory belongs to spec.size", key: "maxmemory", want: false},
		"Persistence": {reason: "appendonly belongs to spec.redis.persistence", key: "appendonly", want: false},
		"CaseMatters": {reason: "redis.conf keys are lower case", key: "Timeout", want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := v1alpha1.IsAllowedRedisConfigKey(tc.key); got != tc.want {
				t.Errorf("%s: IsAllowedRedisConfigKey(%q) = %v, want %v", tc.reason, tc.key, got, tc.want)
			}
		})
	}
}

func TestImage(t *testing.T) {
	cases := map[string]struct {
		reason string
		image  v1alpha1.ImageSpec
		want   string
	}{
		"Redis":    {reason: "official Redis image", image: v1alpha1.ImageSpec{Flavor: v1alpha1.FlavorRedis, Version: "8.0"}, want: "docker.io/library/redis:8.0"},
		"Valkey":   {reason: "official Valkey image", image: v1alpha1.ImageSpec{Flavor: v1alpha1.FlavorValkey, Version: "7.2.5"}, want: "docker.io/valkey/valkey:7.2.5"},
		"Mirror":   {reason: "repository overrides, version stays the tag", image: v1alpha1.ImageSpec{Flavor: v1alpha1.FlavorValkey, Version: "8.0", Repository: "registry.example.com/valkey"}, want: "registry.example.com/valkey:8.0"},
		"Defaults": {reason: "an undefaulted spec still yields a usable image", image: v1alpha1.ImageSpec{}, want: "docker.io/library/redis:8.0"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.image.Image(); got != tc.want {
				t.Errorf("%s: Image() = %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}

func TestNamesAndSwitches(t *testing.T) {
	var empty v1alpha1.RedisHASpec
	named := v1alpha1.RedisHASpec{ConnectionSecret: v1alpha1.ConnectionSecretSpec{Name: "app-redis"}, Tunnel: v1alpha1.TunnelSpec{Image: "example.com/t:1"}}
	off := v1alpha1.RedisHASpec{
		Auth:          v1alpha1.AuthSpec{Enabled: ptr.To(false)},
		NetworkPolicy: v1alpha1.NetworkPolicySpec{Enabled: ptr.To(false)},
		Tunnel:        v1alpha1.TunnelSpec{ReadOnlyEndpoint: ptr.To(false)},
		Scheduling:    v1alpha1.SchedulingSpec{TopologySpread: v1alpha1.TopologySpreadSpec{Enabled: ptr.To(false)}},
		Redis:         v1alpha1.RedisSpec{Persistence: v1alpha1.PersistenceSpec{Mode: v1alpha1.PersistenceNone}},
	}
	type switches struct {
		Secret, TunnelImage                         string
		Auth, Policy, ReadOnly, Spread, Persistence bool
		ServiceMonitor                              bool
	}
	get := func(s v1alpha1.RedisHASpec) switches {
		return switches{
			Secret: s.ConnectionSecretName("cache"), TunnelImage: s.Tunnel.TunnelImage("ours:v1"),
			Auth: s.Auth.AuthEnabled(), Policy: s.NetworkPolicy.PolicyEnabled(), ReadOnly: s.Tunnel.ReadOnlyEndpointEnabled(),
			Spread: s.Scheduling.TopologySpread.SpreadEnabled(), Persistence: s.Redis.Persistence.Persistent(),
			ServiceMonitor: s.Metrics.ServiceMonitorEnabled(),
		}
	}
	cases := map[string]struct {
		reason string
		spec   v1alpha1.RedisHASpec
		want   switches
	}{
		"Unset":    {reason: "unset means the documented defaults", spec: empty, want: switches{"cache-redis", "ours:v1", true, true, true, true, true, false}},
		"Named":    {reason: "given names win", spec: named, want: switches{"app-redis", "example.com/t:1", true, true, true, true, true, false}},
		"Disabled": {reason: "explicit false is honoured", spec: off, want: switches{"cache-redis", "ours:v1", false, false, false, false, false, false}},
		"ServiceMonitorWithoutMetrics": {
			reason: "a ServiceMonitor needs the exporter (metrics.enabled)",
			spec:   v1alpha1.RedisHASpec{Metrics: v1alpha1.MetricsSpec{ServiceMonitor: v1alpha1.ServiceMonitorSpec{Enabled: true}}},
			want:   switches{"cache-redis", "ours:v1", true, true, true, true, true, false},
		},
		"ServiceMonitor": {
			reason: "metrics and ServiceMonitor on",
			spec:   v1alpha1.RedisHASpec{Metrics: v1alpha1.MetricsSpec{Enabled: true, ServiceMonitor: v1alpha1.ServiceMonitorSpec{Enabled: true}}},
			want:   switches{"cache-redis", "ours:v1", true, true, true, true, true, true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, get(tc.spec)); diff != "" {
				t.Errorf("%s -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestInstance(t *testing.T) {
	type result struct{ Namespace, Name, Err string }
	cases := map[string]struct {
		reason string
		xr     metav1.ObjectMeta
		want   result
	}{
		"Namespaced": {
			reason: "a RedisHA composes into its own namespace under its own name",
			xr:     metav1.ObjectMeta{Namespace: "shop", Name: "orders"},
			want:   result{Namespace: "shop", Name: "orders"},
		},
		"LegacyWithClaim": {
			reason: "an XRedisHA composes into its claim's namespace under the claim's name",
			xr: metav1.ObjectMeta{Name: "sessions-x7k2p", Labels: map[string]string{
				v1alpha1.LabelClaimNamespace: "default", v1alpha1.LabelClaimName: "sessions",
			}},
			want: result{Namespace: "default", Name: "sessions"},
		},
		"LegacyWithoutClaim": {
			reason: "a bare XRedisHA has nowhere to put namespaced objects",
			xr:     metav1.ObjectMeta{Name: "orphan"},
			want: result{Err: `cluster-scoped XRedisHA "orphan" has no crossplane.io/claim-namespace and crossplane.io/claim-name labels: ` +
				"create it through a RedisHAClaim, or use the namespaced RedisHA"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got result
			var err error
			got.Namespace, got.Name, err = v1alpha1.Instance(&tc.xr)
			if err != nil {
				got.Err = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nInstance() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestDecodeObservedXR shows how the function reads an observed XR: Crossplane adds fields of
// its own (spec.crossplane, status.conditions) that the lenient unstructured converter skips
// or maps, while every RedisHA field arrives typed.
func TestDecodeObservedXR(t *testing.T) {
	observed := map[string]any{
		"apiVersion": "redisha.io/v1alpha1",
		"kind":       "RedisHA",
		"metadata":   map[string]any{"name": "cache", "namespace": "default"},
		"spec": map[string]any{
			"crossplane": map[string]any{"compositionRef": map[string]any{"name": "redishas.redisha.io"}},
			"redis":      map[string]any{"replicas": int64(5)},
			"auth":       map[string]any{"enabled": false},
		},
		"status": map[string]any{
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2026-01-01T00:00:00Z"}},
			"endpoint":   "cache-tunnel.default.svc:6379",
			"redis":      map[string]any{"replicas": int64(5), "ready": int64(4)},
		},
	}
	xr := &v1alpha1.RedisHA{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(observed, xr); err != nil {
		t.Fatalf("FromUnstructured: %v", err)
	}
	xr.Spec.Default()
	type view struct {
		Replicas, Ready     int32
		Auth                bool
		Endpoint, Condition string
	}
	got := view{xr.Spec.Redis.Replicas, xr.Status.Redis.Ready, xr.Spec.Auth.AuthEnabled(), xr.Status.Endpoint, string(xr.Status.Conditions[0].Type)}
	want := view{5, 4, false, "cache-tunnel.default.svc:6379", "Ready"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded XR -want +got:\n%s", diff)
	}
}
