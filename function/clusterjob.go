package function

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/resource"
)

// clusterJobBackoffLimit bounds the retries of a failed cluster Job. The script waits up to
// 10 minutes for every pod on each try; with the Job's exponential backoff (10s doubling to
// 6 minutes) ten retries keep trying for about an hour, enough for slow volume provisioning,
// before the Job reports Failed.
const clusterJobBackoffLimit = 10

// clusterJob is the cluster Job of one shape of the cluster.
type clusterJob struct {
	// resourceName is the composition resource name, cluster-job-<shape>-<digest>.
	resourceName resource.Name
	// name is the Job's name, <name>-cluster-<shape>-<digest>.
	name   string
	object *unstructured.Unstructured
}

// composeClusterJob is the Job that runs scripts/cluster-reconcile.sh: it creates the cluster
// once and, when shards or replicas are added, joins the new pods and moves slots onto the new
// shards. A Job, not the pods' own start-up, because these steps need every pod of the
// cluster and must run once per change, not once per pod start; the script checks what is
// already done, so running it again is safe.
//
// A Job's pod template is immutable, so the Job's name carries the cluster's shape and a
// digest of its template: a new shape (or a new image) is a new Job, and the old one, no
// longer desired, is deleted by Crossplane. A failed Job stays, so its logs can be read; the
// ClusterTopology condition says so, and deleting it makes Crossplane create it again.
func composeClusterJob(in *instance, ps podSettings) (*clusterJob, error) {
	env := append(cliEnv(in, ps.credentials),
		corev1ac.EnvVar().WithName("REDIS_HA_CLUSTER_NODES").WithValue(joinAddrs(in.clusterNodes())))
	mounts := []*corev1ac.VolumeMountApplyConfiguration{mount(volumeConfig, configDir, true)}
	volumes := []*corev1ac.VolumeApplyConfiguration{configVolume(in)}
	if in.spec.TLS.Enabled {
		mounts = append(mounts, mount(volumeTLS, tlsDir, true))
		volumes = append(volumes, tlsVolume(in))
	}
	pod := corev1ac.PodSpec().
		WithServiceAccountName(in.redisName()).
		WithAutomountServiceAccountToken(false).
		WithSecurityContext(restrictedPodSecurity(redisUID)).
		WithRestartPolicy(corev1.RestartPolicyOnFailure).
		WithContainers(corev1ac.Container().
			WithName("reconcile").
			WithImage(in.spec.Redis.Image.Image()).
			WithCommand("sh", configDir+"/cluster-reconcile.sh").
			WithEnv(env...).
			WithVolumeMounts(mounts...).
			WithResources(resourceRequirements(in.parsed.Resources.Sentinel)).
			WithSecurityContext(restrictedContainerSecurity())).
		WithVolumes(volumes...)
	podPlacement(in, pod)
	spec := batchv1ac.JobSpec().
		WithBackoffLimit(clusterJobBackoffLimit).
		WithTemplate(corev1ac.PodTemplateSpec().
			WithLabels(in.labels(componentClusterJob)).
			WithSpec(pod))

	b, err := json.Marshal(spec)
	if err != nil {
		return nil, errors.Wrap(err, "cannot digest the cluster Job's spec")
	}
	suffix := fmt.Sprintf("%dx%d-%s", in.shards(), in.spec.Cluster.ReplicasPerShard, checksum(string(b))[:5])
	j := &clusterJob{resourceName: resource.Name(clusterJobPrefix + suffix), name: in.name + "-cluster-" + suffix}
	job := batchv1ac.Job(j.name, in.namespace).
		WithLabels(in.labels(componentClusterJob)).
		WithSpec(spec)
	if j.object, err = toUnstructured(job); err != nil {
		return nil, err
	}
	return j, nil
}
