// Package schemacheck validates objects against a generated XRD schema the way the Kubernetes
// API server validates a custom resource: structural-schema defaulting, pruning of unknown
// fields, OpenAPI validation and real CEL evaluation of x-kubernetes-validations, including
// transition rules on update. It is what the API and example tests use to prove each rule
// rejects the objects it should, with the message it should, without a cluster.
//
// The schema is wrapped the way Crossplane turns an XRD into a CRD (apiVersion, kind and
// metadata added at the root); Crossplane's own injected spec and status fields are not
// modelled, so objects under test must not use them.
package schemacheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// XRD is the part of a CompositeResourceDefinition (apiextensions.crossplane.io v1 or v2) that
// validation needs. Both API versions share these field names.
type XRD struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Group      string                               `json:"group"`
		Names      extv1.CustomResourceDefinitionNames  `json:"names"`
		ClaimNames *extv1.CustomResourceDefinitionNames `json:"claimNames,omitempty"`
		Scope      string                               `json:"scope,omitempty"`
		Versions   []struct {
			Name   string `json:"name"`
			Schema struct {
				OpenAPIV3Schema extv1.JSONSchemaProps `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// LoadXRD reads an XRD YAML file.
func LoadXRD(path string) (*XRD, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading XRD: %w", err)
	}
	x := &XRD{}
	if err := yaml.Unmarshal(b, x); err != nil {
		return nil, fmt.Errorf("decoding XRD %s: %w", path, err)
	}
	if x.Kind != "CompositeResourceDefinition" || len(x.Spec.Versions) != 1 {
		return nil, fmt.Errorf("%s is not a CompositeResourceDefinition with exactly one version", path)
	}
	return x, nil
}

// Schema returns the full object schema of the XR: the XRD's spec and status plus the
// apiVersion, kind and metadata that Crossplane adds.
func (x *XRD) Schema() *extv1.JSONSchemaProps {
	s := x.Spec.Versions[0].Schema.OpenAPIV3Schema.DeepCopy()
	if s.Properties == nil {
		s.Properties = map[string]extv1.JSONSchemaProps{}
	}
	s.Properties["apiVersion"] = extv1.JSONSchemaProps{Type: "string"}
	s.Properties["kind"] = extv1.JSONSchemaProps{Type: "string"}
	s.Properties["metadata"] = extv1.JSONSchemaProps{Type: "object"}
	return s
}

// CRD returns the CustomResourceDefinition an API server would hold for the XR, in the internal
// form that the API server's own CRD validation takes.
func (x *XRD) CRD() (*apiextensions.CustomResourceDefinition, error) {
	scope := extv1.NamespaceScoped
	if x.Spec.Scope == "Cluster" || x.Spec.Scope == "LegacyCluster" {
		scope = extv1.ClusterScoped
	}
	names := x.Spec.Names
	if names.ListKind == "" {
		names.ListKind = names.Kind + "List"
	}
	v1crd := &extv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: names.Plural + "." + x.Spec.Group},
		Spec: extv1.CustomResourceDefinitionSpec{
			Group: x.Spec.Group,
			Names: names,
			Scope: scope,
			Versions: []extv1.CustomResourceDefinitionVersion{{
				Name:         x.Spec.Versions[0].Name,
				Served:       true,
				Storage:      true,
				Schema:       &extv1.CustomResourceValidation{OpenAPIV3Schema: x.Schema()},
				Subresources: &extv1.CustomResourceSubresources{Status: &extv1.CustomResourceSubresourceStatus{}},
			}},
		},
		Status: extv1.CustomResourceDefinitionStatus{StoredVersions: []string{x.Spec.Versions[0].Name}},
	}
	out := &apiextensions.CustomResourceDefinition{}
	if err := extv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1crd, out, nil); err != nil {
		return nil, fmt.Errorf("converting CRD for %s: %w", x.Metadata.Name, err)
	}
	return out, nil
}

// ValidateCRD runs the API server's CRD validation on the XR's CRD: structural schema rules,
// default values against the schema, and compilation and cost estimates of every CEL rule
// (a rule over an unbounded list or string is rejected here, as it would be at install).
func (x *XRD) ValidateCRD(ctx context.Context) field.ErrorList {
	c, err := x.CRD()
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateCustomResourceDefinition(ctx, c)
}

// Validator validates objects of one XR kind.
type Validator struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// NewValidator compiles the XRD's schema and CEL rules.
func NewValidator(x *XRD) (*Validator, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := extv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(x.Schema(), internal, nil); err != nil {
		return nil, fmt.Errorf("converting schema of %s: %w", x.Metadata.Name, err)
	}
	ss, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("schema of %s is not structural: %w", x.Metadata.Name, err)
	}
	if errs := structuralschema.ValidateStructural(nil, ss); len(errs) > 0 {
		return nil, fmt.Errorf("schema of %s is not structural: %w", x.Metadata.Name, errs.ToAggregate())
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("building OpenAPI validator for %s: %w", x.Metadata.Name, err)
	}
	return &Validator{
		structural: ss,
		openAPI:    openAPI,
		cel:        cel.NewValidator(ss, true, celconfig.PerCallLimit),
	}, nil
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
