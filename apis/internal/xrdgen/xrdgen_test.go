package xrdgen

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

	xpv1 "github.com/crossplane/crossplane/apis/v2/apiextensions/v1"
	xpv2 "github.com/crossplane/crossplane/apis/v2/apiextensions/v2"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// repoRoot is the repository root as seen from this package's directory, where go test runs.
const repoRoot = "../../.."

// generated runs the generator on the repository.
func generated(t *testing.T) Files {
	t.Helper()
	files, err := Generate(context.Background(), repoRoot)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return files
}

// TestGenerate runs the generator once (loading and type-checking the types takes seconds
// under -race) and checks its output in subtests.
func TestGenerate(t *testing.T) {
	files := generated(t)
	t.Run("CommittedFilesAreUpToDate", func(t *testing.T) { testUpToDate(t, files) })
	t.Run("XRDsDecodeIntoCrossplaneTypes", func(t *testing.T) { testXRDTypes(t, files) })
}

// testUpToDate fails when a committed generated file differs from what the Go types produce
// now, e.g. after a types change without `make generate`.
func testUpToDate(t *testing.T, files Files) {
	want := []string{
		APIDocFile,
		DeepCopyFile,
		ConfigurationDir + "/composition-redisha.yaml",
		ConfigurationDir + "/composition-xredisha.yaml",
		RedisHAXRDFile,
		XRedisHAXRDFile,
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, files.Paths()); diff != "" {
		t.Errorf("Generate(): generated paths -want +got:\n%s", diff)
	}
	for _, p := range files.Paths() {
		committed, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Errorf("%s is generated but not readable in the repository (run `make generate`): %v", p, err)
			continue
		}
		if diff := cmp.Diff(string(committed), string(files[p])); diff != "" {
			t.Errorf("%s is out of date; run `make generate` and commit the result. -committed +generated:\n%s", p, diff)
		}
	}
}

// testXRDTypes proves the XRDs use only fields Crossplane's own API types know (strict
// decoding) and carry the names, scopes and references the packages rely on.
func testXRDTypes(t *testing.T, files Files) {

	ns := &xpv2.CompositeResourceDefinition{}
	if err := yaml.UnmarshalStrict(files[RedisHAXRDFile], ns); err != nil {
		t.Fatalf("%s does not decode strictly into apiextensions.crossplane.io/v2: %v", RedisHAXRDFile, err)
	}
	type summary struct {
		APIVersion, Name, Kind, Plural, Scope, Composition, ClaimKind, ClaimPlural string
		Versions                                                                   int
		Referenceable                                                              bool
		ConnectionKeys                                                             []string
	}
	gotNS := summary{
		APIVersion: ns.APIVersion, Name: ns.Name, Kind: ns.Spec.Names.Kind, Plural: ns.Spec.Names.Plural,
		Scope: string(ns.Spec.Scope), Composition: ns.Spec.DefaultCompositionRef.Name,
		Versions: len(ns.Spec.Versions), Referenceable: ns.Spec.Versions[0].Referenceable,
	}
	wantNS := summary{
		APIVersion: "apiextensions.crossplane.io/v2", Name: "redishas.redisha.io", Kind: "RedisHA", Plural: "redishas",
		Scope: "Namespaced", Composition: "redishas.redisha.io", Versions: 1, Referenceable: true,
	}
	if diff := cmp.Diff(wantNS, gotNS); diff != "" {
		t.Errorf("namespaced XRD -want +got:\n%s", diff)
	}

	legacy := &xpv1.CompositeResourceDefinition{}
	if err := yaml.UnmarshalStrict(files[XRedisHAXRDFile], legacy); err != nil {
		t.Fatalf("%s does not decode strictly into apiextensions.crossplane.io/v1: %v", XRedisHAXRDFile, err)
	}
	gotLegacy := summary{
		APIVersion: legacy.APIVersion, Name: legacy.Name, Kind: legacy.Spec.Names.Kind, Plural: legacy.Spec.Names.Plural,
		Scope: string(*legacy.Spec.Scope), Composition: legacy.Spec.DefaultCompositionRef.Name,
		ClaimKind: legacy.Spec.ClaimNames.Kind, ClaimPlural: legacy.Spec.ClaimNames.Plural,
		Versions: len(legacy.Spec.Versions), Referenceable: legacy.Spec.Versions[0].Referenceable,
		ConnectionKeys: legacy.Spec.ConnectionSecretKeys,
	}
	wantLegacy := summary{
		APIVersion: "apiextensions.crossplane.io/v1", Name: "xredishas.redisha.io", Kind: "XRedisHA", Plural: "xredishas",
		Scope: "LegacyCluster", Composition: "xredishas.redisha.io", ClaimKind: "RedisHAClaim", ClaimPlural: "redishaclaims",
		Versions: 1, Referenceable: true, ConnectionKeys: v1alpha1.ConnectionSecretKeys(),
	}
	if diff := cmp.Diff(wantLegacy, gotLegacy); diff != "" {
		t.Errorf("legacy XRD -want +got:\n%s", diff)
	}

	// A category named like a resource makes `kubectl get redisha NAME` ambiguous ("you must
	// specify only one resource"), because kubectl expands the category instead.
	for _, names := range []extv1.CustomResourceDefinitionNames{ns.Spec.Names, legacy.Spec.Names, *legacy.Spec.ClaimNames} {
		for _, c := range names.Categories {
			if c == names.Singular || c == names.Plural || c == strings.ToLower(names.Kind) || slices.Contains(names.ShortNames, c) {
				t.Errorf("%s: category %q collides with a resource name", names.Kind, c)
			}
			for _, other := range []string{v1alpha1.RedisHAPlural, v1alpha1.XRedisHAPlural, v1alpha1.RedisHAClaimPlural, "redisha", "xredisha", "redishaclaim"} {
				if c == other {
					t.Errorf("%s: category %q collides with resource name %q", names.Kind, c, other)
				}
			}
		}
	}

	// Both XRDs must offer exactly the same spec and status.
	var nsSchema, legacySchema map[string]any
	if err := yaml.Unmarshal(ns.Spec.Versions[0].Schema.OpenAPIV3Schema.Raw, &nsSchema); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(legacy.Spec.Versions[0].Schema.OpenAPIV3Schema.Raw, &legacySchema); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(nsSchema["properties"], legacySchema["properties"]); diff != "" {
		t.Errorf("RedisHA and XRedisHA schemas differ -RedisHA +XRedisHA:\n%s", diff)
	}
	props := nsSchema["properties"].(map[string]any)
	status := props["status"].(map[string]any)["properties"].(map[string]any)
	if _, ok := status["conditions"]; ok {
		t.Errorf("status.conditions is in the XRD schema; Crossplane injects its own and the generator must drop ours")
	}
}

// TestCompositionsTargetTheirXRDs checks each Composition selects the kind whose XRD names it
// as defaultCompositionRef and calls function-redis-ha in Pipeline mode.
func TestCompositionsTargetTheirXRDs(t *testing.T) {
	cases := map[string]struct {
		reason string
		file   string
		want   [4]string
	}{
		"RedisHA": {
			reason: "the namespaced XRD's defaultCompositionRef must exist and target RedisHA",
			file:   "redisha.yaml",
			want:   [4]string{CompositionName(v1alpha1.RedisHAPlural), "redisha.io/v1alpha1", "RedisHA", "function-redis-ha"},
		},
		"XRedisHA": {
			reason: "the legacy XRD's defaultCompositionRef must exist and target XRedisHA",
			file:   "xredisha.yaml",
			want:   [4]string{CompositionName(v1alpha1.XRedisHAPlural), "redisha.io/v1alpha1", "XRedisHA", "function-redis-ha"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(repoRoot, CompositionsDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			c := &xpv1.Composition{}
			if err := yaml.UnmarshalStrict(b, c); err != nil {
				t.Fatalf("%s does not decode strictly into a Composition: %v", tc.file, err)
			}
			if c.Spec.Mode != xpv1.CompositionModePipeline || len(c.Spec.Pipeline) != 1 {
				t.Fatalf("%s: want mode Pipeline with one step, got mode %q with %d steps", tc.file, c.Spec.Mode, len(c.Spec.Pipeline))
			}
			got := [4]string{c.Name, c.Spec.CompositeTypeRef.APIVersion, c.Spec.CompositeTypeRef.Kind, c.Spec.Pipeline[0].FunctionRef.Name}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: %s -want +got:\n%s", tc.file, tc.reason, diff)
			}
		})
	}
}

func TestWriteAndStale(t *testing.T) {
	root := t.TempDir()
	files := Files{"a/one.yaml": []byte("one\n"), "two.md": []byte("two\n")}
	if diff := cmp.Diff([]string{"a/one.yaml", "two.md"}, Stale(root, files)); diff != "" {
		t.Errorf("Stale before Write: missing files must be stale -want +got:\n%s", diff)
	}
	if err := Write(root, files); err != nil {
		t.Fatal(err)
	}
	if got := Stale(root, files); len(got) != 0 {
		t.Errorf("Stale after Write = %v, want none", got)
	}
	if err := os.WriteFile(filepath.Join(root, "two.md"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"two.md"}, Stale(root, files)); diff != "" {
		t.Errorf("Stale after a hand edit -want +got:\n%s", diff)
	}
}
