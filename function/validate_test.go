package function

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// TestBadInput runs the function on one bad input per function-side rule and checks the Fatal
// message names the field and says how to fix it.
func TestBadInput(t *testing.T) {
	type want struct {
		// message is the exact Fatal message.
		message string
	}
	cases := map[string]struct {
		reason string
		xr     string
		want   want
	}{
		"QuorumAboveDefaultedReplicas": {
			reason: "CEL only compares quorum with replicas when both are set; with replicas defaulted to 3 the function catches quorum 4.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {sentinel: {quorum: 4}}}`,
			want:   want{`invalid RedisHA d/c: spec.sentinel.quorum: Invalid value: 4: must be between 1 and spec.sentinel.replicas (3), or no failover can ever be agreed: lower it, or remove it to use the majority (2)`},
		},
		"FailoverTimeoutNotAboveDefaultedDownAfter": {
			reason: "CEL compares the two timeouts only when both are set; failoverTimeout 5s against the default downAfter 5s is caught here.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {sentinel: {failoverTimeout: 5s}}}`,
			want:   want{`invalid RedisHA d/c: spec.sentinel.failoverTimeout: Invalid value: "5s": must be longer than spec.sentinel.downAfter (5s): raise failoverTimeout or lower downAfter`},
		},
		"UnparsableDownAfter": {
			reason: "A duration the API server pattern would reject (input that skipped the API server, e.g. crossplane render).",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {sentinel: {downAfter: soon}}}`,
			want:   want{`invalid RedisHA d/c: spec.sentinel.downAfter: Invalid value: "soon": must be a duration such as 5s`},
		},
		"UnparsableFailoverTimeout": {
			reason: "failoverTimeout must parse as a duration.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {sentinel: {failoverTimeout: 1min}}}`,
			want:   want{`invalid RedisHA d/c: spec.sentinel.failoverTimeout: Invalid value: "1min": must be a duration such as 60s`},
		},
		"DownAfterBelowOneSecond": {
			reason: "A sub-second downAfter fails over on every network hiccup.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {sentinel: {downAfter: 500ms}}}`,
			want:   want{`invalid RedisHA d/c: spec.sentinel.downAfter: Invalid value: "500ms": must be at least 1s, or short network hiccups trigger failovers`},
		},
		"NoTunnel": {
			reason: "Without a tunnel pod clients cannot connect.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {tunnel: {replicas: -1}}}`,
			want:   want{`invalid RedisHA d/c: spec.tunnel.replicas: Invalid value: -1: must be at least 1`},
		},
		"ExistingSecretWithoutName": {
			reason: "An existing Secret reference must name the Secret.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {auth: {existingSecret: {key: pw}}}}`,
			want:   want{`invalid RedisHA d/c: spec.auth.existingSecret.name: Required value: name the Secret that holds the password`},
		},
		"BadScrapeInterval": {
			reason: "The ServiceMonitor interval must parse.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {metrics: {enabled: true, serviceMonitor: {enabled: true, interval: often}}}}`,
			want:   want{`invalid RedisHA d/c: spec.metrics.serviceMonitor.interval: Invalid value: "often": must be a duration such as 30s`},
		},
		"BadServiceMonitorLabelKey": {
			reason: "ServiceMonitor label keys must be valid label keys.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {metrics: {enabled: true, serviceMonitor: {enabled: true, labels: {"bad key": x}}}}}`,
			want:   want{`invalid RedisHA d/c: spec.metrics.serviceMonitor.labels: Invalid value: "bad key": key: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		},
		"SeveralErrorsAtOnce": {
			reason: "Every problem is reported in one message, so the user fixes them in one go.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {redis: {replicas: 1}, tls: {enabled: true}}}`,
			want:   want{`invalid RedisHA d/c: [spec.redis.replicas: Invalid value: 1: must be at least 2, so there is a replica to fail over to, spec.tls.secretName: Required value: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt, or set spec.tls.enabled: false]`},
		},
		"EvenSentinels": {
			reason: "An even number of Sentinels has no strict majority.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {sentinel: {replicas: 4, quorum: 3}}}`,
			want:   want{`invalid RedisHA d/c: spec.sentinel.replicas: Invalid value: 4: must be odd and at least 3 (3, 5 or 7), so a majority of Sentinels can authorize a failover`},
		},
		"SingleRedis": {
			reason: "One Redis pod has nothing to fail over to.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {redis: {replicas: 1}}}`,
			want:   want{`invalid RedisHA d/c: spec.redis.replicas: Invalid value: 1: must be at least 2, so there is a replica to fail over to`},
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
		"CustomSizeWithoutLimits": {
			reason: "size custom needs resources.limits.memory to derive maxmemory.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {size: custom}}`,
			want:   want{`invalid RedisHA d/c: spec.resources: Invalid value: "custom": spec.resources.limits.memory is required with spec.size: custom, because Redis maxmemory is derived from it`},
		},
		"ConfigKeyNotAllowed": {
			reason: "Keys that could break replication, persistence, auth or failover are refused even when the XRD was bypassed.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {redis: {config: {replicaof: "evil 6379"}}}}`,
			want:   want{`invalid RedisHA d/c: spec.redis.config[replicaof]: Unsupported value: "replicaof": supported values: ` + quotedAllowedKeys()},
		},
		"ConfigValueWithNewline": {
			reason: "A line break in a value would inject a second config line.",
			xr:     "{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {redis: {config: {timeout: \"1\\nreplicaof evil 6379\"}}}}",
			want:   want{`invalid RedisHA d/c: spec.redis.config[timeout]: Invalid value: "1\nreplicaof evil 6379": must be a single line: remove the line break`},
		},
		"BadStorageSize": {
			reason: "The PVC size must parse.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {redis: {persistence: {storage: {size: lots}}}}}`,
			want:   want{`invalid RedisHA d/c: spec.redis.persistence.storage.size: Invalid value: "lots": must be a positive Kubernetes quantity such as 1Gi`},
		},
		"TLSWithoutSecret": {
			reason: "TLS needs the certificate Secret.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {tls: {enabled: true}}}`,
			want:   want{`invalid RedisHA d/c: spec.tls.secretName: Required value: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt, or set spec.tls.enabled: false`},
		},
		"ExistingSecretWithAuthOff": {
			reason: "An existing Secret with auth disabled is a contradiction.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {auth: {enabled: false, existingSecret: {name: pw}}}}`,
			want:   want{`invalid RedisHA d/c: spec.auth.existingSecret: Forbidden: is only used with spec.auth.enabled: true: enable auth or remove existingSecret`},
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
		"AllowedClientWithoutSelector": {
			reason: "An allowedClients entry must select something.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {networkPolicy: {allowedClients: [{}]}}}`,
			want:   want{`invalid RedisHA d/c: spec.networkPolicy.allowedClients[0]: Required value: set podSelector, namespaceSelector or both`},
		},
		"AllowedClientBadSelector": {
			reason: "A selector the API server would reject in the NetworkPolicy is reported on the RedisHA.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {networkPolicy: {allowedClients: [{podSelector: {matchExpressions: [{key: app, operator: Within, values: [a]}]}}]}}}`,
			want:   want{`invalid RedisHA d/c: spec.networkPolicy.allowedClients[0].podSelector: Invalid value: "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:app,Operator:Within,Values:[a],},},}": "Within" is not a valid label selector operator`},
		},
		"ServiceMonitorWithoutMetrics": {
			reason: "The ServiceMonitor scrapes the exporter sidecar, which needs metrics.enabled.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {metrics: {serviceMonitor: {enabled: true}}}}`,
			want:   want{`invalid RedisHA d/c: spec.metrics.serviceMonitor.enabled: Invalid value: true: needs spec.metrics.enabled: true, because the ServiceMonitor scrapes the exporter sidecar`},
		},
		"BadNodeSelectorLabel": {
			reason: "Node selector values must be valid label values.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: c, namespace: d}, spec: {scheduling: {nodeSelector: {pool: "not valid!"}}}}`,
			want:   want{`invalid RedisHA d/c: spec.scheduling.nodeSelector[pool]: Invalid value: "not valid!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		},
		"LegacyWithoutClaim": {
			reason: "A legacy XR needs its claim's namespace.",
			xr:     `{apiVersion: redisha.io/v1alpha1, kind: XRedisHA, metadata: {name: c}, spec: {}}`,
			want:   want{`invalid XRedisHA c: metadata.labels[crossplane.io/claim-namespace]: Required value: an XRedisHA composes into the namespace of its claim: create it through a RedisHAClaim, or use the namespaced RedisHA`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(context.Background(), RenderInput{XR: xrFromYAML(t, tc.xr)})
			if err == nil {
				t.Fatalf("%s\nRender(...): want error %q, got none", tc.reason, tc.want.message)
			}
			if diff := cmp.Diff(tc.want.message, err.Error()); diff != "" {
				t.Errorf("%s\nRender(...): -want message, +got message:\n%s", tc.reason, diff)
			}
		})
	}
}

func quotedAllowedKeys() string {
	var q []string
	for _, k := range allowedKeysForTest() {
		q = append(q, `"`+k+`"`)
	}
	return strings.Join(q, ", ")
}

func allowedKeysForTest() []string { return v1alpha1.AllowedRedisConfigKeys() }
