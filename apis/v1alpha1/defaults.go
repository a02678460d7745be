package v1alpha1

import (
	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"
)

// Default values of the spec. They are the same values as the +kubebuilder:default markers on
// the types; TestDefaultMatchesSchema fails when the two drift apart.
const (
	DefaultSize                    = SizeSmall
	DefaultRedisReplicas           = int32(3)
	DefaultFlavor                  = FlavorRedis
	DefaultRedisVersion            = "8.0"
	DefaultPersistenceMode         = PersistenceAOF
	DefaultStorageSize             = "1Gi"
	DefaultMaxMemoryPolicy         = MaxMemoryPolicyNoEviction
	DefaultSentinelReplicas        = int32(3)
	DefaultSentinelDownAfter       = "5s"
	DefaultSentinelFailoverTimeout = "60s"
	DefaultTunnelReplicas          = int32(2)
	DefaultTunnelServiceType       = corev1.ServiceTypeClusterIP
	DefaultTunnelMaxClients        = int32(10000)
	DefaultSecretKey               = "password"
	DefaultExporterImage           = "docker.io/oliver006/redis_exporter:v1.67.0"
	DefaultScrapeInterval          = "30s"
	DefaultAntiAffinity            = AntiAffinitySoft
	DefaultTopologyKey             = "topology.kubernetes.io/zone"
	DefaultMaxSkew                 = int32(1)
	DefaultWhenUnsatisfiable       = corev1.ScheduleAnyway
)

// Default fills every unset field of the spec with its default, exactly like the API server
// does from the schema defaults, so the composition function sees the same spec whether or
// not the input went through the API server (crossplane render feeds it raw YAML).
//
// Beyond the schema, Default also sets spec.sentinel.quorum to the majority of
// spec.sentinel.replicas, because a schema default cannot depend on another field. Fields whose
// default depends on context outside the spec stay empty: tunnel.image (see TunnelImage) and
// connectionSecret.name (see ConnectionSecretName). Set values are never changed.
func (s *RedisHASpec) Default() {
	if s.Size == "" {
		s.Size = DefaultSize
	}
	s.Redis.defaultRedis()
	s.Sentinel.defaultSentinel()
	s.Tunnel.defaultTunnel()

	if s.Auth.Enabled == nil {
		s.Auth.Enabled = ptr.To(true)
	}
	if s.Auth.ExistingSecret != nil && s.Auth.ExistingSecret.Key == "" {
		s.Auth.ExistingSecret.Key = DefaultSecretKey
	}
	if s.NetworkPolicy.Enabled == nil {
		s.NetworkPolicy.Enabled = ptr.To(true)
	}
	if s.Metrics.ExporterImage == "" {
		s.Metrics.ExporterImage = DefaultExporterImage
	}
	if s.Metrics.ServiceMonitor.Interval == "" {
		s.Metrics.ServiceMonitor.Interval = DefaultScrapeInterval
	}
	s.Scheduling.defaultScheduling()
}

func (r *RedisSpec) defaultRedis() {
	if r.Replicas == 0 {
		r.Replicas = DefaultRedisReplicas
	}
	if r.Image.Flavor == "" {
		r.Image.Flavor = DefaultFlavor
	}
	if r.Image.Version == "" {
		r.Image.Version = DefaultRedisVersion
	}
	if r.Persistence.Mode == "" {
		r.Persistence.Mode = DefaultPersistenceMode
	}
	if r.Persistence.Storage.Size == "" {
		r.Persistence.Storage.Size = DefaultStorageSize
	}
	if r.MaxMemoryPolicy == "" {
		r.MaxMemoryPolicy = DefaultMaxMemoryPolicy
	}
}

func (s *SentinelSpec) defaultSentinel() {
	if s.Replicas == 0 {
		s.Replicas = DefaultSentinelReplicas
	}
	if s.Quorum == 0 {
		s.Quorum = MajorityOf(s.Replicas)
	}
	if s.DownAfter == "" {
		s.DownAfter = DefaultSentinelDownAfter
	}
	if s.FailoverTimeout == "" {
		s.FailoverTimeout = DefaultSentinelFailoverTimeout
	}
}

func (t *TunnelSpec) defaultTunnel() {
	if t.Replicas == 0 {
		t.Replicas = DefaultTunnelReplicas
	}
	if t.ServiceType == "" {
		t.ServiceType = DefaultTunnelServiceType
	}
	if t.ReadOnlyEndpoint == nil {
		t.ReadOnlyEndpoint = ptr.To(true)
	}
	if t.MaxClients == 0 {
		t.MaxClients = DefaultTunnelMaxClients
	}
}

func (s *SchedulingSpec) defaultScheduling() {
	if s.AntiAffinity == "" {
		s.AntiAffinity = DefaultAntiAffinity
	}
	ts := &s.TopologySpread
	if ts.Enabled == nil {
		ts.Enabled = ptr.To(true)
	}
	if ts.TopologyKey == "" {
		ts.TopologyKey = DefaultTopologyKey
	}
	if ts.MaxSkew == 0 {
		ts.MaxSkew = DefaultMaxSkew
	}
	if ts.WhenUnsatisfiable == "" {
		ts.WhenUnsatisfiable = DefaultWhenUnsatisfiable
	}
}

// MajorityOf returns the smallest number of Sentinels that is more than half of replicas.
func MajorityOf(replicas int32) int32 {
	return replicas/2 + 1
}
