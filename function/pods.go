package function

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// Volume names shared by the Redis and Sentinel pods.
const (
	volumeConfig = "config"
	volumeRun    = "run"
	volumeData   = "data"
	volumeTLS    = "tls"
)

// redisUID is the uid of the redis user in the official redis and valkey images; the pods
// run as it so the data volume is writable without root.
const redisUID = 999

// hostnameTopologyKey spreads pods of one component over nodes.
const hostnameTopologyKey = "kubernetes.io/hostname"

// podScheduling adds spec.scheduling to a pod template: anti-affinity between the pods
// selector selects (one component, or one shard of a cluster), topology spread over them,
// node selector, tolerations and priority class.
func podScheduling(in *instance, selector map[string]string, pod *corev1ac.PodSpecApplyConfiguration) {
	sched := in.spec.Scheduling
	term := corev1ac.PodAffinityTerm().
		WithTopologyKey(hostnameTopologyKey).
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(selector))
	anti := corev1ac.PodAntiAffinity()
	if sched.AntiAffinity == v1alpha1.AntiAffinityHard {
		anti.WithRequiredDuringSchedulingIgnoredDuringExecution(term)
	} else {
		anti.WithPreferredDuringSchedulingIgnoredDuringExecution(
			corev1ac.WeightedPodAffinityTerm().WithWeight(100).WithPodAffinityTerm(term))
	}
	pod.WithAffinity(corev1ac.Affinity().WithPodAntiAffinity(anti))

	if ts := sched.TopologySpread; ts.SpreadEnabled() {
		pod.WithTopologySpreadConstraints(corev1ac.TopologySpreadConstraint().
			WithMaxSkew(ts.MaxSkew).
			WithTopologyKey(ts.TopologyKey).
			WithWhenUnsatisfiable(ts.WhenUnsatisfiable).
			WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(selector)))
	}
	podPlacement(in, pod)
}

// podPlacement adds the node selector, tolerations and priority class of spec.scheduling to a
// pod template: all a pod without siblings to spread from (the cluster Job) needs.
func podPlacement(in *instance, pod *corev1ac.PodSpecApplyConfiguration) {
	sched := in.spec.Scheduling
	if len(sched.NodeSelector) > 0 {
		pod.WithNodeSelector(sched.NodeSelector)
	}
	for _, t := range sched.Tolerations {
		tol := corev1ac.Toleration()
		if t.Key != "" {
			tol.WithKey(t.Key)
		}
		if t.Operator != "" {
			tol.WithOperator(t.Operator)
		}
		if t.Value != "" {
			tol.WithValue(t.Value)
		}
		if t.Effect != "" {
			tol.WithEffect(t.Effect)
		}
		if t.TolerationSeconds != nil {
			tol.WithTolerationSeconds(*t.TolerationSeconds)
		}
		pod.WithTolerations(tol)
	}
	if sched.PriorityClassName != "" {
		pod.WithPriorityClassName(sched.PriorityClassName)
	}
}

// restrictedPodSecurity is the pod-level security context of every component: non-root,
// default seccomp profile, and a group that owns the volumes.
func restrictedPodSecurity(uid int64) *corev1ac.PodSecurityContextApplyConfiguration {
	return corev1ac.PodSecurityContext().
		WithRunAsNonRoot(true).
		WithRunAsUser(uid).
		WithRunAsGroup(uid).
		WithFSGroup(uid).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
}

// restrictedContainerSecurity is the container-level security context of every container.
func restrictedContainerSecurity() *corev1ac.SecurityContextApplyConfiguration {
	return corev1ac.SecurityContext().
		WithAllowPrivilegeEscalation(false).
		WithReadOnlyRootFilesystem(true).
		WithCapabilities(corev1ac.Capabilities().WithDrop(corev1.Capability("ALL")))
}

// resourceRequirements converts typed requirements into their apply configuration.
func resourceRequirements(r corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	out := corev1ac.ResourceRequirements()
	if len(r.Requests) > 0 {
		out.WithRequests(r.Requests)
	}
	if len(r.Limits) > 0 {
		out.WithLimits(r.Limits)
	}
	return out
}

// passwordEnv is an environment variable read from the password Secret.
func passwordEnv(name string, c credentials) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
		WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(c.secretName).WithKey(c.secretKey)))
}

// scriptEnv is the environment of the pod scripts (see scripts/lib.sh), shared by init
// containers, probes and hooks. POD_NAME must come first: later values expand $(POD_NAME).
func scriptEnv(in *instance, headless string, port int, c credentials) []*corev1ac.EnvVarApplyConfiguration {
	env := []*corev1ac.EnvVarApplyConfiguration{
		corev1ac.EnvVar().WithName("POD_NAME").WithValueFrom(corev1ac.EnvVarSource().
			WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("metadata.name"))),
		corev1ac.EnvVar().WithName("REDIS_HA_ANNOUNCE_HOST").WithValue("$(POD_NAME)." + in.serviceDomain(headless)),
		corev1ac.EnvVar().WithName("REDIS_HA_PORT").WithValue(strconv.Itoa(port)),
		corev1ac.EnvVar().WithName("REDIS_HA_MASTER_NAME").WithValue(masterName),
		corev1ac.EnvVar().WithName("REDIS_HA_SENTINELS").WithValue(joinAddrs(in.sentinelAddrs())),
		corev1ac.EnvVar().WithName("REDIS_HA_REDIS_NODES").WithValue(joinAddrs(in.redisAddrs())),
	}
	return append(env, cliEnv(in, c)...)
}

// cliEnv is how the pod scripts run redis-cli (or valkey-cli): the program, its TLS words and
// the password.
func cliEnv(in *instance, c credentials) []*corev1ac.EnvVarApplyConfiguration {
	env := []*corev1ac.EnvVarApplyConfiguration{
		corev1ac.EnvVar().WithName("REDIS_HA_CLI").WithValue(in.serverBinary("cli")),
	}
	if in.spec.TLS.Enabled {
		env = append(env, corev1ac.EnvVar().WithName("REDIS_HA_CLI_ARGS").WithValue("--tls --cacert "+tlsDir+"/ca.crt"))
	}
	if c.enabled {
		// The scripts read REDISCLI_AUTH (and redis-cli does); valkey-cli reads VALKEYCLI_AUTH.
		env = append(env, passwordEnv("REDISCLI_AUTH", c))
		if in.spec.Redis.Image.Flavor == v1alpha1.FlavorValkey {
			env = append(env, passwordEnv("VALKEYCLI_AUTH", c))
		}
	}
	return env
}

// initContainer is the init container of a Redis or Sentinel pod: it runs script from the
// ConfigMap with the main container's environment and mounts. It only asks the Sentinels who
// the master is and writes a config file, so Sentinel's small resources are enough.
func initContainer(in *instance, script string, env []*corev1ac.EnvVarApplyConfiguration, mounts []*corev1ac.VolumeMountApplyConfiguration) *corev1ac.ContainerApplyConfiguration {
	return corev1ac.Container().
		WithName("init").
		WithImage(in.spec.Redis.Image.Image()).
		WithCommand("sh", configDir+"/"+script).
		WithEnv(env...).
		WithVolumeMounts(mounts...).
		WithResources(resourceRequirements(in.parsed.Resources.Sentinel)).
		WithSecurityContext(restrictedContainerSecurity())
}

// execProbe runs one check of a probe script (probe.sh or cluster-probe.sh).
func execProbe(script, kind string, initialDelay, period, failures int32) *corev1ac.ProbeApplyConfiguration {
	p := corev1ac.Probe().
		WithExec(corev1ac.ExecAction().WithCommand("sh", configDir+"/"+script, kind)).
		WithPeriodSeconds(period).
		WithTimeoutSeconds(5).
		WithFailureThreshold(failures)
	if initialDelay > 0 {
		p.WithInitialDelaySeconds(initialDelay)
	}
	return p
}

// configVolume mounts the ConfigMap of the configuration contract.
func configVolume(in *instance) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(volumeConfig).WithConfigMap(
		corev1ac.ConfigMapVolumeSource().WithName(in.configName()).WithDefaultMode(0o444))
}

// tlsVolume mounts the spec.tls.secretName Secret.
func tlsVolume(in *instance) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(volumeTLS).WithSecret(
		corev1ac.SecretVolumeSource().WithSecretName(in.spec.TLS.SecretName).WithDefaultMode(0o440))
}

// memoryVolume is an emptyDir in memory: for files that hold the password.
func memoryVolume(name string) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(name).WithEmptyDir(
		corev1ac.EmptyDirVolumeSource().WithMedium(corev1.StorageMediumMemory))
}

// mount is a volume mount.
func mount(name, path string, readOnly bool) *corev1ac.VolumeMountApplyConfiguration {
	m := corev1ac.VolumeMount().WithName(name).WithMountPath(path)
	if readOnly {
		m.WithReadOnly(true)
	}
	return m
}

// podAnnotations roll the pods when their configuration or password changes. configSum is
// empty for pods that read no ConfigMap (the tunnel).
func podAnnotations(configSum string, c credentials, observedAuthSum string) map[string]string {
	a := map[string]string{}
	if configSum != "" {
		a[annotationConfigChecksum] = configSum
	}
	switch {
	case c.enabled && c.known:
		a[annotationAuthChecksum] = checksum(c.password)
	case c.enabled && observedAuthSum != "":
		// The existing Secret has not been read yet: keep the last value instead of rolling
		// every pod for nothing.
		a[annotationAuthChecksum] = observedAuthSum
	}
	return a
}

// portName is a Service targetPort by container port name.
func portName(name string) intstr.IntOrString { return intstr.FromString(name) }
