package function

import (
	"fmt"

	"github.com/crossplane/function-sdk-go/resource"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// Condition types the function reports on the XR (and, for XRedisHA, on the claim), in
// addition to the Ready and Synced conditions Crossplane manages.
const (
	conditionRedisAvailable  = "RedisAvailable"
	conditionSentinelQuorum  = "SentinelQuorum"
	conditionTunnelAvailable = "TunnelAvailable"
)

// Condition reasons.
const (
	reasonAvailable   = "Available"
	reasonUnavailable = "Unavailable"
	reasonCreating    = "Creating"
)

// condition is one condition to report; status true or false.
type condition struct {
	Type    string
	Status  bool
	Reason  string
	Message string
}

// observedCounts are the pod counts read from the observed workloads.
type observedCounts struct {
	redisReady, sentinelReady, tunnelAvailable int32
	redisSeen, sentinelSeen, tunnelSeen        bool
	tunnelAvailableCond                        bool
}

// countObserved reads the observed StatefulSets and Deployment.
func countObserved(observed map[resource.Name]resource.ObservedComposed) observedCounts {
	var c observedCounts
	if oc, ok := observed[resourceRedisStatefulSet]; ok {
		c.redisSeen, c.redisReady = true, int32(intField(oc.Resource.Object, 0, "status", "readyReplicas"))
	}
	if oc, ok := observed[resourceSentinelStatefulSet]; ok {
		c.sentinelSeen, c.sentinelReady = true, int32(intField(oc.Resource.Object, 0, "status", "readyReplicas"))
	}
	if oc, ok := observed[resourceTunnelDeployment]; ok {
		c.tunnelSeen = true
		c.tunnelAvailable = int32(intField(oc.Resource.Object, 0, "status", "availableReplicas"))
		c.tunnelAvailableCond = deploymentAvailable(&oc.Resource.Unstructured)
	}
	return c
}

// composeStatus is the XR status the function owns: where to connect and how many pods of
// each component are ready.
func composeStatus(in *instance, c observedCounts) v1alpha1.RedisHAStatus {
	return v1alpha1.RedisHAStatus{
		Endpoint:         in.endpoint(),
		ReadOnlyEndpoint: in.readOnlyEndpoint(),
		ConnectionSecret: in.connectionSecretName(),
		Redis:            v1alpha1.ComponentStatus{Replicas: in.spec.Redis.Replicas, Ready: c.redisReady},
		Sentinel:         &v1alpha1.ComponentStatus{Replicas: in.spec.Sentinel.Replicas, Ready: c.sentinelReady},
		Tunnel:           v1alpha1.ComponentStatus{Replicas: in.spec.Tunnel.Replicas, Ready: c.tunnelAvailable},
	}
}

// composeConditions explains, per component, whether it is serving, in words an application
// team can act on.
func composeConditions(in *instance, c observedCounts) []condition {
	redisWant := in.spec.Redis.Replicas
	sentinelWant := in.spec.Sentinel.Replicas
	// A failover needs the quorum to agree the master is down and a majority to elect a leader.
	needed := max(in.spec.Sentinel.Quorum, v1alpha1.MajorityOf(sentinelWant))

	redis := condition{Type: conditionRedisAvailable, Reason: reasonCreating, Message: "The Redis StatefulSet has not been created yet"}
	if c.redisSeen {
		redis.Message = fmt.Sprintf("%d of %d Redis pods ready", c.redisReady, redisWant)
		switch {
		case c.redisReady >= redisWant:
			redis.Status, redis.Reason = true, reasonAvailable
		case c.redisReady >= 2:
			// Serving, with a replica to fail over to, but not at full strength.
			redis.Status, redis.Reason = true, reasonAvailable
			redis.Message += "; a master and a replica are up, the rest are starting or failing"
		default:
			redis.Reason = reasonUnavailable
			redis.Message += "; a master needs a ready replica to accept writes (min-replicas-to-write) and to fail over"
		}
	}

	sentinel := condition{Type: conditionSentinelQuorum, Reason: reasonCreating, Message: "The Sentinel StatefulSet has not been created yet"}
	if c.sentinelSeen {
		sentinel.Message = fmt.Sprintf("%d of %d Sentinels ready; a failover needs %d (quorum %d, majority %d)",
			c.sentinelReady, sentinelWant, needed, in.spec.Sentinel.Quorum, v1alpha1.MajorityOf(sentinelWant))
		if c.sentinelReady >= needed {
			sentinel.Status, sentinel.Reason = true, reasonAvailable
		} else {
			sentinel.Reason = reasonUnavailable
			sentinel.Message += ": until then a failed master is not replaced"
		}
	}

	tunnel := condition{Type: conditionTunnelAvailable, Reason: reasonCreating, Message: "The tunnel Deployment has not been created yet"}
	if c.tunnelSeen {
		tunnel.Message = fmt.Sprintf("%d of %d tunnel pods available at %s", c.tunnelAvailable, in.spec.Tunnel.Replicas, in.endpoint())
		if c.tunnelAvailableCond && c.tunnelAvailable > 0 {
			tunnel.Status, tunnel.Reason = true, reasonAvailable
		} else {
			tunnel.Reason = reasonUnavailable
			tunnel.Message += "; clients cannot connect yet"
		}
	}
	return []condition{redis, sentinel, tunnel}
}
