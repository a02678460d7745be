package gitops

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/redis-ha/redis-ha/function"
)

// liveXR is the XR as Crossplane stores it after a reconcile with the function's response:
// the function's desired status, its conditions, and Crossplane's own Synced and Ready. The
// function sets the XR's readiness explicitly, so Crossplane's Ready carries no message
// (Creating or Available; composite reconciler, "If the composer explicitly specified the
// XR's readiness it supersedes readiness derived from composed resources").
func liveXR(t *testing.T, xr *unstructured.Unstructured, r *function.Rendered) *unstructured.Unstructured {
	t.Helper()
	live := xr.DeepCopy()
	status, _, _ := unstructured.NestedMap(r.XR.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	ready := map[string]any{"type": "Ready", "status": "False", "reason": "Creating"}
	if r.XRReady {
		ready = map[string]any{"type": "Ready", "status": "True", "reason": "Available"}
	}
	conditions := []any{map[string]any{"type": "Synced", "status": "True", "reason": "ReconcileSuccess"}, ready}
	for _, c := range r.Conditions {
		cond := map[string]any{"type": c.GetType(), "reason": c.GetReason(), "status": map[fnv1.Status]string{
			fnv1.Status_STATUS_CONDITION_TRUE: "True", fnv1.Status_STATUS_CONDITION_FALSE: "False",
		}[c.GetStatus()]}
		if cond["status"] == "" {
			cond["status"] = "Unknown"
		}
		if c.Message != nil {
			cond["message"] = c.GetMessage()
		}
		conditions = append(conditions, cond)
	}
	status["conditions"] = conditions
	live.Object["status"] = status
	return live
}

// observeRolledOut turns desired composed objects into what the API server would report
// once their controllers finished: StatefulSets and Deployments with every replica ready
// and updated; everything else just exists. readyRedis overrides the Redis StatefulSet's
// ready count (-1 keeps all ready).
func observeRolledOut(composed map[string]*unstructured.Unstructured, readyRedis int64) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for name, o := range composed {
		o = o.DeepCopy()
		replicas := specReplicas(o)
		switch o.GetKind() {
		case "StatefulSet":
			ready := replicas
			if name == "redis-statefulset" && readyRedis >= 0 {
				ready = readyRedis
			}
			o.Object["status"] = map[string]any{"observedGeneration": int64(1), "replicas": replicas, "readyReplicas": ready,
				"updatedReplicas": replicas, "currentReplicas": replicas, "currentRevision": "r1", "updateRevision": "r1"}
		case "Deployment":
			o.Object["status"] = map[string]any{"observedGeneration": int64(1), "replicas": replicas, "readyReplicas": replicas,
				"updatedReplicas": replicas, "availableReplicas": replicas,
				"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}}}
		}
		out[name] = o
	}
	return out
}

// specReplicas reads spec.replicas, which decodes as int64 or float64 depending on the path
// the object took (JSON, protobuf Struct).
func specReplicas(o *unstructured.Unstructured) int64 {
	spec, _ := o.Object["spec"].(map[string]any)
	switch n := spec["replicas"].(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 1
}

// TestHealthOfFunctionOutput runs the shipped Argo CD health check on XRs whose status the
// composition function itself wrote, through a RedisHA's life: just composed, Redis pods
// starting, everything rolled out. The hand-written fixtures cover the other states.
func TestHealthOfFunctionOutput(t *testing.T) {
	scripts := shippedHealthScripts(t)
	for _, example := range []string{"redisha.yaml", "redisha-full.yaml"} {
		t.Run(example, func(t *testing.T) {
			xr := readObject(t, filepath.Join(repoRoot, "examples", example))
			script := scripts[ConfigMapHealthKey(xr.GroupVersionKind().Group, xr.GetKind())]
			if script == "" {
				t.Fatalf("argocd-cm has no health check for %s", xr.GetKind())
			}
			health := func(observed map[string]*unstructured.Unstructured) (healthStatus, *function.Rendered) {
				t.Helper()
				r, err := function.Render(context.Background(), function.RenderInput{XR: xr, Observed: observed})
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				got, err := runHealthLua(t, script, liveXR(t, xr, r))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d observed: %s: %s", len(observed), got.Status, got.Message)
				return got, r
			}

			// Just composed: nothing observed yet.
			got, first := health(nil)
			if got.Status != "Progressing" || !strings.Contains(got.Message, "not been created yet") {
				t.Errorf("just composed: %+v, want Progressing saying what is not created yet", got)
			}

			// Created, one Redis pod ready: still progressing, and the message is the
			// function's own explanation of the Redis component.
			got, _ = health(observeRolledOut(first.Composed, 1))
			replicas := specReplicas(first.Composed["redis-statefulset"])
			if got.Status != "Progressing" || !strings.HasPrefix(got.Message, "1 of ") || !strings.Contains(got.Message, "Redis pods ready") {
				t.Errorf("1 of %d Redis pods ready: %+v, want Progressing with the Redis condition's message", replicas, got)
			}

			// Everything rolled out: Healthy, naming the endpoint the function published.
			got, r := health(observeRolledOut(first.Composed, -1))
			if !r.XRReady {
				t.Fatalf("the function did not mark the rolled-out XR ready")
			}
			endpoint, _, _ := unstructured.NestedString(r.XR.Object, "status", "endpoint")
			want := healthStatus{Status: "Healthy", Message: "Available at " + endpoint}
			if diff := cmp.Diff(want, got); diff != "" || endpoint == "" {
				t.Errorf("rolled out (-want +got):\n%s", diff)
			}
		})
	}
}
