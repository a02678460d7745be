package function

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/crossplane/function-sdk-go/errors"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// The configuration contract.
//
// One ConfigMap, "<name>-config" (composition resource "config"), holds everything the Redis
// and Sentinel pods read at start. It is mounted read-only at configDir:
//
//	redis.conf        shared Redis settings: port, dir, persistence, maxmemory, the
//	                  min-replicas-to-write guard and the allow-listed spec.redis.config keys
//	sentinel.conf     shared Sentinel settings: port, dir, resolve-hostnames and
//	                  announce-hostnames, and the monitor line for master "mymaster" pointing at
//	                  pod 0 with the quorum, down-after and failover timeouts
//	lib.sh            helpers the scripts source
//	redis-init.sh     init container of each Redis pod: asks the Sentinels for the current
//	                  master (SENTINEL GET-MASTER-ADDR-BY-NAME) and writes runDir/redis.conf =
//	                  "include <redis.conf>" + replica-announce-ip/port, requirepass,
//	                  masterauth and, unless this pod is the master, replicaof
//	sentinel-init.sh  init container of each Sentinel pod: finds the master the same way and
//	                  writes a writable copy of sentinel.conf with the monitor line pointed at
//	                  it + announce-ip/port and passwords
//	redis-prestop.sh  preStop hook of Redis: a master asks the Sentinels to fail over first
//	probe.sh          liveness and readiness checks
//
// In cluster mode (spec.mode: cluster) the ConfigMap holds redis.conf (cluster-enabled, no
// replication guard, see renderClusterRedisConf), lib.sh and the cluster-*.sh scripts
// instead, documented in each script and in cluster.go and clusterjob.go; there is no
// sentinel.conf.
//
// redis.conf and sentinel.conf contain no Kubernetes-only lines: run them on a plain machine
// by remapping port, dir and host names. Everything specific to one pod (its announced host
// name, the replicaof decision, the password) is added by the init scripts, which take all
// their settings from environment variables (documented in scripts/lib.sh and
// scripts/cluster-lib.sh).
const (
	configKeyRedis    = "redis.conf"
	configKeySentinel = "sentinel.conf"

	// configDir is where the ConfigMap is mounted in every Redis and Sentinel container.
	configDir = "/etc/redis-ha"
	// runDir is the in-memory volume the Redis init container writes the final config to.
	runDir = "/run/redis-ha"
	// dataDir is Redis's (and Sentinel's) working directory.
	dataDir = "/data"
	// tlsDir is where the spec.tls.secretName Secret is mounted.
	tlsDir = "/etc/redis-ha/tls"
)

// minReplicasMaxLagSeconds bounds how far behind the acknowledging replica may be.
const minReplicasMaxLagSeconds = 10

//go:embed scripts/*.sh
var scriptFiles embed.FS

// embeddedScripts are the pod scripts by ConfigMap key (their file names), read from
// scriptFiles on first use and shared by every run after; callers copy, never change, them.
var embeddedScripts = sync.OnceValues(func() (map[string]string, error) {
	entries, err := fs.ReadDir(scriptFiles, "scripts")
	if err != nil {
		return nil, errors.Wrap(err, "cannot list the embedded scripts")
	}
	scripts := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := fs.ReadFile(scriptFiles, path.Join("scripts", e.Name()))
		if err != nil {
			return nil, errors.Wrapf(err, "cannot read embedded script %s", e.Name())
		}
		scripts[e.Name()] = string(b)
	}
	return scripts, nil
})

// clusterScriptPrefix starts the name of every script of cluster mode; the other scripts
// but lib.sh, which both modes source, are sentinel mode's.
const clusterScriptPrefix = "cluster-"

// configData is the content of the ConfigMap, key by key: the configs and scripts of the
// instance's mode.
func configData(in *instance) (map[string]string, error) {
	scripts, err := embeddedScripts()
	if err != nil {
		return nil, err
	}
	data := make(map[string]string, len(scripts)+2)
	for name, text := range scripts {
		if name == "lib.sh" || strings.HasPrefix(name, clusterScriptPrefix) == in.cluster() {
			data[name] = text
		}
	}
	if in.cluster() {
		data[configKeyRedis] = renderClusterRedisConf(in)
		return data, nil
	}
	data[configKeyRedis] = renderRedisConf(in)
	data[configKeySentinel] = renderSentinelConf(in)
	return data, nil
}

// composeConfigMap is the ConfigMap of the configuration contract above.
func composeConfigMap(in *instance, data map[string]string) (*unstructured.Unstructured, error) {
	cm := corev1ac.ConfigMap(in.configName(), in.namespace).
		WithLabels(in.labels(componentConfig)).
		WithData(data)
	return toUnstructured(cm)
}

// configChecksum digests the given ConfigMap keys (all keys when none are given), in key
// order, for the pod annotation that rolls pods when what they read changes. Each component
// digests only its own keys: a Sentinel setting must not restart (and fail over) Redis.
func configChecksum(data map[string]string, keys ...string) string {
	if len(keys) == 0 {
		for k := range data {
			keys = append(keys, k)
		}
	}
	keys = slices.Sorted(slices.Values(keys))
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k, data[k])
	}
	return checksum(parts...)
}

// redisConfigKeys are the ConfigMap keys the Redis pods read. The cluster Job's script is not
// among them: changing it must not restart the cluster's pods.
func redisConfigKeys(in *instance) []string {
	if in.cluster() {
		return []string{configKeyRedis, "lib.sh", "cluster-lib.sh", "cluster-init.sh", "cluster-poststart.sh", "cluster-prestop.sh", "cluster-probe.sh"}
	}
	return []string{configKeyRedis, "lib.sh", "probe.sh", "redis-init.sh", "redis-prestop.sh"}
}

// sentinelConfigKeys are the ConfigMap keys the Sentinel pods read.
func sentinelConfigKeys() []string {
	return []string{configKeySentinel, "lib.sh", "probe.sh", "sentinel-init.sh"}
}

// confWriter collects config lines; comments say why a setting is there, for whoever reads
// the file in a pod.
type confWriter struct{ b strings.Builder }

func (w *confWriter) comment(s string) { fmt.Fprintf(&w.b, "# %s\n", s) }
func (w *confWriter) line(words ...string) {
	w.b.WriteString(strings.Join(words, " "))
	w.b.WriteByte('\n')
}
func (w *confWriter) blank()         { w.b.WriteByte('\n') }
func (w *confWriter) String() string { return w.b.String() }

// renderRedisConf renders the shared redis.conf of sentinel mode.
func renderRedisConf(in *instance) string {
	spec := in.spec.Redis
	w := &confWriter{}
	w.comment(fmt.Sprintf("redis.conf of RedisHA %s/%s, rendered by function-redis-ha.", in.namespace, in.name))
	w.comment("Each pod starts with a file written by redis-init.sh that includes this one and adds")
	w.comment("the pod's own lines: replica-announce-ip, passwords and replicaof.")
	writeRedisListener(w, in, "TLS only: clients, replication and Sentinel all use the TLS port.")
	writeRedisData(w, in)

	w.comment("Replication. A master that loses every replica for longer than")
	w.comment(fmt.Sprintf("min-replicas-max-lag (%ds) refuses writes, so a master cut off by a partition", minReplicasMaxLagSeconds))
	w.comment("stops accepting writes that the failover on the other side would throw away.")
	w.line("min-replicas-to-write", strconv.Itoa(minReplicasToWrite(spec.Replicas)))
	w.line("min-replicas-max-lag", strconv.Itoa(minReplicasMaxLagSeconds))
	writeReplication(w)
	w.comment("Start a full sync at once: after a failover the new master refuses writes")
	w.comment("(min-replicas-to-write) until a replica has synced, so any delay here is write downtime.")
	w.comment("Replicas are re-pointed one at a time (parallel-syncs 1), so there is nothing to batch.")
	w.line("repl-diskless-sync-delay", "0")
	writeExtraConfig(w, in)
	return w.String()
}

// clusterNodeTimeoutMillis is cluster-node-timeout: how long a master may be unreachable
// before its replica takes over, the same as sentinel mode's default downAfter.
const clusterNodeTimeoutMillis = 5000

// renderClusterRedisConf renders the shared redis.conf of cluster mode.
func renderClusterRedisConf(in *instance) string {
	w := &confWriter{}
	w.comment(fmt.Sprintf("redis.conf of RedisHA %s/%s (cluster mode), rendered by function-redis-ha.", in.namespace, in.name))
	w.comment("Each pod starts with a file written by cluster-init.sh that includes this one and adds")
	w.comment("the pod's own lines: cluster-announce-hostname, cluster-announce-ip and passwords.")
	writeRedisListener(w, in, "TLS only: clients, replication and the cluster bus all use TLS.")
	if in.spec.TLS.Enabled {
		w.line("tls-cluster", "yes")
	}
	writeRedisData(w, in)

	w.comment("Redis Cluster: every shard is a StatefulSet of a master and its replicas.")
	w.line("cluster-enabled", "yes")
	w.comment("In dir, on the data volume: the node keeps its ID, its shard and its peers across restarts.")
	w.line("cluster-config-file", "nodes.conf")
	w.comment("A master unreachable this long is failed over by one of its replicas.")
	w.line("cluster-node-timeout", strconv.Itoa(clusterNodeTimeoutMillis))
	w.comment("MOVED, ASK and CLUSTER SHARDS name nodes by host name: pod IPs change, host names do not.")
	w.line("cluster-preferred-endpoint-type", "hostname")
	w.comment("Replicas stay in their shard's StatefulSet, which its PodDisruptionBudget and")
	w.comment("anti-affinity protect, instead of moving to a master that lost its own.")
	w.line("cluster-allow-replica-migration", "no")
	w.comment("A shard that is down stops only its own keys, not the whole cluster.")
	w.line("cluster-require-full-coverage", "no")
	w.blank()

	w.comment("Replication. No min-replicas-to-write: with one replica per shard it would stop the")
	w.comment("shard's writes whenever that replica restarts, and a master cut off from the majority of")
	w.comment("masters stops accepting writes after cluster-node-timeout anyway.")
	writeReplication(w)
	w.comment("Start a full sync at once: until it is in sync, a replica cannot take over its master.")
	w.line("repl-diskless-sync-delay", "0")
	writeExtraConfig(w, in)
	return w.String()
}

// writeRedisListener writes the port (or TLS port), protected mode and dir of redis.conf.
func writeRedisListener(w *confWriter, in *instance, tlsComment string) {
	if in.spec.TLS.Enabled {
		w.comment(tlsComment)
		w.line("port", "0")
		w.line("tls-port", strconv.Itoa(redisPort))
		writeTLSFiles(w)
		w.line("tls-replication", "yes")
		w.comment("Clients need no certificate of their own; they authenticate with the password.")
		w.line("tls-auth-clients", "no")
	} else {
		w.line("port", strconv.Itoa(redisPort))
	}
	w.comment("Access is guarded by the password and the NetworkPolicy, not by loopback-only mode.")
	w.line("protected-mode", "no")
	w.line("dir", dataDir)
	w.blank()
}

// writeRedisData writes the persistence and memory settings of redis.conf.
func writeRedisData(w *confWriter, in *instance) {
	spec := in.spec.Redis
	w.comment("Persistence: " + string(spec.Persistence.Mode) + ".")
	switch spec.Persistence.Mode {
	case v1alpha1.PersistenceAOF:
		w.line("appendonly", "yes")
		w.line("appendfsync", "everysec")
		w.line("save", `""`)
	case v1alpha1.PersistenceRDB:
		w.line("appendonly", "no")
		w.line("save", "3600", "1", "300", "100", "60", "10000")
	default:
		w.line("appendonly", "no")
		w.line("save", `""`)
	}
	w.blank()

	w.comment("Memory: 75% of the container's memory limit, leaving room for replication buffers")
	w.comment("and copy-on-write during background saves.")
	w.line("maxmemory", strconv.FormatInt(in.parsed.Resources.MaxMemoryBytes, 10))
	w.line("maxmemory-policy", string(spec.MaxMemoryPolicy))
	w.blank()
}

// writeReplication writes the replica settings both modes share.
func writeReplication(w *confWriter) {
	w.line("replica-read-only", "yes")
	w.line("replica-serve-stale-data", "yes")
	w.line("repl-diskless-sync", "yes")
}

// writeExtraConfig writes the allow-listed spec.redis.config settings.
func writeExtraConfig(w *confWriter, in *instance) {
	spec := in.spec.Redis
	if len(spec.Config) > 0 {
		w.blank()
		w.comment("Extra settings from spec.redis.config.")
		keys := make([]string, 0, len(spec.Config))
		for k := range spec.Config {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			w.line(k, quoteConfValue(string(spec.Config[k])))
		}
	}
}

// minReplicasToWrite is the min-replicas-to-write guard: one replica must acknowledge. It is
// never more than the replicas there are (replicas counts the master too).
func minReplicasToWrite(replicas int32) int {
	return min(1, int(replicas)-1)
}

// renderSentinelConf renders the shared sentinel.conf. Its monitor line names pod 0, the
// master of a new deployment; sentinel-init.sh points it at the current master at start.
func renderSentinelConf(in *instance) string {
	s := in.spec.Sentinel
	w := &confWriter{}
	w.comment(fmt.Sprintf("sentinel.conf of RedisHA %s/%s, rendered by function-redis-ha.", in.namespace, in.name))
	w.comment("sentinel-init.sh copies it to a writable file (Sentinel rewrites its config), points")
	w.comment("the monitor line at the current master and adds the pod's own lines.")
	if in.spec.TLS.Enabled {
		w.line("port", "0")
		w.line("tls-port", strconv.Itoa(sentinelPort))
		writeTLSFiles(w)
		w.comment("Sentinel talks TLS to Redis too.")
		w.line("tls-replication", "yes")
		w.line("tls-auth-clients", "no")
	} else {
		w.line("port", strconv.Itoa(sentinelPort))
	}
	w.line("protected-mode", "no")
	w.line("dir", dataDir)
	w.blank()
	w.comment("Pod IPs change on every restart; host names do not. Both lines must come before")
	w.comment("the monitor line, which names a host.")
	w.line("sentinel", "resolve-hostnames", "yes")
	w.line("sentinel", "announce-hostnames", "yes")
	w.blank()
	w.line("sentinel", "monitor", masterName, in.redisHost(0), strconv.Itoa(redisPort), strconv.Itoa(int(s.Quorum)))
	w.line("sentinel", "down-after-milliseconds", masterName, strconv.FormatInt(in.parsed.DownAfter.Milliseconds(), 10))
	w.line("sentinel", "failover-timeout", masterName, strconv.FormatInt(in.parsed.FailoverTimeout.Milliseconds(), 10))
	w.comment("Resync one replica at a time, so the others keep serving reads during a failover.")
	w.line("sentinel", "parallel-syncs", masterName, "1")
	return w.String()
}

// writeTLSFiles names the certificate files of the spec.tls.secretName Secret.
func writeTLSFiles(w *confWriter) {
	w.line("tls-cert-file", tlsDir+"/tls.crt")
	w.line("tls-key-file", tlsDir+"/tls.key")
	w.line("tls-ca-cert-file", tlsDir+"/ca.crt")
}

// quoteConfValue writes a value so redis.conf reads it back unchanged: bare when it is one
// plain word, else double-quoted with backslash escapes.
func quoteConfValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"'\\") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}
