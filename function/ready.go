package function

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/resource"
)

// readinessCheck tells from an observed object whether it is ready. An error means the
// observed object could not be read as its kind.
type readinessCheck func(observed *unstructured.Unstructured) (bool, error)

// readinessCheckFor returns the check of a composed object's kind. Kinds without a status to
// wait for (Secrets, ConfigMaps, Services, PDBs, NetworkPolicies, ServiceAccounts,
// ServiceMonitors) are ready as soon as they exist.
func readinessCheckFor(apiVersion, kind string) readinessCheck {
	switch {
	case apiVersion == "apps/v1" && kind == "StatefulSet":
		return statefulSetReady
	case apiVersion == "apps/v1" && kind == "Deployment":
		return deploymentReady
	default:
		return func(*unstructured.Unstructured) (bool, error) { return true, nil }
	}
}

// statefulSetReady: the controller has seen the latest spec (observedGeneration), every
// replica is ready and on the latest revision (readyReplicas and updatedReplicas equal
// spec.replicas), and the rollout is finished (currentRevision equals updateRevision).
func statefulSetReady(observed *unstructured.Unstructured) (bool, error) {
	var sts appsv1.StatefulSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(observed.Object, &sts); err != nil {
		return false, err
	}
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	st := sts.Status
	return st.ObservedGeneration >= sts.Generation &&
		st.ReadyReplicas == want &&
		st.UpdatedReplicas == want &&
		st.UpdateRevision != "" &&
		st.CurrentRevision == st.UpdateRevision, nil
}

// deploymentReady: the controller has seen the latest spec (observedGeneration), the
// Deployment reports Available, and every replica runs the latest pod template
// (updatedReplicas equals spec.replicas).
func deploymentReady(observed *unstructured.Unstructured) (bool, error) {
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(observed.Object, &d); err != nil {
		return false, err
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want &&
		deploymentAvailable(&d), nil
}

// deploymentAvailable reports the Deployment's Available condition.
func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setReadiness sets the readiness of every desired composed resource from its observed
// state. A readiness an earlier pipeline step already set is left alone; a resource not
// observed yet is not ready. It returns whether every desired resource is ready.
func setReadiness(desired map[resource.Name]*resource.DesiredComposed, observed map[resource.Name]resource.ObservedComposed) (bool, error) {
	all := true
	for name, dc := range desired {
		if dc.Ready == resource.ReadyUnspecified {
			dc.Ready = resource.ReadyFalse
			if oc, ok := observed[name]; ok {
				u := &oc.Resource.Unstructured
				ready, err := readinessCheckFor(u.GetAPIVersion(), u.GetKind())(u)
				if err != nil {
					return false, errors.Wrapf(err, "cannot read observed composed resource %q", name)
				}
				if ready {
					dc.Ready = resource.ReadyTrue
				}
			}
		}
		all = all && dc.Ready == resource.ReadyTrue
	}
	return all, nil
}
