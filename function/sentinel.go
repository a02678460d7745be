package function

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// composeSentinelStatefulSet is the Sentinel StatefulSet. Sentinels start in parallel: each
// finds the current master on its own (scripts/sentinel-init.sh), so none waits for another.
// Their state lives in an emptyDir; a restarted Sentinel relearns it from the others.
func composeSentinelStatefulSet(in *instance, ps podSettings) (*unstructured.Unstructured, error) {
	c := ps.credentials
	image := in.spec.Redis.Image.Image()
	env := append(scriptEnv(in, in.sentinelHeadlessName(), sentinelPort, c),
		corev1ac.EnvVar().WithName("REDIS_HA_BASE_CONF").WithValue(configDir+"/"+configKeySentinel),
		corev1ac.EnvVar().WithName("REDIS_HA_CONF").WithValue(dataDir+"/sentinel.conf"),
	)
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		mount(volumeConfig, configDir, true),
		mount(volumeData, dataDir, false),
	}
	volumes := []*corev1ac.VolumeApplyConfiguration{configVolume(in), memoryVolume(volumeData)}
	if in.spec.TLS.Enabled {
		mounts = append(mounts, mount(volumeTLS, tlsDir, true))
		volumes = append(volumes, tlsVolume(in))
	}

	sentinel := corev1ac.Container().
		WithName("sentinel").
		WithImage(image).
		WithCommand(in.serverBinary("sentinel"), dataDir+"/sentinel.conf").
		WithEnv(env...).
		WithPorts(corev1ac.ContainerPort().WithName("sentinel").WithContainerPort(sentinelPort).WithProtocol(corev1.ProtocolTCP)).
		WithVolumeMounts(mounts...).
		WithResources(resourceRequirements(in.parsed.Resources.Sentinel)).
		WithSecurityContext(restrictedContainerSecurity()).
		WithLivenessProbe(execProbe("probe.sh", "sentinel-live", 5, 10, 3)).
		WithReadinessProbe(execProbe("probe.sh", "sentinel-ready", 2, 5, 2))

	pod := corev1ac.PodSpec().
		WithServiceAccountName(in.sentinelName()).
		WithAutomountServiceAccountToken(false).
		WithSecurityContext(restrictedPodSecurity(redisUID)).
		WithInitContainers(initContainer(in, "sentinel-init.sh", env, mounts)).
		WithContainers(sentinel).
		WithVolumes(volumes...)
	podScheduling(in, in.selector(componentSentinel), pod)

	sts := appsv1ac.StatefulSet(in.sentinelName(), in.namespace).
		WithLabels(in.labels(componentSentinel)).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(in.spec.Sentinel.Replicas).
			WithServiceName(in.sentinelHeadlessName()).
			WithPodManagementPolicy(appsv1.ParallelPodManagement).
			WithUpdateStrategy(appsv1ac.StatefulSetUpdateStrategy().WithType(appsv1.RollingUpdateStatefulSetStrategyType)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(in.selector(componentSentinel))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(in.labels(componentSentinel)).
				WithAnnotations(podAnnotations(ps.sentinelConfigSum, c, ps.observedAuthSum)).
				WithSpec(pod)))
	return toUnstructured(sts)
}
