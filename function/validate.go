package function

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crossplane/function-sdk-go/resource"
)

// maxInstanceNameLength keeps every derived name valid: the longest object name is
// "<name>-sentinel-headless" (a Service, at most 63 characters), and a StatefulSet name must
// leave room in the 63-character controller-revision-hash label of its pods
// ("<name>-sentinel-<hash of 10>"; a shard's "<name>-redis-31-<hash of 10>"). The cluster
// Job's pods, "<name>-cluster-32x5-<digest of 5>-<5>", fit too.
const maxInstanceNameLength = 37

// validateComposed checks what only the function can: the spec's own rules are
// v1alpha1.RedisHASpec.Parse's, one copy shared with the XRD schema. These rules concern the
// objects the function derives from the spec: their names, and the label keys, values and
// selectors it copies into them, which the API server checks on those objects (where the user
// would never see the error) but the XRD schema cannot. Every error names its field and the fix.
func validateComposed(in *instance) field.ErrorList {
	var errs field.ErrorList
	spec := in.spec
	root := field.NewPath("spec")

	name := field.NewPath("metadata", "name")
	if len(in.name) > maxInstanceNameLength {
		errs = append(errs, field.TooLong(name, in.name, maxInstanceNameLength))
	}
	for _, msg := range validation.IsDNS1035Label(in.name) {
		errs = append(errs, field.Invalid(name, in.name, msg+": the name is the prefix of Service names; rename the RedisHA"))
	}

	cs := root.Child("connectionSecret", "name")
	switch secret := in.connectionSecretName(); {
	case spec.Auth.AuthEnabled() && spec.Auth.ExistingSecret == nil && secret == in.passwordSecretName():
		errs = append(errs, field.Invalid(cs, secret, "is the name of the generated password Secret: pick another name"))
	case spec.Auth.ExistingSecret != nil && secret == spec.Auth.ExistingSecret.Name:
		errs = append(errs, field.Invalid(cs, secret, "is spec.auth.existingSecret: the function would overwrite your password Secret; pick another name"))
	}

	np := root.Child("networkPolicy", "allowedClients")
	for i, c := range spec.NetworkPolicy.AllowedClients {
		p := np.Index(i)
		if c.PodSelector != nil {
			errs = append(errs, validateSelector(c.PodSelector, p.Child("podSelector"))...)
		}
		if c.NamespaceSelector != nil {
			errs = append(errs, validateSelector(c.NamespaceSelector, p.Child("namespaceSelector"))...)
		}
	}
	errs = append(errs, validateLabels(spec.Metrics.ServiceMonitor.Labels, root.Child("metrics", "serviceMonitor", "labels"))...)
	errs = append(errs, validateLabels(spec.Scheduling.NodeSelector, root.Child("scheduling", "nodeSelector"))...)
	return errs
}

// validateObserved refuses the changes the XRD's transition rules refuse, judged from what
// exists: spec.mode changed, or fewer shards or replicas per shard than the cluster has. The
// function must refuse them too when a spec never met those rules (crossplane render, an
// older XRD), because composing the new spec would delete StatefulSets with their data.
func validateObserved(in *instance, observed map[resource.Name]resource.ObservedComposed) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	_, sentinelMode := observed[resourceRedisStatefulSet]
	shardsSeen := int32(0)
	podsSeen := int32(0)
	for name, oc := range observed {
		rest, ok := strings.CutPrefix(string(name), "redis-shard-")
		if !ok {
			continue
		}
		k, err := strconv.Atoi(strings.TrimSuffix(rest, "-statefulset"))
		if err != nil || !strings.HasSuffix(rest, "-statefulset") {
			continue
		}
		shardsSeen = max(shardsSeen, int32(k)+1)
		podsSeen = max(podsSeen, int32(intField(oc.Resource.Object, 0, "spec", "replicas")))
	}
	if (in.cluster() && sentinelMode) || (!in.cluster() && shardsSeen > 0) {
		errs = append(errs, field.Invalid(spec.Child("mode"), in.spec.Mode, "spec.mode is immutable: sentinel and cluster mode keep the data in different layouts; create a new RedisHA in the other mode and migrate the data"))
	}
	if !in.cluster() {
		return errs
	}
	if shardsSeen > in.shards() {
		errs = append(errs, field.Invalid(spec.Child("cluster", "shards"), in.shards(), fmt.Sprintf(
			"spec.cluster.shards cannot shrink (the cluster has %d): a shard's hash slots and keys would have to move to the other shards first, which redis-ha does not do; keep the shard count, or create a new RedisHA with fewer shards and migrate the data", shardsSeen)))
	}
	if podsSeen > in.podsPerShard() {
		errs = append(errs, field.Invalid(spec.Child("cluster", "replicasPerShard"), in.spec.Cluster.ReplicasPerShard, fmt.Sprintf(
			"spec.cluster.replicasPerShard cannot shrink (the cluster has %d): the removed pods would stay in the cluster's node table as failed nodes; keep the replica count", podsSeen-1)))
	}
	return errs
}

// validateSelector checks a label selector the way the API server will when it receives the
// NetworkPolicy, so the user hears about it on the RedisHA instead.
func validateSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateLabels(s.MatchLabels, p.Child("matchLabels"))...)
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		errs = append(errs, field.Invalid(p, s.String(), err.Error()))
	}
	return errs
}

// validateLabels checks label keys and values.
func validateLabels(labels map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(p, k, "key: "+msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(p.Key(k), v, msg))
		}
	}
	return errs
}
