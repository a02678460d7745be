package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository root seen from this package's directory (go test runs there).
const repoRoot = "../.."

// healthDir holds the Lua sources, the case list and the status fixtures.
const healthDir = repoRoot + "/examples/argocd/health"

// healthStatus is HealthStatus, under the name the tests and fixtures use.
type healthStatus = HealthStatus

// runHealthLua is RunHealthScript for tests.
func runHealthLua(t *testing.T, script string, obj *unstructured.Unstructured) (HealthStatus, error) {
	t.Helper()
	return RunHealthScript(script, obj)
}

// shippedHealthScripts is ShippedHealthScripts of this repository, or a failed test.
func shippedHealthScripts(t *testing.T) map[string]string {
	t.Helper()
	scripts, err := ShippedHealthScripts(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return scripts
}

// readObject decodes a YAML object as the API server would hand it to Argo CD (via JSON, so
// whole numbers are int64).
func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

// healthCases is examples/argocd/health/health_test.yaml, in Argo CD's own layout for
// built-in checks: a fixture path and the health it must produce.
type healthCases struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus healthStatus `json:"healthStatus"`
	} `json:"tests"`
}

func TestHealthChecksAgainstFixtures(t *testing.T) {
	scripts := shippedHealthScripts(t)
	b, err := os.ReadFile(filepath.Join(healthDir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases healthCases
	if err := yaml.UnmarshalStrict(b, &cases); err != nil {
		t.Fatalf("health_test.yaml: %v", err)
	}
	if len(cases.Tests) == 0 {
		t.Fatal("health_test.yaml lists no cases")
	}
	listed := map[string]bool{}
	for _, c := range cases.Tests {
		listed[filepath.Clean(c.InputPath)] = true
		t.Run(c.InputPath, func(t *testing.T) {
			obj := readObject(t, filepath.Join(healthDir, c.InputPath))
			key := ConfigMapHealthKey(obj.GroupVersionKind().Group, obj.GetKind())
			script, ok := scripts[key]
			if !ok {
				t.Fatalf("argocd-cm has no %s for %s", key, c.InputPath)
			}
			got, err := runHealthLua(t, script, obj)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.HealthStatus, got); diff != "" {
				t.Errorf("health of %s (-want +got):\n%s", c.InputPath, diff)
			}
		})
	}

	// Every fixture must be asserted: a status object dropped into testdata without a case
	// would otherwise look covered.
	fixtures, err := filepath.Glob(filepath.Join(healthDir, "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		rel, _ := filepath.Rel(healthDir, f)
		if !listed[rel] {
			t.Errorf("%s has no case in health_test.yaml: add one with the health it must produce", rel)
		}
	}
}

func TestEveryHealthCheckIsShippedAndCovered(t *testing.T) {
	scripts := shippedHealthScripts(t)
	b, err := os.ReadFile(filepath.Join(healthDir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases healthCases
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	covered := map[string]map[string]bool{} // key -> statuses asserted
	for _, c := range cases.Tests {
		obj := readObject(t, filepath.Join(healthDir, c.InputPath))
		key := ConfigMapHealthKey(obj.GroupVersionKind().Group, obj.GetKind())
		if covered[key] == nil {
			covered[key] = map[string]bool{}
		}
		covered[key][c.HealthStatus.Status] = true
	}
	for _, h := range HealthChecks() {
		if _, ok := scripts[h.ConfigMapKey()]; !ok {
			t.Errorf("argocd-cm lacks %s", h.ConfigMapKey())
		}
		want := []string{"Healthy", "Progressing", "Degraded"}
		for _, s := range want {
			if !covered[h.ConfigMapKey()][s] {
				t.Errorf("no fixture shows %s/%s as %s", h.Group, h.Kind, s)
			}
		}
	}
	if got := scripts["application.resourceTrackingMethod"]; got != "annotation" {
		t.Errorf("application.resourceTrackingMethod = %q, want annotation (Crossplane copies labels onto composed resources)", got)
	}
}

// TestHealthRunnerIsArgoCDsSandbox proves the runner is as strict as Argo CD, so a script
// passing here cannot rely on something Argo CD's sandbox lacks.
func TestHealthRunnerIsArgoCDsSandbox(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"kind": "RedisHA", "status": map[string]any{"n": int64(3)}}}
	cases := map[string]struct {
		reason  string
		script  string
		want    healthStatus
		wantErr string
	}{
		"StringLibrary": {
			reason:  "custom scripts run without the string library unless useOpenLibs is set",
			script:  `return { status = string.upper("healthy") }`,
			wantErr: "with key 'upper'",
		},
		"IOLibrary": {
			reason:  "no io library",
			script:  `io.write("x") return { status = "Healthy" }`,
			wantErr: "with key 'write'",
		},
		"NotATable": {
			reason:  "Argo CD rejects a non-table result",
			script:  `return "Healthy"`,
			wantErr: "expects a table",
		},
		"InvalidStatus": {
			reason: "Argo CD turns an unknown status into Unknown",
			script: `return { status = "Fine" }`,
			want:   healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"},
		},
		"ObjectIsConverted": {
			reason: "obj is the live object as a table; numbers are numbers",
			script: `return { status = "Healthy", message = obj.kind .. " " .. (obj.status.n + 1) }`,
			want:   healthStatus{Status: "Healthy", Message: "RedisHA 4"},
		},
		"RunawayScript": {
			reason:  "a script that never returns is stopped by the deadline",
			script:  `while true do end`,
			wantErr: "context deadline exceeded",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := runHealthLua(t, tc.script, obj)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
