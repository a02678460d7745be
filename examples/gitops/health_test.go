package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository root seen from this package's directory (go test runs there).
const repoRoot = "../.."

// healthDir holds the Lua sources, the case list and the status fixtures.
const healthDir = repoRoot + "/examples/argocd/health"

// healthStatus is what an Argo CD health script returns.
type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// validHealthStatuses are the statuses Argo CD accepts; anything else becomes Unknown.
var validHealthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// runHealthLua runs a health script the way Argo CD's controller does (util/lua in argo-cd):
// a fresh state without the standard libraries except base, table and package (custom
// scripts get no string or os.execute), the object converted value by value into a Lua table
// bound to the global obj, a one-second deadline, and the returned table read back as
// {status, message}, with an unknown status reported as Unknown. Argo CD also loads a
// read-only os (time, date); our scripts do not use it, so it is left out and any use fails.
func runHealthLua(t *testing.T, script string, obj *unstructured.Unstructured) (healthStatus, error) {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return healthStatus{}, fmt.Errorf("opening Lua library %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return healthStatus{}, fmt.Errorf("running health script: %w", err)
	}
	ret := l.Get(-1)
	tbl, ok := ret.(*lua.LTable)
	if !ok {
		return healthStatus{}, fmt.Errorf("health script returned a %s, Argo CD expects a table", ret.Type())
	}
	var hs healthStatus
	if s, ok := tbl.RawGetString("status").(lua.LString); ok {
		hs.Status = string(s)
	}
	switch m := tbl.RawGetString("message").(type) {
	case lua.LString:
		hs.Message = string(m)
	case *lua.LNilType:
	default:
		return healthStatus{}, fmt.Errorf("health script returned a %s message, Argo CD expects a string", m.Type())
	}
	if !slices.Contains(validHealthStatuses, hs.Status) {
		return healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// toLua converts a decoded Kubernetes object the way Argo CD does: maps become hash tables,
// lists become arrays, numbers LNumber, and anything unexpected nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch t := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(t)
	case string:
		return lua.LString(t)
	case json.Number:
		return lua.LString(t)
	case int64:
		return lua.LNumber(t)
	case int:
		return lua.LNumber(t)
	case float64:
		return lua.LNumber(t)
	case []any:
		a := l.CreateTable(len(t), 0)
		for _, e := range t {
			a.Append(toLua(l, e))
		}
		return a
	case map[string]any:
		m := l.CreateTable(0, len(t))
		for k, e := range t {
			m.RawSetH(lua.LString(k), toLua(l, e))
		}
		return m
	default:
		return lua.LNil
	}
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

// shippedHealthScripts reads the checks from the generated argocd-cm snippet, so the tests
// exercise exactly what users install, keyed like Argo CD looks them up.
func shippedHealthScripts(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ArgoCDConfigMapPath))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatalf("%s: %v", ArgoCDConfigMapPath, err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		t.Fatalf("%s is %s %s/%s, want ConfigMap argocd/argocd-cm", ArgoCDConfigMapPath, cm.Kind, cm.Namespace, cm.Name)
	}
	return cm.Data
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
