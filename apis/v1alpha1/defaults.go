package v1alpha1

import (
	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"
)

// Default values of the spec. They are the same values as the +kubebuilder:default markers on
// the types; TestDefaultMatchesSchema fails when the two drift apart.
const (
	DefaultMode                    = ModeSentinel
	DefaultClusterShards           = int32(3)
	DefaultReplicasPerShard        = int32(1)
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
// Beyond the schema, Default sets what a schema default cannot, because it depends on another
// field: spec.sentinel.quorum (the majority of spec.sentinel.replicas) and the defaults that
// depend on spec.mode. In sentinel mode those are spec.redis.replicas, the spec.sentinel
// object and spec.tunnel.readOnlyEndpoint (on); in cluster mode the spec.cluster object and
// spec.tunnel.readOnlyEndpoint (off), while spec.redis.replicas and spec.sentinel stay empty,
// so that Parse can tell a value the user set there. Fields whose default depends on context
// outside the spec stay empty: tunnel.image (see TunnelImage) and connectionSecret.name (see
// ConnectionSecretName). Set values are never changed.
func (s *RedisHASpec) Default() {
	if s.Mode == "" {
		s.Mode = DefaultMode
	}
	if s.Size == "" {
		s.Size = DefaultSize
	}
	s.Redis.defaultRedis(s.Mode)
	if s.Mode == ModeCluster {
		if s.Cluster == nil {
			s.Cluster = &ClusterSpec{}
		}
		s.Cluster.defaultCluster()
	} else {
		s.Sentinel.defaultSentinel()
	}
	s.Tunnel.defaultTunnel(s.Mode)

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

func (r *RedisSpec) defaultRedis(mode Mode) {
	if r.Replicas == 0 && mode != ModeCluster {
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

func (c *ClusterSpec) defaultCluster() {
	if c.Shards == 0 {
		c.Shards = DefaultClusterShards
	}
	if c.ReplicasPerShard == 0 {
		c.ReplicasPerShard = DefaultReplicasPerShard
	}
}

func (t *TunnelSpec) defaultTunnel(mode Mode) {
	if t.Replicas == 0 {
		t.Replicas = DefaultTunnelReplicas
	}
	if t.ServiceType == "" {
		t.ServiceType = DefaultTunnelServiceType
	}
	if t.ReadOnlyEndpoint == nil {
		// The cluster-mode tunnel has no replica listener yet.
		t.ReadOnlyEndpoint = ptr.To(mode != ModeCluster)
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
