package function

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/resource"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// Ports every component listens on. They are fixed so the tunnel contract, the Services and
// the NetworkPolicies agree without configuration.
const (
	redisPort          = 6379
	sentinelPort       = 26379
	tunnelPort         = 6379
	tunnelReadOnlyPort = 6380
	tunnelMetricsPort  = 8080
	exporterPort       = 9121
	// clusterBusPort is the Redis Cluster bus of a cluster-mode node: the default, the client
	// port + 10000.
	clusterBusPort = redisPort + 10000
)

// masterName is the Sentinel master name. Every RedisHA has its own Sentinels, so one fixed
// name is unambiguous and matches what operators type into redis-cli by habit.
const masterName = "mymaster"

// Labels on every composed object. The selector labels are the subset that never changes
// after creation, because StatefulSet and Deployment selectors are immutable.
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelManagedBy = "app.kubernetes.io/managed-by"

	// labelScrape marks the Services the ServiceMonitor selects.
	labelScrape = "redisha.io/scrape"
	// labelShard is the shard of a cluster-mode Redis pod: part of its StatefulSet's
	// selector, and what its PodDisruptionBudget and anti-affinity select.
	labelShard = "redisha.io/shard"

	appName   = "redis-ha"
	managedBy = "function-redis-ha"
)

// Components, used as app.kubernetes.io/component values.
const (
	componentRedis    = "redis"
	componentSentinel = "sentinel"
	componentTunnel   = "tunnel"
	componentAuth     = "auth"
	componentConfig   = "config"
	componentMetrics  = "metrics"
	// componentClusterJob is the Job that creates a cluster-mode RedisHA's cluster and adds
	// its shards.
	componentClusterJob = "cluster-job"
)

// Pod annotations that roll the pods when what they read at start changes.
const (
	annotationConfigChecksum = "redisha.io/config-checksum"
	annotationAuthChecksum   = "redisha.io/auth-checksum"
)

// Composition resource names: the stable keys under which each composed object appears in
// the desired state. Renaming one makes Crossplane delete and recreate the object, so they
// never change.
const (
	resourcePasswordSecret          resource.Name = "password-secret"
	resourceConnectionSecret        resource.Name = "connection-secret"
	resourceConfigMap               resource.Name = "config"
	resourceRedisHeadlessService    resource.Name = "redis-headless-service"
	resourceSentinelHeadlessService resource.Name = "sentinel-headless-service"
	resourceTunnelService           resource.Name = "tunnel-service"
	resourceTunnelReadOnlyService   resource.Name = "tunnel-readonly-service"
	resourceTunnelMetricsService    resource.Name = "tunnel-metrics-service"
	resourceRedisStatefulSet        resource.Name = "redis-statefulset"
	resourceSentinelStatefulSet     resource.Name = "sentinel-statefulset"
	resourceTunnelDeployment        resource.Name = "tunnel-deployment"
	resourceRedisPDB                resource.Name = "redis-pdb"
	resourceSentinelPDB             resource.Name = "sentinel-pdb"
	resourceTunnelPDB               resource.Name = "tunnel-pdb"
	resourceRedisNetworkPolicy      resource.Name = "redis-networkpolicy"
	resourceSentinelNetworkPolicy   resource.Name = "sentinel-networkpolicy"
	resourceTunnelNetworkPolicy     resource.Name = "tunnel-networkpolicy"
	resourceRedisServiceAccount     resource.Name = "redis-serviceaccount"
	resourceSentinelServiceAccount  resource.Name = "sentinel-serviceaccount"
	resourceTunnelServiceAccount    resource.Name = "tunnel-serviceaccount"
	resourceServiceMonitor          resource.Name = "servicemonitor"
)

// Composition resource names of cluster mode that exist once per shard, or once per shape of
// the cluster. A shard's names never change. The cluster Job's name carries a digest of its
// pod template: a Job's template is immutable, so a changed Job is a new one, and the old one
// is deleted when it leaves the desired state.
func resourceShardStatefulSet(shard int32) resource.Name {
	return resource.Name(fmt.Sprintf("redis-shard-%d-statefulset", shard))
}

func resourceShardPDB(shard int32) resource.Name {
	return resource.Name(fmt.Sprintf("redis-shard-%d-pdb", shard))
}

// clusterJobPrefix starts the composition resource name of the cluster Job.
const clusterJobPrefix = "cluster-job-"

// requiredExistingSecret is the key under which the function asks Crossplane for the Secret
// named by spec.auth.existingSecret.
const requiredExistingSecret = "existing-password-secret"

// instance is one RedisHA (or XRedisHA) being composed: who it is, its defaulted spec, and
// the values derived from the spec that several composers share.
type instance struct {
	// name is the base of every composed object's name: the XR's name, or the claim's
	// name for a legacy XRedisHA, so apps see names they chose.
	name      string
	namespace string
	// legacy is true for the cluster-scoped XRedisHA, whose conditions also go to the claim
	// and whose connection details Crossplane publishes.
	legacy bool
	spec   v1alpha1.RedisHASpec

	// parsed are the spec's quantities and durations, parsed once by v1alpha1's Parse.
	parsed      v1alpha1.Parsed
	tunnelImage string
}

// cluster reports whether the instance is a Redis Cluster (spec.mode: cluster).
func (in *instance) cluster() bool { return in.spec.Mode == v1alpha1.ModeCluster }

// shards is the number of shards of a cluster-mode instance.
func (in *instance) shards() int32 { return in.spec.Cluster.Shards }

// podsPerShard is a shard's master and its replicas.
func (in *instance) podsPerShard() int32 { return 1 + in.spec.Cluster.ReplicasPerShard }

// specOf decodes the XR's spec into the typed spec. It works for RedisHA and XRedisHA alike,
// because both share RedisHASpec.
func specOf(xr *unstructured.Unstructured) (v1alpha1.RedisHASpec, error) {
	var spec v1alpha1.RedisHASpec
	raw, ok := xr.Object["spec"].(map[string]any)
	if !ok {
		if _, present := xr.Object["spec"]; present {
			return spec, errors.New("cannot decode spec: spec is not an object")
		}
		return spec, nil // spec: {} is valid; every field defaults
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return spec, errors.Wrap(err, "cannot decode spec")
	}
	return spec, nil
}

// labels returns the full label set of one component's objects.
func (in *instance) labels(component string) map[string]string {
	return map[string]string{
		labelName:      appName,
		labelInstance:  in.name,
		labelComponent: component,
		labelPartOf:    appName,
		labelManagedBy: managedBy,
	}
}

// selector returns the labels that select one component's pods. They are immutable parts of
// the workloads' selectors, so they must never change for an existing instance.
func (in *instance) selector(component string) map[string]string {
	return map[string]string{
		labelName:      appName,
		labelInstance:  in.name,
		labelComponent: component,
	}
}

// shardLabels returns the full label set of one shard's objects.
func (in *instance) shardLabels(shard int32) map[string]string {
	l := in.labels(componentRedis)
	l[labelShard] = strconv.Itoa(int(shard))
	return l
}

// shardSelector returns the labels that select the pods of one shard of a cluster.
func (in *instance) shardSelector(shard int32) map[string]string {
	s := in.selector(componentRedis)
	s[labelShard] = strconv.Itoa(int(shard))
	return s
}

// Object names. Each is derived from the instance name only, so they are stable.
func (in *instance) redisName() string               { return in.name + "-redis" }
func (in *instance) redisHeadlessName() string       { return in.name + "-redis-headless" }
func (in *instance) sentinelName() string            { return in.name + "-sentinel" }
func (in *instance) sentinelHeadlessName() string    { return in.name + "-sentinel-headless" }
func (in *instance) tunnelName() string              { return in.name + "-tunnel" }
func (in *instance) tunnelReadOnlyName() string      { return in.name + "-tunnel-ro" }
func (in *instance) tunnelMetricsName() string       { return in.name + "-tunnel-metrics" }
func (in *instance) configName() string              { return in.name + "-config" }
func (in *instance) passwordSecretName() string      { return in.name + "-password" }
func (in *instance) connectionSecretName() string    { return in.spec.ConnectionSecretName(in.name) }
func (in *instance) serviceDomain(svc string) string { return svc + "." + in.namespace + ".svc" }

// redisHost is the per-pod DNS name of Redis pod i, through the headless Service.
func (in *instance) redisHost(i int32) string {
	return fmt.Sprintf("%s-%d.%s", in.redisName(), i, in.serviceDomain(in.redisHeadlessName()))
}

// shardName is the StatefulSet of one shard of a cluster.
func (in *instance) shardName(shard int32) string { return fmt.Sprintf("%s-%d", in.redisName(), shard) }

// shardHost is the per-pod DNS name of pod i of a shard, through the headless Service that
// every shard's StatefulSet shares.
func (in *instance) shardHost(shard, i int32) string {
	return fmt.Sprintf("%s-%d.%s", in.shardName(shard), i, in.serviceDomain(in.redisHeadlessName()))
}

// clusterNodes lists every pod of a cluster as SHARD/HOST:PORT, shard by shard, the pod that
// starts as the shard's master first: the REDIS_HA_CLUSTER_NODES of scripts/cluster-lib.sh.
func (in *instance) clusterNodes() []string {
	out := make([]string, 0, in.shards()*in.podsPerShard())
	for k := range in.shards() {
		for i := range in.podsPerShard() {
			out = append(out, fmt.Sprintf("%d/%s:%d", k, in.shardHost(k, i), redisPort))
		}
	}
	return out
}

// clusterAddrs lists host:port of every pod of a cluster, shard by shard.
func (in *instance) clusterAddrs() []string {
	out := make([]string, 0, in.shards()*in.podsPerShard())
	for k := range in.shards() {
		for i := range in.podsPerShard() {
			out = append(out, in.shardHost(k, i)+":"+strconv.Itoa(redisPort))
		}
	}
	return out
}

// sentinelHost is the per-pod DNS name of Sentinel pod i, through the headless Service.
func (in *instance) sentinelHost(i int32) string {
	return fmt.Sprintf("%s-%d.%s", in.sentinelName(), i, in.serviceDomain(in.sentinelHeadlessName()))
}

// sentinelAddrs lists host:port of every Sentinel, in ordinal order.
func (in *instance) sentinelAddrs() []string {
	out := make([]string, 0, in.spec.Sentinel.Replicas)
	for i := range in.spec.Sentinel.Replicas {
		out = append(out, in.sentinelHost(i)+":"+strconv.Itoa(sentinelPort))
	}
	return out
}

// redisAddrs lists host:port of every Redis pod, in ordinal order.
func (in *instance) redisAddrs() []string {
	out := make([]string, 0, in.spec.Redis.Replicas)
	for i := range in.spec.Redis.Replicas {
		out = append(out, in.redisHost(i)+":"+strconv.Itoa(redisPort))
	}
	return out
}

// endpoint is host:port of the client Service, which always reaches the current master.
func (in *instance) endpoint() string {
	return in.serviceDomain(in.tunnelName()) + ":" + strconv.Itoa(tunnelPort)
}

// readOnlyEndpoint is host:port of the read-only Service, or "" when it is disabled.
func (in *instance) readOnlyEndpoint() string {
	if !in.spec.Tunnel.ReadOnlyEndpointEnabled() {
		return ""
	}
	return in.serviceDomain(in.tunnelReadOnlyName()) + ":" + strconv.Itoa(tunnelReadOnlyPort)
}

// serverBinary is the name of a program of the chosen flavor: valkey images ship
// valkey-server, valkey-sentinel and valkey-cli.
func (in *instance) serverBinary(program string) string {
	if in.spec.Redis.Image.Flavor == v1alpha1.FlavorValkey {
		return "valkey-" + program
	}
	return "redis-" + program
}

// checksum is a short, stable digest used in pod annotations: it changes when the input does,
// which rolls the pods, and reveals nothing about a password it was computed from.
func checksum(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// joinAddrs renders a list for a shell script variable: space-separated.
func joinAddrs(addrs []string) string { return strings.Join(addrs, " ") }

// toUnstructured converts an apply configuration into the unstructured form Crossplane takes.
// Apply configurations hold only the fields we set, so the result carries no zero values
// (creationTimestamp: null, empty status) that would fight the API server's own.
func toUnstructured(applyConfig any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(applyConfig)
	if err != nil {
		return nil, errors.Wrapf(err, "cannot convert %T to unstructured", applyConfig)
	}
	return &unstructured.Unstructured{Object: m}, nil
}
