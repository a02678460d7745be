package function

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// TestClusterJobName proves the cluster Job's name follows its pod template, which Kubernetes
// never lets change: a new shape or image is a new Job (the old one is deleted), anything the
// Job does not run with keeps the Job, so Crossplane does not run it again for nothing.
func TestClusterJobName(t *testing.T) {
	base := func(s *v1alpha1.RedisHASpec) { s.Mode = v1alpha1.ModeCluster }
	job := func(t *testing.T, mutate func(*v1alpha1.RedisHASpec)) *clusterJob {
		t.Helper()
		j, err := composeClusterJob(configInstance(t, func(s *v1alpha1.RedisHASpec) {
			base(s)
			mutate(s)
		}), podSettings{})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	cases := map[string]struct {
		reason string
		mutate func(*v1alpha1.RedisHASpec)
		// wantPrefix is how the Job's name starts; sameJob is whether it is the base Job.
		wantPrefix string
		sameJob    bool
	}{
		"Same": {
			reason:     "The same spec gives the same Job.",
			mutate:     func(*v1alpha1.RedisHASpec) {},
			wantPrefix: "cache-cluster-3x1-", sameJob: true,
		},
		"UnrelatedChange": {
			reason:     "Tunnel and metrics settings are not the Job's.",
			mutate:     func(s *v1alpha1.RedisHASpec) { s.Tunnel.Replicas = 4; s.Metrics.Enabled = true },
			wantPrefix: "cache-cluster-3x1-", sameJob: true,
		},
		"MoreShards": {
			reason:     "A new shard count is a new Job, which adds the shards.",
			mutate:     func(s *v1alpha1.RedisHASpec) { s.Cluster = &v1alpha1.ClusterSpec{Shards: 4, ReplicasPerShard: 1} },
			wantPrefix: "cache-cluster-4x1-",
		},
		"MoreReplicas": {
			reason:     "More replicas per shard is a new Job, which joins them.",
			mutate:     func(s *v1alpha1.RedisHASpec) { s.Cluster = &v1alpha1.ClusterSpec{Shards: 3, ReplicasPerShard: 2} },
			wantPrefix: "cache-cluster-3x2-",
		},
		"NewImage": {
			reason:     "A new Redis version changes the template: same shape, new Job.",
			mutate:     func(s *v1alpha1.RedisHASpec) { s.Redis.Image.Version = "7.2" },
			wantPrefix: "cache-cluster-3x1-",
		},
	}
	baseJob := job(t, func(*v1alpha1.RedisHASpec) {})
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := job(t, tc.mutate)
			if !strings.HasPrefix(j.name, tc.wantPrefix) || string(j.resourceName) != clusterJobPrefix+strings.TrimPrefix(j.name, "cache-cluster-") {
				t.Errorf("%s\nJob %q (resource %q): want a name starting %q and the resource named alike", tc.reason, j.name, j.resourceName, tc.wantPrefix)
			}
			if got := j.name == baseJob.name; got != tc.sameJob {
				t.Errorf("%s\nJob %q, base Job %q: same = %t, want %t", tc.reason, j.name, baseJob.name, got, tc.sameJob)
			}
			if got := j.object.GetName(); got != j.name {
				t.Errorf("%s\nthe Job object is named %q, want %q", tc.reason, got, j.name)
			}
		})
	}
}

// TestClusterJobPod checks what the cluster Job's pod runs with: every node of every shard,
// the redis-cli of the flavor, TLS, the password, and the placement of spec.scheduling.
func TestClusterJobPod(t *testing.T) {
	in := configInstance(t, func(s *v1alpha1.RedisHASpec) {
		s.Mode = v1alpha1.ModeCluster
		s.Redis.Image.Flavor = v1alpha1.FlavorValkey
		s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
		s.Scheduling.NodeSelector = map[string]string{"pool": "redis"}
	})
	j, err := composeClusterJob(in, podSettings{credentials: credentials{enabled: true, secretName: "cache-password", secretKey: "password"}})
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(j.object.Object, &job); err != nil {
		t.Fatal(err)
	}
	pod := job.Spec.Template.Spec
	env := map[string]string{}
	for _, e := range pod.Containers[0].Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			env[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	want := map[string]string{
		"REDIS_HA_CLI":      "valkey-cli",
		"REDIS_HA_CLI_ARGS": "--tls --cacert /etc/redis-ha/tls/ca.crt",
		"REDISCLI_AUTH":     "secret cache-password/password",
		"VALKEYCLI_AUTH":    "secret cache-password/password",
		"REDIS_HA_CLUSTER_NODES": "0/cache-redis-0-0.cache-redis-headless.default.svc:6379 0/cache-redis-0-1.cache-redis-headless.default.svc:6379 " +
			"1/cache-redis-1-0.cache-redis-headless.default.svc:6379 1/cache-redis-1-1.cache-redis-headless.default.svc:6379 " +
			"2/cache-redis-2-0.cache-redis-headless.default.svc:6379 2/cache-redis-2-1.cache-redis-headless.default.svc:6379",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("cluster Job environment -want +got:\n%s", diff)
	}
	var mounts []string
	for _, m := range pod.Containers[0].VolumeMounts {
		mounts = append(mounts, m.MountPath)
	}
	if diff := cmp.Diff([]string{"/etc/redis-ha", "/etc/redis-ha/tls"}, mounts); diff != "" {
		t.Errorf("cluster Job mounts -want +got:\n%s", diff)
	}
	if pod.RestartPolicy != corev1.RestartPolicyOnFailure || pod.NodeSelector["pool"] != "redis" || pod.Affinity != nil {
		t.Errorf("cluster Job pod: restartPolicy %q, nodeSelector %v, affinity %v; want OnFailure, pool=redis, none", pod.RestartPolicy, pod.NodeSelector, pod.Affinity)
	}
	if got := job.Spec.Template.Labels[labelComponent]; got != componentClusterJob {
		t.Errorf("cluster Job pod component label %q, want %q: the Redis NetworkPolicy admits it by that label", got, componentClusterJob)
	}
}
