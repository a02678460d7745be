package function

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// podSettings are the values the pod templates depend on besides the spec.
type podSettings struct {
	credentials credentials
	// redisConfigSum and sentinelConfigSum digest what each component reads from the ConfigMap.
	redisConfigSum    string
	sentinelConfigSum string
	// observedAuthSum is the auth checksum the running pods were started with.
	observedAuthSum string
}

// composeRedisStatefulSet is the Redis data StatefulSet. An init container decides each pod's
// role by asking the Sentinels (scripts/redis-init.sh), and a preStop hook hands the master
// role over before a pod stops. Pods start in parallel, not in order: after a full restart the
// Sentinels may name pod 2 the master, and pod 0, waiting as its replica, would never become
// ready, so an ordered start would never start pod 2.
func composeRedisStatefulSet(in *instance, ps podSettings) (*unstructured.Unstructured, error) {
	env := append(scriptEnv(in, in.redisHeadlessName(), redisPort, ps.credentials),
		corev1ac.EnvVar().WithName("REDIS_HA_BASE_CONF").WithValue(configDir+"/"+configKeyRedis),
		corev1ac.EnvVar().WithName("REDIS_HA_CONF").WithValue(runDir+"/redis.conf"),
		corev1ac.EnvVar().WithName("REDIS_HA_DATA_DIR").WithValue(dataDir),
		// Long enough for the Sentinels to notice this pod is gone and promote a replica.
		corev1ac.EnvVar().WithName("REDIS_HA_FAILOVER_WAIT").WithValue(strconv.FormatInt(int64((in.parsed.DownAfter*2).Seconds())+10, 10)),
	)
	w := redisWorkload{
		name: in.redisName(), labels: in.labels(componentRedis), selector: in.selector(componentRedis),
		replicas: in.spec.Redis.Replicas, initScript: "redis-init.sh", env: env,
	}
	return composeRedisWorkload(in, ps, w, func(redis *corev1ac.ContainerApplyConfiguration) {
		redis.
			WithPorts(corev1ac.ContainerPort().WithName("redis").WithContainerPort(redisPort).WithProtocol(corev1.ProtocolTCP)).
			// Loading a large AOF takes a while: the startup probe gives it up to 10 minutes
			// before liveness may restart the pod.
			WithStartupProbe(execProbe("probe.sh", "redis-live", 2, 5, 120)).
			WithLivenessProbe(execProbe("probe.sh", "redis-live", 0, 10, 3)).
			WithReadinessProbe(execProbe("probe.sh", "redis-ready", 0, 5, 2)).
			WithLifecycle(corev1ac.Lifecycle().WithPreStop(corev1ac.LifecycleHandler().
				WithExec(corev1ac.ExecAction().WithCommand("sh", configDir+"/redis-prestop.sh"))))
	})
}

// redisWorkload is what tells the Redis StatefulSets of the two modes apart: sentinel mode's
// one, and cluster mode's one per shard.
type redisWorkload struct {
	name             string
	labels, selector map[string]string
	replicas         int32
	// initScript is the init container's script, which reads env as the main container does.
	initScript string
	env        []*corev1ac.EnvVarApplyConfiguration
}

// composeRedisWorkload is a Redis StatefulSet: the redis container (finished by mode with its
// ports, probes and hooks), its init container, the exporter sidecar, scheduling, and the data
// volume claim. Pods start in parallel in both modes (see the composers).
func composeRedisWorkload(in *instance, ps podSettings, w redisWorkload, finish func(*corev1ac.ContainerApplyConfiguration)) (*unstructured.Unstructured, error) {
	spec := in.spec.Redis
	c := ps.credentials
	mounts, volumes := redisVolumes(in)
	redis := corev1ac.Container().
		WithName("redis").
		WithImage(spec.Image.Image()).
		WithCommand(in.serverBinary("server"), runDir+"/redis.conf").
		WithEnv(w.env...).
		WithVolumeMounts(mounts...).
		WithResources(resourceRequirements(in.parsed.Resources.Redis)).
		WithSecurityContext(restrictedContainerSecurity())
	finish(redis)

	pod := corev1ac.PodSpec().
		WithServiceAccountName(in.redisName()).
		WithAutomountServiceAccountToken(false).
		WithSecurityContext(restrictedPodSecurity(redisUID)).
		// The preStop failover may take up to 20s; the rest is for a final AOF flush.
		WithTerminationGracePeriodSeconds(60).
		WithInitContainers(initContainer(in, w.initScript, w.env, mounts)).
		WithContainers(redis).
		WithVolumes(volumes...)
	if in.spec.Metrics.Enabled {
		pod.WithContainers(exporterContainer(in, c))
	}
	podScheduling(in, w.selector, pod)

	sts := appsv1ac.StatefulSet(w.name, in.namespace).
		WithLabels(w.labels).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(w.replicas).
			WithServiceName(in.redisHeadlessName()).
			WithPodManagementPolicy(appsv1.ParallelPodManagement).
			WithUpdateStrategy(appsv1ac.StatefulSetUpdateStrategy().WithType(appsv1.RollingUpdateStatefulSetStrategyType)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(w.selector)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(w.labels).
				WithAnnotations(podAnnotations(ps.redisConfigSum, c, ps.observedAuthSum)).
				WithSpec(pod)))
	if spec.Persistence.Persistent() {
		sts.Spec.WithVolumeClaimTemplates(dataVolumeClaim(in, w.selector))
	}
	return toUnstructured(sts)
}

// dataVolumeClaim is the volume claim template of a Redis StatefulSet's data volume
// (persistence aof or rdb).
func dataVolumeClaim(in *instance, labels map[string]string) *corev1ac.PersistentVolumeClaimApplyConfiguration {
	pvc := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: in.parsed.StorageSize}))
	if sc := in.spec.Redis.Persistence.Storage.StorageClassName; sc != "" {
		pvc.WithStorageClassName(sc)
	}
	// Not corev1ac.PersistentVolumeClaim: that also sets an empty namespace (and a kind),
	// which the template does not take.
	claim := &corev1ac.PersistentVolumeClaimApplyConfiguration{}
	return claim.WithName(volumeData).WithLabels(labels).WithSpec(pvc)
}

// redisVolumes are the mounts and volumes of a Redis container (and its init container): the
// configuration contract, the in-memory directory the init script writes the final config
// to, the data volume (an emptyDir without persistence; else the volume claim template) and
// the TLS Secret.
func redisVolumes(in *instance) ([]*corev1ac.VolumeMountApplyConfiguration, []*corev1ac.VolumeApplyConfiguration) {
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		mount(volumeConfig, configDir, true),
		mount(volumeRun, runDir, false),
		mount(volumeData, dataDir, false),
	}
	volumes := []*corev1ac.VolumeApplyConfiguration{configVolume(in), memoryVolume(volumeRun)}
	if in.spec.TLS.Enabled {
		mounts = append(mounts, mount(volumeTLS, tlsDir, true))
		volumes = append(volumes, tlsVolume(in))
	}
	if !in.spec.Redis.Persistence.Persistent() {
		volumes = append(volumes, corev1ac.Volume().WithName(volumeData).WithEmptyDir(corev1ac.EmptyDirVolumeSource()))
	}
	return mounts, volumes
}
