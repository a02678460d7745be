package v1alpha1

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Patterns the schema also enforces; compiled per call because package-level state is avoided.
const (
	versionPattern  = `^[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.]+)?$`
	durationPattern = `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	dnsNamePattern  = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
)

// Validate checks a spec the way the XRD schema does on create (enums, bounds, patterns and
// the CEL rules; not the update-only immutability rules), with the same messages.
// TestValidateAgreesWithSchema keeps both in step, so it is an executable statement of the
// schema. The function does not call it yet: function/validate.go has its own checks for what
// the schema cannot express and repeats some schema rules with its own messages.
func (s *RedisHASpec) Validate() error {
	var errs field.ErrorList
	spec := field.NewPath("spec")

	errs = append(errs, oneOf(spec.Child("size"), string(s.Size), SizeSmall, SizeMedium, SizeLarge, SizeCustom)...)
	switch {
	case s.Size == SizeCustom && s.Resources == nil:
		errs = append(errs, field.Required(spec.Child("size"), "spec.size: custom needs spec.resources with at least limits.memory: add spec.resources, or pick the preset size small, medium or large"))
	case s.Size != SizeCustom && s.Resources != nil:
		errs = append(errs, field.Forbidden(spec.Child("resources"), "spec.resources is only read when spec.size is custom: set spec.size: custom to use explicit resources, or remove spec.resources to use the preset"))
	}
	if s.Resources != nil {
		errs = append(errs, s.Resources.validate(spec.Child("resources"))...)
	}
	errs = append(errs, s.Redis.validate(spec.Child("redis"))...)
	errs = append(errs, s.Sentinel.validate(spec.Child("sentinel"))...)
	errs = append(errs, s.Tunnel.validate(spec.Child("tunnel"))...)

	auth := spec.Child("auth")
	if !s.Auth.AuthEnabled() && s.Auth.ExistingSecret != nil {
		errs = append(errs, field.Invalid(auth.Child("existingSecret"), s.Auth.ExistingSecret.Name, "spec.auth.existingSecret is only used with spec.auth.enabled: true: enable auth or remove existingSecret"))
	}
	if s.Auth.ExistingSecret != nil {
		errs = append(errs, matches(auth.Child("existingSecret", "name"), s.Auth.ExistingSecret.Name, dnsNamePattern, true)...)
	}

	tls := spec.Child("tls")
	switch {
	case s.TLS.Enabled && s.TLS.SecretName == "":
		errs = append(errs, field.Required(tls.Child("secretName"), "spec.tls.secretName is required when spec.tls.enabled is true: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (e.g. from cert-manager)"))
	case !s.TLS.Enabled && s.TLS.SecretName != "":
		errs = append(errs, field.Invalid(tls.Child("secretName"), s.TLS.SecretName, "spec.tls.secretName is only used with spec.tls.enabled: true: enable TLS or remove secretName"))
	}
	errs = append(errs, matches(tls.Child("secretName"), s.TLS.SecretName, dnsNamePattern, false)...)

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
	errs = append(errs, matches(metrics.Child("serviceMonitor", "interval"), s.Metrics.ServiceMonitor.Interval, durationPattern, false)...)

	sched := spec.Child("scheduling")
	errs = append(errs, oneOf(sched.Child("antiAffinity"), string(s.Scheduling.AntiAffinity), AntiAffinityHard, AntiAffinitySoft)...)
	ts := sched.Child("topologySpread")
	errs = append(errs, inRange(ts.Child("maxSkew"), s.Scheduling.TopologySpread.MaxSkew, 1, 10)...)
	errs = append(errs, oneOf(ts.Child("whenUnsatisfiable"), string(s.Scheduling.TopologySpread.WhenUnsatisfiable), corev1.ScheduleAnyway, corev1.DoNotSchedule)...)

	errs = append(errs, matches(spec.Child("connectionSecret", "name"), s.ConnectionSecret.Name, dnsNamePattern, false)...)
	return errs.ToAggregate()
}

func (r *ResourcesSpec) validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Limits == nil || r.Limits.Memory == "" {
		errs = append(errs, field.Required(path.Child("limits"), "spec.resources.limits.memory is required with spec.size: custom, because Redis maxmemory is derived from it (75%)"))
	}
	parsed := map[string]resource.Quantity{}
	check := func(q *ResourceQuantities, part string) {
		if q == nil {
			return
		}
		for _, a := range []struct {
			name, value, message string
			min                  string
		}{
			{"cpu", q.CPU, "cpu must be a positive Kubernetes quantity such as 500m or 2", "0"},
			{"memory", q.Memory, "memory must be a Kubernetes quantity larger than 16Mi, such as 512Mi or 2Gi", "16Mi"},
		} {
			if a.value == "" {
				continue
			}
			v, err := resource.ParseQuantity(a.value)
			if err != nil || v.Cmp(resource.MustParse(a.min)) <= 0 {
				errs = append(errs, field.Invalid(path.Child(part, a.name), a.value, a.message))
				continue
			}
			parsed[part+"."+a.name] = v
		}
	}
	check(r.Requests, "requests")
	check(r.Limits, "limits")
	for _, name := range []string{"memory", "cpu"} {
		req, hasReq := parsed["requests."+name]
		lim, hasLim := parsed["limits."+name]
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(path.Child("requests", name), req.String(),
				fmt.Sprintf("spec.resources.requests.%s must not exceed spec.resources.limits.%s: lower the request or raise the limit", name, name)))
		}
	}
	return errs
}

func (r *RedisSpec) validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, inRange(path.Child("replicas"), r.Replicas, 2, 9)...)
	image := path.Child("image")
	errs = append(errs, oneOf(image.Child("flavor"), string(r.Image.Flavor), FlavorRedis, FlavorValkey)...)
	if verrs := matches(image.Child("version"), r.Image.Version, versionPattern, true); len(verrs) > 0 {
		errs = append(errs, verrs...)
	} else if !versionAtLeast(r.Image.Version, 6, 2) {
		errs = append(errs, field.Invalid(image.Child("version"), r.Image.Version, "spec.redis.image.version must be 6.2 or newer: Sentinel needs resolve-hostnames and announce-hostnames"))
	}
	persistence := path.Child("persistence")
	errs = append(errs, oneOf(persistence.Child("mode"), string(r.Persistence.Mode), PersistenceAOF, PersistenceRDB, PersistenceNone)...)
	if q, err := resource.ParseQuantity(r.Persistence.Storage.Size); err != nil || q.Sign() <= 0 {
		errs = append(errs, field.Invalid(persistence.Child("storage", "size"), r.Persistence.Storage.Size, "spec.redis.persistence.storage.size must be a positive Kubernetes quantity such as 1Gi"))
	}
	errs = append(errs, oneOf(path.Child("maxMemoryPolicy"), string(r.MaxMemoryPolicy),
		MaxMemoryPolicyNoEviction, "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")...)
	if n := len(r.Config); n > 32 {
		errs = append(errs, field.TooMany(path.Child("config"), n, 32))
	}
	for key, value := range r.Config {
		if !IsAllowedRedisConfigKey(key) {
			errs = append(errs, field.Invalid(path.Child("config"), key, "spec.redis.config key "+key+" may not be set here: RedisHA manages it (use the matching spec field) or it could break replication or failover; see docs/api.md for the allowed keys"))
		}
		if strings.ContainsAny(string(value), "\r\n") || len(value) > 256 {
			errs = append(errs, field.Invalid(path.Child("config", key), value, "must be one line of at most 256 characters"))
		}
	}
	return errs
}

func (s *SentinelSpec) validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, inRange(path.Child("replicas"), s.Replicas, 3, 7)...)
	if s.Replicas%2 == 0 {
		errs = append(errs, field.Invalid(path.Child("replicas"), s.Replicas, "spec.sentinel.replicas must be odd (3, 5 or 7) so a majority of Sentinels can authorize a failover"))
	}
	if s.Quorum < 0 {
		errs = append(errs, field.Invalid(path.Child("quorum"), s.Quorum, "should be greater than or equal to 1"))
	}
	if s.Quorum > s.Replicas {
		errs = append(errs, field.Invalid(path.Child("quorum"), s.Quorum, "spec.sentinel.quorum must not exceed spec.sentinel.replicas, or no failover can ever be agreed: lower quorum or remove it to use the majority"))
	}
	down, downErrs := durationIn(path.Child("downAfter"), s.DownAfter, time.Second, 10*time.Minute, "spec.sentinel.downAfter must be between 1s and 10m")
	failover, failoverErrs := durationIn(path.Child("failoverTimeout"), s.FailoverTimeout, 5*time.Second, time.Hour, "spec.sentinel.failoverTimeout must be between 5s and 1h")
	errs = append(append(errs, downErrs...), failoverErrs...)
	if len(downErrs) == 0 && len(failoverErrs) == 0 && failover <= down {
		errs = append(errs, field.Invalid(path.Child("failoverTimeout"), s.FailoverTimeout, "spec.sentinel.failoverTimeout must be longer than spec.sentinel.downAfter"))
	}
	return errs
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

// matches checks a string field against a pattern; an empty optional field passes.
func matches(path *field.Path, value, pattern string, required bool) field.ErrorList {
	if value == "" && !required {
		return nil
	}
	if !regexp.MustCompile(pattern).MatchString(value) {
		return field.ErrorList{field.Invalid(path, value, "should match '"+pattern+"'")}
	}
	return nil
}

// durationIn parses a duration field and checks its bounds.
func durationIn(path *field.Path, value string, low, high time.Duration, message string) (time.Duration, field.ErrorList) {
	if errs := matches(path, value, durationPattern, true); len(errs) > 0 {
		return 0, errs
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
