package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	pkgv1 "github.com/crossplane/crossplane/apis/v2/pkg/v1"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
	"github.com/redis-ha/redis-ha/internal/schemacheck"
)

const examplesDir = repoRoot + "/examples"

// TestExamplesAreValid validates every object in examples/ against the generated XRD schema
// (defaulting, unknown fields, OpenAPI and CEL), and the render Function object against
// Crossplane's Function type. An example of any other kind fails, so none goes unchecked.
func TestExamplesAreValid(t *testing.T) {
	validatorFor := loadValidators(t)
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found in %s: %v", examplesDir, err)
	}
	var kinds []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := schemacheck.DecodeYAMLDocuments(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(objs) == 0 {
			t.Errorf("%s holds no object", f)
		}
		for _, o := range objs {
			kind, _ := o["kind"].(string)
			kinds = append(kinds, kind)
			if kind == "Function" {
				checkRenderFunction(t, f, b)
				continue
			}
			v, ok := validatorFor[kind]
			if !ok {
				t.Errorf("%s: no schema for kind %q; add it to this test", f, kind)
				continue
			}
			if got, want := o["apiVersion"], v1alpha1.Group+"/"+v1alpha1.Version; got != want {
				t.Errorf("%s: apiVersion %v, want %s", f, got, want)
			}
			if err := v.Validate(context.Background(), o, nil).Err(); err != nil {
				t.Errorf("%s: %s is invalid: %v", f, kind, err)
			}
		}
	}
	slices.Sort(kinds)
	want := []string{"Function", "RedisHA", "RedisHA", "RedisHA", "RedisHAClaim"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("example kinds -want +got:\n%s", diff)
	}
}

// checkRenderFunction checks examples/functions.yaml is a Function that crossplane render
// runs in Development mode against a locally started function-redis-ha.
func checkRenderFunction(t *testing.T, file string, b []byte) {
	t.Helper()
	fn := &pkgv1.Function{}
	if err := yaml.UnmarshalStrict(b, fn); err != nil {
		t.Errorf("%s: not a pkg.crossplane.io Function: %v", file, err)
		return
	}
	got := map[string]string{
		"apiVersion": fn.APIVersion,
		"name":       fn.Name,
		"runtime":    fn.Annotations["render.crossplane.io/runtime"],
		"target":     fn.Annotations["render.crossplane.io/runtime-development-target"],
	}
	want := map[string]string{
		"apiVersion": "pkg.crossplane.io/v1",
		"name":       "function-redis-ha",
		"runtime":    "Development",
		"target":     "localhost:9443",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s -want +got:\n%s", file, diff)
	}
}

// TestFullExamplesSetEveryField keeps the complete examples honest: every spec field of the
// schema (down to, but not into, embedded Kubernetes types) is set in one of them.
// examples/redisha-full.yaml sets every field of sentinel mode, and examples/redisha-cluster.yaml
// the fields only cluster mode accepts (spec.mode: cluster and spec.cluster).
func TestFullExamplesSetEveryField(t *testing.T) {
	x, err := schemacheck.LoadXRD(xrdFiles()[v1alpha1.RedisHAKind])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	spec := x.Schema().Properties["spec"]
	schemaLeaves("spec", &spec, &want)

	files := []string{"redisha-full.yaml", "redisha-cluster.yaml"}
	set := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(examplesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		objectPaths("spec", obj["spec"], set)
	}
	var missing []string
	for _, p := range want {
		if !set[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("none of examples/%s sets: %s", strings.Join(files, ", examples/"), strings.Join(missing, ", "))
	}
}

// schemaLeaves lists the field paths a complete example must set. Maps (config, labels,
// nodeSelector) and embedded Kubernetes types (label selectors, tolerations) count as set when
// present at all.
func schemaLeaves(path string, s *extv1.JSONSchemaProps, out *[]string) {
	if s.Items != nil && s.Items.Schema != nil {
		s = s.Items.Schema
		path += "[]"
	}
	_, selector := s.Properties["matchLabels"]
	_, toleration := s.Properties["effect"]
	if len(s.Properties) == 0 || selector || toleration {
		*out = append(*out, path)
		return
	}
	for name, child := range s.Properties {
		schemaLeaves(path+"."+name, &child, out)
	}
}

// objectPaths records every path present in an example object, in schemaLeaves' notation.
func objectPaths(path string, v any, set map[string]bool) {
	set[path] = true
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			objectPaths(path+"."+k, child, set)
		}
	case []any:
		for _, child := range v {
			objectPaths(path+"[]", child, set)
		}
	}
}
