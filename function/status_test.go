package function

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// clusterInstance is a cluster-mode test instance.
func clusterInstance(shards, replicasPerShard int32) *instance {
	return testInstance(func(s *v1alpha1.RedisHASpec) {
		s.Mode = v1alpha1.ModeCluster
		s.Cluster = &v1alpha1.ClusterSpec{Shards: shards, ReplicasPerShard: replicasPerShard}
	})
}

func TestComposeConditions(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     *instance
		counts observedCounts
		want   []condition
	}{
		"Degraded": {
			reason: "One Redis and one Sentinel ready, tunnel unavailable: each condition says what it means for clients.",
			in:     testInstance(nil),
			counts: observedCounts{redisSeen: true, redisReady: 1, sentinelSeen: true, sentinelReady: 1, tunnelSeen: true},
			want: []condition{
				{Type: conditionRedisAvailable, Reason: reasonUnavailable, Message: "1 of 3 Redis pods ready; a master needs a ready replica to accept writes (min-replicas-to-write) and to fail over"},
				{Type: conditionSentinelQuorum, Reason: reasonUnavailable, Message: "1 of 3 Sentinels ready; a failover needs 2 (quorum 2, majority 2): until then a failed master is not replaced"},
				{Type: conditionTunnelAvailable, Reason: reasonUnavailable, Message: "0 of 2 tunnel pods available at cache-tunnel.default.svc:6379; clients cannot connect yet"},
			},
		},
		"PartiallyUpButServing": {
			reason: "Two of three Redis pods is serving with a failover target; quorum 3 of 5 needs 3 Sentinels.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Sentinel.Replicas = 5
				s.Sentinel.Quorum = 3
			}),
			counts: observedCounts{redisSeen: true, redisReady: 2, sentinelSeen: true, sentinelReady: 3, tunnelSeen: true, tunnelAvailable: 1, tunnelAvailableCond: true},
			want: []condition{
				{Type: conditionRedisAvailable, Status: true, Reason: reasonAvailable, Message: "2 of 3 Redis pods ready; a master and a replica are up, the rest are starting or failing"},
				{Type: conditionSentinelQuorum, Status: true, Reason: reasonAvailable, Message: "3 of 5 Sentinels ready; a failover needs 3 (quorum 3, majority 3)"},
				{Type: conditionTunnelAvailable, Status: true, Reason: reasonAvailable, Message: "1 of 2 tunnel pods available at cache-tunnel.default.svc:6379"},
			},
		},
		"QuorumAboveMajority": {
			reason: "With quorum above the majority, the quorum is what a failover needs.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Sentinel.Quorum = 3
			}),
			counts: observedCounts{sentinelSeen: true, sentinelReady: 2},
			want: []condition{
				{Type: conditionRedisAvailable, Reason: reasonCreating, Message: "The Redis StatefulSet has not been created yet"},
				{Type: conditionSentinelQuorum, Reason: reasonUnavailable, Message: "2 of 3 Sentinels ready; a failover needs 3 (quorum 3, majority 2): until then a failed master is not replaced"},
				{Type: conditionTunnelAvailable, Reason: reasonCreating, Message: "The tunnel Deployment has not been created yet"},
			},
		},
		"ClusterCreating": {
			reason: "Before the cluster exists no pod is ready, and the Job is still at work.",
			in:     clusterInstance(3, 1),
			counts: observedCounts{redisSeen: true, shards: make([]shardCount, 3), clusterJob: jobRunning, clusterJobName: "cache-cluster-3x1-abcde"},
			want: []condition{
				{Type: conditionRedisAvailable, Reason: reasonUnavailable, Message: "0 of 3 shards have every pod ready (0 of 6 pods); no pod of cache-redis-0, cache-redis-1, cache-redis-2 is ready: the keys of those shards cannot be read or written"},
				{Type: conditionClusterTopology, Reason: reasonApplying, Message: "The cluster Job cache-cluster-3x1-abcde is giving the cluster 3 shards of 2 pods (creating it, joining pods, moving slots onto new shards); kubectl logs job/cache-cluster-3x1-abcde shows how far it is"},
				{Type: conditionTunnelAvailable, Reason: reasonCreating, Message: "The tunnel Deployment has not been created yet"},
			},
		},
		"ClusterDegradedShard": {
			reason: "Every shard serves, one cannot fail over; the Job is done.",
			in:     clusterInstance(3, 1),
			counts: observedCounts{redisSeen: true, redisReady: 5, shards: []shardCount{{true, 2}, {true, 1}, {true, 2}}, clusterJob: jobSucceeded, clusterJobName: "cache-cluster-3x1-abcde",
				tunnelSeen: true, tunnelAvailable: 2, tunnelAvailableCond: true},
			want: []condition{
				{Type: conditionRedisAvailable, Status: true, Reason: reasonAvailable, Message: "2 of 3 shards have every pod ready (5 of 6 pods); cache-redis-1 cannot fail over until the rest of their pods are ready"},
				{Type: conditionClusterTopology, Status: true, Reason: reasonApplied, Message: "The cluster has 3 shards of 2 pods (Job cache-cluster-3x1-abcde complete)"},
				{Type: conditionTunnelAvailable, Status: true, Reason: reasonAvailable, Message: "2 of 2 tunnel pods available at cache-tunnel.default.svc:6379"},
			},
		},
		"ClusterJobFailedShardDown": {
			reason: "A shard without a ready pod is unavailable; a failed Job says where to look and how to retry.",
			in:     clusterInstance(4, 1),
			counts: observedCounts{redisSeen: true, redisReady: 6, shards: []shardCount{{true, 2}, {true, 2}, {true, 2}, {true, 0}}, clusterJob: jobGaveUp, clusterJobName: "cache-cluster-4x1-abcde"},
			want: []condition{
				{Type: conditionRedisAvailable, Reason: reasonUnavailable, Message: "3 of 4 shards have every pod ready (6 of 8 pods); no pod of cache-redis-3 is ready: the keys of those shards cannot be read or written"},
				{Type: conditionClusterTopology, Reason: reasonFailed, Message: "The cluster Job cache-cluster-4x1-abcde failed to give the cluster 4 shards of 2 pods: read kubectl logs job/cache-cluster-4x1-abcde, fix the cause, then delete the Job to run it again"},
				{Type: conditionTunnelAvailable, Reason: reasonCreating, Message: "The tunnel Deployment has not been created yet"},
			},
		},
		"ClusterNothingYet": {
			reason: "Nothing observed yet.",
			in:     clusterInstance(3, 2),
			counts: observedCounts{shards: make([]shardCount, 3), clusterJobName: "cache-cluster-3x2-abcde"},
			want: []condition{
				{Type: conditionRedisAvailable, Reason: reasonCreating, Message: "The Redis StatefulSets have not been created yet"},
				{Type: conditionClusterTopology, Reason: reasonCreating, Message: "The cluster Job cache-cluster-3x2-abcde has not been created yet"},
				{Type: conditionTunnelAvailable, Reason: reasonCreating, Message: "The tunnel Deployment has not been created yet"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, composeConditions(tc.in, tc.counts)); diff != "" {
				t.Errorf("%s\ncomposeConditions(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestComposeStatus(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     *instance
		counts observedCounts
		want   v1alpha1.RedisHAStatus
	}{
		"Defaults": {
			reason: "Endpoints, connection Secret and counts.",
			in:     testInstance(nil),
			counts: observedCounts{redisReady: 3, sentinelReady: 2, tunnelAvailable: 1},
			want: v1alpha1.RedisHAStatus{
				Endpoint: "cache-tunnel.default.svc:6379", ReadOnlyEndpoint: "cache-tunnel-ro.default.svc:6380", ConnectionSecret: "cache-redis",
				Redis: v1alpha1.ComponentStatus{Replicas: 3, Ready: 3}, Sentinel: &v1alpha1.ComponentStatus{Replicas: 3, Ready: 2}, Tunnel: v1alpha1.ComponentStatus{Replicas: 2, Ready: 1},
			},
		},
		"NoReadOnlyCustomSecret": {
			reason: "No read-only endpoint when it is off; the connection Secret name from the spec.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				f := false
				s.Tunnel.ReadOnlyEndpoint = &f
				s.ConnectionSecret.Name = "app-redis"
			}),
			want: v1alpha1.RedisHAStatus{
				Endpoint: "cache-tunnel.default.svc:6379", ConnectionSecret: "app-redis",
				Redis: v1alpha1.ComponentStatus{Replicas: 3}, Sentinel: &v1alpha1.ComponentStatus{Replicas: 3}, Tunnel: v1alpha1.ComponentStatus{Replicas: 2},
			},
		},
		"Cluster": {
			reason: "Pods per shard; totals in status.redis; no Sentinel status and no read-only endpoint.",
			in:     clusterInstance(3, 2),
			counts: observedCounts{redisReady: 7, shards: []shardCount{{true, 3}, {true, 3}, {true, 1}}, tunnelAvailable: 2},
			want: v1alpha1.RedisHAStatus{
				Endpoint: "cache-tunnel.default.svc:6379", ConnectionSecret: "cache-redis",
				Redis: v1alpha1.ComponentStatus{Replicas: 9, Ready: 7}, Tunnel: v1alpha1.ComponentStatus{Replicas: 2, Ready: 2},
				Cluster: &v1alpha1.ClusterStatus{ReadyShards: 2, Shards: []v1alpha1.ShardStatus{
					{Name: "cache-redis-0", Replicas: 3, Ready: 3}, {Name: "cache-redis-1", Replicas: 3, Ready: 3}, {Name: "cache-redis-2", Replicas: 3, Ready: 1},
				}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, composeStatus(tc.in, tc.counts)); diff != "" {
				t.Errorf("%s\ncomposeStatus(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
