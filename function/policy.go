package function

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// composeRedisPDB lets voluntary disruptions (drains, upgrades) take one Redis pod at a time,
// so a master always keeps a replica to fail over to.
func composeRedisPDB(in *instance) (*unstructured.Unstructured, error) {
	return pdbMaxUnavailable(in, in.redisName(), in.labels(componentRedis), in.selector(componentRedis), 1)
}

// composeSentinelPDB keeps a majority of Sentinels up during voluntary disruptions: a failover
// needs a majority vote, whatever the quorum.
func composeSentinelPDB(in *instance) (*unstructured.Unstructured, error) {
	pdb := policyv1ac.PodDisruptionBudget(in.sentinelName(), in.namespace).
		WithLabels(in.labels(componentSentinel)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMinAvailable(intstr.FromInt32(v1alpha1.MajorityOf(in.spec.Sentinel.Replicas))).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(in.selector(componentSentinel))))
	return toUnstructured(pdb)
}

// composeTunnelPDB lets drains take one tunnel pod at a time. With a single tunnel replica
// that still allows the eviction: blocking node drains forever would be worse than the short
// gap, and spec.tunnel.replicas above 1 avoids it.
func composeTunnelPDB(in *instance) (*unstructured.Unstructured, error) {
	return pdbMaxUnavailable(in, in.tunnelName(), in.labels(componentTunnel), in.selector(componentTunnel), 1)
}

// pdbMaxUnavailable is a PodDisruptionBudget that lets n of the selected pods be disrupted.
func pdbMaxUnavailable(in *instance, name string, labels, selector map[string]string, n int32) (*unstructured.Unstructured, error) {
	pdb := policyv1ac.PodDisruptionBudget(name, in.namespace).
		WithLabels(labels).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(n)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selector)))
	return toUnstructured(pdb)
}

// composeServiceAccount is a component's ServiceAccount. No pod talks to the Kubernetes API,
// so no token is mounted.
func composeServiceAccount(in *instance, name, component string) (*unstructured.Unstructured, error) {
	sa := corev1ac.ServiceAccount(name, in.namespace).
		WithLabels(in.labels(component)).
		WithAutomountServiceAccountToken(false)
	return toUnstructured(sa)
}

// The NetworkPolicies, one per component because each admits different peers on different
// ports (a NetworkPolicy has a single pod selector). Only ingress is restricted: the pods
// need DNS and each other, and egress rules would add nothing an attacker inside could not
// get around by connecting through the tunnel.
//
//	tunnel    6379/6380 from spec.networkPolicy.allowedClients (default: every pod of the
//	          namespace); 8080 (metrics) from anywhere when metrics are enabled
//	redis     6379 from Redis (replication), Sentinel (monitoring) and tunnel pods;
//	          9121 (exporter) from anywhere when metrics are enabled
//	          cluster mode: 6379 from Redis (replication, the pod scripts), tunnel and cluster
//	          Job pods; 16379 (cluster bus) from Redis pods
//	sentinel  26379 from Sentinel (gossip), Redis (init and preStop scripts) and tunnel pods
//
// Metrics ports are open to all sources because the Prometheus of a cluster can be anywhere;
// they serve no data.

// composeTunnelNetworkPolicy admits clients to the tunnel.
func composeTunnelNetworkPolicy(in *instance) (*unstructured.Unstructured, error) {
	clientPorts := []*networkingv1ac.NetworkPolicyPortApplyConfiguration{policyPort(tunnelPort)}
	if in.spec.Tunnel.ReadOnlyEndpointEnabled() {
		clientPorts = append(clientPorts, policyPort(tunnelReadOnlyPort))
	}
	var peers []*networkingv1ac.NetworkPolicyPeerApplyConfiguration
	for _, c := range in.spec.NetworkPolicy.AllowedClients {
		peer := networkingv1ac.NetworkPolicyPeer()
		if c.PodSelector != nil {
			peer.WithPodSelector(labelSelector(c.PodSelector))
		}
		if c.NamespaceSelector != nil {
			peer.WithNamespaceSelector(labelSelector(c.NamespaceSelector))
		}
		peers = append(peers, peer)
	}
	if len(peers) == 0 {
		peers = append(peers, networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector()))
	}
	rules := []*networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration{
		networkingv1ac.NetworkPolicyIngressRule().WithPorts(clientPorts...).WithFrom(peers...),
	}
	if in.spec.Metrics.Enabled {
		rules = append(rules, networkingv1ac.NetworkPolicyIngressRule().WithPorts(policyPort(tunnelMetricsPort)))
	}
	return networkPolicy(in, in.tunnelName(), componentTunnel, rules)
}

// composeRedisNetworkPolicy admits replication, Sentinel and the tunnel to Redis; in cluster
// mode the cluster Job instead of Sentinel, and the cluster bus between the Redis pods.
func composeRedisNetworkPolicy(in *instance) (*unstructured.Unstructured, error) {
	var rules []*networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration
	if in.cluster() {
		rules = append(rules,
			networkingv1ac.NetworkPolicyIngressRule().
				WithPorts(policyPort(redisPort)).
				WithFrom(componentPeer(in, componentRedis), componentPeer(in, componentTunnel), componentPeer(in, componentClusterJob)),
			networkingv1ac.NetworkPolicyIngressRule().
				WithPorts(policyPort(clusterBusPort)).
				WithFrom(componentPeer(in, componentRedis)))
	} else {
		rules = append(rules, networkingv1ac.NetworkPolicyIngressRule().
			WithPorts(policyPort(redisPort)).
			WithFrom(componentPeer(in, componentRedis), componentPeer(in, componentSentinel), componentPeer(in, componentTunnel)))
	}
	if in.spec.Metrics.Enabled {
		rules = append(rules, networkingv1ac.NetworkPolicyIngressRule().WithPorts(policyPort(exporterPort)))
	}
	return networkPolicy(in, in.redisName(), componentRedis, rules)
}

// composeSentinelNetworkPolicy admits the other Sentinels, the Redis scripts and the tunnel.
func composeSentinelNetworkPolicy(in *instance) (*unstructured.Unstructured, error) {
	rules := []*networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration{
		networkingv1ac.NetworkPolicyIngressRule().
			WithPorts(policyPort(sentinelPort)).
			WithFrom(componentPeer(in, componentSentinel), componentPeer(in, componentRedis), componentPeer(in, componentTunnel)),
	}
	return networkPolicy(in, in.sentinelName(), componentSentinel, rules)
}

func networkPolicy(in *instance, name, component string, rules []*networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration) (*unstructured.Unstructured, error) {
	np := networkingv1ac.NetworkPolicy(name, in.namespace).
		WithLabels(in.labels(component)).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(in.selector(component))).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(rules...))
	return toUnstructured(np)
}

// componentPeer selects the pods of one component of this instance, in its namespace.
func componentPeer(in *instance, component string) *networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	return networkingv1ac.NetworkPolicyPeer().WithPodSelector(
		metav1ac.LabelSelector().WithMatchLabels(in.selector(component)))
}

func policyPort(port int32) *networkingv1ac.NetworkPolicyPortApplyConfiguration {
	return networkingv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolTCP).WithPort(intstr.FromInt32(port))
}

// labelSelector converts a typed label selector from the spec into its apply configuration.
func labelSelector(s *metav1.LabelSelector) *metav1ac.LabelSelectorApplyConfiguration {
	out := metav1ac.LabelSelector()
	if len(s.MatchLabels) > 0 {
		out.WithMatchLabels(s.MatchLabels)
	}
	for _, e := range s.MatchExpressions {
		req := metav1ac.LabelSelectorRequirement().WithKey(e.Key).WithOperator(e.Operator)
		if len(e.Values) > 0 {
			req.WithValues(e.Values...)
		}
		out.WithMatchExpressions(req)
	}
	return out
}
