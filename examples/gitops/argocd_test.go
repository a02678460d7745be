package gitops

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

const argocdDir = "examples/argocd"

// readManifests decodes every YAML document of a file strictly (duplicate keys fail).
func readManifests(t *testing.T, rel string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%s document %d: %v", rel, i+1, err)
		}
		if string(j) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("%s document %d: %v", rel, i+1, err)
		}
		if u.GetName() == "" {
			t.Fatalf("%s document %d: %s has no metadata.name", rel, i+1, u.GetKind())
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no object", rel)
	}
	return out
}

// readOne reads a file that must hold exactly one object of the given kind.
func readOne(t *testing.T, rel, kind string) *unstructured.Unstructured {
	t.Helper()
	objs := readManifests(t, rel)
	if len(objs) != 1 || objs[0].GetKind() != kind {
		t.Fatalf("%s must hold exactly one %s", rel, kind)
	}
	return objs[0]
}

// yamlFilesIn lists the .yaml files directly in dir (relative to the repository root), as
// Argo CD's plain directory source reads them (no recursion).
func yamlFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			files = append(files, path.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s has no manifests", dir)
	}
	return files
}

// syncWave is the object's argocd.argoproj.io/sync-wave; Argo CD's default is 0.
func syncWave(t *testing.T, u *unstructured.Unstructured) int {
	t.Helper()
	s, ok := u.GetAnnotations()["argocd.argoproj.io/sync-wave"]
	if !ok {
		return 0
	}
	w, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s %s: sync-wave %q is not an integer", u.GetKind(), u.GetName(), s)
	}
	return w
}

func str(t *testing.T, u *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	s, ok, err := unstructured.NestedString(u.Object, fields...)
	if err != nil || !ok || s == "" {
		t.Fatalf("%s %s: %s is not set", u.GetKind(), u.GetName(), strings.Join(fields, "."))
	}
	return s
}

func strs(t *testing.T, u *unstructured.Unstructured, fields ...string) []string {
	t.Helper()
	s, _, err := unstructured.NestedStringSlice(u.Object, fields...)
	if err != nil {
		t.Fatalf("%s %s: %s: %v", u.GetKind(), u.GetName(), strings.Join(fields, "."), err)
	}
	return s
}

func TestEveryArgoCDManifestParses(t *testing.T) {
	err := filepath.WalkDir(filepath.Join(repoRoot, argocdDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".yaml") || strings.Contains(p, "/health/") {
			return nil
		}
		rel, _ := filepath.Rel(repoRoot, p)
		for _, u := range readManifests(t, rel) {
			if u.GetAPIVersion() == "" || u.GetKind() == "" {
				t.Errorf("%s: object without apiVersion and kind", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAppOfAppsOrdersPlatformBeforeClaims(t *testing.T) {
	root := readOne(t, argocdDir+"/root.yaml", "Application")
	appsDir := str(t, root, "spec", "source", "path")
	var platform, claims *unstructured.Unstructured
	for _, f := range yamlFilesIn(t, appsDir) {
		for _, u := range readManifests(t, f) {
			switch u.GetKind() {
			case "Application":
				platform = u
			case "ApplicationSet":
				claims = u
			default:
				t.Errorf("%s: unexpected %s in the app-of-apps folder", f, u.GetKind())
			}
		}
	}
	if platform == nil || claims == nil {
		t.Fatalf("%s must hold the platform Application and the claims ApplicationSet", appsDir)
	}
	if pw, cw := syncWave(t, platform), syncWave(t, claims); pw >= cw {
		t.Errorf("platform Application wave %d must come before the claims ApplicationSet wave %d", pw, cw)
	}
	// Waves only wait on an Application when argocd-cm can assess Application health.
	if _, ok := shippedHealthScripts(t)[ConfigMapHealthKey("argoproj.io", "Application")]; !ok {
		t.Error("argocd-cm lacks the argoproj.io_Application health check the wave ordering relies on")
	}
}

func TestPlatformInstallsFunctionThenConfiguration(t *testing.T) {
	platform := readOne(t, argocdDir+"/apps/platform.yaml", "Application")
	sources, _, err := unstructured.NestedSlice(platform.Object, "spec", "sources")
	if err != nil || len(sources) == 0 {
		t.Fatalf("platform Application has no spec.sources: %v", err)
	}
	var paths []string
	revisions := map[string]bool{}
	for _, s := range sources {
		src := &unstructured.Unstructured{Object: s.(map[string]any)}
		paths = append(paths, str(t, src, "path"))
		revisions[str(t, src, "targetRevision")] = true
	}
	if !slices.Contains(paths, "package/rbac") {
		t.Errorf("platform sources %v must include package/rbac: the Configuration cannot carry the ClusterRole", paths)
	}

	var function, configuration *unstructured.Unstructured
	for _, p := range paths {
		for _, f := range yamlFilesIn(t, p) {
			for _, u := range readManifests(t, f) {
				switch u.GroupVersionKind().GroupKind().String() {
				case "Function.pkg.crossplane.io":
					function = u
				case "Configuration.pkg.crossplane.io":
					configuration = u
				}
			}
		}
	}
	if function == nil || configuration == nil {
		t.Fatalf("platform sources %v must hold a pkg.crossplane.io Function and Configuration", paths)
	}
	if fw, cw := syncWave(t, function), syncWave(t, configuration); fw >= cw {
		t.Errorf("Function wave %d must come before Configuration wave %d", fw, cw)
	}

	// Both packages at one release, which is also the Git revision the Application reads.
	fnRepo, fnTag, _ := strings.Cut(str(t, function, "spec", "package"), ":")
	cfgRepo, cfgTag, _ := strings.Cut(str(t, configuration, "spec", "package"), ":")
	if diff := cmp.Diff([]string{"xpkg.crossplane.io/redis-ha/function-redis-ha", "xpkg.crossplane.io/redis-ha/configuration-redis-ha"}, []string{fnRepo, cfgRepo}); diff != "" {
		t.Errorf("package repositories (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(fnTag) || fnTag != cfgTag {
		t.Errorf("Function tag %q and Configuration tag %q must be the same release vX.Y.Z", fnTag, cfgTag)
	}
	if len(revisions) != 1 || !revisions[fnTag] {
		t.Errorf("platform sources read revisions %v, want only the package release %s", revisions, fnTag)
	}

	// The Compositions call the function by this name, and the Configuration depends on it.
	for _, c := range []string{"compositions/redisha.yaml", "compositions/xredisha.yaml"} {
		comp := readOne(t, c, "Composition")
		steps, _, _ := unstructured.NestedSlice(comp.Object, "spec", "pipeline")
		for _, s := range steps {
			ref, _, _ := unstructured.NestedString(s.(map[string]any), "functionRef", "name")
			if ref != function.GetName() {
				t.Errorf("%s calls function %q, the Function installed is %q", c, ref, function.GetName())
			}
		}
	}
	meta := readOne(t, "package/configuration/crossplane.yaml", "Configuration")
	deps, _, _ := unstructured.NestedSlice(meta.Object, "spec", "dependsOn")
	var depPackages []string
	for _, d := range deps {
		p, _, _ := unstructured.NestedString(d.(map[string]any), "package")
		depPackages = append(depPackages, p)
	}
	if !slices.Contains(depPackages, fnRepo) {
		t.Errorf("the Configuration depends on %v, not on the Function installed (%s)", depPackages, fnRepo)
	}
}

// gitDirectoryParams are the parameters Argo CD's git directory generator gives a matched
// directory with goTemplate: true.
func gitDirectoryParams(dir string) map[string]any {
	return map[string]any{"path": map[string]any{
		"path":               dir,
		"basename":           path.Base(dir),
		"basenameNormalized": strings.ReplaceAll(path.Base(dir), "_", "-"),
		"segments":           strings.Split(dir, "/"),
	}}
}

// renderGoTemplates renders every string in v as a Go template with params, the way the
// ApplicationSet controller renders its template with goTemplate and missingkey=error.
func renderGoTemplates(t *testing.T, v any, params map[string]any) any {
	t.Helper()
	switch x := v.(type) {
	case string:
		tpl, err := template.New("").Option("missingkey=error").Parse(x)
		if err != nil {
			t.Fatalf("template %q: %v", x, err)
		}
		var b bytes.Buffer
		if err := tpl.Execute(&b, params); err != nil {
			t.Fatalf("template %q: %v", x, err)
		}
		return b.String()
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = renderGoTemplates(t, e, params)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderGoTemplates(t, e, params)
		}
		return out
	default:
		return v
	}
}

func TestClaimsApplicationSetGeneratesValidTeamApplications(t *testing.T) {
	set := readOne(t, argocdDir+"/apps/claims.yaml", "ApplicationSet")
	if goTpl, _, _ := unstructured.NestedBool(set.Object, "spec", "goTemplate"); !goTpl {
		t.Fatal("the ApplicationSet must use goTemplate: true (its template uses Go template syntax)")
	}
	if opts := strs(t, set, "spec", "goTemplateOptions"); !slices.Contains(opts, "missingkey=error") {
		t.Errorf("goTemplateOptions %v: add missingkey=error so a typo fails instead of naming an app \"redis-\"", opts)
	}
	generators, _, _ := unstructured.NestedSlice(set.Object, "spec", "generators")
	if len(generators) != 1 {
		t.Fatalf("want one git generator, got %d generators", len(generators))
	}
	dirs, _, _ := unstructured.NestedSlice(generators[0].(map[string]any), "git", "directories")
	if len(dirs) != 1 {
		t.Fatalf("want one directories entry, got %v", dirs)
	}
	glob := dirs[0].(map[string]any)["path"].(string)
	matches, err := filepath.Glob(filepath.Join(repoRoot, glob))
	if err != nil || len(matches) == 0 {
		t.Fatalf("generator path %q matches no example team folder (%v)", glob, err)
	}
	tmpl, _, _ := unstructured.NestedMap(set.Object, "spec", "template")
	validators := redisHAValidators(t)

	for _, m := range matches {
		dir, _ := filepath.Rel(repoRoot, m)
		dir = filepath.ToSlash(dir)
		t.Run(dir, func(t *testing.T) {
			app := &unstructured.Unstructured{Object: renderGoTemplates(t, tmpl, gitDirectoryParams(dir)).(map[string]any)}
			team := strings.Split(dir, "/")[3]
			if errs := validation.IsDNS1123Label(app.GetName()); len(errs) > 0 {
				t.Errorf("generated Application name %q: %v", app.GetName(), errs)
			}
			if got := str(t, app, "spec", "source", "path"); got != dir {
				t.Errorf("source path %q, want the matched folder %q", got, dir)
			}
			namespace := str(t, app, "spec", "destination", "namespace")
			if namespace != team {
				t.Errorf("destination namespace %q, want the team %q", namespace, team)
			}
			opts := strs(t, app, "spec", "syncPolicy", "syncOptions")
			for _, want := range []string{"SkipDryRunOnMissingResource=true", "CreateNamespace=true"} {
				if !slices.Contains(opts, want) {
					t.Errorf("syncOptions %v lack %s", opts, want)
				}
			}
			if prune, _, _ := unstructured.NestedBool(app.Object, "spec", "syncPolicy", "automated", "prune"); prune {
				t.Error("automated prune would delete a team's Redis (and its data) when a file is removed from Git")
			}
			// Every manifest in the team folder is a redis-ha object the API server accepts, in
			// the namespace the Application syncs to.
			for _, f := range yamlFilesIn(t, dir) {
				for _, u := range readManifests(t, f) {
					if ns := u.GetNamespace(); ns != "" && ns != namespace {
						t.Errorf("%s: namespace %q, but the Application syncs to %q", f, ns, namespace)
					}
					if _, errs := validateRedisHAObject(t, validators, u.Object); len(errs) > 0 {
						t.Errorf("%s is rejected by the XRD schema: %v", f, errs.ToAggregate())
					}
				}
			}
		})
	}
}
