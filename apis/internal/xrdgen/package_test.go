package xrdgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	metav1pkg "github.com/crossplane/crossplane/apis/v2/pkg/meta/v1"
)

// TestConfigurationPackageIsSelfContained checks the Configuration package root holds exactly
// its metadata, the two XRDs and the two Composition copies, so `crossplane xpkg build
// --package-root=package/configuration` packs the whole API and nothing else.
func TestConfigurationPackageIsSelfContained(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, ConfigurationDir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"composition-redisha.yaml", "composition-xredisha.yaml", "crossplane.yaml", "xrd-redisha.yaml", "xrd-xredisha.yaml"}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s contents -want +got:\n%s", ConfigurationDir, diff)
	}
}

// TestPackageMetadata decodes both crossplane.yaml files strictly into Crossplane's package
// metadata types and checks the Configuration depends on our Function in the apiVersion/kind
// form Crossplane 2.x expects.
func TestPackageMetadata(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ConfigurationDir, "crossplane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &metav1pkg.Configuration{}
	if err := yaml.UnmarshalStrict(b, cfg); err != nil {
		t.Fatalf("configuration crossplane.yaml: %v", err)
	}
	b, err = os.ReadFile(filepath.Join(repoRoot, "package/function/crossplane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fn := &metav1pkg.Function{}
	if err := yaml.UnmarshalStrict(b, fn); err != nil {
		t.Fatalf("function crossplane.yaml: %v", err)
	}

	type dep struct{ APIVersion, Kind, Package, Version string }
	var deps []dep
	for _, d := range cfg.Spec.DependsOn {
		if d.APIVersion == nil || d.Kind == nil || d.Package == nil || d.Function != nil {
			t.Errorf("dependency %+v must use apiVersion, kind and package (the deprecated function: form is not for Crossplane 2.x)", d)
			continue
		}
		deps = append(deps, dep{*d.APIVersion, *d.Kind, *d.Package, d.Version})
	}
	type meta struct {
		CfgAPIVersion, CfgKind, FnAPIVersion, FnKind, FnName, CfgCrossplane, FnCrossplane string
		Deps                                                                              []dep
	}
	got := meta{
		CfgAPIVersion: cfg.APIVersion, CfgKind: cfg.Kind, FnAPIVersion: fn.APIVersion, FnKind: fn.Kind, FnName: fn.Name,
		CfgCrossplane: cfg.Spec.Crossplane.Version, FnCrossplane: fn.Spec.Crossplane.Version, Deps: deps,
	}
	want := meta{
		CfgAPIVersion: "meta.pkg.crossplane.io/v1", CfgKind: "Configuration",
		FnAPIVersion: "meta.pkg.crossplane.io/v1", FnKind: "Function", FnName: "function-redis-ha",
		CfgCrossplane: ">=v2.0.0", FnCrossplane: ">=v2.0.0",
		Deps: []dep{{"pkg.crossplane.io/v1", "Function", "xpkg.crossplane.io/redis-ha/function-redis-ha", ">=v0.0.0-0"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("package metadata -want +got:\n%s", diff)
	}
	if !strings.HasSuffix(*cfg.Spec.DependsOn[0].Package, "/"+fn.Name) {
		t.Errorf("the Configuration depends on %s, which is not the Function package %s", *cfg.Spec.DependsOn[0].Package, fn.Name)
	}
}

// TestRBACCoversComposedKinds checks the aggregated ClusterRole lets Crossplane manage every
// kind the function composes.
func TestRBACCoversComposedKinds(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "package/rbac/clusterrole.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(b, role); err != nil {
		t.Fatalf("package/rbac/clusterrole.yaml: %v", err)
	}
	if role.Labels["rbac.crossplane.io/aggregate-to-crossplane"] != "true" {
		t.Errorf("ClusterRole %s lacks the rbac.crossplane.io/aggregate-to-crossplane: \"true\" label", role.Name)
	}
	can := map[string]bool{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					can[g+"/"+res+":"+v] = true
				}
			}
		}
	}
	var missing []string
	for _, gr := range []string{
		"apps/statefulsets", "apps/deployments", "batch/jobs", "policy/poddisruptionbudgets", "networking.k8s.io/networkpolicies",
		"monitoring.coreos.com/servicemonitors", "/configmaps", "/secrets", "/services", "/serviceaccounts",
	} {
		for _, v := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
			if !can[gr+":"+v] {
				missing = append(missing, gr+":"+v)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("ClusterRole %s misses: %v", role.Name, missing)
	}
}
