package v1alpha1

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Patterns the schema also enforces, compiled once: a Regexp is safe for concurrent use and
// never changes, and the composition function validates on every run.
var (
	versionPattern  = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.]+)?$`)
	durationPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)
	dnsNamePattern  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// What each pattern accepts, in words, for the error message.
const (
	versionHint  = "must be a version such as 7.2 or 7.2.5-alpine"
	durationHint = "must be a duration such as 30s or 1m30s"
	dnsNameHint  = "must be a lowercase DNS name such as my-secret"
)

// Parsed holds the values a spec writes as strings (quantities, durations) in the typed form
// composing needs. Parse fills it while it validates, so each value is parsed once.
type Parsed struct {
	// Resources are the requests and limits of every container, and Redis maxmemory.
	Resources Preset
	// StorageSize is spec.redis.persistence.storage.size.
	StorageSize resource.Quantity
	// DownAfter is spec.sentinel.downAfter.
	DownAfter time.Duration
	// FailoverTimeout is spec.sentinel.failoverTimeout.
	FailoverTimeout time.Duration
}

// Validate checks a defaulted spec (see Default) the way the XRD schema does on create
// (enums, bounds, patterns and the CEL rules; not the update-only immutability rules), with
// the same CEL messages. TestValidateAgreesWithSchema keeps both in step, so it is an
// executable statement of the schema.
func (s *RedisHASpec) Validate() error {
	_, errs := s.Parse()
	return errs.ToAggregate()
}

// Parse validates a defaulted spec exactly like Validate and returns its parsed values, which
// are meaningful only when the error list is empty. The composition function calls it on
// every run, so input that never went through the API server (crossplane render) meets the
// same rules and messages as a claim does. Every error names its field and how to fix it.
func (s *RedisHASpec) Parse() (Parsed, field.ErrorList) {
	var (
		out  Parsed
		errs field.ErrorList
	)
	spec := field.NewPath("spec")

	errs = append(errs, oneOf(spec.Child("mode"), string(s.Mode), ModeSentinel, ModeCluster)...)
	errs = append(errs, oneOf(spec.Child("size"), string(s.Size), SizeSmall, SizeMedium, SizeLarge, SizeCustom)...)
	switch {
	case s.Size == SizeCustom && s.Resources == nil:
		errs = append(errs, field.Required(spec.Child("size"), "spec.size: custom needs spec.resources with at least limits.memory: add spec.resources, or pick the preset size small, medium or large"))
	case s.Size != SizeCustom && s.Resources != nil:
		errs = append(errs, field.Forbidden(spec.Child("resources"), "spec.resources is only read when spec.size is custom: set spec.size: custom to use explicit resources, or remove spec.resources to use the preset"))
	}
	// size custom sizes Redis from spec.resources and the other containers like small; an
	// unknown size has no preset and is reported by oneOf above.
	preset := s.Size
	if preset == SizeCustom {
		preset = SizeSmall
	}
	out.Resources, _ = PresetFor(preset)
	if s.Resources != nil {
		redis, resourceErrs := s.Resources.parse(spec.Child("resources"))
		errs = append(errs, resourceErrs...)
		if s.Size == SizeCustom {
			out.Resources = out.Resources.withRedis(redis)
		}
	}
	var redisErrs field.ErrorList
	out.StorageSize, redisErrs = s.Redis.parse(spec.Child("redis"))
	errs = append(errs, redisErrs...)
	if s.Mode == ModeCluster {
		errs = append(errs, s.validateClusterMode(spec)...)
	} else {
		var serrs field.ErrorList
		out.DownAfter, out.FailoverTimeout, serrs = s.Sentinel.parse(spec.Child("sentinel"))
		errs = append(errs, serrs...)
		if s.Cluster != nil {
			errs = append(errs, field.Invalid(spec.Child("cluster"), *s.Cluster, "spec.cluster is only used with spec.mode: cluster: set spec.mode: cluster when you create the RedisHA, or remove spec.cluster"))
		}
	}
	errs = append(errs, s.Tunnel.validate(spec.Child("tunnel"))...)

	auth := spec.Child("auth")
	if !s.Auth.AuthEnabled() && s.Auth.ExistingSecret != nil {
		errs = append(errs, field.Invalid(auth.Child("existingSecret"), s.Auth.ExistingSecret.Name, "spec.auth.existingSecret is only used with spec.auth.enabled: true: enable auth or remove existingSecret"))
	}
	if ref := s.Auth.ExistingSecret; ref != nil {
		if ref.Name == "" {
			errs = append(errs, field.Required(auth.Child("existingSecret", "name"), "name the Secret that holds the password"))
		}
		errs = append(errs, matches(auth.Child("existingSecret", "name"), ref.Name, dnsNamePattern, dnsNameHint)...)
	}

	tls := spec.Child("tls")
	switch {
	case s.TLS.Enabled && s.TLS.SecretName == "":
		errs = append(errs, field.Required(tls.Child("secretName"), "spec.tls.secretName is required when spec.tls.enabled is true: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (e.g. from cert-manager)"))
	case !s.TLS.Enabled && s.TLS.SecretName != "":
		errs = append(errs, field.Invalid(tls.Child("secretName"), s.TLS.SecretName, "spec.tls.secretName is only used with spec.tls.enabled: true: enable TLS or remove secretName"))
	}
	errs = append(errs, matches(tls.Child("secretName"), s.TLS.SecretName, dnsNamePattern, dnsNameHint)...)

	np := spec.Child("networkPolicy")
	if !s.NetworkPolicy.PolicyEnabled() && len(s.NetworkPolicy.AllowedClients) > 0 {
		errs = append(errs, field.Invalid(np.Child("allowedClients"), len(s.NetworkPolicy.AllowedClients), "spec.networkPolicy.allowedClients is only used with spec.networkPolicy.enabled: true: enable the policy or remove allowedClients"))
	}
	if n := len(s.NetworkPolicy.AllowedClients); n > 16 {
		errs = append(errs, field.TooMany(np.Child("allowedClients"), n, 16))
	}
	for i, peer := range s.NetworkPolicy.AllowedClients {
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			errs = append(errs, field.Invalid(np.Child("allowedClients").Index(i), peer, "each spec.networkPolicy.allowedClients entry needs podSelector, namespaceSelector or both"))
		}
	}

	metrics := spec.Child("metrics")
	if s.Metrics.ServiceMonitor.Enabled && !s.Metrics.Enabled {
		errs = append(errs, field.Invalid(metrics.Child("serviceMonitor", "enabled"), true, "spec.metrics.serviceMonitor.enabled needs spec.metrics.enabled: true, because the ServiceMonitor scrapes the exporter sidecar"))
	}
	errs = append(errs, matches(metrics.Child("serviceMonitor", "interval"), s.Metrics.ServiceMonitor.Interval, durationPattern, durationHint)...)

	sched := spec.Child("scheduling")
	errs = append(errs, oneOf(sched.Child("antiAffinity"), string(s.Scheduling.AntiAffinity), AntiAffinityHard, AntiAffinitySoft)...)
	ts := sched.Child("topologySpread")
	errs = append(errs, inRange(ts.Child("maxSkew"), s.Scheduling.TopologySpread.MaxSkew, 1, 10)...)
	errs = append(errs, oneOf(ts.Child("whenUnsatisfiable"), string(s.Scheduling.TopologySpread.WhenUnsatisfiable), corev1.ScheduleAnyway, corev1.DoNotSchedule)...)

	errs = append(errs, matches(spec.Child("connectionSecret", "name"), s.ConnectionSecret.Name, dnsNamePattern, dnsNameHint)...)
	return out, errs
}

// validateClusterMode checks spec.cluster and what cannot combine with spec.mode: cluster:
// the Sentinel settings, spec.redis.replicas, the read-only endpoint and Redis versions
// before 7.0.
func (s *RedisHASpec) validateClusterMode(spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Cluster != nil {
		cluster := spec.Child("cluster")
		errs = append(errs, inRange(cluster.Child("shards"), s.Cluster.Shards, 3, 32)...)
		errs = append(errs, inRange(cluster.Child("replicasPerShard"), s.Cluster.ReplicasPerShard, 1, 5)...)
	}
	// Default leaves spec.sentinel and spec.redis.replicas empty in cluster mode: a value
	// there is the user's.
	if s.Sentinel != (SentinelSpec{}) {
		errs = append(errs, field.Invalid(spec.Child("sentinel"), s.Sentinel, "spec.sentinel is not used with spec.mode: cluster, where Redis Cluster fails a shard over by itself: remove spec.sentinel"))
	}
	if s.Redis.Replicas != 0 {
		errs = append(errs, field.Invalid(spec.Child("redis", "replicas"), s.Redis.Replicas, "spec.redis.replicas is not used with spec.mode: cluster, where the pods are spec.cluster.shards x (1 + spec.cluster.replicasPerShard): remove spec.redis.replicas and size the cluster with spec.cluster"))
	}
	if s.Tunnel.ReadOnlyEndpointEnabled() {
		errs = append(errs, field.Invalid(spec.Child("tunnel", "readOnlyEndpoint"), true, "spec.tunnel.readOnlyEndpoint is not supported with spec.mode: cluster yet (the tunnel sends every command to its shard's master): remove it or set it to false"))
	}
	if v := s.Redis.Image.Version; versionPattern.MatchString(v) && !versionAtLeast(v, 7, 0) {
		errs = append(errs, field.Invalid(spec.Child("redis", "image", "version"), v, "spec.redis.image.version must be 7.0 or newer with spec.mode: cluster: Redis Cluster announces host names (cluster-announce-hostname) only since 7.0"))
	}
	return errs
}

// parse checks explicit resources and returns the Redis container's requirements: a missing
// request takes its limit, as in Kubernetes.
func (r *ResourcesSpec) parse(path *field.Path) (corev1.ResourceRequirements, field.ErrorList) {
	var errs field.ErrorList
	if r.Limits == nil || r.Limits.Memory == "" {
		errs = append(errs, field.Required(path.Child("limits"), "spec.resources.limits.memory is required with spec.size: custom, because Redis maxmemory is derived from it (75%)"))
	}
	redis := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	check := func(q *ResourceQuantities, part string, into corev1.ResourceList) {
		if q == nil {
			return
		}
		for _, a := range []struct {
			name    corev1.ResourceName
			value   string
			message string
			above   resource.Quantity
		}{
			{corev1.ResourceCPU, q.CPU, "cpu must be a positive Kubernetes quantity such as 500m or 2", resource.Quantity{}},
			{corev1.ResourceMemory, q.Memory, "memory must be a Kubernetes quantity larger than 16Mi, such as 512Mi or 2Gi", resource.MustParse("16Mi")},
		} {
			if a.value == "" {
				continue
			}
			v, err := resource.ParseQuantity(a.value)
			if err != nil || v.Cmp(a.above) <= 0 {
				errs = append(errs, field.Invalid(path.Child(part, string(a.name)), a.value, a.message))
				continue
			}
			into[a.name] = v
		}
	}
	check(r.Requests, "requests", redis.Requests)
	check(r.Limits, "limits", redis.Limits)
	for _, name := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceCPU} {
		req, hasReq := redis.Requests[name]
		lim, hasLim := redis.Limits[name]
		switch {
		case hasReq && hasLim && req.Cmp(lim) > 0:
			errs = append(errs, field.Invalid(path.Child("requests", string(name)), req.String(),
				fmt.Sprintf("spec.resources.requests.%s must not exceed spec.resources.limits.%s: lower the request or raise the limit", name, name)))
		case !hasReq && hasLim:
			redis.Requests[name] = lim.DeepCopy()
		}
	}
	return redis, errs
}

// parse checks the Redis settings and returns the parsed storage size.
func (r *RedisSpec) parse(path *field.Path) (resource.Quantity, field.ErrorList) {
	var errs field.ErrorList
	// Zero only in cluster mode, where Default leaves it empty.
	if r.Replicas != 0 {
		errs = append(errs, inRange(path.Child("replicas"), r.Replicas, 2, 9)...)
	}
	image := path.Child("image")
	errs = append(errs, oneOf(image.Child("flavor"), string(r.Image.Flavor), FlavorRedis, FlavorValkey)...)
	if r.Image.Version == "" || !versionPattern.MatchString(r.Image.Version) {
		errs = append(errs, field.Invalid(image.Child("version"), r.Image.Version, versionHint))
	} else if !versionAtLeast(r.Image.Version, 6, 2) {
		errs = append(errs, field.Invalid(image.Child("version"), r.Image.Version, "spec.redis.image.version must be 6.2 or newer: Sentinel needs resolve-hostnames and announce-hostnames"))
	}
	persistence := path.Child("persistence")
	errs = append(errs, oneOf(persistence.Child("mode"), string(r.Persistence.Mode), PersistenceAOF, PersistenceRDB, PersistenceNone)...)
	size, err := resource.ParseQuantity(r.Persistence.Storage.Size)
	if err != nil || size.Sign() <= 0 {
		errs = append(errs, field.Invalid(persistence.Child("storage", "size"), r.Persistence.Storage.Size, "spec.redis.persistence.storage.size must be a positive Kubernetes quantity such as 1Gi"))
	}
	errs = append(errs, oneOf(path.Child("maxMemoryPolicy"), string(r.MaxMemoryPolicy),
		MaxMemoryPolicyNoEviction, "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")...)
	if n := len(r.Config); n > 32 {
		errs = append(errs, field.TooMany(path.Child("config"), n, 32))
	}
	for _, key := range slices.Sorted(maps.Keys(r.Config)) {
		value := r.Config[key]
		if !IsAllowedRedisConfigKey(key) {
			errs = append(errs, field.Invalid(path.Child("config"), key, "spec.redis.config key "+key+" may not be set here: RedisHA manages it (use the matching spec field) or it could break replication or failover; see docs/api.md for the allowed keys"))
		}
		if strings.ContainsAny(string(value), "\r\n") || len(value) > 256 {
			errs = append(errs, field.Invalid(path.Child("config", key), value, "must be one line of at most 256 characters: remove the line break or shorten the value"))
		}
	}
	return size, errs
}

// parse checks the Sentinel settings and returns the parsed downAfter and failoverTimeout.
func (s *SentinelSpec) parse(path *field.Path) (downAfter, failoverTimeout time.Duration, errs field.ErrorList) {
	errs = append(errs, inRange(path.Child("replicas"), s.Replicas, 3, 7)...)
	if s.Replicas%2 == 0 {
		errs = append(errs, field.Invalid(path.Child("replicas"), s.Replicas, "spec.sentinel.replicas must be odd (3, 5 or 7) so a majority of Sentinels can authorize a failover"))
	}
	if s.Quorum < 1 {
		errs = append(errs, field.Invalid(path.Child("quorum"), s.Quorum, "must be at least 1: raise it, or remove it to use the majority"))
	}
	if s.Quorum > s.Replicas {
		errs = append(errs, field.Invalid(path.Child("quorum"), s.Quorum, "spec.sentinel.quorum must not exceed spec.sentinel.replicas, or no failover can ever be agreed: lower quorum or remove it to use the majority"))
	}
	downAfter, downErrs := durationIn(path.Child("downAfter"), s.DownAfter, time.Second, 10*time.Minute, "spec.sentinel.downAfter must be between 1s and 10m")
	failoverTimeout, failoverErrs := durationIn(path.Child("failoverTimeout"), s.FailoverTimeout, 5*time.Second, time.Hour, "spec.sentinel.failoverTimeout must be between 5s and 1h")
	errs = append(append(errs, downErrs...), failoverErrs...)
	if len(downErrs) == 0 && len(failoverErrs) == 0 && failoverTimeout <= downAfter {
		errs = append(errs, field.Invalid(path.Child("failoverTimeout"), s.FailoverTimeout, "spec.sentinel.failoverTimeout must be longer than spec.sentinel.downAfter: raise failoverTimeout or lower downAfter"))
	}
	return downAfter, failoverTimeout, errs
}

func (t *TunnelSpec) validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, inRange(path.Child("replicas"), t.Replicas, 1, 20)...)
	errs = append(errs, oneOf(path.Child("serviceType"), string(t.ServiceType), corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer)...)
	errs = append(errs, inRange(path.Child("maxClients"), t.MaxClients, 1, 1000000)...)
	return errs
}

// oneOf checks an enum field.
func oneOf[T ~string](path *field.Path, value string, allowed ...T) field.ErrorList {
	names := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if value == string(a) {
			return nil
		}
		names = append(names, string(a))
	}
	return field.ErrorList{field.NotSupported(path, value, names)}
}

// inRange checks an integer field's bounds.
func inRange(path *field.Path, value, low, high int32) field.ErrorList {
	if value < low || value > high {
		return field.ErrorList{field.Invalid(path, value, fmt.Sprintf("must be between %d and %d", low, high))}
	}
	return nil
}

// matches checks an optional string field against a pattern; empty passes. hint says in
// words what the pattern accepts.
func matches(path *field.Path, value string, pattern *regexp.Regexp, hint string) field.ErrorList {
	if value != "" && !pattern.MatchString(value) {
		return field.ErrorList{field.Invalid(path, value, hint)}
	}
	return nil
}

// durationIn parses a required duration field and checks its bounds.
func durationIn(path *field.Path, value string, low, high time.Duration, message string) (time.Duration, field.ErrorList) {
	if !durationPattern.MatchString(value) {
		return 0, field.ErrorList{field.Invalid(path, value, durationHint)}
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < low || d > high {
		return 0, field.ErrorList{field.Invalid(path, value, message)}
	}
	return d, nil
}

// versionAtLeast reports whether a version matching versionPattern is at least major.minor.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(strings.SplitN(version, "-", 2)[0], ".", 3)
	gotMajor, err1 := strconv.Atoi(parts[0])
	gotMinor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return gotMajor > major || (gotMajor == major && gotMinor >= minor)
}
