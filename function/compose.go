package function

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/resource"
)

// composition is everything one run composes.
type composition struct {
	objects map[resource.Name]*unstructured.Unstructured
	// connectionDetails are what the connection Secret holds; nil while the password of an
	// existing Secret is not known yet.
	connectionDetails map[string][]byte
	// clusterJob is the cluster Job of a cluster-mode instance; nil in sentinel mode.
	clusterJob *clusterJob
}

// composeAll composes every object of an instance. A composer that returns nil means "not
// wanted with this spec" (e.g. the read-only Service when that endpoint is off).
func composeAll(in *instance, src passwordSources) (*composition, error) {
	creds, err := resolveCredentials(in, src)
	if err != nil {
		return nil, err
	}
	data, err := configData(in)
	if err != nil {
		return nil, err
	}
	ps := podSettings{
		credentials:     creds,
		redisConfigSum:  configChecksum(data, redisConfigKeys(in)...),
		observedAuthSum: observedAuthChecksum(in, src.observed),
	}
	if !in.cluster() {
		ps.sentinelConfigSum = configChecksum(data, sentinelConfigKeys()...)
	}

	out := &composition{objects: map[resource.Name]*unstructured.Unstructured{}}
	if !creds.enabled || creds.known {
		out.connectionDetails = connectionDetails(in, creds)
	}
	type step struct {
		name    resource.Name
		compose func() (*unstructured.Unstructured, error)
	}
	steps := []step{
		{resourcePasswordSecret, func() (*unstructured.Unstructured, error) { return composePasswordSecret(in, creds) }},
		{resourceConnectionSecret, func() (*unstructured.Unstructured, error) {
			return composeConnectionSecret(in, out.connectionDetails, src.observed)
		}},
		{resourceConfigMap, func() (*unstructured.Unstructured, error) { return composeConfigMap(in, data) }},
		{resourceRedisServiceAccount, func() (*unstructured.Unstructured, error) {
			return composeServiceAccount(in, in.redisName(), componentRedis)
		}},
		{resourceTunnelServiceAccount, func() (*unstructured.Unstructured, error) {
			return composeServiceAccount(in, in.tunnelName(), componentTunnel)
		}},
		{resourceRedisHeadlessService, func() (*unstructured.Unstructured, error) { return composeRedisHeadlessService(in) }},
		{resourceTunnelService, func() (*unstructured.Unstructured, error) { return composeTunnelService(in) }},
		{resourceTunnelReadOnlyService, func() (*unstructured.Unstructured, error) { return composeTunnelReadOnlyService(in) }},
		{resourceTunnelMetricsService, func() (*unstructured.Unstructured, error) { return composeTunnelMetricsService(in) }},
		{resourceTunnelDeployment, func() (*unstructured.Unstructured, error) { return composeTunnelDeployment(in, ps) }},
		{resourceTunnelPDB, func() (*unstructured.Unstructured, error) { return composeTunnelPDB(in) }},
		{resourceServiceMonitor, func() (*unstructured.Unstructured, error) { return composeServiceMonitor(in), nil }},
	}
	if in.cluster() {
		if out.clusterJob, err = composeClusterJob(in, ps); err != nil {
			return nil, errors.Wrap(err, "cannot compose the cluster Job")
		}
		steps = append(steps, step{out.clusterJob.resourceName, func() (*unstructured.Unstructured, error) { return out.clusterJob.object, nil }})
		for k := range in.shards() {
			steps = append(steps,
				step{resourceShardStatefulSet(k), func() (*unstructured.Unstructured, error) { return composeShardStatefulSet(in, ps, k) }},
				step{resourceShardPDB(k), func() (*unstructured.Unstructured, error) { return composeShardPDB(in, k) }},
			)
		}
	} else {
		steps = append(steps,
			step{resourceSentinelServiceAccount, func() (*unstructured.Unstructured, error) {
				return composeServiceAccount(in, in.sentinelName(), componentSentinel)
			}},
			step{resourceSentinelHeadlessService, func() (*unstructured.Unstructured, error) { return composeSentinelHeadlessService(in) }},
			step{resourceRedisStatefulSet, func() (*unstructured.Unstructured, error) { return composeRedisStatefulSet(in, ps) }},
			step{resourceSentinelStatefulSet, func() (*unstructured.Unstructured, error) { return composeSentinelStatefulSet(in, ps) }},
			step{resourceRedisPDB, func() (*unstructured.Unstructured, error) { return composeRedisPDB(in) }},
			step{resourceSentinelPDB, func() (*unstructured.Unstructured, error) { return composeSentinelPDB(in) }},
		)
	}
	if in.spec.NetworkPolicy.PolicyEnabled() {
		steps = append(steps,
			step{resourceRedisNetworkPolicy, func() (*unstructured.Unstructured, error) { return composeRedisNetworkPolicy(in) }},
			step{resourceTunnelNetworkPolicy, func() (*unstructured.Unstructured, error) { return composeTunnelNetworkPolicy(in) }},
		)
		if !in.cluster() {
			steps = append(steps, step{resourceSentinelNetworkPolicy, func() (*unstructured.Unstructured, error) { return composeSentinelNetworkPolicy(in) }})
		}
	}
	for _, s := range steps {
		u, err := s.compose()
		if err != nil {
			return nil, errors.Wrapf(err, "cannot compose %s", s.name)
		}
		if u != nil {
			out.objects[s.name] = u
		}
	}
	return out, nil
}

// observedAuthChecksum is the auth checksum annotation of the observed Redis pods (of the
// first shard in cluster mode), kept while an existing password Secret has not been read.
func observedAuthChecksum(in *instance, observed map[resource.Name]resource.ObservedComposed) string {
	name := resourceRedisStatefulSet
	if in.cluster() {
		name = resourceShardStatefulSet(0)
	}
	oc, ok := observed[name]
	if !ok {
		return ""
	}
	v, _, _ := unstructured.NestedString(oc.Resource.Object, "spec", "template", "metadata", "annotations", annotationAuthChecksum)
	return v
}
