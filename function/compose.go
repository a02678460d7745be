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
		credentials:       creds,
		redisConfigSum:    configChecksum(data, redisConfigKeys()...),
		sentinelConfigSum: configChecksum(data, sentinelConfigKeys()...),
		observedAuthSum:   observedAuthChecksum(src.observed),
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
		{resourceSentinelServiceAccount, func() (*unstructured.Unstructured, error) {
			return composeServiceAccount(in, in.sentinelName(), componentSentinel)
		}},
		{resourceTunnelServiceAccount, func() (*unstructured.Unstructured, error) {
			return composeServiceAccount(in, in.tunnelName(), componentTunnel)
		}},
		{resourceRedisHeadlessService, func() (*unstructured.Unstructured, error) { return composeRedisHeadlessService(in) }},
		{resourceSentinelHeadlessService, func() (*unstructured.Unstructured, error) { return composeSentinelHeadlessService(in) }},
		{resourceTunnelService, func() (*unstructured.Unstructured, error) { return composeTunnelService(in) }},
		{resourceTunnelReadOnlyService, func() (*unstructured.Unstructured, error) { return composeTunnelReadOnlyService(in) }},
		{resourceTunnelMetricsService, func() (*unstructured.Unstructured, error) { return composeTunnelMetricsService(in) }},
		{resourceRedisStatefulSet, func() (*unstructured.Unstructured, error) { return composeRedisStatefulSet(in, ps) }},
		{resourceSentinelStatefulSet, func() (*unstructured.Unstructured, error) { return composeSentinelStatefulSet(in, ps) }},
		{resourceTunnelDeployment, func() (*unstructured.Unstructured, error) { return composeTunnelDeployment(in, ps) }},
		{resourceRedisPDB, func() (*unstructured.Unstructured, error) { return composeRedisPDB(in) }},
		{resourceSentinelPDB, func() (*unstructured.Unstructured, error) { return composeSentinelPDB(in) }},
		{resourceTunnelPDB, func() (*unstructured.Unstructured, error) { return composeTunnelPDB(in) }},
		{resourceServiceMonitor, func() (*unstructured.Unstructured, error) { return composeServiceMonitor(in), nil }},
	}
	if in.spec.NetworkPolicy.PolicyEnabled() {
		steps = append(steps,
			step{resourceRedisNetworkPolicy, func() (*unstructured.Unstructured, error) { return composeRedisNetworkPolicy(in) }},
			step{resourceSentinelNetworkPolicy, func() (*unstructured.Unstructured, error) { return composeSentinelNetworkPolicy(in) }},
			step{resourceTunnelNetworkPolicy, func() (*unstructured.Unstructured, error) { return composeTunnelNetworkPolicy(in) }},
		)
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

// observedAuthChecksum is the auth checksum annotation of the observed Redis pods, kept while
// an existing password Secret has not been read.
func observedAuthChecksum(observed map[resource.Name]resource.ObservedComposed) string {
	oc, ok := observed[resourceRedisStatefulSet]
	if !ok {
		return ""
	}
	v, _, _ := unstructured.NestedString(oc.Resource.Object, "spec", "template", "metadata", "annotations", annotationAuthChecksum)
	return v
}
