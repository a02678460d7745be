package v1alpha1_test

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
	"github.com/redis-ha/redis-ha/internal/schemacheck"
)

// repoRoot is the repository root as seen from this package's directory.
const repoRoot = "../.."

// xrdFiles are the generated XRDs by XR kind.
func xrdFiles() map[string]string {
	return map[string]string{
		v1alpha1.RedisHAKind:  filepath.Join(repoRoot, "package/configuration/xrd-redisha.yaml"),
		v1alpha1.XRedisHAKind: filepath.Join(repoRoot, "package/configuration/xrd-xredisha.yaml"),
	}
}

// loadValidators compiles a validator per kind (RedisHA, XRedisHA, RedisHAClaim) from the CRDs
// Crossplane derives from the committed XRDs (the drift test in apis/internal/xrdgen proves the
// XRDs match the Go types).
func loadValidators(t *testing.T) map[string]*schemacheck.Validator {
	t.Helper()
	out := map[string]*schemacheck.Validator{}
	for _, path := range xrdFiles() {
		x, err := schemacheck.LoadXRD(path)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := x.Validators()
		if err != nil {
			t.Fatal(err)
		}
		for kind, v := range vs {
			out[kind] = v
		}
	}
	if len(out) != 3 {
		t.Fatalf("want validators for RedisHA, XRedisHA and RedisHAClaim, got %d", len(out))
	}
	return out
}

// object builds an XR of kind with the spec given as YAML.
func object(t *testing.T, kind, specYAML string) map[string]any {
	t.Helper()
	spec := map[string]any{}
	if err := yaml.Unmarshal([]byte(specYAML), &spec); err != nil {
		t.Fatalf("bad test spec YAML: %v", err)
	}
	if spec == nil {
		spec = map[string]any{}
	}
	return map[string]any{
		"apiVersion": v1alpha1.Group + "/" + v1alpha1.Version,
		"kind":       kind,
		"metadata":   map[string]any{"name": "cache", "namespace": "default"},
		"spec":       spec,
	}
}

// fieldError is the part of a validation error a user reads: where, and what to do.
type fieldError struct {
	Field  string
	Detail string
}

func errorsOf(r schemacheck.Result) []fieldError {
	var out []fieldError
	for _, e := range r.Errors {
		out = append(out, fieldError{Field: e.Field, Detail: e.Detail})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field+out[i].Detail < out[j].Field+out[j].Detail })
	return out
}

// TestXRDsAreAcceptedByTheAPIServer runs the API server's own CRD validation on the CRDs
// Crossplane creates from the XRDs (XR and claim): structural schema, valid defaults, CEL
// compilation and CEL cost limits.
func TestXRDsAreAcceptedByTheAPIServer(t *testing.T) {
	for _, path := range xrdFiles() {
		x, err := schemacheck.LoadXRD(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range x.ValidateCRDs(context.Background()) {
			t.Errorf("%s: the API server would reject a CRD Crossplane derives from it: %v", path, e)
		}
	}
}

// TestValidationRulesOnCreate proves every validation rule rejects the object it is meant to
// reject, with its message at the right field, and that valid objects pass. Each case runs
// against RedisHA, XRedisHA and RedisHAClaim, which share the spec.
func TestValidationRulesOnCreate(t *testing.T) {
	validators := loadValidators(t)
	for name, tc := range createCases() {
		for kind, v := range validators {
			t.Run(name+"/"+kind, func(t *testing.T) {
				got := errorsOf(v.Validate(context.Background(), object(t, kind, tc.spec), nil))
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s\nValidate(%s) errors -want +got:\n%s", tc.reason, tc.spec, diff)
				}
			})
		}
	}
}

// createCase is one object on create and the errors the API server must report for it.
type createCase struct {
	reason string
	spec   string
	want   []fieldError
}

// createCases are shared by the schema tests and TestValidateAgreesWithSchema.
func createCases() map[string]createCase {
	return map[string]createCase{
		"EmptySpec": {
			reason: "every field is defaulted, so spec: {} is valid",
			spec:   `{}`,
		},
		"CustomSizeWithoutResources": {
			reason: "size custom has nothing to size Redis by",
			spec:   `size: custom`,
			want: []fieldError{{"spec.size",
				"spec.size: custom needs spec.resources with at least limits.memory: add spec.resources, or pick the preset size small, medium or large"}},
		},
		"ResourcesWithPresetSize": {
			reason: "explicit resources next to a preset would be silently ignored",
			spec:   "size: medium\nresources: {limits: {memory: 1Gi}}",
			want: []fieldError{{"spec.resources",
				"spec.resources is only read when spec.size is custom: set spec.size: custom to use explicit resources, or remove spec.resources to use the preset"}},
		},
		"CustomResourcesWithoutMemoryLimit": {
			reason: "maxmemory is derived from limits.memory",
			spec:   "size: custom\nresources: {requests: {cpu: 500m}}",
			want: []fieldError{{"spec.resources.limits",
				"spec.resources.limits.memory is required with spec.size: custom, because Redis maxmemory is derived from it (75%)"}},
		},
		"CustomMemoryRequestAboveLimit": {
			reason: "a request above the limit can never be satisfied",
			spec:   "size: custom\nresources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}",
			want: []fieldError{{"spec.resources.requests.memory",
				"spec.resources.requests.memory must not exceed spec.resources.limits.memory: lower the request or raise the limit"}},
		},
		"CustomCPURequestAboveLimit": {
			reason: "a request above the limit can never be satisfied",
			spec:   "size: custom\nresources: {requests: {cpu: '2'}, limits: {cpu: 500m, memory: 1Gi}}",
			want: []fieldError{{"spec.resources.requests.cpu",
				"spec.resources.requests.cpu must not exceed spec.resources.limits.cpu: lower the request or raise the limit"}},
		},
		"CustomCPUNotAQuantity": {
			reason: "quantities are checked before anything uses them",
			spec:   "size: custom\nresources: {limits: {cpu: lots, memory: 1Gi}}",
			want:   []fieldError{{"spec.resources.limits.cpu", "cpu must be a positive Kubernetes quantity such as 500m or 2"}},
		},
		"CustomMemoryTooSmall": {
			reason: "Redis does not run usefully in less than 16Mi",
			spec:   "size: custom\nresources: {limits: {memory: 8Mi}}",
			want:   []fieldError{{"spec.resources.limits.memory", "memory must be a Kubernetes quantity larger than 16Mi, such as 512Mi or 2Gi"}},
		},
		"CustomResourcesValid": {
			reason: "custom size with a memory limit and lower requests is fine",
			spec:   "size: custom\nresources: {requests: {cpu: 250m, memory: 512Mi}, limits: {cpu: '1', memory: 1Gi}}",
		},
		"RedisConfigKeyNotAllowed": {
			reason: "replicaof would break Sentinel's control of replication; the message names the key",
			spec:   "redis: {config: {replicaof: 'x 6379'}}",
			want: []fieldError{{"spec.redis.config",
				"spec.redis.config key replicaof may not be set here: RedisHA manages it (use the matching spec field) or it could break replication or failover; see docs/api.md for the allowed keys"}},
		},
		"RedisConfigAllowedKeys": {
			reason: "tuning keys are accepted",
			spec:   "redis: {config: {timeout: '300', hz: '20', notify-keyspace-events: Ex}}",
		},
		"RedisConfigValueWithNewline": {
			reason: "a newline would inject another redis.conf directive",
			spec:   "redis: {config: {timeout: \"300\\nreplicaof evil 6379\"}}",
			want:   []fieldError{{"spec.redis.config.timeout", `spec.redis.config.timeout in body should match '^[^\r\n]*$'`}},
		},
		"RedisVersionTooOld": {
			reason: "Sentinel hostname support needs 6.2",
			spec:   "redis: {image: {version: '6.0'}}",
			want: []fieldError{{"spec.redis.image.version",
				"spec.redis.image.version must be 6.2 or newer: Sentinel needs resolve-hostnames and announce-hostnames"}},
		},
		"RedisVersionWithSuffix": {
			reason: "patch versions and image suffixes are fine",
			spec:   "redis: {image: {flavor: valkey, version: 7.2.5-alpine}}",
		},
		"RedisVersionNotAVersion": {
			reason: "the pattern rejects it; the CEL rule stays quiet instead of erroring on int()",
			spec:   "redis: {image: {version: latest}}",
			want:   []fieldError{{"spec.redis.image.version", `spec.redis.image.version in body should match '^[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.]+)?$'`}},
		},
		"RedisTooFewReplicas": {
			reason: "HA needs at least one replica to fail over to",
			spec:   "redis: {replicas: 1}",
			want:   []fieldError{{"spec.redis.replicas", "spec.redis.replicas in body should be greater than or equal to 2"}},
		},
		"SentinelEvenReplicas": {
			reason: "an even Sentinel count wastes a pod and can tie",
			spec:   "sentinel: {replicas: 4}",
			want: []fieldError{{"spec.sentinel.replicas",
				"spec.sentinel.replicas must be odd (3, 5 or 7) so a majority of Sentinels can authorize a failover"}},
		},
		"SentinelQuorumAboveReplicas": {
			reason: "a quorum larger than the Sentinel count can never be reached",
			spec:   "sentinel: {replicas: 3, quorum: 4}",
			want: []fieldError{{"spec.sentinel.quorum",
				"spec.sentinel.quorum must not exceed spec.sentinel.replicas, or no failover can ever be agreed: lower quorum or remove it to use the majority"}},
		},
		"SentinelQuorumExplicit": {
			reason: "any quorum up to replicas is allowed",
			spec:   "sentinel: {replicas: 5, quorum: 2}",
		},
		"SentinelFailoverTimeoutNotAboveDownAfter": {
			reason: "a failover must be allowed to take longer than detecting the failure",
			spec:   "sentinel: {downAfter: 30s, failoverTimeout: 10s}",
			want: []fieldError{{"spec.sentinel.failoverTimeout",
				"spec.sentinel.failoverTimeout must be longer than spec.sentinel.downAfter: raise failoverTimeout or lower downAfter"}},
		},
		"SentinelFailoverTimeoutNotAboveDefaultedDownAfter": {
			reason: "the rule compares with the defaulted downAfter (5s) too",
			spec:   "sentinel: {failoverTimeout: 5s}",
			want: []fieldError{{"spec.sentinel.failoverTimeout",
				"spec.sentinel.failoverTimeout must be longer than spec.sentinel.downAfter: raise failoverTimeout or lower downAfter"}},
		},
		"SentinelQuorumAboveDefaultedReplicas": {
			reason: "the rule compares with the defaulted replicas (3) too",
			spec:   "sentinel: {quorum: 4}",
			want: []fieldError{{"spec.sentinel.quorum",
				"spec.sentinel.quorum must not exceed spec.sentinel.replicas, or no failover can ever be agreed: lower quorum or remove it to use the majority"}},
		},
		"SentinelFailoverTimeoutNotADuration": {
			reason: "a duration Go cannot parse is rejected by the pattern",
			spec:   "sentinel: {failoverTimeout: 1min}",
			want:   []fieldError{{"spec.sentinel.failoverTimeout", `spec.sentinel.failoverTimeout in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'`}},
		},
		"SentinelDownAfterTooShort": {
			reason: "sub-second down detection causes failovers on hiccups",
			spec:   "sentinel: {downAfter: 500ms}",
			want:   []fieldError{{"spec.sentinel.downAfter", "spec.sentinel.downAfter must be between 1s and 10m"}},
		},
		"SentinelDownAfterNotADuration": {
			reason: "the pattern rejects it; the CEL rules stay quiet instead of erroring on duration()",
			spec:   "sentinel: {downAfter: soon}",
			want:   []fieldError{{"spec.sentinel.downAfter", `spec.sentinel.downAfter in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'`}},
		},
		"AuthDisabledWithExistingSecret": {
			reason: "an existing password Secret means auth is wanted",
			spec:   "auth: {enabled: false, existingSecret: {name: redis-pw}}",
			want: []fieldError{{"spec.auth.existingSecret",
				"spec.auth.existingSecret is only used with spec.auth.enabled: true: enable auth or remove existingSecret"}},
		},
		"AuthExistingSecretWithoutName": {
			reason: "an existing Secret reference must name the Secret",
			spec:   "auth: {existingSecret: {key: pw}}",
			want:   []fieldError{{"spec.auth.existingSecret.name", ""}},
		},
		"AuthExistingSecret": {
			reason: "an existing Secret with auth on (the default) is fine; key defaults to password",
			spec:   "auth: {existingSecret: {name: redis-pw}}",
		},
		"TLSEnabledWithoutSecret": {
			reason: "TLS needs a certificate",
			spec:   "tls: {enabled: true}",
			want: []fieldError{{"spec.tls.secretName",
				"spec.tls.secretName is required when spec.tls.enabled is true: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (e.g. from cert-manager)"}},
		},
		"TLSSecretWithoutEnabled": {
			reason: "a certificate without TLS on is a forgotten switch",
			spec:   "tls: {secretName: redis-tls}",
			want: []fieldError{{"spec.tls.secretName",
				"spec.tls.secretName is only used with spec.tls.enabled: true: enable TLS or remove secretName"}},
		},
		"TLSValid": {
			reason: "TLS on with a Secret is fine",
			spec:   "tls: {enabled: true, secretName: redis-tls}",
		},
		"NetworkPolicyDisabledWithClients": {
			reason: "allowed clients mean nothing without the policy",
			spec:   "networkPolicy: {enabled: false, allowedClients: [{podSelector: {}}]}",
			want: []fieldError{{"spec.networkPolicy.allowedClients",
				"spec.networkPolicy.allowedClients is only used with spec.networkPolicy.enabled: true: enable the policy or remove allowedClients"}},
		},
		"NetworkPolicyEmptyPeer": {
			reason: "an entry without selectors is almost certainly a mistake",
			spec:   "networkPolicy: {allowedClients: [{}]}",
			want:   []fieldError{{"spec.networkPolicy.allowedClients[0]", "each spec.networkPolicy.allowedClients entry needs podSelector, namespaceSelector or both"}},
		},
		"NetworkPolicyPeers": {
			reason: "pod and namespace selectors are accepted",
			spec:   "networkPolicy: {allowedClients: [{podSelector: {matchLabels: {app: web}}}, {namespaceSelector: {matchLabels: {team: a}}}]}",
		},
		"ServiceMonitorWithoutMetrics": {
			reason: "the ServiceMonitor scrapes the exporter sidecar",
			spec:   "metrics: {serviceMonitor: {enabled: true}}",
			want: []fieldError{{"spec.metrics.serviceMonitor.enabled",
				"spec.metrics.serviceMonitor.enabled needs spec.metrics.enabled: true, because the ServiceMonitor scrapes the exporter sidecar"}},
		},
		"StorageSizeZero": {
			reason: "a zero-sized volume cannot hold data",
			spec:   "redis: {persistence: {storage: {size: '0'}}}",
			want:   []fieldError{{"spec.redis.persistence.storage.size", "spec.redis.persistence.storage.size must be a positive Kubernetes quantity such as 1Gi"}},
		},
		"SizeNotInEnum": {
			reason: "presets are a closed set",
			spec:   "size: huge",
			want:   []fieldError{{"spec.size", `supported values: "small", "medium", "large", "custom"`}},
		},
		"TunnelServiceTypeNotSupported": {
			reason: "ExternalName cannot front pods",
			spec:   "tunnel: {serviceType: ExternalName}",
			want:   []fieldError{{"spec.tunnel.serviceType", `supported values: "ClusterIP", "NodePort", "LoadBalancer"`}},
		},
		"TopologyMaxSkewTooHigh": {
			reason: "a skew above 10 spreads nothing",
			spec:   "scheduling: {topologySpread: {maxSkew: 11}}",
			want:   []fieldError{{"spec.scheduling.topologySpread.maxSkew", "spec.scheduling.topologySpread.maxSkew in body should be less than or equal to 10"}},
		},
		"TunnelWithoutReplicas": {
			reason: "without a tunnel pod clients cannot connect",
			spec:   "tunnel: {replicas: -1}",
			want:   []fieldError{{"spec.tunnel.replicas", "spec.tunnel.replicas in body should be greater than or equal to 1"}},
		},
		"ScrapeIntervalNotADuration": {
			reason: "the ServiceMonitor interval must be a duration Prometheus reads",
			spec:   "metrics: {enabled: true, serviceMonitor: {enabled: true, interval: often}}",
			want:   []fieldError{{"spec.metrics.serviceMonitor.interval", `spec.metrics.serviceMonitor.interval in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'`}},
		},
		"ConnectionSecretNameInvalid": {
			reason: "Secret names are DNS subdomains",
			spec:   "connectionSecret: {name: My_Secret}",
			want: []fieldError{{"spec.connectionSecret.name",
				`spec.connectionSecret.name in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'`}},
		},
		"ModeNotInEnum": {
			reason: "sentinel and cluster are the only modes",
			spec:   "mode: sharded",
			want:   []fieldError{{"spec.mode", `supported values: "sentinel", "cluster"`}},
		},
		"ClusterModeDefaults": {
			reason: "mode: cluster alone is a complete request: 3 shards of a master and a replica",
			spec:   "mode: cluster",
		},
		"ClusterModeSized": {
			reason: "shards and replicas per shard within their bounds, the read-only endpoint explicitly off",
			spec:   "mode: cluster\ncluster: {shards: 6, replicasPerShard: 2}\ntunnel: {readOnlyEndpoint: false}",
		},
		"ClusterTooFewShards": {
			reason: "a failover is voted by a majority of masters, so fewer than 3 cannot survive a master's loss",
			spec:   "mode: cluster\ncluster: {shards: 2}",
			want:   []fieldError{{"spec.cluster.shards", "spec.cluster.shards in body should be greater than or equal to 3"}},
		},
		"ClusterTooManyReplicasPerShard": {
			reason: "replicas per shard are bounded",
			spec:   "mode: cluster\ncluster: {replicasPerShard: 6}",
			want:   []fieldError{{"spec.cluster.replicasPerShard", "spec.cluster.replicasPerShard in body should be less than or equal to 5"}},
		},
		"ClusterInSentinelMode": {
			reason: "spec.cluster would be silently ignored in sentinel mode",
			spec:   "cluster: {shards: 5}",
			want: []fieldError{{"spec.cluster",
				"spec.cluster is only used with spec.mode: cluster: set spec.mode: cluster when you create the RedisHA, or remove spec.cluster"}},
		},
		"SentinelInClusterMode": {
			reason: "a Redis Cluster has no Sentinels",
			spec:   "mode: cluster\nsentinel: {replicas: 5}",
			want: []fieldError{{"spec.sentinel",
				"spec.sentinel is not used with spec.mode: cluster, where Redis Cluster fails a shard over by itself: remove spec.sentinel"}},
		},
		"RedisReplicasInClusterMode": {
			reason: "in cluster mode the pod count comes from spec.cluster",
			spec:   "mode: cluster\nredis: {replicas: 3}",
			want: []fieldError{{"spec.redis.replicas",
				"spec.redis.replicas is not used with spec.mode: cluster, where the pods are spec.cluster.shards x (1 + spec.cluster.replicasPerShard): remove spec.redis.replicas and size the cluster with spec.cluster"}},
		},
		"ReadOnlyEndpointInClusterMode": {
			reason: "the cluster-mode tunnel has no replica listener",
			spec:   "mode: cluster\ntunnel: {readOnlyEndpoint: true}",
			want: []fieldError{{"spec.tunnel.readOnlyEndpoint",
				"spec.tunnel.readOnlyEndpoint is not supported with spec.mode: cluster yet (the tunnel sends every command to its shard's master): remove it or set it to false"}},
		},
		"ClusterRedisVersionTooOld": {
			reason: "cluster-announce-hostname needs Redis 7.0",
			spec:   "mode: cluster\nredis: {image: {version: '6.2'}}",
			want: []fieldError{{"spec.redis.image.version",
				"spec.redis.image.version must be 7.0 or newer with spec.mode: cluster: Redis Cluster announces host names (cluster-announce-hostname) only since 7.0"}},
		},
		"ClusterModeEverythingWrong": {
			reason: "every rule that cannot combine with cluster mode reports at once, each at its field",
			spec:   "mode: cluster\nredis: {replicas: 1, image: {version: '6.0'}}\nsentinel: {quorum: 2}",
			want: []fieldError{
				{"spec.redis.image.version", "spec.redis.image.version must be 6.2 or newer: Sentinel needs resolve-hostnames and announce-hostnames"},
				{"spec.redis.image.version", "spec.redis.image.version must be 7.0 or newer with spec.mode: cluster: Redis Cluster announces host names (cluster-announce-hostname) only since 7.0"},
				{"spec.redis.replicas", "spec.redis.replicas in body should be greater than or equal to 2"},
				{"spec.redis.replicas", "spec.redis.replicas is not used with spec.mode: cluster, where the pods are spec.cluster.shards x (1 + spec.cluster.replicasPerShard): remove spec.redis.replicas and size the cluster with spec.cluster"},
				{"spec.sentinel", "spec.sentinel is not used with spec.mode: cluster, where Redis Cluster fails a shard over by itself: remove spec.sentinel"},
			},
		},
		"UnknownField": {
			reason: "typos are rejected, as kubectl's strict field validation does",
			spec:   "redis: {replica: 3}",
			want:   []fieldError{{"spec.redis.replica", "unknown field"}},
		},
	}
}

// TestValidationRulesOnUpdate proves the transition rules: what StatefulSet volume claim
// templates cannot follow is immutable, the rest may change.
func TestValidationRulesOnUpdate(t *testing.T) {
	cases := map[string]struct {
		reason string
		old    string
		spec   string
		want   []fieldError
	}{
		"NothingChanged": {
			reason: "an unchanged spec passes the transition rules",
			old:    "redis: {persistence: {storage: {size: 2Gi, storageClassName: fast}}}",
			spec:   "redis: {persistence: {storage: {size: 2Gi, storageClassName: fast}}}",
		},
		"ScaleAndRetune": {
			reason: "replicas, sentinel timing and policy may change",
			old:    "{}",
			spec:   "redis: {replicas: 5, maxMemoryPolicy: allkeys-lru}\nsentinel: {replicas: 5, downAfter: 10s}",
		},
		"StorageClassChanged": {
			reason: "volume claim templates cannot change",
			old:    "redis: {persistence: {storage: {storageClassName: fast}}}",
			spec:   "redis: {persistence: {storage: {storageClassName: slow}}}",
			want: []fieldError{{"spec.redis.persistence.storage.storageClassName",
				"spec.redis.persistence.storage.storageClassName is immutable: StatefulSet volume claim templates cannot change; create a new RedisHA to move storage class"}},
		},
		"StorageClassAdded": {
			reason: "going from the default class to a named one changes the template too",
			old:    "{}",
			spec:   "redis: {persistence: {storage: {storageClassName: fast}}}",
			want: []fieldError{{"spec.redis.persistence.storage.storageClassName",
				"spec.redis.persistence.storage.storageClassName is immutable: StatefulSet volume claim templates cannot change; create a new RedisHA to move storage class"}},
		},
		"StorageSizeChanged": {
			reason: "volume claim templates cannot change",
			old:    "{}",
			spec:   "redis: {persistence: {storage: {size: 5Gi}}}",
			want: []fieldError{{"spec.redis.persistence.storage.size",
				"spec.redis.persistence.storage.size is immutable, because StatefulSet volume claim templates cannot change: expand the PVCs directly if the storage class allows it"}},
		},
		"PersistenceTurnedOff": {
			reason: "dropping the volume claim template is a template change",
			old:    "{}",
			spec:   "redis: {persistence: {mode: none}}",
			want: []fieldError{{"spec.redis.persistence.mode",
				"spec.redis.persistence.mode cannot switch between none and aof/rdb after creation, because StatefulSet volume claim templates are immutable: create a new RedisHA and migrate"}},
		},
		"AOFToRDB": {
			reason: "both modes use the same volume, so switching is fine",
			old:    "redis: {persistence: {mode: aof}}",
			spec:   "redis: {persistence: {mode: rdb}}",
		},
		"SentinelToCluster": {
			reason: "the data of a Sentinel-managed master cannot become a sharded cluster in place",
			old:    "{}",
			spec:   "mode: cluster",
			want: []fieldError{{"spec.mode",
				"spec.mode is immutable: sentinel and cluster mode keep the data in different layouts; create a new RedisHA in the other mode and migrate the data"}},
		},
		"ClusterToSentinelByRemovingMode": {
			reason: "removing spec.mode means the default, sentinel, so it is a change too",
			old:    "mode: cluster",
			spec:   "{}",
			want: []fieldError{{"spec.mode",
				"spec.mode is immutable: sentinel and cluster mode keep the data in different layouts; create a new RedisHA in the other mode and migrate the data"}},
		},
		"ShardsGrow": {
			reason: "shards can be added: the function moves slots onto them",
			old:    "mode: cluster",
			spec:   "mode: cluster\ncluster: {shards: 5, replicasPerShard: 2}",
		},
		"ShardsShrink": {
			reason: "removing a shard would need its slots and keys moved away first",
			old:    "mode: cluster\ncluster: {shards: 5}",
			spec:   "mode: cluster\ncluster: {shards: 4}",
			want: []fieldError{{"spec.cluster.shards",
				"spec.cluster.shards cannot shrink: a shard's hash slots and keys would have to move to the other shards first, which redis-ha does not do; keep the shard count, or create a new RedisHA with fewer shards and migrate the data"}},
		},
		"ShardsShrinkByRemovingCluster": {
			reason: "without spec.cluster the shard count is the default 3, so removing it shrinks 5 shards too",
			old:    "mode: cluster\ncluster: {shards: 5}",
			spec:   "mode: cluster",
			want: []fieldError{{"spec.cluster.shards",
				"spec.cluster.shards cannot shrink: a shard's hash slots and keys would have to move to the other shards first, which redis-ha does not do; keep the shard count, or create a new RedisHA with fewer shards and migrate the data"}},
		},
		"ClusterRemovedAtTheDefaults": {
			reason: "removing a spec.cluster that held the defaults changes nothing",
			old:    "mode: cluster\ncluster: {shards: 3, replicasPerShard: 1}",
			spec:   "mode: cluster",
		},
		"ReplicasPerShardShrink": {
			reason: "removed replicas would stay in the cluster's node table",
			old:    "mode: cluster\ncluster: {replicasPerShard: 2}",
			spec:   "mode: cluster\ncluster: {replicasPerShard: 1}",
			want: []fieldError{{"spec.cluster.replicasPerShard",
				"spec.cluster.replicasPerShard cannot shrink: the removed pods would stay in the cluster's node table as failed nodes; keep the replica count"}},
		},
	}
	validators := loadValidators(t)
	for name, tc := range cases {
		for kind, v := range validators {
			t.Run(name+"/"+kind, func(t *testing.T) {
				old := object(t, kind, tc.old)
				if err := v.Validate(context.Background(), old, nil).Err(); err != nil {
					t.Fatalf("old object is invalid on its own: %v", err)
				}
				got := errorsOf(v.Validate(context.Background(), object(t, kind, tc.spec), old))
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s\nValidate(%s -> %s) errors -want +got:\n%s", tc.reason, tc.old, tc.spec, diff)
				}
			})
		}
	}
}

// TestValidateAgreesWithSchema proves the Go Validate rejects exactly what the schema
// rejects, at the same fields, and repeats every CEL rule's message word for word.
func TestValidateAgreesWithSchema(t *testing.T) {
	v := loadValidators(t)[v1alpha1.RedisHAKind]
	for name, tc := range createCases() {
		t.Run(name, func(t *testing.T) {
			obj := object(t, v1alpha1.RedisHAKind, tc.spec)
			schemaErrs := errorsOf(v.Validate(context.Background(), obj, nil))
			if len(schemaErrs) == 1 && schemaErrs[0].Detail == "unknown field" {
				t.Skip("the Go type cannot hold an unknown field; strict decoding rejects it instead")
			}
			spec := decodeSpec(t, obj["spec"])
			spec.Default()
			var goErrs []fieldError
			if err := spec.Validate(); err != nil {
				for _, e := range err.(interface{ Errors() []error }).Errors() {
					fe := e.(*field.Error)
					goErrs = append(goErrs, fieldError{Field: fe.Field, Detail: fe.Detail})
				}
			}
			fields := func(errs []fieldError) []string {
				var out []string
				for _, e := range errs {
					out = append(out, e.Field)
				}
				sort.Strings(out)
				return out
			}
			if diff := cmp.Diff(fields(schemaErrs), fields(goErrs)); diff != "" {
				t.Errorf("%s\nfields with errors -schema +Validate():\n%s\nValidate(): %v", tc.reason, diff, goErrs)
			}
			for _, se := range schemaErrs {
				if !strings.HasPrefix(se.Detail, "spec.") || strings.Contains(se.Detail, " in body ") {
					continue // an OpenAPI message, worded by the API server
				}
				if !slices.Contains(goErrs, se) {
					t.Errorf("%s\nValidate() does not repeat the CEL message at %s: %q\ngot %v", tc.reason, se.Field, se.Detail, goErrs)
				}
			}
		})
	}
}

// TestCrossplaneInjectedRules shows the validators use the CRDs Crossplane really creates: its
// required spec and its 63-character name limit (names become label values) apply too.
func TestCrossplaneInjectedRules(t *testing.T) {
	for kind, v := range loadValidators(t) {
		t.Run(kind, func(t *testing.T) {
			noSpec := object(t, kind, `{}`)
			delete(noSpec, "spec")
			longName := object(t, kind, `{}`)
			longName["metadata"] = map[string]any{"name": strings.Repeat("a", 64), "namespace": "default"}
			got := append(errorsOf(v.Validate(context.Background(), noSpec, nil)), errorsOf(v.Validate(context.Background(), longName, nil))...)
			want := []fieldError{
				{"spec", ""}, // a field.Required error: the type says it, the detail is empty
				{"metadata.name", "may not be more than 63 bytes"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}
