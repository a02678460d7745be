package function

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// shardView is what a shard's StatefulSet must get right beyond the golden file's defaults.
type shardView struct {
	Name, ServiceName string
	Replicas          int32
	Selector          map[string]string
	PodShardLabel     string
	AntiAffinity      map[string]string
	ClaimLabels       []map[string]string
	DataVolume        string
	Mounts            []string
	Hooks             []string
}

func viewShard(t *testing.T, in *instance, shard int32) shardView {
	t.Helper()
	u, err := composeShardStatefulSet(in, podSettings{}, shard)
	if err != nil {
		t.Fatal(err)
	}
	var sts appsv1.StatefulSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &sts); err != nil {
		t.Fatal(err)
	}
	pod := sts.Spec.Template.Spec
	v := shardView{
		Name: sts.Name, ServiceName: sts.Spec.ServiceName, Replicas: *sts.Spec.Replicas,
		Selector:      sts.Spec.Selector.MatchLabels,
		PodShardLabel: sts.Spec.Template.Labels[labelShard],
		AntiAffinity:  pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchLabels,
	}
	for _, c := range sts.Spec.VolumeClaimTemplates {
		v.ClaimLabels = append(v.ClaimLabels, c.Labels)
	}
	for _, vol := range pod.Volumes {
		if vol.Name == volumeData {
			v.DataVolume = "emptyDir"
		}
	}
	for _, m := range pod.Containers[0].VolumeMounts {
		v.Mounts = append(v.Mounts, m.MountPath)
	}
	l := pod.Containers[0].Lifecycle
	v.Hooks = []string{l.PostStart.Exec.Command[1], l.PreStop.Exec.Command[1], pod.InitContainers[0].Command[1]}
	return v
}

func TestShardStatefulSet(t *testing.T) {
	selector := func(shard string) map[string]string {
		return map[string]string{labelName: appName, labelInstance: "cache", labelComponent: componentRedis, labelShard: shard}
	}
	hooks := []string{"/etc/redis-ha/cluster-poststart.sh", "/etc/redis-ha/cluster-prestop.sh", "/etc/redis-ha/cluster-init.sh"}
	cases := map[string]struct {
		reason string
		spec   func(*v1alpha1.RedisHASpec)
		shard  int32
		want   shardView
	}{
		"PersistentShard": {
			reason: "Shard 1 of 3 pods: its own selector, anti-affinity within the shard, its own claims, the shared headless Service.",
			spec: func(s *v1alpha1.RedisHASpec) {
				s.Cluster = &v1alpha1.ClusterSpec{Shards: 3, ReplicasPerShard: 2}
			},
			shard: 1,
			want: shardView{
				Name: "cache-redis-1", ServiceName: "cache-redis-headless", Replicas: 3,
				Selector: selector("1"), PodShardLabel: "1", AntiAffinity: selector("1"),
				ClaimLabels: []map[string]string{selector("1")},
				Mounts:      []string{"/etc/redis-ha", "/run/redis-ha", "/data"},
				Hooks:       hooks,
			},
		},
		"MemoryOnlyShardWithTLS": {
			reason: "Without persistence the data volume (nodes.conf too) is an emptyDir; TLS is mounted.",
			spec: func(s *v1alpha1.RedisHASpec) {
				s.Redis.Persistence.Mode = v1alpha1.PersistenceNone
				s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
			},
			shard: 2,
			want: shardView{
				Name: "cache-redis-2", ServiceName: "cache-redis-headless", Replicas: 2,
				Selector: selector("2"), PodShardLabel: "2", AntiAffinity: selector("2"),
				DataVolume: "emptyDir",
				Mounts:     []string{"/etc/redis-ha", "/run/redis-ha", "/data", "/etc/redis-ha/tls"},
				Hooks:      hooks,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := configInstance(t, func(s *v1alpha1.RedisHASpec) {
				s.Mode = v1alpha1.ModeCluster
				s.Scheduling.AntiAffinity = v1alpha1.AntiAffinityHard
				tc.spec(s)
			})
			if diff := cmp.Diff(tc.want, viewShard(t, in, tc.shard)); diff != "" {
				t.Errorf("%s\ncomposeShardStatefulSet(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestShardPDB proves a shard's PodDisruptionBudget selects exactly that shard's pods.
func TestShardPDB(t *testing.T) {
	u, err := composeShardPDB(clusterInstance(3, 1), 2)
	if err != nil {
		t.Fatal(err)
	}
	var pdb policyv1.PodDisruptionBudget
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pdb); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{labelName: appName, labelInstance: "cache", labelComponent: componentRedis, labelShard: "2"}
	if diff := cmp.Diff(want, pdb.Spec.Selector.MatchLabels); diff != "" || pdb.Name != "cache-redis-2" || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB %s, maxUnavailable %v, selector -want +got:\n%s", pdb.Name, pdb.Spec.MaxUnavailable, diff)
	}
}
