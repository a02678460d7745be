package function

import (
	"context"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
)

// RenderInput is what Render composes from.
type RenderInput struct {
	// XR is the RedisHA or XRedisHA, e.g. read from examples/redisha.yaml.
	XR *unstructured.Unstructured
	// Observed are the composed resources as they exist, keyed by composition resource name
	// (e.g. "password-secret", "redis-statefulset"); nil for a first render. Pass the
	// previous Rendered.Composed back to keep the generated password.
	Observed map[string]*unstructured.Unstructured
	// ExistingPasswordSecret is the Secret named by spec.auth.existingSecret, if any.
	ExistingPasswordSecret *unstructured.Unstructured
	// Options configure the function, e.g. WithPasswordGenerator.
	Options []Option
}

// Rendered is the result of one Render.
type Rendered struct {
	// Composed are the desired composed resources by composition resource name.
	Composed map[string]*unstructured.Unstructured
	// Ready is the readiness the function set for each composed resource.
	Ready map[string]bool
	// XR holds what the function writes on the XR: identity and status.
	XR *unstructured.Unstructured
	// XRReady is the readiness of the XR.
	XRReady bool
	// ConnectionDetails are the keys of the connection Secret (also the legacy XR's).
	ConnectionDetails map[string][]byte
	// Conditions and Results are the conditions and non-fatal results of the response.
	Conditions []*fnv1.Condition
	Results    []*fnv1.Result
}

// Render runs the function in-process on one XR, exactly as a RunFunction call from Crossplane
// would, and returns the decoded response. A fatal result (e.g. a spec the function rejects)
// is returned as the error.
func Render(ctx context.Context, in RenderInput) (*Rendered, error) {
	if in.XR == nil {
		return nil, errors.New("cannot render: RenderInput.XR is nil")
	}
	xr, err := resource.AsStruct(in.XR)
	if err != nil {
		return nil, errors.Wrap(err, "cannot convert the XR")
	}
	req := &fnv1.RunFunctionRequest{
		Meta:     &fnv1.RequestMeta{Tag: "render"},
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: xr}, Resources: map[string]*fnv1.Resource{}},
	}
	for _, name := range slices.Sorted(maps.Keys(in.Observed)) {
		s, err := resource.AsStruct(in.Observed[name])
		if err != nil {
			return nil, errors.Wrapf(err, "cannot convert observed resource %q", name)
		}
		req.Observed.Resources[name] = &fnv1.Resource{Resource: s}
	}
	if in.ExistingPasswordSecret != nil {
		s, err := resource.AsStruct(in.ExistingPasswordSecret)
		if err != nil {
			return nil, errors.Wrap(err, "cannot convert the existing password Secret")
		}
		req.RequiredResources = map[string]*fnv1.Resources{requiredExistingSecret: {Items: []*fnv1.Resource{{Resource: s}}}}
	}

	rsp, err := New(logging.NewNopLogger(), in.Options...).RunFunction(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &Rendered{
		Composed:          map[string]*unstructured.Unstructured{},
		Ready:             map[string]bool{},
		XR:                &unstructured.Unstructured{Object: rsp.GetDesired().GetComposite().GetResource().AsMap()},
		XRReady:           rsp.GetDesired().GetComposite().GetReady() == fnv1.Ready_READY_TRUE,
		ConnectionDetails: rsp.GetDesired().GetComposite().GetConnectionDetails(),
		Conditions:        rsp.GetConditions(),
	}
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			return nil, errors.New(r.GetMessage())
		}
		out.Results = append(out.Results, r)
	}
	for name, r := range rsp.GetDesired().GetResources() {
		out.Composed[name] = &unstructured.Unstructured{Object: r.GetResource().AsMap()}
		out.Ready[name] = r.GetReady() == fnv1.Ready_READY_TRUE
	}
	if len(out.ConnectionDetails) == 0 {
		// A namespaced XR has no connection details of its own; the connection Secret holds them.
		if cs, ok := out.Composed[string(resourceConnectionSecret)]; ok {
			out.ConnectionDetails = map[string][]byte{}
			for k := range cs.Object["data"].(map[string]any) {
				v, _, _ := secretValue(cs, k)
				out.ConnectionDetails[k] = []byte(v)
			}
		}
	}
	return out, nil
}
