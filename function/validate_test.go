package function

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestBadInput runs the function on one bad input per rule of validateComposed and
// validateObserved and checks the Fatal message names the field and says how to fix it. The
// spec's own rules are v1alpha1's and tested there, against the XRD schema
// (TestValidateAgreesWithSchema); the cluster-mode cases here show the function applies them.
func TestBadInput(t *testing.T) {
	type want struct {
		// message is the exact Fatal message.
		message string
	}
	// statefulSet is an observed StatefulSet of n pods.
	statefulSet := func(name string, n int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": name, "namespace": "d"}, "spec": map[string]any{"replicas": n}}}
	}
	cases := map[string]struct {
		reason string
		xr     string
		// observed are the composed resources that exist, by composition resource name.
		observed map[string]*unstructured.Unstructured
		want     want
	}{
		"ClusterModeCombinations": {
			reason: "What cannot combine with cluster mode is refused by the function too (v1alpha1's Parse), each at its field.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {mode: cluster, redis: {replicas: 3, image: {version: "6.2"}}, sentinel: {replicas: 5}, tunnel: {readOnlyEndpoint: true}}}`,
			want: want{`invalid RedisHA d/c: [spec.sentinel: Invalid value: {"replicas":5}: spec.sentinel is not used with spec.mode: cluster, where Redis Cluster fails a shard over by itself: remove spec.sentinel, ` +
				`spec.redis.replicas: Invalid value: 3: spec.redis.replicas is not used with spec.mode: cluster, where the pods are spec.cluster.shards x (1 + spec.cluster.replicasPerShard): remove spec.redis.replicas and size the cluster with spec.cluster, ` +
				`spec.tunnel.readOnlyEndpoint: Invalid value: true: spec.tunnel.readOnlyEndpoint is not supported with spec.mode: cluster yet (the tunnel sends every command to its shard's master): remove it or set it to false, ` +
				`spec.redis.image.version: Invalid value: "6.2": spec.redis.image.version must be 7.0 or newer with spec.mode: cluster: Redis Cluster announces host names (cluster-announce-hostname) only since 7.0]`},
		},
		"ClusterInSentinelMode": {
			reason: "spec.cluster without cluster mode would be ignored.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {cluster: {shards: 4}}}`,
			want:   want{`invalid RedisHA d/c: spec.cluster: Invalid value: {"shards":4}: spec.cluster is only used with spec.mode: cluster: set spec.mode: cluster when you create the RedisHA, or remove spec.cluster`},
		},
		"ClusterTooFewShards": {
			reason: "Fewer than 3 masters cannot vote a failover.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {mode: cluster, cluster: {shards: 2}}}`,
			want:   want{`invalid RedisHA d/c: spec.cluster.shards: Invalid value: 2: must be between 3 and 32`},
		},
		"ClusterShardsShrink": {
			reason: "Four shard StatefulSets exist; composing three would delete the fourth with its slots and keys.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {mode: cluster, cluster: {shards: 3}}}`,
			observed: map[string]*unstructured.Unstructured{
				"redis-shard-0-statefulset": statefulSet("c-redis-0", 2), "redis-shard-1-statefulset": statefulSet("c-redis-1", 2),
				"redis-shard-2-statefulset": statefulSet("c-redis-2", 2), "redis-shard-3-statefulset": statefulSet("c-redis-3", 2),
			},
			want: want{`invalid RedisHA d/c: spec.cluster.shards: Invalid value: 3: spec.cluster.shards cannot shrink (the cluster has 4): a shard's hash slots and keys would have to move to the other shards first, which redis-ha does not do; keep the shard count, or create a new RedisHA with fewer shards and migrate the data`},
		},
		"ClusterReplicasShrink": {
			reason: "The shards have three pods; two per shard would leave a failed node in the cluster.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {mode: cluster}}`,
			observed: map[string]*unstructured.Unstructured{
				"redis-shard-0-statefulset": statefulSet("c-redis-0", 3), "redis-shard-1-statefulset": statefulSet("c-redis-1", 3), "redis-shard-2-statefulset": statefulSet("c-redis-2", 3),
			},
			want: want{`invalid RedisHA d/c: spec.cluster.replicasPerShard: Invalid value: 1: spec.cluster.replicasPerShard cannot shrink (the cluster has 2): the removed pods would stay in the cluster's node table as failed nodes; keep the replica count`},
		},
		"ModeChangedToCluster": {
			reason:   "A sentinel-mode Redis StatefulSet exists: switching modes would delete it with the data.",
			xr:       `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {mode: cluster}}`,
			observed: map[string]*unstructured.Unstructured{"redis-statefulset": statefulSet("c-redis", 3)},
			want:     want{`invalid RedisHA d/c: spec.mode: Invalid value: "cluster": spec.mode is immutable: sentinel and cluster mode keep the data in different layouts; create a new RedisHA in the other mode and migrate the data`},
		},
		"ModeChangedToSentinel": {
			reason:   "Shard StatefulSets exist: switching modes would delete them with the data.",
			xr:       `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {}}`,
			observed: map[string]*unstructured.Unstructured{"redis-shard-0-statefulset": statefulSet("c-redis-0", 2)},
			want:     want{`invalid RedisHA d/c: spec.mode: Invalid value: "sentinel": spec.mode is immutable: sentinel and cluster mode keep the data in different layouts; create a new RedisHA in the other mode and migrate the data`},
		},
		"BadServiceMonitorLabelKey": {
			reason: "ServiceMonitor label keys must be valid label keys.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {metrics: {enabled: true, serviceMonitor: {enabled: true, labels: {"bad key": x}}}}}`,
			want:   want{`invalid RedisHA d/c: spec.metrics.serviceMonitor.labels: Invalid value: "bad key": key: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		},
		"SeveralErrorsAtOnce": {
			reason: "Every problem, the function's and the spec's (v1alpha1's), is reported in one message, so the user fixes them in one go.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {redis: {replicas: 1}, connectionSecret: {name: c-password}}}`,
			want:   want{`invalid RedisHA d/c: [spec.connectionSecret.name: Invalid value: "c-password": is the name of the generated password Secret: pick another name, spec.redis.replicas: Invalid value: 1: must be between 2 and 9]`},
		},
		"NameTooLong": {
			reason: "Derived names (<name>-sentinel-headless, StatefulSet pod labels) must fit 63 characters.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: a-very-long-redis-name-that-does-not-fit, namespace: d}, spec: {}}`,
			want:   want{`invalid RedisHA d/a-very-long-redis-name-that-does-not-fit: metadata.name: Too long: may not be more than 37 bytes`},
		},
		"NameStartsWithDigit": {
			reason: "Service names are DNS-1035 labels; an XR name starting with a digit cannot prefix them.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: 1cache, namespace: d}, spec: {}}`,
			want:   want{`invalid RedisHA d/1cache: metadata.name: Invalid value: "1cache": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'): the name is the prefix of Service names; rename the RedisHA`},
		},
		"ConnectionSecretIsPasswordSecret": {
			reason: "The connection Secret must not overwrite the generated password Secret.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {connectionSecret: {name: c-password}}}`,
			want:   want{`invalid RedisHA d/c: spec.connectionSecret.name: Invalid value: "c-password": is the name of the generated password Secret: pick another name`},
		},
		"ConnectionSecretIsExistingSecret": {
			reason: "The connection Secret must not overwrite the user's own password Secret.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {auth: {existingSecret: {name: pw}}, connectionSecret: {name: pw}}}`,
			want:   want{`invalid RedisHA d/c: spec.connectionSecret.name: Invalid value: "pw": is spec.auth.existingSecret: the function would overwrite your password Secret; pick another name`},
		},
		"AllowedClientBadSelector": {
			reason: "A selector the API server would reject in the NetworkPolicy is reported on the RedisHA.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {networkPolicy: {allowedClients: [{podSelector: {matchExpressions: [{key: app, operator: Within, values: [a]}]}}]}}}`,
			want:   want{`invalid RedisHA d/c: spec.networkPolicy.allowedClients[0].podSelector: Invalid value: "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:app,Operator:Within,Values:[a],},},}": "Within" is not a valid label selector operator`},
		},
		"BadNodeSelectorLabel": {
			reason: "Node selector values must be valid label values.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {scheduling: {nodeSelector: {pool: "not valid!"}}}}`,
			want:   want{`invalid RedisHA d/c: spec.scheduling.nodeSelector[pool]: Invalid value: "not valid!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(context.Background(), RenderInput{XR: xrFromYAML(t, tc.xr), Observed: tc.observed})
			if err == nil {
				t.Fatalf("%s\nRender(...): want error %q, got none", tc.reason, tc.want.message)
			}
			if diff := cmp.Diff(tc.want.message, err.Error()); diff != "" {
				t.Errorf("%s\nRender(...): -want message, +got message:\n%s", tc.reason, diff)
			}
		})
	}
}
