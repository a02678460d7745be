package gitops

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/internal/schemacheck"
)

// redisHAValidators builds a validator per kind (RedisHA, XRedisHA, RedisHAClaim) from the
// generated XRDs, through Crossplane's own XRD-to-CRD code (see internal/schemacheck).
func redisHAValidators(t *testing.T) map[string]*schemacheck.Validator {
	t.Helper()
	out := map[string]*schemacheck.Validator{}
	for _, path := range []string{NamespacedXRDPath, LegacyXRDPath} {
		x, err := schemacheck.LoadXRD(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatal(err)
		}
		vs, err := x.Validators()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		maps.Copy(out, vs)
	}
	return out
}

// validateRedisHAObject validates obj like a create with the validator of its kind, returning
// the object as it would be stored and every error.
func validateRedisHAObject(t *testing.T, validators map[string]*schemacheck.Validator, obj map[string]any) (map[string]any, field.ErrorList) {
	t.Helper()
	if obj["apiVersion"] != "redisha.io/v1alpha1" {
		t.Fatalf("apiVersion %v, want redisha.io/v1alpha1", obj["apiVersion"])
	}
	kind, _ := obj["kind"].(string)
	v, ok := validators[kind]
	if !ok {
		t.Fatalf("kind %q is not a redis-ha kind", kind)
	}
	r := v.Validate(context.Background(), obj, nil)
	return r.Object, r.Errors
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
		"UnknownField": {reason: "pruning with strict field validation", spec: "replicas: 3", want: "spec.replicas: Invalid value: null: unknown field"},
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
