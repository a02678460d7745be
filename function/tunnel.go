package function

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/redis-ha/redis-ha/internal/version"
)

// tunnelUID is the non-root user of the tunnel image (distroless "nonroot").
const tunnelUID = 65532

// tunnelLocalPortRange widens the pod's ephemeral port range (a namespaced sysctl that
// Kubernetes counts as safe, allowed by the restricted Pod Security level). A client that
// opens a connection per request and closes it first makes the tunnel pass the FIN on, so
// every upstream socket ends in TIME_WAIT on the tunnel's side for 60 s; with the default
// range (32768-60999) one pod could open only ~470 new upstream connections per second
// before connect fails with EADDRNOTAVAIL, with this one ~925. It starts above every port
// the tunnel listens on.
const tunnelLocalPortRange = "10000 65535"

// DefaultTunnelImage is the tunnel image used when spec.tunnel.image is empty: the image of
// the same redis-ha release as this function, the combination that was tested together.
func DefaultTunnelImage() string {
	return "ghcr.io/redis-ha/redis-ha-tunnel:" + version.Version
}

// tunnelArgs is the tunnel command line, per the flag contract of redis-ha-tunnel: Sentinels
// by per-pod DNS name (re-resolved on every dial), one listener for the master and, when
// enabled, one for the replicas. In cluster mode: every Redis pod as a seed of the slot map
// (--cluster; any one that answers will do) and the one listener (--listen). Passwords come
// from the environment, never from flags.
func tunnelArgs(in *instance) []string {
	var args []string
	if in.cluster() {
		args = []string{
			"--cluster=" + strings.Join(in.clusterAddrs(), ","),
			"--listen=:" + strconv.Itoa(tunnelPort),
		}
	} else {
		args = []string{
			"--sentinels=" + strings.Join(in.sentinelAddrs(), ","),
			"--master=" + masterName + "=:" + strconv.Itoa(tunnelPort),
		}
	}
	if in.spec.Tunnel.ReadOnlyEndpointEnabled() {
		args = append(args, "--replicas="+masterName+"=:"+strconv.Itoa(tunnelReadOnlyPort))
	}
	args = append(args,
		"--metrics-listen=:"+strconv.Itoa(tunnelMetricsPort),
		"--max-clients="+strconv.Itoa(int(in.spec.Tunnel.MaxClients)),
		"--log-format=json",
	)
	if in.spec.TLS.Enabled {
		args = append(args,
			"--tls-cert-file="+tlsDir+"/tls.crt",
			"--tls-key-file="+tlsDir+"/tls.key",
			"--upstream-tls",
			"--upstream-tls-ca-file="+tlsDir+"/ca.crt",
		)
	}
	return args
}

// composeTunnelDeployment is the tunnel Deployment. Rolling updates add a new pod before
// removing an old one, and each old pod drains its clients (--drain-timeout) before it exits.
func composeTunnelDeployment(in *instance, ps podSettings) (*unstructured.Unstructured, error) {
	c := ps.credentials
	ports := []*corev1ac.ContainerPortApplyConfiguration{
		corev1ac.ContainerPort().WithName("redis").WithContainerPort(tunnelPort).WithProtocol(corev1.ProtocolTCP),
	}
	if in.spec.Tunnel.ReadOnlyEndpointEnabled() {
		ports = append(ports, corev1ac.ContainerPort().WithName("redis-ro").WithContainerPort(tunnelReadOnlyPort).WithProtocol(corev1.ProtocolTCP))
	}
	ports = append(ports, corev1ac.ContainerPort().WithName(metricsPortName).WithContainerPort(tunnelMetricsPort).WithProtocol(corev1.ProtocolTCP))

	var env []*corev1ac.EnvVarApplyConfiguration
	if c.enabled {
		env = append(env, passwordEnv("REDIS_HA_TUNNEL_REDIS_PASSWORD", c))
		if !in.cluster() {
			env = append(env, passwordEnv("REDIS_HA_TUNNEL_SENTINEL_PASSWORD", c))
		}
	}
	container := corev1ac.Container().
		WithName("tunnel").
		WithImage(in.tunnelImage).
		WithArgs(tunnelArgs(in)...).
		WithPorts(ports...).
		WithResources(resourceRequirements(in.parsed.Resources.Tunnel)).
		WithSecurityContext(restrictedContainerSecurity()).
		WithLivenessProbe(httpProbe("/healthz", 10, 3)).
		WithReadinessProbe(httpProbe("/readyz", 5, 2))
	if len(env) > 0 {
		container.WithEnv(env...)
	}
	var volumes []*corev1ac.VolumeApplyConfiguration
	if in.spec.TLS.Enabled {
		container.WithVolumeMounts(mount(volumeTLS, tlsDir, true))
		volumes = append(volumes, tlsVolume(in))
	}

	pod := corev1ac.PodSpec().
		WithServiceAccountName(in.tunnelName()).
		WithAutomountServiceAccountToken(false).
		WithSecurityContext(restrictedPodSecurity(tunnelUID).
			WithSysctls(corev1ac.Sysctl().WithName("net.ipv4.ip_local_port_range").WithValue(tunnelLocalPortRange))).
		// Longer than the tunnel's default --drain-timeout (15s), so draining completes.
		WithTerminationGracePeriodSeconds(30).
		WithContainers(container)
	if len(volumes) > 0 {
		pod.WithVolumes(volumes...)
	}
	podScheduling(in, in.selector(componentTunnel), pod)

	maxSurge, maxUnavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	d := appsv1ac.Deployment(in.tunnelName(), in.namespace).
		WithLabels(in.labels(componentTunnel)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(in.spec.Tunnel.Replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(in.selector(componentTunnel))).
			WithStrategy(appsv1ac.DeploymentStrategy().WithRollingUpdate(
				appsv1ac.RollingUpdateDeployment().WithMaxSurge(maxSurge).WithMaxUnavailable(maxUnavailable))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(in.labels(componentTunnel)).
				WithSpec(pod)))
	// The password reaches the tunnel through environment variables, which a running pod
	// never re-reads: roll the tunnels when it changes.
	if a := podAnnotations("", c, ps.observedAuthSum); len(a) > 0 {
		d.Spec.Template.WithAnnotations(a)
	}
	return toUnstructured(d)
}

// httpProbe checks one of the tunnel's health endpoints on its metrics port.
func httpProbe(path string, period, failures int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(portName(metricsPortName))).
		WithPeriodSeconds(period).
		WithTimeoutSeconds(2).
		WithFailureThreshold(failures)
}
