package function

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBadInput runs the function on one bad input per rule of validateComposed and checks the
// Fatal message names the field and says how to fix it. The spec's own rules are v1alpha1's
// and tested there, against the XRD schema (TestValidateAgreesWithSchema).
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
