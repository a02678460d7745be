package v1alpha1

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AllowedRedisConfigKeys returns the redis.conf keys spec.redis.config accepts, sorted. They
// tune performance and observability only; keys that decide replication, persistence, auth,
// networking, memory limits or commands are owned by RedisHA's own fields. The XRD's CEL rule
// on spec.redis.config carries the same list (TestAllowedRedisConfigKeysMatchSchema).
func AllowedRedisConfigKeys() []string {
	return []string{
		"active-expire-effort",
		"activedefrag",
		"appendfsync",
		"auto-aof-rewrite-min-size",
		"auto-aof-rewrite-percentage",
		"client-query-buffer-limit",
		"dynamic-hz",
		"hash-max-listpack-entries",
		"hash-max-listpack-value",
		"hz",
		"io-threads",
		"latency-monitor-threshold",
		"latency-tracking",
		"lazyfree-lazy-eviction",
		"lazyfree-lazy-expire",
		"lazyfree-lazy-server-del",
		"lazyfree-lazy-user-del",
		"lazyfree-lazy-user-flush",
		"list-compress-depth",
		"list-max-listpack-size",
		"maxclients",
		"maxmemory-eviction-tenacity",
		"maxmemory-samples",
		"notify-keyspace-events",
		"proto-max-bulk-len",
		"repl-backlog-size",
		"repl-backlog-ttl",
		"repl-diskless-sync",
		"repl-diskless-sync-delay",
		"repl-timeout",
		"replica-lazy-flush",
		"set-max-intset-entries",
		"set-max-listpack-entries",
		"set-max-listpack-value",
		"slowlog-log-slower-than",
		"slowlog-max-len",
		"stream-node-max-bytes",
		"stream-node-max-entries",
		"tcp-keepalive",
		"timeout",
		"zset-max-listpack-entries",
		"zset-max-listpack-value",
	}
}

// IsAllowedRedisConfigKey reports whether spec.redis.config may set key.
func IsAllowedRedisConfigKey(key string) bool {
	_, found := slices.BinarySearch(AllowedRedisConfigKeys(), key)
	return found
}

// Image returns the Redis server image reference: the repository (spec.redis.image.repository
// or the flavor's official image) tagged with spec.redis.image.version.
func (i ImageSpec) Image() string {
	repo := i.Repository
	if repo == "" {
		repo = "docker.io/library/redis"
		if i.Flavor == FlavorValkey {
			repo = "docker.io/valkey/valkey"
		}
	}
	version := i.Version
	if version == "" {
		version = DefaultRedisVersion
	}
	return repo + ":" + version
}

// TunnelImage returns spec.tunnel.image, or defaultImage (the tunnel image of the composition
// function's own release) when it is empty.
func (t TunnelSpec) TunnelImage(defaultImage string) string {
	if t.Image != "" {
		return t.Image
	}
	return defaultImage
}

// ConnectionSecretName returns spec.connectionSecret.name, or "<name>-redis" when empty, where
// name is the instance name from Instance (the claim's name for a claimed XRedisHA).
func (s *RedisHASpec) ConnectionSecretName(name string) string {
	if s.ConnectionSecret.Name != "" {
		return s.ConnectionSecret.Name
	}
	return name + "-redis"
}

// AuthEnabled reports whether spec.auth.enabled is on (the default).
func (a AuthSpec) AuthEnabled() bool { return a.Enabled == nil || *a.Enabled }

// PolicyEnabled reports whether spec.networkPolicy.enabled is on (the default).
func (n NetworkPolicySpec) PolicyEnabled() bool { return n.Enabled == nil || *n.Enabled }

// ReadOnlyEndpointEnabled reports whether spec.tunnel.readOnlyEndpoint is on (the default).
func (t TunnelSpec) ReadOnlyEndpointEnabled() bool {
	return t.ReadOnlyEndpoint == nil || *t.ReadOnlyEndpoint
}

// SpreadEnabled reports whether spec.scheduling.topologySpread.enabled is on (the default).
func (t TopologySpreadSpec) SpreadEnabled() bool { return t.Enabled == nil || *t.Enabled }

// ServiceMonitorEnabled reports whether a ServiceMonitor is wanted: spec.metrics.serviceMonitor.enabled,
// which needs spec.metrics.enabled (the exporter it scrapes).
func (m MetricsSpec) ServiceMonitorEnabled() bool { return m.Enabled && m.ServiceMonitor.Enabled }

// Persistent reports whether Redis keeps data on a PersistentVolume (aof or rdb).
func (p PersistenceSpec) Persistent() bool { return p.Mode != PersistenceNone }

// Keys of the connection Secret that applications read. The legacy XRD lists them as
// connectionSecretKeys, so a RedisHAClaim's writeConnectionSecretToRef carries exactly these.
const (
	ConnectionSecretKeyHost         = "host"
	ConnectionSecretKeyPort         = "port"
	ConnectionSecretKeyPassword     = "password"
	ConnectionSecretKeyURL          = "url"
	ConnectionSecretKeyReadOnlyHost = "readOnlyHost"
	ConnectionSecretKeyReadOnlyPort = "readOnlyPort"
	ConnectionSecretKeyReadOnlyURL  = "readOnlyUrl"
)

// ConnectionSecretKeys returns every key of the connection Secret. The read-only keys are
// present only with spec.tunnel.readOnlyEndpoint, the password only with spec.auth.enabled.
func ConnectionSecretKeys() []string {
	return []string{
		ConnectionSecretKeyHost, ConnectionSecretKeyPort, ConnectionSecretKeyPassword, ConnectionSecretKeyURL,
		ConnectionSecretKeyReadOnlyHost, ConnectionSecretKeyReadOnlyPort, ConnectionSecretKeyReadOnlyURL,
	}
}

// Labels Crossplane puts on a legacy cluster-scoped XR that was created by a claim.
const (
	LabelClaimName      = "crossplane.io/claim-name"
	LabelClaimNamespace = "crossplane.io/claim-namespace"
)

// Instance returns the namespace the composed objects belong in and the name users know the
// instance by. A namespaced RedisHA answers with its own namespace and name. A legacy
// XRedisHA is cluster scoped, so it answers with its claim's namespace and name (its own name
// carries a random suffix); an XRedisHA without a claim has no namespace to compose into.
func Instance(xr metav1.Object) (namespace, name string, err error) {
	if xr.GetNamespace() != "" {
		return xr.GetNamespace(), xr.GetName(), nil
	}
	labels := xr.GetLabels()
	namespace, name = labels[LabelClaimNamespace], labels[LabelClaimName]
	if namespace == "" || name == "" {
		return "", "", fmt.Errorf("cluster-scoped %s %q has no %s and %s labels: create it through a %s, or use the namespaced %s",
			XRedisHAKind, xr.GetName(), LabelClaimNamespace, LabelClaimName, RedisHAClaimKind, RedisHAKind)
	}
	return namespace, name, nil
}
