package gitops

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossplane/crossplane-runtime/v2/pkg/xcrd"
	xpv1 "github.com/crossplane/crossplane/apis/v2/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// The API helper's apis/internal/schemacheck does the same for the API's own tests, but Go's
// internal rule keeps it out of reach from examples/; when it moves to internal/, use it here.

// kindValidator validates objects of one redis-ha kind as the API server would after
// Crossplane created the CRD from the XRD: defaulting, pruning (unknown fields are errors,
// like kubectl's strict field validation), OpenAPI validation and CEL rules.
type kindValidator struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// redisHAValidators builds a validator per kind (RedisHA, XRedisHA, RedisHAClaim) from the
// generated XRDs, through Crossplane's own XRD-to-CRD code (crossplane-runtime xcrd).
func redisHAValidators(t *testing.T) map[string]*kindValidator {
	t.Helper()
	out := map[string]*kindValidator{}
	for _, path := range []string{NamespacedXRDPath, LegacyXRDPath} {
		b, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatal(err)
		}
		xrd := &xpv1.CompositeResourceDefinition{}
		if err := yaml.UnmarshalStrict(b, xrd); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if xrd.Spec.Scope == nil {
			// The v2 API defaults scope to Namespaced, the v1 API to LegacyCluster.
			scope := xpv1.CompositeResourceScopeLegacyCluster
			if xrd.APIVersion == "apiextensions.crossplane.io/v2" {
				scope = xpv1.CompositeResourceScopeNamespaced
			}
			xrd.Spec.Scope = &scope
		}
		crd, err := xcrd.ForCompositeResource(xrd)
		if err != nil {
			t.Fatalf("%s: XR CRD: %v", path, err)
		}
		crds := []*extv1.CustomResourceDefinition{crd}
		if xrd.Spec.ClaimNames != nil {
			claim, err := xcrd.ForCompositeResourceClaim(xrd)
			if err != nil {
				t.Fatalf("%s: claim CRD: %v", path, err)
			}
			crds = append(crds, claim)
		}
		for _, c := range crds {
			out[c.Spec.Names.Kind] = newKindValidator(t, c)
		}
	}
	return out
}

func newKindValidator(t *testing.T, c *extv1.CustomResourceDefinition) *kindValidator {
	t.Helper()
	internal := &apiextensions.JSONSchemaProps{}
	if err := extv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(c.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil); err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	ss, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatalf("%s is not structural: %v", c.Name, err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return &kindValidator{structural: ss, openAPI: openAPI, cel: cel.NewValidator(ss, true, celconfig.PerCallLimit)}
}

// validate defaults, prunes and validates obj like a create, returning the object as it
// would be stored and every error.
func (v *kindValidator) validate(t *testing.T, obj map[string]any) (map[string]any, field.ErrorList) {
	t.Helper()
	// Through JSON as the API server decodes a request: whole numbers become int64.
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	o := map[string]any{}
	if err := utiljson.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	structuraldefaulting.Default(o, v.structural)
	var errs field.ErrorList
	for _, p := range pruning.PruneWithOptions(o, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Forbidden(field.NewPath(p), "unknown field"))
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, o, v.openAPI)...)
	if v.cel != nil {
		celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, o, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return o, errs
}

// validateRedisHAObject validates obj with the validator of its kind.
func validateRedisHAObject(t *testing.T, validators map[string]*kindValidator, obj map[string]any) (map[string]any, field.ErrorList) {
	t.Helper()
	if obj["apiVersion"] != "redisha.io/v1alpha1" {
		t.Fatalf("apiVersion %v, want redisha.io/v1alpha1", obj["apiVersion"])
	}
	kind, _ := obj["kind"].(string)
	v, ok := validators[kind]
	if !ok {
		t.Fatalf("kind %q is not a redis-ha kind", kind)
	}
	return v.validate(t, obj)
}

func TestValidatorRejectsWhatTheAPIServerWould(t *testing.T) {
	validators := redisHAValidators(t)
	cases := map[string]struct {
		reason string
		spec   string
		want   string
	}{
		"Enum":         {reason: "OpenAPI enum", spec: "size: huge", want: `spec.size: Unsupported value: "huge"`},
		"Bounds":       {reason: "OpenAPI maximum", spec: "redis: {replicas: 10}", want: "spec.redis.replicas: Invalid value: 10: spec.redis.replicas in body should be less than or equal to 9"},
		"CEL":          {reason: "x-kubernetes-validations", spec: "sentinel: {replicas: 4}", want: "spec.sentinel.replicas must be odd"},
		"UnknownField": {reason: "pruning with strict field validation", spec: "replicas: 3", want: "spec.replicas: Forbidden: unknown field"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.spec), &spec); err != nil {
				t.Fatal(err)
			}
			obj := map[string]any{"apiVersion": "redisha.io/v1alpha1", "kind": "RedisHA", "metadata": map[string]any{"name": "x", "namespace": "y"}, "spec": spec}
			_, errs := validateRedisHAObject(t, validators, obj)
			if errs.ToAggregate() == nil || !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("%s: errors %v, want one containing %q", tc.reason, errs, tc.want)
			}
		})
	}
}
