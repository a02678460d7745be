package v1alpha1_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
	"github.com/redis-ha/redis-ha/internal/schemacheck"
)

// decodeSpec decodes a spec strictly into the Go type: a field the XRD schema has but the Go
// type lacks (or the other way round) fails here. Fields Crossplane injects into every XR or
// claim spec (spec.crossplane, spec.compositeDeletePolicy, ...) are dropped first.
func decodeSpec(t *testing.T, spec any) v1alpha1.RedisHASpec {
	t.Helper()
	x, err := schemacheck.LoadXRD(xrdFiles()[v1alpha1.RedisHAKind])
	if err != nil {
		t.Fatal(err)
	}
	ours := x.Schema().Properties["spec"].Properties
	m, ok := spec.(map[string]any)
	if !ok {
		t.Fatalf("spec is a %T, want an object", spec)
	}
	trimmed := map[string]any{}
	for k, v := range m {
		if _, declared := ours[k]; declared {
			trimmed[k] = v
		}
	}
	b, err := json.Marshal(trimmed)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out v1alpha1.RedisHASpec
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("spec %s does not decode strictly into RedisHASpec: %v", b, err)
	}
	return out
}

// TestDefaultMatchesSchema proves Default() and the schema defaults agree: for each input,
// defaulting by the API server (then Default, which the function always runs) gives the same
// spec as Default alone on the raw input, which is what crossplane render feeds the function.
// For spec: {} it also pins the one documented difference: only Default sets sentinel.quorum.
func TestDefaultMatchesSchema(t *testing.T) {
	cases := map[string]struct {
		reason string
		spec   string
	}{
		"Empty":          {reason: "spec: {} must mean the same everywhere", spec: `{}`},
		"FiveSentinels":  {reason: "quorum follows the Sentinel count", spec: `sentinel: {replicas: 5}`},
		"ExistingSecret": {reason: "the Secret key defaults inside an optional object", spec: `auth: {existingSecret: {name: pw}}`},
		"PartialObjects": {
			reason: "defaults fill the gaps of partly given objects",
			spec:   "redis: {image: {flavor: valkey}, persistence: {mode: rdb}}\ntunnel: {replicas: 3}\nmetrics: {enabled: true, serviceMonitor: {enabled: true}}\nscheduling: {antiAffinity: hard, topologySpread: {maxSkew: 2}}",
		},
		"ClusterMode": {
			reason: "the mode-dependent defaults: spec.cluster, no Sentinel, no redis.replicas, read-only endpoint off",
			spec:   "mode: cluster",
		},
		"ClusterModePartial": {
			reason: "replicasPerShard defaults inside a given spec.cluster",
			spec:   "mode: cluster\ncluster: {shards: 5}\ntunnel: {replicas: 3}",
		},
		"ExplicitFalse": {
			reason: "an explicit false must survive both kinds of defaulting",
			spec:   "auth: {enabled: false}\nnetworkPolicy: {enabled: false}\ntunnel: {readOnlyEndpoint: false}\nscheduling: {topologySpread: {enabled: false}}",
		},
	}
	validators := loadValidators(t)
	for name, tc := range cases {
		for kind, v := range validators {
			t.Run(name+"/"+kind, func(t *testing.T) {
				obj := object(t, kind, tc.spec)
				r := v.Validate(context.Background(), obj, nil)
				if err := r.Err(); err != nil {
					t.Fatalf("test spec is invalid: %v", err)
				}
				bySchema := decodeSpec(t, r.Object["spec"])
				bySchema.Default()

				byGo := decodeSpec(t, obj["spec"])
				byGo.Default()
				if diff := cmp.Diff(byGo, bySchema); diff != "" {
					t.Errorf("%s\nDefault() -raw+Default +schema+Default:\n%s", tc.reason, diff)
				}
			})
		}
	}

	// A schema default cannot depend on another field, so Default alone sets quorum and
	// what depends on spec.mode; everything else the schema defaults itself.
	beyond := map[string]struct {
		spec       string
		notDefault func(*v1alpha1.RedisHASpec)
	}{
		"Sentinel": {spec: `{}`, notDefault: func(s *v1alpha1.RedisHASpec) {
			s.Redis.Replicas = 0
			s.Sentinel = v1alpha1.SentinelSpec{}
			s.Tunnel.ReadOnlyEndpoint = nil
		}},
		"Cluster": {spec: `mode: cluster`, notDefault: func(s *v1alpha1.RedisHASpec) {
			s.Cluster = nil
			s.Tunnel.ReadOnlyEndpoint = nil
		}},
	}
	for name, tc := range beyond {
		t.Run("OnlyModeDependentDefaultsAreBeyondTheSchema/"+name, func(t *testing.T) {
			v := validators[v1alpha1.RedisHAKind]
			obj := object(t, v1alpha1.RedisHAKind, tc.spec)
			r := v.Validate(context.Background(), obj, nil)
			bySchema := decodeSpec(t, r.Object["spec"])
			want := decodeSpec(t, obj["spec"])
			want.Default()
			tc.notDefault(&want)
			if diff := cmp.Diff(want, bySchema); diff != "" {
				t.Errorf("schema defaults of %s differ from Default() beyond the mode-dependent fields -Default +schema:\n%s", tc.spec, diff)
			}
		})
	}
}

// TestDefault pins the defaults themselves and proves set values are never overwritten.
func TestDefault(t *testing.T) {
	full := v1alpha1.RedisHASpec{
		Mode:      v1alpha1.ModeSentinel,
		Size:      v1alpha1.SizeCustom,
		Resources: &v1alpha1.ResourcesSpec{Limits: &v1alpha1.ResourceQuantities{Memory: "2Gi"}},
		Redis: v1alpha1.RedisSpec{
			Replicas: 5,
			Image:    v1alpha1.ImageSpec{Flavor: v1alpha1.FlavorValkey, Version: "7.2", Repository: "mirror.example.com/valkey"},
			Persistence: v1alpha1.PersistenceSpec{
				Mode:    v1alpha1.PersistenceRDB,
				Storage: v1alpha1.StorageSpec{Size: "10Gi", StorageClassName: "fast"},
			},
			MaxMemoryPolicy: "allkeys-lru",
			Config:          map[string]v1alpha1.RedisConfigValue{"timeout": "300"},
		},
		Sentinel: v1alpha1.SentinelSpec{Replicas: 5, Quorum: 2, DownAfter: "10s", FailoverTimeout: "2m"},
		Tunnel: v1alpha1.TunnelSpec{
			Replicas: 3, Image: "example.com/tunnel:v1", ServiceType: corev1.ServiceTypeLoadBalancer,
			ReadOnlyEndpoint: ptr.To(false), MaxClients: 100,
		},
		Auth:          v1alpha1.AuthSpec{Enabled: ptr.To(true), ExistingSecret: &v1alpha1.SecretKeyRef{Name: "pw", Key: "pass"}},
		TLS:           v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"},
		NetworkPolicy: v1alpha1.NetworkPolicySpec{Enabled: ptr.To(false)},
		Metrics: v1alpha1.MetricsSpec{
			Enabled: true, ExporterImage: "example.com/exporter:v1",
			ServiceMonitor: v1alpha1.ServiceMonitorSpec{Enabled: true, Interval: "15s", Labels: map[string]string{"release": "prom"}},
		},
		Scheduling: v1alpha1.SchedulingSpec{
			AntiAffinity: v1alpha1.AntiAffinityHard,
			TopologySpread: v1alpha1.TopologySpreadSpec{
				Enabled: ptr.To(false), TopologyKey: "kubernetes.io/hostname", MaxSkew: 2, WhenUnsatisfiable: corev1.DoNotSchedule,
			},
			NodeSelector:      map[string]string{"pool": "redis"},
			PriorityClassName: "high",
		},
		ConnectionSecret: v1alpha1.ConnectionSecretSpec{Name: "conn"},
	}
	cases := map[string]struct {
		reason string
		in     v1alpha1.RedisHASpec
		want   v1alpha1.RedisHASpec
	}{
		"Empty": {
			reason: "every default, and quorum as the majority of three",
			in:     v1alpha1.RedisHASpec{},
			want: v1alpha1.RedisHASpec{
				Mode: v1alpha1.ModeSentinel,
				Size: v1alpha1.SizeSmall,
				Redis: v1alpha1.RedisSpec{
					Replicas:        3,
					Image:           v1alpha1.ImageSpec{Flavor: v1alpha1.FlavorRedis, Version: "8.0"},
					Persistence:     v1alpha1.PersistenceSpec{Mode: v1alpha1.PersistenceAOF, Storage: v1alpha1.StorageSpec{Size: "1Gi"}},
					MaxMemoryPolicy: v1alpha1.MaxMemoryPolicyNoEviction,
				},
				Sentinel:      v1alpha1.SentinelSpec{Replicas: 3, Quorum: 2, DownAfter: "5s", FailoverTimeout: "60s"},
				Tunnel:        v1alpha1.TunnelSpec{Replicas: 2, ServiceType: corev1.ServiceTypeClusterIP, ReadOnlyEndpoint: ptr.To(true), MaxClients: 10000},
				Auth:          v1alpha1.AuthSpec{Enabled: ptr.To(true)},
				NetworkPolicy: v1alpha1.NetworkPolicySpec{Enabled: ptr.To(true)},
				Metrics: v1alpha1.MetricsSpec{
					ExporterImage:  v1alpha1.DefaultExporterImage,
					ServiceMonitor: v1alpha1.ServiceMonitorSpec{Interval: "30s"},
				},
				Scheduling: v1alpha1.SchedulingSpec{
					AntiAffinity: v1alpha1.AntiAffinitySoft,
					TopologySpread: v1alpha1.TopologySpreadSpec{
						Enabled: ptr.To(true), TopologyKey: "topology.kubernetes.io/zone", MaxSkew: 1, WhenUnsatisfiable: corev1.ScheduleAnyway,
					},
				},
			},
		},
		"Cluster": {
			reason: "cluster mode: 3 shards of a master and a replica, read-only endpoint off, and no Sentinel or redis.replicas, which the mode does not use",
			in:     v1alpha1.RedisHASpec{Mode: v1alpha1.ModeCluster},
			want: func() v1alpha1.RedisHASpec {
				s := v1alpha1.RedisHASpec{}
				s.Default()
				s.Mode = v1alpha1.ModeCluster
				s.Cluster = &v1alpha1.ClusterSpec{Shards: 3, ReplicasPerShard: 1}
				s.Redis.Replicas = 0
				s.Sentinel = v1alpha1.SentinelSpec{}
				s.Tunnel.ReadOnlyEndpoint = ptr.To(false)
				return s
			}(),
		},
		"ClusterEverythingSet": {
			reason: "Default never overwrites a cluster value the user gave",
			in: v1alpha1.RedisHASpec{Mode: v1alpha1.ModeCluster, Cluster: &v1alpha1.ClusterSpec{Shards: 6, ReplicasPerShard: 2},
				Tunnel: v1alpha1.TunnelSpec{ReadOnlyEndpoint: ptr.To(true)}},
			want: func() v1alpha1.RedisHASpec {
				s := v1alpha1.RedisHASpec{Mode: v1alpha1.ModeCluster}
				s.Default()
				s.Cluster = &v1alpha1.ClusterSpec{Shards: 6, ReplicasPerShard: 2}
				s.Tunnel.ReadOnlyEndpoint = ptr.To(true)
				return s
			}(),
		},
		"SevenSentinels": {
			reason: "quorum is the majority of the given Sentinel count",
			in:     v1alpha1.RedisHASpec{Sentinel: v1alpha1.SentinelSpec{Replicas: 7}},
			want: func() v1alpha1.RedisHASpec {
				s := v1alpha1.RedisHASpec{Sentinel: v1alpha1.SentinelSpec{Replicas: 7, Quorum: 4}}
				s.Default()
				return s
			}(),
		},
		"EverythingSet": {
			reason: "Default never overwrites a value the user gave",
			in:     *full.DeepCopy(),
			want:   *full.DeepCopy(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			got.Default()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nDefault() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestDefaultsAreYAMLRoundTrippable guards the pointer booleans: a defaulted spec written out
// and read back (as the function does through unstructured objects) keeps explicit falses.
func TestDefaultsAreYAMLRoundTrippable(t *testing.T) {
	in := v1alpha1.RedisHASpec{Auth: v1alpha1.AuthSpec{Enabled: ptr.To(false)}}
	in.Default()
	b, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out v1alpha1.RedisHASpec
	if err := yaml.UnmarshalStrict(b, &out); err != nil {
		t.Fatal(err)
	}
	out.Default()
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("YAML round trip -before +after:\n%s", diff)
	}
	if out.Auth.AuthEnabled() {
		t.Errorf("auth.enabled: false became true after a round trip")
	}
}
