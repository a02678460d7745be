// Package function is the redis-ha composition function. From one RedisHA (the Crossplane v2
// namespaced XR) or XRedisHA (the legacy cluster XR behind RedisHAClaim) it composes a Redis
// master with replicas, a Sentinel quorum and the redis-ha tunnel in front (spec.mode:
// sentinel), or a Redis Cluster of several shards, the Job that creates and grows it, and the
// tunnel in front (spec.mode: cluster), with their Services, Secrets, ConfigMap,
// PodDisruptionBudgets, NetworkPolicies and ServiceAccounts, and reports readiness, status and
// conditions from what it observes.
//
// fn.go only orchestrates; each concern has its own file: secret.go (password and connection
// Secrets), config.go (redis.conf, sentinel.conf and the pod scripts), redis.go, sentinel.go,
// cluster.go (a cluster's shards), clusterjob.go (the cluster Job), tunnel.go, services.go,
// policy.go (PDBs, NetworkPolicies, ServiceAccounts), metrics.go, validate.go, ready.go and
// status.go. Render runs the same code in-process, without gRPC.
package function

import (
	"context"
	"crypto/rand"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// Function is the redis-ha composition function.
type Function struct {
	fnv1.UnimplementedFunctionRunnerServiceServer

	log                logging.Logger
	generatePassword   func() string
	defaultTunnelImage string
}

// An Option configures a Function.
type Option func(*Function)

// WithPasswordGenerator replaces the generator of new passwords (crypto/rand by default),
// for tests that need a known password.
func WithPasswordGenerator(generate func() string) Option {
	return func(f *Function) { f.generatePassword = generate }
}

// WithDefaultTunnelImage sets the tunnel image used when spec.tunnel.image is empty
// (DefaultTunnelImage by default).
func WithDefaultTunnelImage(image string) Option {
	return func(f *Function) { f.defaultTunnelImage = image }
}

// New returns the function, logging to log.
func New(log logging.Logger, opts ...Option) *Function {
	f := &Function{
		log: log,
		// rand.Text is 26 base32 characters from crypto/rand (130 bits): URL-safe, so the
		// password needs no escaping in redis:// URLs or config files.
		generatePassword:   rand.Text,
		defaultTunnelImage: DefaultTunnelImage(),
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// RunFunction composes one RedisHA or XRedisHA.
func (f *Function) RunFunction(_ context.Context, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, error) {
	rsp := response.To(req, response.DefaultTTL)

	oxr, err := request.GetObservedCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get observed composite resource"))
		return rsp, nil
	}
	xr := &oxr.Resource.Unstructured
	log := f.log.WithValues("xr-kind", xr.GetKind(), "xr-name", xr.GetName(), "xr-namespace", xr.GetNamespace())

	in, err := f.newInstance(xr)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}

	observed := observedSummaries(req)
	if errs := validateObserved(in, observed); len(errs) > 0 {
		response.Fatal(rsp, errors.Errorf("invalid %s %s: %s", xr.GetKind(), objectRef(xr), errs.ToAggregate().Error()))
		return rsp, nil
	}
	desired, err := request.GetDesiredComposedResources(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get desired composed resources"))
		return rsp, nil
	}

	src := passwordSources{observed: observed, generate: f.generatePassword}
	if ref := in.spec.Auth.ExistingSecret; in.spec.Auth.AuthEnabled() && ref != nil {
		src.existing, err = requireExistingSecret(req, rsp, in)
		if err != nil {
			response.Fatal(rsp, errors.Wrapf(err, "cannot get spec.auth.existingSecret %q", ref.Name))
			return rsp, nil
		}
		if src.existing == nil && requirementResolved(req) {
			w := response.Warning(rsp, errors.Errorf("spec.auth.existingSecret: Secret %q not found in namespace %q: create it with key %q; until then the pods cannot start and the connection Secret is not updated",
				ref.Name, in.namespace, ref.Key))
			if in.legacy {
				w.TargetCompositeAndClaim()
			}
		}
	}

	c, err := composeAll(in, src)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	for name, u := range c.objects {
		dc, ok := desired[name]
		if !ok {
			dc = &resource.DesiredComposed{Ready: resource.ReadyUnspecified}
			desired[name] = dc
		}
		dc.Resource = &composed.Unstructured{Unstructured: *u}
	}
	allReady := setReadiness(desired, observed)
	if err := response.SetDesiredComposedResources(rsp, desired); err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot set desired composed resources"))
		return rsp, nil
	}

	counts := countObserved(in, c, observed)
	dxr, err := request.GetDesiredCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get desired composite resource"))
		return rsp, nil
	}
	// The SDK does not carry an earlier step's XR readiness over; read it from the request.
	switch req.GetDesired().GetComposite().GetReady() {
	case fnv1.Ready_READY_TRUE:
		dxr.Ready = resource.ReadyTrue
	case fnv1.Ready_READY_FALSE:
		dxr.Ready = resource.ReadyFalse
	default:
		dxr.Ready = resource.ReadyUnspecified
	}
	if err := writeComposite(dxr, xr, in, counts, c, allReady); err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot set desired composite resource"))
		return rsp, nil
	}

	for _, cond := range composeConditions(in, counts) {
		var co *response.ConditionOption
		if cond.Status {
			co = response.ConditionTrue(rsp, cond.Type, cond.Reason)
		} else {
			co = response.ConditionFalse(rsp, cond.Type, cond.Reason)
		}
		co = co.WithMessage(cond.Message)
		if in.legacy {
			co.TargetCompositeAndClaim()
		}
	}
	log.Debug("Composed RedisHA", "resources", len(c.objects), "ready", allReady)
	return rsp, nil
}

// newInstance reads, defaults, validates and parses the XR. The spec is checked by
// v1alpha1's Parse, the rules the XRD schema states, because input from `crossplane render`
// or an older XRD never went through the API server; validateComposed adds the function's own.
func (f *Function) newInstance(xr *unstructured.Unstructured) (*instance, error) {
	spec, err := specOf(xr)
	if err != nil {
		return nil, errors.Wrapf(err, "cannot read %s %q", xr.GetKind(), xr.GetName())
	}
	spec.Default()
	namespace, name, err := v1alpha1.Instance(xr)
	if err != nil {
		return nil, errors.Wrapf(err, "invalid %s %s", xr.GetKind(), objectRef(xr))
	}
	in := &instance{name: name, namespace: namespace, legacy: xr.GetNamespace() == "", spec: spec,
		tunnelImage: spec.Tunnel.TunnelImage(f.defaultTunnelImage)}
	var errs field.ErrorList
	in.parsed, errs = spec.Parse()
	if errs = append(validateComposed(in), errs...); len(errs) > 0 {
		return nil, errors.Errorf("invalid %s %s: %s", xr.GetKind(), objectRef(xr), errs.ToAggregate().Error())
	}
	return in, nil
}

// observedSummaries reads the observed composed resources, keeping of each only what the
// function reads: identity, metadata, status, spec.replicas, data (Secrets) and the Redis
// pod template's annotations. Converting whole workloads from protobuf (what
// request.GetObservedComposedResources does) costs more than the rest of a run, and the pod
// templates in them are the function's own output anyway.
func observedSummaries(req *fnv1.RunFunctionRequest) map[resource.Name]resource.ObservedComposed {
	out := make(map[resource.Name]resource.ObservedComposed, len(req.GetObserved().GetResources()))
	for name, r := range req.GetObserved().GetResources() {
		fields := r.GetResource().GetFields()
		obj := map[string]any{}
		for _, k := range []string{"apiVersion", "kind", "metadata", "status", "data", "stringData"} {
			if v, ok := fields[k]; ok {
				obj[k] = v.AsInterface()
			}
		}
		if spec := fields["spec"].GetStructValue().GetFields(); spec != nil {
			summary := map[string]any{}
			if v, ok := spec["replicas"]; ok {
				summary["replicas"] = v.AsInterface()
			}
			if v := spec["template"].GetStructValue().GetFields()["metadata"].GetStructValue().GetFields()["annotations"]; v != nil {
				summary["template"] = map[string]any{"metadata": map[string]any{"annotations": v.AsInterface()}}
			}
			obj["spec"] = summary
		}
		out[resource.Name(name)] = resource.ObservedComposed{
			Resource:          &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: obj}},
			ConnectionDetails: r.GetConnectionDetails(),
		}
	}
	return out
}

// objectRef is namespace/name, or name for a cluster-scoped object.
func objectRef(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// requireExistingSecret asks Crossplane for the spec.auth.existingSecret Secret and returns it
// once Crossplane has supplied it (nil before, or when it does not exist). Crossplane calls
// the function again with the Secret within the same reconcile.
func requireExistingSecret(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, in *instance) (*unstructured.Unstructured, error) {
	ns := in.namespace
	if rsp.Requirements == nil {
		rsp.Requirements = &fnv1.Requirements{}
	}
	if rsp.Requirements.Resources == nil {
		rsp.Requirements.Resources = map[string]*fnv1.ResourceSelector{}
	}
	rsp.Requirements.Resources[requiredExistingSecret] = &fnv1.ResourceSelector{
		ApiVersion: "v1",
		Kind:       "Secret",
		Match:      &fnv1.ResourceSelector_MatchName{MatchName: in.spec.Auth.ExistingSecret.Name},
		Namespace:  &ns,
	}
	found, _, err := request.GetRequiredResource(req, requiredExistingSecret)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, nil
	}
	return found[0].Resource, nil
}

// requirementResolved reports whether Crossplane has answered the existing Secret requirement
// (with or without a Secret).
func requirementResolved(req *fnv1.RunFunctionRequest) bool {
	_, ok := req.GetRequiredResources()[requiredExistingSecret]
	return ok
}

// writeComposite writes what the function owns on the XR: status, connection details (the
// legacy XR publishes them to the claim's Secret) and readiness. Identity fields are copied
// so the desired XR names the object it is for; spec is never written.
func writeComposite(dxr *resource.Composite, xr *unstructured.Unstructured, in *instance, counts observedCounts, c *composition, allReady bool) error {
	dxr.Resource.SetAPIVersion(xr.GetAPIVersion())
	dxr.Resource.SetKind(xr.GetKind())
	dxr.Resource.SetName(xr.GetName())
	if ns := xr.GetNamespace(); ns != "" {
		dxr.Resource.SetNamespace(ns)
	}
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ptr.To(composeStatus(in, counts)))
	if err != nil {
		return errors.Wrap(err, "cannot convert status")
	}
	existing, _, _ := unstructured.NestedMap(dxr.Resource.Object, "status")
	if existing == nil {
		existing = map[string]any{}
	}
	for k, v := range status {
		existing[k] = v
	}
	if err := unstructured.SetNestedMap(dxr.Resource.Object, existing, "status"); err != nil {
		return errors.Wrap(err, "cannot set status")
	}
	if in.legacy && c.connectionDetails != nil {
		if dxr.ConnectionDetails == nil {
			dxr.ConnectionDetails = resource.ConnectionDetails{}
		}
		for k, v := range c.connectionDetails {
			dxr.ConnectionDetails[k] = v
		}
	}
	if dxr.Ready == resource.ReadyUnspecified {
		dxr.Ready = resource.ReadyFalse
		if allReady {
			dxr.Ready = resource.ReadyTrue
		}
	}
	return nil
}
