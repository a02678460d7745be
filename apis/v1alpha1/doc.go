// Package v1alpha1 holds the redisha.io/v1alpha1 API: the RedisHA composite resource (a
// Crossplane v2 namespaced XR), the legacy cluster-scoped XRedisHA with its RedisHAClaim, and
// the pure helpers the composition function uses to read them: Default, Parse (the schema's
// validation rules, which also returns the parsed quantities and durations) and size presets.
//
// These Go types are the single source of the XRD schemas: `make generate` runs controller-gen
// on this package and wraps the resulting CRD schema into the two CompositeResourceDefinitions
// under package/configuration/. Kubebuilder markers on the fields carry the defaults, enums,
// bounds and CEL validation rules; Default in defaults.go mirrors the marker defaults so the
// function behaves the same on input that never went through the API server (crossplane render).
//
// +kubebuilder:object:generate=true
// +groupName=redisha.io
// +versionName=v1alpha1
package v1alpha1
