package v1alpha1_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// summary reduces a Preset to strings, so a table reads like the documentation.
type presetSummary struct {
	RedisRequests, RedisLimits string
	MaxMemoryBytes             int64
	SentinelMemory, TunnelCPU  string
}

func quantities(l corev1.ResourceList) string {
	cpu, mem := l[corev1.ResourceCPU], l[corev1.ResourceMemory]
	return "cpu=" + cpu.String() + " memory=" + mem.String()
}

func summarize(p v1alpha1.Preset) presetSummary {
	sentinelMemory := p.Sentinel.Limits[corev1.ResourceMemory]
	tunnelCPU := p.Tunnel.Requests[corev1.ResourceCPU]
	return presetSummary{
		RedisRequests:  quantities(p.Redis.Requests),
		RedisLimits:    quantities(p.Redis.Limits),
		MaxMemoryBytes: p.MaxMemoryBytes,
		SentinelMemory: sentinelMemory.String(),
		TunnelCPU:      tunnelCPU.String(),
	}
}

// TestParse checks the values Parse derives from a valid spec: the resources of each size,
// the storage size and the Sentinel timeouts. What Parse rejects is tested, against the
// schema, by TestValidationRulesOnCreate and TestValidateAgreesWithSchema.
func TestParse(t *testing.T) {
	type parsed struct {
		Resources                  presetSummary
		StorageSize                string
		DownAfter, FailoverTimeout time.Duration
	}
	defaults := func(p presetSummary) parsed {
		return parsed{Resources: p, StorageSize: "1Gi", DownAfter: 5 * time.Second, FailoverTimeout: time.Minute}
	}
	cases := map[string]struct {
		reason string
		spec   v1alpha1.RedisHASpec
		want   parsed
	}{
		"Small": {
			reason: "small: 256Mi Redis, maxmemory 75% = 192Mi, no CPU limit; the default storage and timeouts",
			spec:   v1alpha1.RedisHASpec{Size: v1alpha1.SizeSmall},
			want: defaults(presetSummary{
				RedisRequests: "cpu=100m memory=256Mi", RedisLimits: "cpu=0 memory=256Mi",
				MaxMemoryBytes: 192 << 20, SentinelMemory: "64Mi", TunnelCPU: "50m",
			}),
		},
		"Medium": {
			reason: "medium: 1Gi Redis, maxmemory 768Mi",
			spec:   v1alpha1.RedisHASpec{Size: v1alpha1.SizeMedium},
			want: defaults(presetSummary{
				RedisRequests: "cpu=500m memory=1Gi", RedisLimits: "cpu=0 memory=1Gi",
				MaxMemoryBytes: 768 << 20, SentinelMemory: "64Mi", TunnelCPU: "200m",
			}),
		},
		"Large": {
			reason: "large: 4Gi Redis, maxmemory 3Gi, bigger Sentinel and tunnel",
			spec:   v1alpha1.RedisHASpec{Size: v1alpha1.SizeLarge},
			want: defaults(presetSummary{
				RedisRequests: "cpu=2 memory=4Gi", RedisLimits: "cpu=0 memory=4Gi",
				MaxMemoryBytes: 3 << 30, SentinelMemory: "128Mi", TunnelCPU: "500m",
			}),
		},
		"CustomRequestsDefaultToLimits": {
			reason: "a missing request takes the limit, as in Kubernetes; Sentinel and tunnel get small",
			spec: v1alpha1.RedisHASpec{Size: v1alpha1.SizeCustom, Resources: &v1alpha1.ResourcesSpec{
				Limits: &v1alpha1.ResourceQuantities{CPU: "2", Memory: "8Gi"},
			}},
			want: defaults(presetSummary{
				RedisRequests: "cpu=2 memory=8Gi", RedisLimits: "cpu=2 memory=8Gi",
				MaxMemoryBytes: 6 << 30, SentinelMemory: "64Mi", TunnelCPU: "50m",
			}),
		},
		"CustomExplicitRequests": {
			reason: "explicit requests are kept",
			spec: v1alpha1.RedisHASpec{Size: v1alpha1.SizeCustom, Resources: &v1alpha1.ResourcesSpec{
				Requests: &v1alpha1.ResourceQuantities{CPU: "250m", Memory: "1Gi"},
				Limits:   &v1alpha1.ResourceQuantities{Memory: "2Gi"},
			}},
			want: defaults(presetSummary{
				RedisRequests: "cpu=250m memory=1Gi", RedisLimits: "cpu=0 memory=2Gi",
				MaxMemoryBytes: 1536 << 20, SentinelMemory: "64Mi", TunnelCPU: "50m",
			}),
		},
		"StorageAndTimeouts": {
			reason: "storage size and Go durations with fractions and several units parse",
			spec: v1alpha1.RedisHASpec{
				Redis:    v1alpha1.RedisSpec{Persistence: v1alpha1.PersistenceSpec{Storage: v1alpha1.StorageSpec{Size: "20Gi"}}},
				Sentinel: v1alpha1.SentinelSpec{DownAfter: "1500ms", FailoverTimeout: "1m30s"},
			},
			want: parsed{
				Resources: presetSummary{
					RedisRequests: "cpu=100m memory=256Mi", RedisLimits: "cpu=0 memory=256Mi",
					MaxMemoryBytes: 192 << 20, SentinelMemory: "64Mi", TunnelCPU: "50m",
				},
				StorageSize: "20Gi", DownAfter: 1500 * time.Millisecond, FailoverTimeout: 90 * time.Second,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.spec.Default()
			p, errs := tc.spec.Parse()
			if len(errs) > 0 {
				t.Fatalf("%s\nParse(): unexpected errors: %v", tc.reason, errs)
			}
			got := parsed{Resources: summarize(p.Resources), StorageSize: p.StorageSize.String(), DownAfter: p.DownAfter, FailoverTimeout: p.FailoverTimeout}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nParse() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestPresetsFitTheirLimits checks invariants every preset must keep: requests within limits,
// maxmemory below the Redis memory limit, and the preset table not shared between calls.
func TestPresetsFitTheirLimits(t *testing.T) {
	for _, size := range []v1alpha1.Size{v1alpha1.SizeSmall, v1alpha1.SizeMedium, v1alpha1.SizeLarge} {
		p, err := v1alpha1.PresetFor(size)
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]corev1.ResourceRequirements{"redis": p.Redis, "sentinel": p.Sentinel, "tunnel": p.Tunnel, "exporter": p.Exporter} {
			for res, limit := range r.Limits {
				if req, ok := r.Requests[res]; ok && req.Cmp(limit) > 0 {
					t.Errorf("%s %s: request %s above limit %s", size, name, req.String(), limit.String())
				}
			}
			if _, ok := r.Limits[corev1.ResourceCPU]; ok {
				t.Errorf("%s %s: has a CPU limit; throttling stalls the event loop", size, name)
			}
		}
		limit := p.Redis.Limits[corev1.ResourceMemory]
		if p.MaxMemoryBytes <= 0 || p.MaxMemoryBytes >= limit.Value() {
			t.Errorf("%s: maxmemory %d not within (0, %d)", size, p.MaxMemoryBytes, limit.Value())
		}
		// Mutating one result must not leak into the next call.
		p.Redis.Limits[corev1.ResourceMemory] = resource.MustParse("1")
		again, _ := v1alpha1.PresetFor(size)
		if again.Redis.Limits[corev1.ResourceMemory].Equal(resource.MustParse("1")) {
			t.Errorf("%s: PresetFor returns shared maps", size)
		}
	}
}
