package v1alpha1

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxMemoryPercent is the share of the Redis container's memory limit given to Redis as
// maxmemory. The rest covers replication and client output buffers and the copy-on-write pages
// of a forked background save; above ~80% a busy master gets OOM-killed during BGSAVE.
const maxMemoryPercent = 75

// Preset is the resources of every container for one spec.size.
type Preset struct {
	// Redis are the Redis server container's requests and limits.
	Redis corev1.ResourceRequirements
	// MaxMemoryBytes is Redis maxmemory: maxMemoryPercent of Redis' memory limit.
	MaxMemoryBytes int64
	// Sentinel are the Sentinel container's requests and limits.
	Sentinel corev1.ResourceRequirements
	// Tunnel are the tunnel container's requests and limits.
	Tunnel corev1.ResourceRequirements
	// Exporter are the redis_exporter sidecar's requests and limits.
	Exporter corev1.ResourceRequirements
}

// requirements builds ResourceRequirements from quantity strings; an empty string leaves the
// resource out. CPU limits are deliberately never set: throttling a Redis or Sentinel process
// stalls its event loop and shows up as latency spikes and false failovers.
func requirements(cpuRequest, memoryRequest, memoryLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpuRequest),
			corev1.ResourceMemory: resource.MustParse(memoryRequest),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse(memoryLimit),
		},
	}
}

// PresetFor returns the resources of the named preset size. SizeCustom has no preset; Parse
// returns the resources of every size.
func PresetFor(size Size) (Preset, error) {
	var redisCPU, redisMemory string
	sentinel := requirements("50m", "64Mi", "64Mi")
	tunnel := requirements("50m", "64Mi", "128Mi")
	switch size {
	case SizeSmall:
		redisCPU, redisMemory = "100m", "256Mi"
	case SizeMedium:
		redisCPU, redisMemory = "500m", "1Gi"
		tunnel = requirements("200m", "128Mi", "256Mi")
	case SizeLarge:
		redisCPU, redisMemory = "2", "4Gi"
		sentinel = requirements("100m", "128Mi", "128Mi")
		tunnel = requirements("500m", "256Mi", "512Mi")
	default:
		return Preset{}, fmt.Errorf("spec.size %q has no preset: use small, medium or large (custom takes spec.resources)", size)
	}
	redis := requirements(redisCPU, redisMemory, redisMemory)
	return Preset{
		Redis:          redis,
		MaxMemoryBytes: maxMemoryFor(redis.Limits[corev1.ResourceMemory]),
		Sentinel:       sentinel,
		Tunnel:         tunnel,
		Exporter:       requirements("25m", "32Mi", "64Mi"),
	}, nil
}

// maxMemoryFor is maxMemoryPercent of a memory limit, in bytes, rounded down. It splits the
// value so the multiplication can neither overflow nor lose the remainder of the division.
func maxMemoryFor(limit resource.Quantity) int64 {
	v := limit.Value()
	return v/100*maxMemoryPercent + v%100*maxMemoryPercent/100
}

// withRedis is the preset with the Redis container's requirements replaced (spec.size:
// custom keeps the small preset for the other containers) and maxmemory derived from them.
func (p Preset) withRedis(redis corev1.ResourceRequirements) Preset {
	p.Redis = redis
	p.MaxMemoryBytes = maxMemoryFor(redis.Limits[corev1.ResourceMemory])
	return p
}
