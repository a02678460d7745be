package function

import (
	"fmt"
	"strings"

	"github.com/crossplane/function-sdk-go/resource"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// Condition types the function reports on the XR (and, for XRedisHA, on the claim), in
// addition to the Ready and Synced conditions Crossplane manages.
const (
	conditionRedisAvailable  = "RedisAvailable"
	conditionSentinelQuorum  = "SentinelQuorum"
	conditionTunnelAvailable = "TunnelAvailable"
	// conditionClusterTopology says whether the cluster Job has given the cluster the shape
	// of the spec (cluster mode).
	conditionClusterTopology = "ClusterTopology"
)

// Condition reasons.
const (
	reasonAvailable   = "Available"
	reasonUnavailable = "Unavailable"
	reasonCreating    = "Creating"
	reasonApplied     = "Applied"
	reasonApplying    = "Applying"
	reasonFailed      = "Failed"
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
	// shards are the ready pods of each shard's StatefulSet of a cluster, in shard order.
	shards []shardCount
	// clusterJob is how far the cluster Job of the current spec, clusterJobName, has got.
	clusterJob     jobProgress
	clusterJobName string
}

// shardCount is what the function observes of one shard: its StatefulSet and ready pods.
type shardCount struct {
	seen  bool
	ready int32
}

// jobProgress is the observed state of a Job.
type jobProgress int

// Job states, from its status conditions.
const (
	jobNotSeen jobProgress = iota
	jobRunning
	jobSucceeded
	jobGaveUp
)

// countObserved reads the observed StatefulSets, Deployment and, in cluster mode, the cluster
// Job of c.
func countObserved(in *instance, c *composition, observed map[resource.Name]resource.ObservedComposed) observedCounts {
	var counts observedCounts
	if in.cluster() {
		counts.shards = make([]shardCount, in.shards())
		for k := range in.shards() {
			if oc, ok := observed[resourceShardStatefulSet(k)]; ok {
				ready := int32(intField(oc.Resource.Object, 0, "status", "readyReplicas"))
				counts.shards[k] = shardCount{seen: true, ready: ready}
				counts.redisSeen, counts.redisReady = true, counts.redisReady+ready
			}
		}
		counts.clusterJobName = c.clusterJob.name
		if oc, ok := observed[c.clusterJob.resourceName]; ok {
			u := &oc.Resource.Unstructured
			switch {
			case jobComplete(u):
				counts.clusterJob = jobSucceeded
			case jobFailed(u):
				counts.clusterJob = jobGaveUp
			default:
				counts.clusterJob = jobRunning
			}
		}
	}
	countWorkloads(observed, &counts)
	return counts
}

// countWorkloads reads the workloads both modes share names with: the sentinel-mode
// StatefulSets (absent in cluster mode) and the tunnel Deployment.
func countWorkloads(observed map[resource.Name]resource.ObservedComposed, c *observedCounts) {
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
}

// composeStatus is the XR status the function owns: where to connect and how many pods of
// each component (in cluster mode: of each shard) are ready.
func composeStatus(in *instance, c observedCounts) v1alpha1.RedisHAStatus {
	s := v1alpha1.RedisHAStatus{
		Endpoint:         in.endpoint(),
		ReadOnlyEndpoint: in.readOnlyEndpoint(),
		ConnectionSecret: in.connectionSecretName(),
		Tunnel:           v1alpha1.ComponentStatus{Replicas: in.spec.Tunnel.Replicas, Ready: c.tunnelAvailable},
	}
	if !in.cluster() {
		s.Redis = v1alpha1.ComponentStatus{Replicas: in.spec.Redis.Replicas, Ready: c.redisReady}
		s.Sentinel = &v1alpha1.ComponentStatus{Replicas: in.spec.Sentinel.Replicas, Ready: c.sentinelReady}
		return s
	}
	s.Redis = v1alpha1.ComponentStatus{Replicas: in.shards() * in.podsPerShard(), Ready: c.redisReady}
	s.Cluster = &v1alpha1.ClusterStatus{}
	for k, sc := range c.shards {
		s.Cluster.Shards = append(s.Cluster.Shards, v1alpha1.ShardStatus{Name: in.shardName(int32(k)), Replicas: in.podsPerShard(), Ready: sc.ready})
		if sc.ready >= in.podsPerShard() {
			s.Cluster.ReadyShards++
		}
	}
	return s
}

// composeConditions explains, per component, whether it is serving, in words an application
// team can act on.
func composeConditions(in *instance, c observedCounts) []condition {
	if in.cluster() {
		return []condition{clusterRedisCondition(in, c), clusterTopologyCondition(in, c), tunnelCondition(in, c)}
	}
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

	return []condition{redis, sentinel, tunnelCondition(in, c)}
}

// tunnelCondition says whether clients can connect.
func tunnelCondition(in *instance, c observedCounts) condition {
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
	return tunnel
}

// clusterRedisCondition says whether every shard serves its hash slots. A cluster-mode pod is
// ready only while its view of the cluster is healthy (cluster-probe.sh), so a shard with a
// ready pod serves; one with every pod ready can also fail over.
func clusterRedisCondition(in *instance, c observedCounts) condition {
	cond := condition{Type: conditionRedisAvailable, Reason: reasonCreating, Message: "The Redis StatefulSets have not been created yet"}
	if !c.redisSeen {
		return cond
	}
	var down, partial []string
	full := 0
	for k, sc := range c.shards {
		switch {
		case sc.ready == 0:
			down = append(down, in.shardName(int32(k)))
		case sc.ready < in.podsPerShard():
			partial = append(partial, in.shardName(int32(k)))
		default:
			full++
		}
	}
	cond.Message = fmt.Sprintf("%d of %d shards have every pod ready (%d of %d pods)", full, in.shards(), c.redisReady, in.shards()*in.podsPerShard())
	if len(down) > 0 {
		cond.Reason = reasonUnavailable
		cond.Message += fmt.Sprintf("; no pod of %s is ready: the keys of those shards cannot be read or written", strings.Join(down, ", "))
		return cond
	}
	cond.Status, cond.Reason = true, reasonAvailable
	if len(partial) > 0 {
		cond.Message += fmt.Sprintf("; %s cannot fail over until the rest of their pods are ready", strings.Join(partial, ", "))
	}
	return cond
}

// clusterTopologyCondition says whether the cluster Job has given the cluster the shape of
// the spec: created it, joined every pod to its shard and moved slots onto new shards.
func clusterTopologyCondition(in *instance, c observedCounts) condition {
	job := c.clusterJobName
	shape := fmt.Sprintf("%d shards of %d pods", in.shards(), in.podsPerShard())
	switch c.clusterJob {
	case jobSucceeded:
		return condition{Type: conditionClusterTopology, Status: true, Reason: reasonApplied,
			Message: fmt.Sprintf("The cluster has %s (Job %s complete)", shape, job)}
	case jobGaveUp:
		return condition{Type: conditionClusterTopology, Reason: reasonFailed,
			Message: fmt.Sprintf("The cluster Job %s failed to give the cluster %s: read kubectl logs job/%s, fix the cause, then delete the Job to run it again", job, shape, job)}
	case jobRunning:
		return condition{Type: conditionClusterTopology, Reason: reasonApplying,
			Message: fmt.Sprintf("The cluster Job %s is giving the cluster %s (creating it, joining pods, moving slots onto new shards); kubectl logs job/%s shows how far it is", job, shape, job)}
	default:
		return condition{Type: conditionClusterTopology, Reason: reasonCreating,
			Message: fmt.Sprintf("The cluster Job %s has not been created yet", job)}
	}
}
