package function

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// composeRedisHeadlessService gives every Redis pod a stable DNS name
// (<pod>.<name>-redis-headless.<ns>.svc), which is what Redis announces and Sentinel
// monitors. Not-ready pods are published too: a replica that is still syncing, or a pod whose
// init container asks the others who is master, must be reachable by name. In cluster mode
// it is every shard's (each shard's StatefulSet names it), and a node is not ready before the
// cluster exists, which the cluster Job must reach the nodes to create.
func composeRedisHeadlessService(in *instance) (*unstructured.Unstructured, error) {
	labels := in.labels(componentRedis)
	ports := []*corev1ac.ServicePortApplyConfiguration{servicePort("redis", redisPort, "redis")}
	if in.cluster() {
		ports = append(ports, servicePort("cluster-bus", clusterBusPort, "cluster-bus"))
	}
	if in.spec.Metrics.Enabled {
		labels[labelScrape] = "true"
		ports = append(ports, servicePort(metricsPortName, exporterPort, metricsPortName))
	}
	return headlessService(in, in.redisHeadlessName(), componentRedis, labels, ports)
}

// composeSentinelHeadlessService gives every Sentinel a stable DNS name, used by the tunnel
// (--sentinels), the scripts and the Sentinels' own announce-hostnames.
func composeSentinelHeadlessService(in *instance) (*unstructured.Unstructured, error) {
	return headlessService(in, in.sentinelHeadlessName(), componentSentinel, in.labels(componentSentinel),
		[]*corev1ac.ServicePortApplyConfiguration{servicePort("sentinel", sentinelPort, "sentinel")})
}

func headlessService(in *instance, name, component string, labels map[string]string, ports []*corev1ac.ServicePortApplyConfiguration) (*unstructured.Unstructured, error) {
	svc := corev1ac.Service(name, in.namespace).
		WithLabels(labels).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithPublishNotReadyAddresses(true).
			WithSelector(in.selector(component)).
			WithPorts(ports...))
	return toUnstructured(svc)
}

// composeTunnelService is the client endpoint: port 6379 always reaches the current master.
func composeTunnelService(in *instance) (*unstructured.Unstructured, error) {
	return clientService(in, in.tunnelName(), servicePort("redis", tunnelPort, "redis"))
}

// composeTunnelReadOnlyService is the read-only endpoint on port 6380, or nil when disabled.
func composeTunnelReadOnlyService(in *instance) (*unstructured.Unstructured, error) {
	if !in.spec.Tunnel.ReadOnlyEndpointEnabled() {
		return nil, nil
	}
	return clientService(in, in.tunnelReadOnlyName(), servicePort("redis-ro", tunnelReadOnlyPort, "redis-ro"))
}

func clientService(in *instance, name string, port *corev1ac.ServicePortApplyConfiguration) (*unstructured.Unstructured, error) {
	svc := corev1ac.Service(name, in.namespace).
		WithLabels(in.labels(componentTunnel)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(in.spec.Tunnel.ServiceType).
			WithSelector(in.selector(componentTunnel)).
			WithPorts(port))
	return toUnstructured(svc)
}

// composeTunnelMetricsService exposes the tunnels' /metrics to the ServiceMonitor, apart from
// the client Services so a LoadBalancer client Service never publishes metrics. Nil unless
// the ServiceMonitor is enabled.
func composeTunnelMetricsService(in *instance) (*unstructured.Unstructured, error) {
	if !in.spec.Metrics.ServiceMonitorEnabled() {
		return nil, nil
	}
	labels := in.labels(componentTunnel)
	labels[labelScrape] = "true"
	svc := corev1ac.Service(in.tunnelMetricsName(), in.namespace).
		WithLabels(labels).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithSelector(in.selector(componentTunnel)).
			WithPorts(servicePort(metricsPortName, tunnelMetricsPort, metricsPortName)))
	return toUnstructured(svc)
}

// servicePort is a TCP Service port that targets a named container port.
func servicePort(name string, port int32, target string) *corev1ac.ServicePortApplyConfiguration {
	return corev1ac.ServicePort().
		WithName(name).
		WithPort(port).
		WithTargetPort(portName(target)).
		WithProtocol(corev1.ProtocolTCP)
}
