package function

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/crossplane/function-sdk-go/resource"
)

// readinessCheck tells from an observed object whether it is ready.
type readinessCheck func(observed *unstructured.Unstructured) bool

// readinessCheckFor returns the check of a composed object's kind. Kinds without a status to
// wait for (Secrets, ConfigMaps, Services, PDBs, NetworkPolicies, ServiceAccounts,
// ServiceMonitors) are ready as soon as they exist; a Job (the cluster Job) once complete.
func readinessCheckFor(apiVersion, kind string) readinessCheck {
	switch {
	case apiVersion == "apps/v1" && kind == "StatefulSet":
		return statefulSetReady
	case apiVersion == "apps/v1" && kind == "Deployment":
		return deploymentReady
	case apiVersion == "batch/v1" && kind == "Job":
		return jobComplete
	default:
		return func(*unstructured.Unstructured) bool { return true }
	}
}

// statefulSetReady: the controller has seen the latest spec (observedGeneration), every
// replica is ready and on the latest revision (readyReplicas and updatedReplicas equal
// spec.replicas), and the rollout is finished (currentRevision equals updateRevision).
func statefulSetReady(observed *unstructured.Unstructured) bool {
	o := observed.Object
	want := intField(o, 1, "spec", "replicas")
	return intField(o, 0, "status", "observedGeneration") >= observed.GetGeneration() &&
		intField(o, 0, "status", "readyReplicas") == want &&
		intField(o, 0, "status", "updatedReplicas") == want &&
		stringField(o, "status", "updateRevision") != "" &&
		stringField(o, "status", "currentRevision") == stringField(o, "status", "updateRevision")
}

// deploymentReady: the controller has seen the latest spec (observedGeneration), the
// Deployment reports Available, and every replica runs the latest pod template
// (updatedReplicas equals spec.replicas).
func deploymentReady(observed *unstructured.Unstructured) bool {
	o := observed.Object
	return intField(o, 0, "status", "observedGeneration") >= observed.GetGeneration() &&
		intField(o, 0, "status", "updatedReplicas") == intField(o, 1, "spec", "replicas") &&
		deploymentAvailable(observed)
}

// deploymentAvailable reports the Deployment's Available condition.
func deploymentAvailable(observed *unstructured.Unstructured) bool {
	return conditionTrue(observed, string(appsv1.DeploymentAvailable))
}

// jobComplete: the Job (the cluster Job) has run to the end: its Complete condition is true.
func jobComplete(observed *unstructured.Unstructured) bool {
	return conditionTrue(observed, string(batchv1.JobComplete))
}

// jobFailed: the Job gave up, its retries used up: its Failed condition is true.
func jobFailed(observed *unstructured.Unstructured) bool {
	return conditionTrue(observed, string(batchv1.JobFailed))
}

// conditionTrue reports whether an observed object's status condition of type typ is true.
func conditionTrue(observed *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedFieldNoCopy(observed.Object, "status", "conditions")
	list, _ := conds.([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return m["status"] == string(corev1.ConditionTrue)
		}
	}
	return false
}

// intField reads an integer field of an observed object; def when it is absent. Observed
// objects arrive through protobuf Structs, which hold every number as float64, and the
// fields are read directly instead of converting whole workloads to typed structs, which
// costs more than the rest of a run (see BenchmarkRunFunction).
func intField(obj map[string]any, def int64, path ...string) int64 {
	v, ok, _ := unstructured.NestedFieldNoCopy(obj, path...)
	if !ok {
		return def
	}
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int:
		return int64(n)
	case float64:
		return int64(n)
	default:
		return def
	}
}

// stringField reads a string field of an observed object; "" when absent.
func stringField(obj map[string]any, path ...string) string {
	v, _, _ := unstructured.NestedFieldNoCopy(obj, path...)
	s, _ := v.(string)
	return s
}

// setReadiness sets the readiness of every desired composed resource from its observed
// state. A readiness an earlier pipeline step already set is left alone; a resource not
// observed yet is not ready. It returns whether every desired resource is ready.
func setReadiness(desired map[resource.Name]*resource.DesiredComposed, observed map[resource.Name]resource.ObservedComposed) bool {
	all := true
	for name, dc := range desired {
		if dc.Ready == resource.ReadyUnspecified {
			dc.Ready = resource.ReadyFalse
			if oc, ok := observed[name]; ok {
				u := &oc.Resource.Unstructured
				if readinessCheckFor(u.GetAPIVersion(), u.GetKind())(u) {
					dc.Ready = resource.ReadyTrue
				}
			}
		}
		all = all && dc.Ready == resource.ReadyTrue
	}
	return all
}
