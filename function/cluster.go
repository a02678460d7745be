package function

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// The pods of a Redis Cluster (spec.mode: cluster).
//
// Each shard is its own StatefulSet, <name>-redis-<shard>, of 1 + replicasPerShard pods, all
// behind the one headless Service <name>-redis-headless. One StatefulSet for every pod would
// roll more simply, but a pod template cannot say which shard a pod is in, and per shard is
// what matters: a PodDisruptionBudget per shard (a drain may take one pod of each shard, not
// two of one), anti-affinity within a shard (a master and its replica on different nodes),
// readiness per shard in the status, and adding a shard is adding a StatefulSet while the
// others stay untouched. Pods never change shards: the cluster does not migrate replicas
// (cluster-allow-replica-migration no), and a pod that lost its data rejoins its own shard.
//
// The pods run scripts from the ConfigMap (see config.go): cluster-init.sh writes the pod's
// announce lines, cluster-poststart.sh keeps the node in its shard (meets the others at a new
// IP; joins as a replica after losing its data), cluster-prestop.sh hands a master's slots to
// a replica before the pod stops, cluster-probe.sh is the probes. Creating the cluster and
// adding shards is the cluster Job's (clusterjob.go).

// clusterScriptEnv is the environment of the cluster-mode pod scripts (scripts/cluster-lib.sh).
// POD_NAME and POD_IP come first: later values expand them.
func clusterScriptEnv(in *instance, c credentials) []*corev1ac.EnvVarApplyConfiguration {
	env := []*corev1ac.EnvVarApplyConfiguration{
		corev1ac.EnvVar().WithName("POD_NAME").WithValueFrom(corev1ac.EnvVarSource().
			WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("metadata.name"))),
		corev1ac.EnvVar().WithName("POD_IP").WithValueFrom(corev1ac.EnvVarSource().
			WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("status.podIP"))),
		corev1ac.EnvVar().WithName("REDIS_HA_ANNOUNCE_HOST").WithValue("$(POD_NAME)." + in.serviceDomain(in.redisHeadlessName())),
		corev1ac.EnvVar().WithName("REDIS_HA_ANNOUNCE_IP").WithValue("$(POD_IP)"),
		corev1ac.EnvVar().WithName("REDIS_HA_PORT").WithValue(strconv.Itoa(redisPort)),
		corev1ac.EnvVar().WithName("REDIS_HA_CLUSTER_NODES").WithValue(joinAddrs(in.clusterNodes())),
	}
	return append(env, cliEnv(in, c)...)
}

// composeShardStatefulSet is the StatefulSet of one shard. Its pods start in parallel: which
// of them is the master is the cluster's decision, not the ordinal's.
func composeShardStatefulSet(in *instance, ps podSettings, shard int32) (*unstructured.Unstructured, error) {
	env := append(clusterScriptEnv(in, ps.credentials),
		corev1ac.EnvVar().WithName("REDIS_HA_BASE_CONF").WithValue(configDir+"/"+configKeyRedis),
		corev1ac.EnvVar().WithName("REDIS_HA_CONF").WithValue(runDir+"/redis.conf"),
	)
	script := func(name string) *corev1ac.LifecycleHandlerApplyConfiguration {
		return corev1ac.LifecycleHandler().WithExec(corev1ac.ExecAction().WithCommand("sh", configDir+"/"+name))
	}
	w := redisWorkload{
		name: in.shardName(shard), labels: in.shardLabels(shard), selector: in.shardSelector(shard),
		replicas: in.podsPerShard(), initScript: "cluster-init.sh", env: env,
	}
	return composeRedisWorkload(in, ps, w, func(redis *corev1ac.ContainerApplyConfiguration) {
		redis.
			WithPorts(
				corev1ac.ContainerPort().WithName("redis").WithContainerPort(redisPort).WithProtocol(corev1.ProtocolTCP),
				corev1ac.ContainerPort().WithName("cluster-bus").WithContainerPort(clusterBusPort).WithProtocol(corev1.ProtocolTCP)).
			// As in sentinel mode: up to 10 minutes to load a large AOF.
			WithStartupProbe(execProbe("cluster-probe.sh", "live", 2, 5, 120)).
			WithLivenessProbe(execProbe("cluster-probe.sh", "live", 0, 10, 3)).
			WithReadinessProbe(execProbe("cluster-probe.sh", "ready", 0, 5, 2)).
			WithLifecycle(corev1ac.Lifecycle().
				WithPostStart(script("cluster-poststart.sh")).
				WithPreStop(script("cluster-prestop.sh")))
	})
}

// composeShardPDB lets voluntary disruptions take one pod of a shard at a time, so a shard's
// master always keeps a replica to hand its slots to (cluster-prestop.sh), while drains still
// proceed on every shard at once.
func composeShardPDB(in *instance, shard int32) (*unstructured.Unstructured, error) {
	return pdbMaxUnavailable(in, in.shardName(shard), in.shardLabels(shard), in.shardSelector(shard), 1)
}
