// Package schemacheck validates objects against a generated XRD schema the way the Kubernetes
// API server validates a custom resource: structural-schema defaulting, pruning of unknown
// fields, OpenAPI validation and real CEL evaluation of x-kubernetes-validations, including
// transition rules on update. It is what the API and example tests use to prove each rule
// rejects the objects it should, with the message it should, without a cluster.
//
// The CRDs are built from the XRD by Crossplane's own code (crossplane-runtime's xcrd), so they
// include everything Crossplane injects.
package schemacheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/crossplane-runtime/v2/pkg/xcrd"
	xpv1 "github.com/crossplane/crossplane/apis/v2/apiextensions/v1"
)

// XRD is a CompositeResourceDefinition read from YAML. Crossplane stores XRDs as
// apiextensions.crossplane.io/v1; a v2 XRD has the same fields, so both decode into that type.
type XRD struct {
	Definition *xpv1.CompositeResourceDefinition
	path       string
}

// LoadXRD reads an XRD YAML file (apiextensions.crossplane.io v1 or v2). Unknown fields fail.
func LoadXRD(path string) (*XRD, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading XRD: %w", err)
	}
	d := &xpv1.CompositeResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, d); err != nil {
		return nil, fmt.Errorf("decoding XRD %s: %w", path, err)
	}
	if d.Kind != "CompositeResourceDefinition" || len(d.Spec.Versions) != 1 || d.Spec.Versions[0].Schema == nil {
		return nil, fmt.Errorf("%s is not a CompositeResourceDefinition with exactly one version and a schema", path)
	}
	if d.Spec.Scope == nil {
		// The v2 API defaults scope to Namespaced, the v1 API to LegacyCluster.
		scope := xpv1.CompositeResourceScopeLegacyCluster
		if d.APIVersion == "apiextensions.crossplane.io/v2" {
			scope = xpv1.CompositeResourceScopeNamespaced
		}
		d.Spec.Scope = &scope
	}
	return &XRD{Definition: d, path: path}, nil
}

// Schema returns the schema the XRD declares (spec and status only).
func (x *XRD) Schema() *extv1.JSONSchemaProps {
	s := &extv1.JSONSchemaProps{}
	// LoadXRD guarantees one version with a schema; the schema was written by our generator.
	if err := json.Unmarshal(x.Definition.Spec.Versions[0].Schema.OpenAPIV3Schema.Raw, s); err != nil {
		return &extv1.JSONSchemaProps{}
	}
	return s
}

// CRDs returns the CustomResourceDefinitions Crossplane creates for the XRD, built by
// Crossplane's own code (crossplane-runtime xcrd): the XR's, and the claim's when the XRD
// offers one. They carry Crossplane's injected fields, e.g. the required spec and
// spec.crossplane or spec.compositionRef.
func (x *XRD) CRDs() (xr, claim *extv1.CustomResourceDefinition, err error) {
	xr, err = xcrd.ForCompositeResource(x.Definition)
	if err != nil {
		return nil, nil, fmt.Errorf("building the XR CRD from %s: %w", x.path, err)
	}
	if x.Definition.Spec.ClaimNames != nil {
		if claim, err = xcrd.ForCompositeResourceClaim(x.Definition); err != nil {
			return nil, nil, fmt.Errorf("building the claim CRD from %s: %w", x.path, err)
		}
	}
	return xr, claim, nil
}

// ValidateCRDs runs the API server's CRD validation on every CRD the XRD turns into:
// structural schema rules, default values against the schema, and compilation and cost
// estimates of every CEL rule (a rule over an unbounded list or string is rejected here, as it
// would be when Crossplane creates the CRD).
func (x *XRD) ValidateCRDs(ctx context.Context) field.ErrorList {
	xr, claim, err := x.CRDs()
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	var errs field.ErrorList
	for _, c := range []*extv1.CustomResourceDefinition{xr, claim} {
		if c == nil {
			continue
		}
		c = c.DeepCopy()
		// In a cluster the owner is the stored XRD and has a UID; a file has none.
		c.OwnerReferences = nil
		c.Status.StoredVersions = []string{c.Spec.Versions[0].Name}
		internal := &apiextensions.CustomResourceDefinition{}
		if err := extv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(c, internal, nil); err != nil {
			return append(errs, field.InternalError(nil, fmt.Errorf("converting CRD %s: %w", c.Name, err)))
		}
		for _, e := range crdvalidation.ValidateCustomResourceDefinition(ctx, internal) {
			e.Field = c.Name + ": " + e.Field
			errs = append(errs, e)
		}
	}
	return errs
}

// Validators returns a Validator per kind the XRD defines: the XR kind and the claim kind.
func (x *XRD) Validators() (map[string]*Validator, error) {
	xr, claim, err := x.CRDs()
	if err != nil {
		return nil, err
	}
	out := map[string]*Validator{}
	for _, c := range []*extv1.CustomResourceDefinition{xr, claim} {
		if c == nil {
			continue
		}
		v, err := NewValidator(c)
		if err != nil {
			return nil, err
		}
		out[c.Spec.Names.Kind] = v
	}
	return out, nil
}

// Validator validates objects of one XR kind.
type Validator struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
	specFields []string
}

// NewValidator compiles a CRD's (only) version schema and CEL rules.
func NewValidator(c *extv1.CustomResourceDefinition) (*Validator, error) {
	if len(c.Spec.Versions) != 1 || c.Spec.Versions[0].Schema == nil {
		return nil, fmt.Errorf("CRD %s must have exactly one version with a schema", c.Name)
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := extv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(c.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting schema of %s: %w", c.Name, err)
	}
	ss, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("schema of %s is not structural: %w", c.Name, err)
	}
	if errs := structuralschema.ValidateStructural(nil, ss); len(errs) > 0 {
		return nil, fmt.Errorf("schema of %s is not structural: %w", c.Name, errs.ToAggregate())
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("building OpenAPI validator for %s: %w", c.Name, err)
	}
	spec := c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	return &Validator{
		structural: ss,
		openAPI:    openAPI,
		cel:        cel.NewValidator(ss, true, celconfig.PerCallLimit),
		specFields: slices.Sorted(maps.Keys(spec.Properties)),
	}, nil
}

// SpecFields returns the names of every spec property of the kind, Crossplane's included.
func (v *Validator) SpecFields() []string {
	return slices.Clone(v.specFields)
}

// Result is what the API server would make of an object.
type Result struct {
	// Object is the object after defaulting and pruning: what would be stored.
	Object map[string]any
	// Errors are the validation errors, each with its field path and message.
	Errors field.ErrorList
}

// Err returns the errors as one error, nil when the object is valid.
func (r Result) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	return r.Errors.ToAggregate()
}

// Validate defaults, prunes and validates obj like a create (old == nil) or an update from
// old. Unknown fields are errors, as with kubectl's strict field validation. Neither input is
// modified.
func (v *Validator) Validate(ctx context.Context, obj, old map[string]any) Result {
	o, err := normalize(obj)
	if err != nil {
		return Result{Errors: field.ErrorList{field.InternalError(nil, err)}}
	}
	var oldCopy map[string]any
	if old != nil {
		if oldCopy, err = normalize(old); err != nil {
			return Result{Errors: field.ErrorList{field.InternalError(nil, err)}}
		}
		structuraldefaulting.Default(oldCopy, v.structural)
	}
	structuraldefaulting.Default(o, v.structural)

	var errs field.ErrorList
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	for _, p := range pruning.PruneWithOptions(o, v.structural, true, opts) {
		errs = append(errs, field.Invalid(field.NewPath(p), nil, "unknown field"))
	}
	if old == nil {
		errs = append(errs, apiservervalidation.ValidateCustomResource(nil, o, v.openAPI)...)
	} else {
		errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, o, oldCopy, v.openAPI)...)
	}
	if v.cel != nil {
		var oldObj any
		if oldCopy != nil {
			oldObj = oldCopy
		}
		celErrs, _ := v.cel.Validate(ctx, nil, v.structural, o, oldObj, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return Result{Object: o, Errors: errs}
}

// normalize deep-copies obj through JSON the way the API server decodes a request body, so
// whole numbers become int64 (YAML and encoding/json decoders produce float64, which CEL
// rejects for integer fields).
func normalize(obj map[string]any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	out := map[string]any{}
	if err := utiljson.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decoding object: %w", err)
	}
	return out, nil
}

// DecodeYAMLDocuments splits a multi-document YAML file into objects, skipping empty ones.
func DecodeYAMLDocuments(b []byte) ([]map[string]any, error) {
	var objs []map[string]any
	for i, doc := range bytes.Split(b, []byte("\n---")) {
		if strings.TrimSpace(stripComments(string(doc))) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.UnmarshalStrict(doc, &m); err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", i+1, err)
		}
		objs = append(objs, m)
	}
	return objs, nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") || t == "---" {
			continue
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}
