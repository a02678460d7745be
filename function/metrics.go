package function

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// ServiceMonitor identity. There is no Go dependency on the Prometheus Operator: the object is
// written as unstructured data, the fields below are all it uses.
const (
	serviceMonitorAPIVersion = "monitoring.coreos.com/v1"
	serviceMonitorKind       = "ServiceMonitor"
	metricsPortName          = "metrics"
)

// exporterContainer is the redis_exporter sidecar of each Redis pod (spec.metrics.enabled).
// It reaches Redis over the pod's loopback interface.
func exporterContainer(in *instance, c credentials) *corev1ac.ContainerApplyConfiguration {
	addr := "redis://localhost:" + strconv.Itoa(redisPort)
	env := []*corev1ac.EnvVarApplyConfiguration{}
	if in.spec.TLS.Enabled {
		addr = "rediss://localhost:" + strconv.Itoa(redisPort)
		// The certificate names the pod's DNS names, not localhost.
		env = append(env, corev1ac.EnvVar().WithName("REDIS_EXPORTER_SKIP_TLS_VERIFICATION").WithValue("true"))
	}
	env = append(env,
		corev1ac.EnvVar().WithName("REDIS_ADDR").WithValue(addr),
		corev1ac.EnvVar().WithName("REDIS_EXPORTER_WEB_LISTEN_ADDRESS").WithValue(":"+strconv.Itoa(exporterPort)),
	)
	if c.enabled {
		env = append(env, passwordEnv("REDIS_PASSWORD", c))
	}
	return corev1ac.Container().
		WithName("exporter").
		WithImage(in.spec.Metrics.ExporterImage).
		WithEnv(env...).
		WithPorts(corev1ac.ContainerPort().WithName(metricsPortName).WithContainerPort(exporterPort).WithProtocol(corev1.ProtocolTCP)).
		WithResources(resourceRequirements(in.parsed.Resources.Exporter)).
		WithSecurityContext(restrictedContainerSecurity())
}

// composeServiceMonitor scrapes the exporters (through the Redis headless Service) and the
// tunnels (through the tunnel metrics Service): both carry the scrape label and a port named
// "metrics". Returns nil unless spec.metrics.serviceMonitor.enabled.
func composeServiceMonitor(in *instance) *unstructured.Unstructured {
	if !in.spec.Metrics.ServiceMonitorEnabled() {
		return nil
	}
	sm := in.spec.Metrics.ServiceMonitor
	labels := map[string]any{}
	for k, v := range sm.Labels {
		labels[k] = v
	}
	for k, v := range in.labels(componentMetrics) {
		labels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": serviceMonitorAPIVersion,
		"kind":       serviceMonitorKind,
		"metadata": map[string]any{
			"name":      in.name,
			"namespace": in.namespace,
			"labels":    labels,
		},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{
				labelInstance: in.name,
				labelName:     appName,
				labelScrape:   "true",
			}},
			"namespaceSelector": map[string]any{"matchNames": []any{in.namespace}},
			"endpoints": []any{map[string]any{
				"port":     metricsPortName,
				"path":     "/metrics",
				"interval": sm.Interval,
			}},
		},
	}}
}
