package function

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

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
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, composeStatus(tc.in, tc.counts)); diff != "" {
				t.Errorf("%s\ncomposeStatus(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
