package function

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// maxInstanceNameLength keeps every derived name valid: the longest object name is
// "<name>-sentinel-headless" (a Service, at most 63 characters), and a StatefulSet name must
// leave room in the 63-character controller-revision-hash label of its pods
// ("<name>-sentinel-<hash of 10>").
const maxInstanceNameLength = 37

// validate checks what the XRD schema cannot: rules that depend on defaulted values (CEL only
// sees what the user wrote), on derived names, or on parsing. It also repeats the schema's
// own checks that keep the composed objects valid, because input from `crossplane render` or
// an older XRD never went through the API server. Every error names its field and the fix.
func validate(in *instance) field.ErrorList {
	var errs field.ErrorList
	spec := in.spec
	root := field.NewPath("spec")

	name := field.NewPath("metadata", "name")
	if in.legacy && in.namespace == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "labels").Key(v1alpha1.LabelClaimNamespace),
			"an XRedisHA composes into the namespace of its claim: create it through a RedisHAClaim, or use the namespaced RedisHA"))
	}
	if len(in.name) > maxInstanceNameLength {
		errs = append(errs, field.TooLong(name, in.name, maxInstanceNameLength))
	}
	for _, msg := range validation.IsDNS1035Label(in.name) {
		errs = append(errs, field.Invalid(name, in.name, msg+": the name is the prefix of Service names; rename the RedisHA"))
	}

	if _, err := spec.ContainerResources(); err != nil {
		errs = append(errs, field.Invalid(root.Child("resources"), spec.Size, err.Error()))
	}

	redis := root.Child("redis")
	if spec.Redis.Replicas < 2 {
		errs = append(errs, field.Invalid(redis.Child("replicas"), spec.Redis.Replicas,
			"must be at least 2, so there is a replica to fail over to"))
	}
	if spec.Redis.Persistence.Persistent() {
		p := redis.Child("persistence", "storage", "size")
		if q, err := resource.ParseQuantity(spec.Redis.Persistence.Storage.Size); err != nil || q.Sign() <= 0 {
			errs = append(errs, field.Invalid(p, spec.Redis.Persistence.Storage.Size, "must be a positive Kubernetes quantity such as 1Gi"))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Redis.Config)) {
		v := spec.Redis.Config[k]
		p := redis.Child("config").Key(k)
		if !v1alpha1.IsAllowedRedisConfigKey(k) {
			errs = append(errs, field.NotSupported(p, k, v1alpha1.AllowedRedisConfigKeys()))
		}
		if strings.ContainsAny(string(v), "\r\n") {
			errs = append(errs, field.Invalid(p, v, "must be a single line: remove the line break"))
		}
	}

	sentinel := root.Child("sentinel")
	if n := spec.Sentinel.Replicas; n < 3 || n%2 == 0 {
		errs = append(errs, field.Invalid(sentinel.Child("replicas"), n, "must be odd and at least 3 (3, 5 or 7), so a majority of Sentinels can authorize a failover"))
	}
	if q := spec.Sentinel.Quorum; q < 1 || q > spec.Sentinel.Replicas {
		errs = append(errs, field.Invalid(sentinel.Child("quorum"), q,
			fmt.Sprintf("must be between 1 and spec.sentinel.replicas (%d), or no failover can ever be agreed: lower it, or remove it to use the majority (%d)",
				spec.Sentinel.Replicas, v1alpha1.MajorityOf(spec.Sentinel.Replicas))))
	}
	downAfter, errDown := spec.Sentinel.DownAfterDuration()
	if errDown != nil {
		errs = append(errs, field.Invalid(sentinel.Child("downAfter"), spec.Sentinel.DownAfter, "must be a duration such as 5s"))
	}
	failover, errFailover := spec.Sentinel.FailoverTimeoutDuration()
	if errFailover != nil {
		errs = append(errs, field.Invalid(sentinel.Child("failoverTimeout"), spec.Sentinel.FailoverTimeout, "must be a duration such as 60s"))
	}
	if errDown == nil && errFailover == nil && failover <= downAfter {
		errs = append(errs, field.Invalid(sentinel.Child("failoverTimeout"), spec.Sentinel.FailoverTimeout,
			fmt.Sprintf("must be longer than spec.sentinel.downAfter (%s): raise failoverTimeout or lower downAfter", downAfter)))
	}
	if errDown == nil && downAfter < time.Second {
		errs = append(errs, field.Invalid(sentinel.Child("downAfter"), spec.Sentinel.DownAfter, "must be at least 1s, or short network hiccups trigger failovers"))
	}

	if spec.Tunnel.Replicas < 1 {
		errs = append(errs, field.Invalid(root.Child("tunnel", "replicas"), spec.Tunnel.Replicas, "must be at least 1"))
	}

	auth := root.Child("auth")
	if !spec.Auth.AuthEnabled() && spec.Auth.ExistingSecret != nil {
		errs = append(errs, field.Forbidden(auth.Child("existingSecret"), "is only used with spec.auth.enabled: true: enable auth or remove existingSecret"))
	}
	if spec.Auth.ExistingSecret != nil && spec.Auth.ExistingSecret.Name == "" {
		errs = append(errs, field.Required(auth.Child("existingSecret", "name"), "name the Secret that holds the password"))
	}
	if spec.TLS.Enabled && spec.TLS.SecretName == "" {
		errs = append(errs, field.Required(root.Child("tls", "secretName"),
			"name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt, or set spec.tls.enabled: false"))
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
		if c.PodSelector == nil && c.NamespaceSelector == nil {
			errs = append(errs, field.Required(p, "set podSelector, namespaceSelector or both"))
		}
		if c.PodSelector != nil {
			errs = append(errs, validateSelector(c.PodSelector, p.Child("podSelector"))...)
		}
		if c.NamespaceSelector != nil {
			errs = append(errs, validateSelector(c.NamespaceSelector, p.Child("namespaceSelector"))...)
		}
	}

	metrics := root.Child("metrics")
	if spec.Metrics.ServiceMonitor.Enabled && !spec.Metrics.Enabled {
		errs = append(errs, field.Invalid(metrics.Child("serviceMonitor", "enabled"), true,
			"needs spec.metrics.enabled: true, because the ServiceMonitor scrapes the exporter sidecar"))
	}
	if _, err := time.ParseDuration(spec.Metrics.ServiceMonitor.Interval); err != nil {
		errs = append(errs, field.Invalid(metrics.Child("serviceMonitor", "interval"), spec.Metrics.ServiceMonitor.Interval, "must be a duration such as 30s"))
	}
	errs = append(errs, validateLabels(spec.Metrics.ServiceMonitor.Labels, metrics.Child("serviceMonitor", "labels"))...)
	errs = append(errs, validateLabels(spec.Scheduling.NodeSelector, root.Child("scheduling", "nodeSelector"))...)
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
