package function

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
)

func observedObject(obj map[string]any) resource.ObservedComposed {
	return resource.ObservedComposed{Resource: &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: obj}}}
}

func statefulSet(generation int64, replicas int64, status map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": "s", "generation": generation},
		"spec":     map[string]any{"replicas": replicas},
		"status":   status,
	}
}

func deployment(generation int64, replicas int64, status map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "generation": generation},
		"spec":     map[string]any{"replicas": replicas},
		"status":   status,
	}
}

func job(status map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "j", "generation": int64(1)},
		"status":   status,
	}
}

func TestSetReadiness(t *testing.T) {
	rolledOut := map[string]any{"observedGeneration": int64(2), "readyReplicas": int64(3), "updatedReplicas": int64(3), "currentReplicas": int64(3), "currentRevision": "a", "updateRevision": "a"}
	available := map[string]any{"observedGeneration": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2),
		"conditions": []any{map[string]any{"type": "Available", "status": "True"}}}
	type args struct {
		desired  map[resource.Name]resource.Ready
		observed map[resource.Name]map[string]any
	}
	type want struct {
		ready map[resource.Name]resource.Ready
		all   bool
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"NotObservedIsNotReady": {
			reason: "A resource that does not exist yet is not ready.",
			args:   args{desired: map[resource.Name]resource.Ready{"cm": resource.ReadyUnspecified}},
			want:   want{ready: map[resource.Name]resource.Ready{"cm": resource.ReadyFalse}},
		},
		"ObservedConfigMapIsReady": {
			reason: "Kinds without status are ready once they exist.",
			args: args{
				desired:  map[resource.Name]resource.Ready{"cm": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"cm": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cm"}}},
			},
			want: want{ready: map[resource.Name]resource.Ready{"cm": resource.ReadyTrue}, all: true},
		},
		"StatefulSetRolledOut": {
			reason: "All replicas ready and updated, revisions equal, generation observed.",
			args: args{
				desired:  map[resource.Name]resource.Ready{"sts": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"sts": statefulSet(2, 3, rolledOut)},
			},
			want: want{ready: map[resource.Name]resource.Ready{"sts": resource.ReadyTrue}, all: true},
		},
		"StatefulSetRolloutInProgress": {
			reason: "currentRevision differs from updateRevision while pods are replaced.",
			args: args{
				desired: map[resource.Name]resource.Ready{"sts": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"sts": statefulSet(2, 3, map[string]any{
					"observedGeneration": int64(2), "readyReplicas": int64(3), "updatedReplicas": int64(3), "currentRevision": "a", "updateRevision": "b"})},
			},
			want: want{ready: map[resource.Name]resource.Ready{"sts": resource.ReadyFalse}},
		},
		"StatefulSetReplicaNotReady": {
			reason: "One replica not ready.",
			args: args{
				desired: map[resource.Name]resource.Ready{"sts": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"sts": statefulSet(2, 3, map[string]any{
					"observedGeneration": int64(2), "readyReplicas": int64(2), "updatedReplicas": int64(3), "currentRevision": "a", "updateRevision": "a"})},
			},
			want: want{ready: map[resource.Name]resource.Ready{"sts": resource.ReadyFalse}},
		},
		"StatefulSetSpecNotYetSeen": {
			reason: "A new spec (generation 3) the controller has not acted on yet is not ready, whatever the old status says.",
			args: args{
				desired:  map[resource.Name]resource.Ready{"sts": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"sts": statefulSet(3, 3, rolledOut)},
			},
			want: want{ready: map[resource.Name]resource.Ready{"sts": resource.ReadyFalse}},
		},
		"DeploymentAvailable": {
			reason: "Available and all replicas updated.",
			args: args{
				desired:  map[resource.Name]resource.Ready{"d": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"d": deployment(2, 2, available)},
			},
			want: want{ready: map[resource.Name]resource.Ready{"d": resource.ReadyTrue}, all: true},
		},
		"DeploymentUnavailable": {
			reason: "Available condition False.",
			args: args{
				desired: map[resource.Name]resource.Ready{"d": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"d": deployment(2, 2, map[string]any{"observedGeneration": int64(2), "updatedReplicas": int64(2),
					"conditions": []any{map[string]any{"type": "Available", "status": "False"}}})},
			},
			want: want{ready: map[resource.Name]resource.Ready{"d": resource.ReadyFalse}},
		},
		"JobComplete": {
			reason: "The cluster Job is ready once its Complete condition is true.",
			args: args{
				desired:  map[resource.Name]resource.Ready{"j": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{"j": job(map[string]any{"succeeded": int64(1), "conditions": []any{map[string]any{"type": "Complete", "status": "True"}}})},
			},
			want: want{ready: map[resource.Name]resource.Ready{"j": resource.ReadyTrue}, all: true},
		},
		"JobRunningOrFailed": {
			reason: "A Job still running, or one that gave up, is not ready.",
			args: args{
				desired: map[resource.Name]resource.Ready{"running": resource.ReadyUnspecified, "failed": resource.ReadyUnspecified},
				observed: map[resource.Name]map[string]any{
					"running": job(map[string]any{"active": int64(1)}),
					"failed":  job(map[string]any{"failed": int64(11), "conditions": []any{map[string]any{"type": "Failed", "status": "True"}}}),
				},
			},
			want: want{ready: map[resource.Name]resource.Ready{"running": resource.ReadyFalse, "failed": resource.ReadyFalse}},
		},
		"EarlierStepWins": {
			reason: "A readiness an earlier pipeline step set is never overridden, either way.",
			args: args{
				desired: map[resource.Name]resource.Ready{"sts": resource.ReadyTrue, "d": resource.ReadyFalse},
				observed: map[resource.Name]map[string]any{
					"sts": statefulSet(2, 3, map[string]any{}),
					"d":   deployment(2, 2, available),
				},
			},
			want: want{ready: map[resource.Name]resource.Ready{"sts": resource.ReadyTrue, "d": resource.ReadyFalse}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			desired := map[resource.Name]*resource.DesiredComposed{}
			for n, r := range tc.args.desired {
				desired[n] = &resource.DesiredComposed{Resource: composed.New(), Ready: r}
			}
			observed := map[resource.Name]resource.ObservedComposed{}
			for n, o := range tc.args.observed {
				observed[n] = observedObject(o)
			}
			all := setReadiness(desired, observed)
			got := map[resource.Name]resource.Ready{}
			for n, d := range desired {
				got[n] = d.Ready
			}
			if diff := cmp.Diff(tc.want.ready, got); diff != "" {
				t.Errorf("%s\nsetReadiness(...): -want readiness, +got:\n%s", tc.reason, diff)
			}
			if all != tc.want.all {
				t.Errorf("%s\nsetReadiness(...): all ready = %t, want %t", tc.reason, all, tc.want.all)
			}
		})
	}
}
