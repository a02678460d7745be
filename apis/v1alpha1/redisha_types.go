package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// RedisHA is a highly available Redis: one master with replicas, a Sentinel quorum that
// fails over, and the redis-ha tunnel in front so applications use a plain Redis client and a
// single, stable endpoint. It is the Crossplane v2 namespaced composite resource.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,categories={crossplane,redis-ha}
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="REDIS-READY",type=integer,JSONPath=".status.redis.ready"
// +kubebuilder:printcolumn:name="ENDPOINT",type=string,JSONPath=".status.endpoint"
type RedisHA struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired Redis deployment. Every field has a default, so `spec: {}` is a
	// complete request for a small three-node Redis with three Sentinels and two tunnels.
	// +kubebuilder:default={}
	Spec RedisHASpec `json:"spec,omitempty"`

	// Status is written by the redis-ha composition function.
	Status RedisHAStatus `json:"status,omitempty"`
}

// RedisHAList is a list of RedisHA.
//
// +kubebuilder:object:root=true
type RedisHAList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RedisHA `json:"items"`
}

// XRedisHA is the legacy cluster-scoped composite resource behind RedisHAClaim, for teams
// whose GitOps tooling still uses claims. Its spec and status are the same as RedisHA's.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories={crossplane,redis-ha}
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="REDIS-READY",type=integer,JSONPath=".status.redis.ready"
// +kubebuilder:printcolumn:name="ENDPOINT",type=string,JSONPath=".status.endpoint"
type XRedisHA struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired Redis deployment. Every field has a default, so `spec: {}` is a
	// complete request for a small three-node Redis with three Sentinels and two tunnels.
	// +kubebuilder:default={}
	Spec RedisHASpec `json:"spec,omitempty"`

	// Status is written by the redis-ha composition function.
	Status RedisHAStatus `json:"status,omitempty"`
}

// XRedisHAList is a list of XRedisHA.
//
// +kubebuilder:object:root=true
type XRedisHAList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []XRedisHA `json:"items"`
}

// Size is a resource preset for the Redis containers; see Presets for the numbers.
// +kubebuilder:validation:Enum=small;medium;large;custom
type Size string

// Size presets. SizeCustom means the Redis container resources come from spec.resources.
const (
	SizeSmall  Size = "small"
	SizeMedium Size = "medium"
	SizeLarge  Size = "large"
	SizeCustom Size = "custom"
)

// Mode is how a RedisHA spreads and fails over its data.
// +kubebuilder:validation:Enum=sentinel;cluster
type Mode string

// Modes.
const (
	// ModeSentinel is one master with replicas and a Sentinel quorum that fails over.
	ModeSentinel Mode = "sentinel"
	// ModeCluster is Redis Cluster: keys are sharded over several masters by hash slot, and
	// the cluster fails each shard over by itself.
	ModeCluster Mode = "cluster"
)

// RedisHASpec is the desired state of a RedisHA (and of an XRedisHA / RedisHAClaim).
//
// +kubebuilder:validation:XValidation:rule="(has(self.size) && self.size == 'custom') || !has(self.resources)",message="spec.resources is only read when spec.size is custom: set spec.size: custom to use explicit resources, or remove spec.resources to use the preset",fieldPath=".resources",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.size) || self.size != 'custom' || has(self.resources)",message="spec.size: custom needs spec.resources with at least limits.memory: add spec.resources, or pick the preset size small, medium or large",fieldPath=".size",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.mode == 'cluster' || !has(self.cluster)",message="spec.cluster is only used with spec.mode: cluster: set spec.mode: cluster when you create the RedisHA, or remove spec.cluster",fieldPath=".cluster"
// +kubebuilder:validation:XValidation:rule="self.mode != 'cluster' || !has(self.sentinel)",message="spec.sentinel is not used with spec.mode: cluster, where Redis Cluster fails a shard over by itself: remove spec.sentinel",fieldPath=".sentinel"
// +kubebuilder:validation:XValidation:rule="self.mode != 'cluster' || !has(self.redis) || !has(self.redis.replicas)",message="spec.redis.replicas is not used with spec.mode: cluster, where the pods are spec.cluster.shards x (1 + spec.cluster.replicasPerShard): remove spec.redis.replicas and size the cluster with spec.cluster",fieldPath=".redis.replicas"
// +kubebuilder:validation:XValidation:rule="self.mode != 'cluster' || !has(self.tunnel) || !has(self.tunnel.readOnlyEndpoint) || !self.tunnel.readOnlyEndpoint",message="spec.tunnel.readOnlyEndpoint is not supported with spec.mode: cluster yet (the tunnel sends every command to its shard's master): remove it or set it to false",fieldPath=".tunnel.readOnlyEndpoint"
// +kubebuilder:validation:XValidation:rule="self.mode != 'cluster' || !has(self.redis) || !has(self.redis.image) || !has(self.redis.image.version) || !self.redis.image.version.matches('^[0-9]+[.][0-9]+') || int(self.redis.image.version.split('.')[0]) >= 7",message="spec.redis.image.version must be 7.0 or newer with spec.mode: cluster: Redis Cluster announces host names (cluster-announce-hostname) only since 7.0",fieldPath=".redis.image.version"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cluster) || (has(self.cluster) ? self.cluster.shards : 3) >= oldSelf.cluster.shards",message="spec.cluster.shards cannot shrink: a shard's hash slots and keys would have to move to the other shards first, which redis-ha does not do; keep the shard count, or create a new RedisHA with fewer shards and migrate the data",fieldPath=".cluster.shards"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cluster) || (has(self.cluster) ? self.cluster.replicasPerShard : 1) >= oldSelf.cluster.replicasPerShard",message="spec.cluster.replicasPerShard cannot shrink: the removed pods would stay in the cluster's node table as failed nodes; keep the replica count",fieldPath=".cluster.replicasPerShard"
type RedisHASpec struct {
	// Mode is how the data is spread and failed over: sentinel (the default: one master with
	// replicas, and a Sentinel quorum that promotes a replica when the master fails) or
	// cluster (Redis Cluster: the keys are split over spec.cluster.shards masters by hash slot,
	// each with replicas, and the cluster fails a shard over by itself). Either way clients
	// connect to the tunnel with a plain Redis client. The mode cannot change after creation.
	// +kubebuilder:default=sentinel
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.mode is immutable: sentinel and cluster mode keep the data in different layouts; create a new RedisHA in the other mode and migrate the data"
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// Cluster sizes the Redis Cluster of spec.mode: cluster. Without it a cluster has 3
	// shards of 2 pods (a master and a replica).
	// +optional
	Cluster *ClusterSpec `json:"cluster,omitempty"`

	// Size picks requests, limits and Redis maxmemory for every container from a preset:
	// small (256Mi Redis), medium (1Gi) or large (4Gi). Use custom to give the Redis
	// container's resources explicitly in spec.resources; Sentinel and tunnel then use the
	// small preset.
	// +kubebuilder:default=small
	// +optional
	Size Size `json:"size,omitempty"`

	// Resources are the Redis container's requests and limits when spec.size is custom.
	// Redis maxmemory is set to 75% of limits.memory, leaving room for replication buffers
	// and copy-on-write during background saves.
	// +optional
	Resources *ResourcesSpec `json:"resources,omitempty"`

	// Redis configures the data pods: one master and its replicas, or in cluster mode every
	// shard's master and replicas.
	// +kubebuilder:default={}
	// +optional
	Redis RedisSpec `json:"redis,omitempty"`

	// Sentinel configures the Sentinel quorum that detects a failed master and promotes a
	// replica (spec.mode: sentinel only). Its fields default when it is absent, but the
	// schema leaves the object out, so that a cluster-mode RedisHA shows no Sentinel settings.
	// +optional
	Sentinel SentinelSpec `json:"sentinel,omitempty"`

	// Tunnel configures the redis-ha tunnel: a TCP proxy that follows Sentinel and always
	// forwards clients to the current master, so applications need no Sentinel support.
	// +kubebuilder:default={}
	// +optional
	Tunnel TunnelSpec `json:"tunnel,omitempty"`

	// Auth configures password authentication for Redis and Sentinel.
	// +kubebuilder:default={}
	// +optional
	Auth AuthSpec `json:"auth,omitempty"`

	// TLS configures TLS for clients, replication and Sentinel.
	// +kubebuilder:default={}
	// +optional
	TLS TLSSpec `json:"tls,omitempty"`

	// NetworkPolicy restricts which pods may connect to Redis, Sentinel and the tunnel.
	// +kubebuilder:default={}
	// +optional
	NetworkPolicy NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// Metrics configures the Prometheus exporter sidecar and the ServiceMonitor. The tunnel
	// always serves its own /metrics on port 8080.
	// +kubebuilder:default={}
	// +optional
	Metrics MetricsSpec `json:"metrics,omitempty"`

	// Scheduling places the Redis, Sentinel and tunnel pods on nodes.
	// +kubebuilder:default={}
	// +optional
	Scheduling SchedulingSpec `json:"scheduling,omitempty"`

	// ConnectionSecret is the Secret, in the RedisHA's namespace, that applications read to
	// connect: host, port, password, url and (with the read-only endpoint) readOnlyUrl.
	// +kubebuilder:default={}
	// +optional
	ConnectionSecret ConnectionSecretSpec `json:"connectionSecret,omitempty"`
}

// ResourcesSpec are explicit requests and limits for the Redis container (spec.size: custom).
//
// +kubebuilder:validation:XValidation:rule="has(self.limits) && has(self.limits.memory)",message="spec.resources.limits.memory is required with spec.size: custom, because Redis maxmemory is derived from it (75%)",fieldPath=".limits",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.requests) || !has(self.requests.memory) || !has(self.limits) || !has(self.limits.memory) || !isQuantity(self.requests.memory) || !isQuantity(self.limits.memory) || quantity(self.requests.memory).compareTo(quantity(self.limits.memory)) <= 0",message="spec.resources.requests.memory must not exceed spec.resources.limits.memory: lower the request or raise the limit",fieldPath=".requests.memory"
// +kubebuilder:validation:XValidation:rule="!has(self.requests) || !has(self.requests.cpu) || !has(self.limits) || !has(self.limits.cpu) || !isQuantity(self.requests.cpu) || !isQuantity(self.limits.cpu) || quantity(self.requests.cpu).compareTo(quantity(self.limits.cpu)) <= 0",message="spec.resources.requests.cpu must not exceed spec.resources.limits.cpu: lower the request or raise the limit",fieldPath=".requests.cpu"
type ResourcesSpec struct {
	// Requests are the resources the scheduler reserves for the Redis container. A missing
	// request defaults to the matching limit, as in Kubernetes.
	// +optional
	Requests *ResourceQuantities `json:"requests,omitempty"`

	// Limits cap the Redis container. limits.memory is required.
	// +optional
	Limits *ResourceQuantities `json:"limits,omitempty"`
}

// ResourceQuantities is a CPU and memory amount, each a Kubernetes quantity string.
type ResourceQuantities struct {
	// CPU is a Kubernetes CPU quantity, e.g. 500m or 2.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))",message="cpu must be a positive Kubernetes quantity such as 500m or 2"
	// +optional
	CPU string `json:"cpu,omitempty"`

	// Memory is a Kubernetes memory quantity, e.g. 512Mi or 2Gi.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isGreaterThan(quantity('16Mi'))",message="memory must be a Kubernetes quantity larger than 16Mi, such as 512Mi or 2Gi"
	// +optional
	Memory string `json:"memory,omitempty"`
}

// Flavor is the Redis server implementation.
// +kubebuilder:validation:Enum=redis;valkey
type Flavor string

// Server implementations. Both speak the same protocol and the same Sentinel dialect.
const (
	FlavorRedis  Flavor = "redis"
	FlavorValkey Flavor = "valkey"
)

// PersistenceMode is how Redis keeps data on disk.
// +kubebuilder:validation:Enum=aof;rdb;none
type PersistenceMode string

// Persistence modes.
const (
	// PersistenceAOF logs every write (appendfsync everysec) to a PersistentVolume.
	PersistenceAOF PersistenceMode = "aof"
	// PersistenceRDB writes periodic snapshots to a PersistentVolume.
	PersistenceRDB PersistenceMode = "rdb"
	// PersistenceNone keeps data in memory only (emptyDir); replicas are the only copy.
	PersistenceNone PersistenceMode = "none"
)

// MaxMemoryPolicy is the Redis maxmemory-policy: what Redis does when it reaches maxmemory.
// +kubebuilder:validation:Enum=noeviction;allkeys-lru;allkeys-lfu;allkeys-random;volatile-lru;volatile-lfu;volatile-random;volatile-ttl
type MaxMemoryPolicy string

// MaxMemoryPolicyNoEviction rejects writes at maxmemory instead of dropping keys; the default,
// because a highly available store should not lose data silently.
const MaxMemoryPolicyNoEviction MaxMemoryPolicy = "noeviction"

// RedisConfigValue is the value of one extra redis.conf setting: a single line.
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:Pattern=`^[^\r\n]*$`
type RedisConfigValue string

// RedisSpec configures the Redis data pods.
type RedisSpec struct {
	// Replicas is the number of Redis pods in sentinel mode: one master plus Replicas-1
	// replicas. At least 2, so there is always a replica to fail over to; 3 (the default)
	// survives one node failure while the master still has a replica acknowledging writes
	// (min-replicas-to-write 1). Not used in cluster mode (see spec.cluster); the default is
	// applied by the composition function for that reason, not by the schema.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=9
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Image selects the Redis server image.
	// +kubebuilder:default={}
	// +optional
	Image ImageSpec `json:"image,omitempty"`

	// Persistence configures how data survives a pod restart.
	// +kubebuilder:default={}
	// +optional
	Persistence PersistenceSpec `json:"persistence,omitempty"`

	// MaxMemoryPolicy is what Redis does at maxmemory (set from spec.size). noeviction
	// rejects writes; the allkeys-* and volatile-* policies evict keys, for caches.
	// +kubebuilder:default=noeviction
	// +optional
	MaxMemoryPolicy MaxMemoryPolicy `json:"maxMemoryPolicy,omitempty"`

	// Config holds extra redis.conf settings. Only tuning keys that cannot break
	// replication, persistence, auth or failover are accepted (listed in docs/api.md);
	// everything else is managed by RedisHA through its own fields.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['timeout', 'tcp-keepalive', 'maxclients', 'hz', 'dynamic-hz', 'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lazyfree-lazy-eviction', 'lazyfree-lazy-expire', 'lazyfree-lazy-server-del', 'lazyfree-lazy-user-del', 'lazyfree-lazy-user-flush', 'replica-lazy-flush', 'notify-keyspace-events', 'slowlog-log-slower-than', 'slowlog-max-len', 'latency-monitor-threshold', 'latency-tracking', 'active-expire-effort', 'activedefrag', 'io-threads', 'appendfsync', 'auto-aof-rewrite-percentage', 'auto-aof-rewrite-min-size', 'repl-backlog-size', 'repl-backlog-ttl', 'repl-timeout', 'repl-diskless-sync', 'repl-diskless-sync-delay', 'client-query-buffer-limit', 'proto-max-bulk-len', 'hash-max-listpack-entries', 'hash-max-listpack-value', 'list-max-listpack-size', 'list-compress-depth', 'set-max-intset-entries', 'set-max-listpack-entries', 'set-max-listpack-value', 'zset-max-listpack-entries', 'zset-max-listpack-value', 'stream-node-max-bytes', 'stream-node-max-entries'])",message="spec.redis.config has a key that is not allow-listed: see docs/api.md for the allowed keys",messageExpression="'spec.redis.config key ' + self.filter(k, !(k in ['timeout', 'tcp-keepalive', 'maxclients', 'hz', 'dynamic-hz', 'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lazyfree-lazy-eviction', 'lazyfree-lazy-expire', 'lazyfree-lazy-server-del', 'lazyfree-lazy-user-del', 'lazyfree-lazy-user-flush', 'replica-lazy-flush', 'notify-keyspace-events', 'slowlog-log-slower-than', 'slowlog-max-len', 'latency-monitor-threshold', 'latency-tracking', 'active-expire-effort', 'activedefrag', 'io-threads', 'appendfsync', 'auto-aof-rewrite-percentage', 'auto-aof-rewrite-min-size', 'repl-backlog-size', 'repl-backlog-ttl', 'repl-timeout', 'repl-diskless-sync', 'repl-diskless-sync-delay', 'client-query-buffer-limit', 'proto-max-bulk-len', 'hash-max-listpack-entries', 'hash-max-listpack-value', 'list-max-listpack-size', 'list-compress-depth', 'set-max-intset-entries', 'set-max-listpack-entries', 'set-max-listpack-value', 'zset-max-listpack-entries', 'zset-max-listpack-value', 'stream-node-max-bytes', 'stream-node-max-entries']))[0] + ' may not be set here: RedisHA manages it (use the matching spec field) or it could break replication or failover; see docs/api.md for the allowed keys'"
	// +optional
	Config map[string]RedisConfigValue `json:"config,omitempty"`
}

// ImageSpec selects the Redis server image.
type ImageSpec struct {
	// Flavor is the server implementation: redis or valkey.
	// +kubebuilder:default=redis
	// +optional
	Flavor Flavor `json:"flavor,omitempty"`

	// Version is the server version, used as the image tag (e.g. 8.0 or 7.2.5). The default
	// 8.0 exists for both flavors. Sentinel hostname support needs 6.2 or newer.
	// +kubebuilder:default="8.0"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.]+)?$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]+[.][0-9]+') || int(self.split('.')[0]) > 6 || (int(self.split('.')[0]) == 6 && int(self.split('.')[1].split('-')[0]) >= 2)",message="spec.redis.image.version must be 6.2 or newer: Sentinel needs resolve-hostnames and announce-hostnames"
	// +optional
	Version string `json:"version,omitempty"`

	// Repository overrides the image repository, e.g. a mirror such as
	// registry.example.com/library/redis. The tag is always Version. Empty means
	// docker.io/library/redis or docker.io/valkey/valkey by flavor.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$`
	// +optional
	Repository string `json:"repository,omitempty"`
}

// PersistenceSpec configures Redis persistence.
//
// +kubebuilder:validation:XValidation:rule="!has(self.mode) || !has(oldSelf.mode) || (self.mode == 'none') == (oldSelf.mode == 'none')",message="spec.redis.persistence.mode cannot switch between none and aof/rdb after creation, because StatefulSet volume claim templates are immutable: create a new RedisHA and migrate",fieldPath=".mode"
type PersistenceSpec struct {
	// Mode is aof (append-only file, fsync every second), rdb (periodic snapshots) or none
	// (memory only; a pod restart resyncs from the master).
	// +kubebuilder:default=aof
	// +optional
	Mode PersistenceMode `json:"mode,omitempty"`

	// Storage is the PersistentVolumeClaim of each Redis pod for aof and rdb.
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`
}

// StorageSpec is the PersistentVolumeClaim template of the Redis pods.
//
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="spec.redis.persistence.storage.storageClassName is immutable: StatefulSet volume claim templates cannot change; create a new RedisHA to move storage class",fieldPath=".storageClassName"
// +kubebuilder:validation:XValidation:rule="!has(self.size) || !has(oldSelf.size) || self.size == oldSelf.size",message="spec.redis.persistence.storage.size is immutable, because StatefulSet volume claim templates cannot change: expand the PVCs directly if the storage class allows it",fieldPath=".size"
type StorageSpec struct {
	// Size of each Redis pod's volume. Give it room for twice the dataset: AOF rewrites and
	// RDB saves write a new file next to the old one.
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))",message="spec.redis.persistence.storage.size must be a positive Kubernetes quantity such as 1Gi"
	// +optional
	Size string `json:"size,omitempty"`

	// StorageClassName of the volumes; empty uses the cluster's default StorageClass.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName string `json:"storageClassName,omitempty"`
}

// ClusterSpec sizes the Redis Cluster of spec.mode: cluster. Each shard is one StatefulSet
// of 1 + ReplicasPerShard pods: one master and its replicas.
type ClusterSpec struct {
	// Shards is the number of masters; the 16384 hash slots are spread evenly over them. At
	// least 3, because a failed master is replaced by a vote of a majority of the masters.
	// Shards can be added: the composition function starts them and moves hash slots onto
	// them while the cluster serves. They cannot be removed.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=3
	// +kubebuilder:validation:Maximum=32
	// +optional
	Shards int32 `json:"shards,omitempty"`

	// ReplicasPerShard is the number of replicas of each shard's master. At least 1, so
	// every shard has a replica to fail over to. It can grow, not shrink.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +optional
	ReplicasPerShard int32 `json:"replicasPerShard,omitempty"`
}

// SentinelSpec configures the Sentinel quorum.
//
// +kubebuilder:validation:XValidation:rule="!has(self.quorum) || !has(self.replicas) || self.quorum <= self.replicas",message="spec.sentinel.quorum must not exceed spec.sentinel.replicas, or no failover can ever be agreed: lower quorum or remove it to use the majority",fieldPath=".quorum"
// +kubebuilder:validation:XValidation:rule="!has(self.failoverTimeout) || !has(self.downAfter) || !self.failoverTimeout.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$') || !self.downAfter.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$') || duration(self.failoverTimeout) > duration(self.downAfter)",message="spec.sentinel.failoverTimeout must be longer than spec.sentinel.downAfter: raise failoverTimeout or lower downAfter",fieldPath=".failoverTimeout"
type SentinelSpec struct {
	// Replicas is the number of Sentinel pods. It must be odd so a strict majority exists
	// to authorize a failover.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=3
	// +kubebuilder:validation:Maximum=7
	// +kubebuilder:validation:XValidation:rule="self % 2 == 1",message="spec.sentinel.replicas must be odd (3, 5 or 7) so a majority of Sentinels can authorize a failover"
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Quorum is how many Sentinels must agree the master is down before a failover starts.
	// Empty means a majority (replicas/2+1). A failover always also needs a majority vote.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Quorum int32 `json:"quorum,omitempty"`

	// DownAfter is how long the master must be unreachable before a Sentinel considers it
	// down (down-after-milliseconds). Lower fails over faster but risks failovers on
	// short network hiccups; below about 1.2s Sentinel also fails over a healthy new
	// master right after a failover now and then (redis/redis#8607: the tunnel follows
	// without loss, but clients pause once more).
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('10m'))",message="spec.sentinel.downAfter must be between 1s and 10m"
	// +optional
	DownAfter string `json:"downAfter,omitempty"`

	// FailoverTimeout bounds a failover and spaces retries of a failed one
	// (failover-timeout).
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$') || (duration(self) >= duration('5s') && duration(self) <= duration('1h'))",message="spec.sentinel.failoverTimeout must be between 5s and 1h"
	// +optional
	FailoverTimeout string `json:"failoverTimeout,omitempty"`
}

// TunnelSpec configures the redis-ha tunnel Deployment and its Services.
type TunnelSpec struct {
	// Replicas is the number of tunnel pods behind the client Service.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Image is the tunnel image. Empty means the redis-ha tunnel image of the same release
	// as the composition function, which is what this release was tested with.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// ServiceType is the type of the client Service (and of the read-only Service).
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +optional
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`

	// ReadOnlyEndpoint adds a second Service (port 6380) that spreads connections over the
	// replicas, for reads that tolerate replication lag. On by default in sentinel mode; not
	// supported in cluster mode yet, where the default is off (applied by the composition
	// function, because a schema default cannot depend on spec.mode).
	// +optional
	ReadOnlyEndpoint *bool `json:"readOnlyEndpoint,omitempty"`

	// MaxClients caps concurrent client connections per tunnel pod.
	// +kubebuilder:default=10000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MaxClients int32 `json:"maxClients,omitempty"`
}

// AuthSpec configures password authentication.
//
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || self.enabled || !has(self.existingSecret)",message="spec.auth.existingSecret is only used with spec.auth.enabled: true: enable auth or remove existingSecret",fieldPath=".existingSecret"
type AuthSpec struct {
	// Enabled requires a password for Redis and Sentinel. When ExistingSecret is empty a
	// random password is generated once and kept across updates.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// ExistingSecret names a Secret in the RedisHA's namespace holding the password, for
	// teams that manage it themselves (e.g. from a vault).
	// +optional
	ExistingSecret *SecretKeyRef `json:"existingSecret,omitempty"`
}

// SecretKeyRef points at one key of a Secret in the composite resource's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// Key of the password in the Secret.
	// +kubebuilder:default=password
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// TLSSpec configures TLS.
//
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || !self.enabled || has(self.secretName)",message="spec.tls.secretName is required when spec.tls.enabled is true: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (e.g. from cert-manager)",fieldPath=".secretName",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="(has(self.enabled) && self.enabled) || !has(self.secretName)",message="spec.tls.secretName is only used with spec.tls.enabled: true: enable TLS or remove secretName",fieldPath=".secretName"
type TLSSpec struct {
	// Enabled serves clients, replication and Sentinel over TLS only.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// SecretName is a kubernetes.io/tls Secret in the RedisHA's namespace with tls.crt,
	// tls.key and ca.crt. The certificate must be valid for the Services' DNS names and the
	// pods' per-pod headless DNS names.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// NetworkPolicySpec configures the NetworkPolicy in front of the pods.
//
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || self.enabled || !has(self.allowedClients)",message="spec.networkPolicy.allowedClients is only used with spec.networkPolicy.enabled: true: enable the policy or remove allowedClients",fieldPath=".allowedClients"
type NetworkPolicySpec struct {
	// Enabled creates a NetworkPolicy that admits only the RedisHA's own pods between each
	// other and AllowedClients to the tunnel.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// AllowedClients are the pods that may connect to the tunnel. Empty means every pod in
	// the RedisHA's namespace.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	AllowedClients []PeerSelector `json:"allowedClients,omitempty"`
}

// PeerSelector selects client pods, like a NetworkPolicy peer: pods matching PodSelector in
// namespaces matching NamespaceSelector. Without NamespaceSelector only the RedisHA's
// namespace is searched; an empty selector ({}) matches everything.
//
// +kubebuilder:validation:XValidation:rule="has(self.podSelector) || has(self.namespaceSelector)",message="each spec.networkPolicy.allowedClients entry needs podSelector, namespaceSelector or both"
type PeerSelector struct {
	// PodSelector selects client pods by label.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// NamespaceSelector selects the namespaces of client pods by label.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// MetricsSpec configures Prometheus metrics for Redis.
//
// +kubebuilder:validation:XValidation:rule="!has(self.serviceMonitor) || !has(self.serviceMonitor.enabled) || !self.serviceMonitor.enabled || (has(self.enabled) && self.enabled)",message="spec.metrics.serviceMonitor.enabled needs spec.metrics.enabled: true, because the ServiceMonitor scrapes the exporter sidecar",fieldPath=".serviceMonitor.enabled"
type MetricsSpec struct {
	// Enabled adds a redis_exporter sidecar (port 9121) to every Redis pod.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// ExporterImage is the redis_exporter image of the sidecar.
	// +kubebuilder:default="docker.io/oliver006/redis_exporter:v1.67.0"
	// +kubebuilder:validation:MaxLength=512
	// +optional
	ExporterImage string `json:"exporterImage,omitempty"`

	// ServiceMonitor creates a Prometheus Operator ServiceMonitor for the exporter and the
	// tunnel. Needs the monitoring.coreos.com CRDs in the cluster.
	// +kubebuilder:default={}
	// +optional
	ServiceMonitor ServiceMonitorSpec `json:"serviceMonitor,omitempty"`
}

// ServiceMonitorSpec configures the Prometheus Operator ServiceMonitor.
type ServiceMonitorSpec struct {
	// Enabled creates the ServiceMonitor.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Interval between scrapes.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +optional
	Interval string `json:"interval,omitempty"`

	// Labels are added to the ServiceMonitor so a Prometheus serviceMonitorSelector picks
	// it up, e.g. release: prometheus.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// AntiAffinity is how strictly pods of one component avoid sharing a node.
// +kubebuilder:validation:Enum=hard;soft
type AntiAffinity string

// Anti-affinity modes.
const (
	// AntiAffinityHard never schedules two pods of one component on the same node; pods stay
	// Pending when there are too few nodes.
	AntiAffinityHard AntiAffinity = "hard"
	// AntiAffinitySoft prefers different nodes but shares nodes when it must.
	AntiAffinitySoft AntiAffinity = "soft"
)

// SchedulingSpec places the pods of every component.
type SchedulingSpec struct {
	// AntiAffinity keeps pods of the same component (Redis, Sentinel, tunnel) on different
	// nodes: hard (required) or soft (preferred, works on small clusters).
	// +kubebuilder:default=soft
	// +optional
	AntiAffinity AntiAffinity `json:"antiAffinity,omitempty"`

	// TopologySpread spreads each component's pods across zones.
	// +kubebuilder:default={}
	// +optional
	TopologySpread TopologySpreadSpec `json:"topologySpread,omitempty"`

	// NodeSelector restricts all pods to nodes with these labels.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let all pods run on tainted nodes.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// PriorityClassName of all pods; empty uses the cluster default.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// TopologySpreadSpec is a topology spread constraint applied to every component.
type TopologySpreadSpec struct {
	// Enabled adds the topology spread constraint.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// TopologyKey is the node label whose values are the domains to spread over.
	// +kubebuilder:default="topology.kubernetes.io/zone"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +optional
	TopologyKey string `json:"topologyKey,omitempty"`

	// MaxSkew is the largest allowed difference in pod count between two domains.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxSkew int32 `json:"maxSkew,omitempty"`

	// WhenUnsatisfiable is ScheduleAnyway (prefer spreading) or DoNotSchedule (require it).
	// +kubebuilder:default=ScheduleAnyway
	// +kubebuilder:validation:Enum=ScheduleAnyway;DoNotSchedule
	// +optional
	WhenUnsatisfiable corev1.UnsatisfiableConstraintAction `json:"whenUnsatisfiable,omitempty"`
}

// ConnectionSecretSpec names the connection Secret.
type ConnectionSecretSpec struct {
	// Name of the Secret. Empty means "<metadata.name>-redis".
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Name string `json:"name,omitempty"`
}

// RedisHAStatus is the observed state of a RedisHA, written by the composition function.
type RedisHAStatus struct {
	// ConditionedStatus holds the conditions (Ready, Synced) that Crossplane manages. The
	// XRD generator leaves it out of the schema because Crossplane injects its own.
	xpv2.ConditionedStatus `json:",inline"`

	// Endpoint is host:port of the tunnel Service that always reaches the current master.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// ReadOnlyEndpoint is host:port of the read-only Service, when enabled.
	// +optional
	ReadOnlyEndpoint string `json:"readOnlyEndpoint,omitempty"`

	// ConnectionSecret is the name of the Secret applications read to connect.
	// +optional
	ConnectionSecret string `json:"connectionSecret,omitempty"`

	// Redis counts the Redis pods (in cluster mode, of every shard).
	// +optional
	Redis ComponentStatus `json:"redis,omitempty"`

	// Sentinel counts the Sentinel pods (sentinel mode only).
	// +optional
	Sentinel *ComponentStatus `json:"sentinel,omitempty"`

	// Cluster counts the pods of each shard (cluster mode only).
	// +optional
	Cluster *ClusterStatus `json:"cluster,omitempty"`

	// Tunnel counts the tunnel pods.
	// +optional
	Tunnel ComponentStatus `json:"tunnel,omitempty"`
}

// ComponentStatus counts the pods of one component.
type ComponentStatus struct {
	// Replicas is the desired number of pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Ready is the number of pods that are ready. It is shown even when 0, which is worth
	// seeing while the pods start.
	// +optional
	Ready int32 `json:"ready"`
}

// ClusterStatus is what the composition function can see of a Redis Cluster: the pods of
// each shard's StatefulSet. It cannot ask Redis, so it does not know which pod is a master;
// a pod is ready only while its own view of the cluster is healthy (cluster_state:ok) and,
// as a replica, its link to its master is up.
type ClusterStatus struct {
	// Shards counts the pods of each shard, in shard order.
	// +listType=atomic
	// +optional
	Shards []ShardStatus `json:"shards,omitempty"`

	// ReadyShards is the number of shards whose pods are all ready.
	// +optional
	ReadyShards int32 `json:"readyShards"`
}

// ShardStatus counts the pods of one shard.
type ShardStatus struct {
	// Name is the shard's StatefulSet, <name>-redis-<shard>; its pods are
	// <name>-redis-<shard>-<n>.
	Name string `json:"name"`

	// Replicas is the desired number of pods: a master and its replicas.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Ready is the number of pods that are ready.
	// +optional
	Ready int32 `json:"ready"`
}
