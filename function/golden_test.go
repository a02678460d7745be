package function

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.yaml from the current output")

// testPassword is the generated password in tests, so golden files are stable.
const testPassword = "TESTPASSWORDTESTPASSWORD42"

func testPasswordGenerator() string { return testPassword }

// example is one XR the golden tests render, with what Crossplane would supply alongside.
type example struct {
	file     string
	xr       func(t *testing.T) *unstructured.Unstructured
	existing *unstructured.Unstructured
}

// examples are the repository's examples as the function receives them. A claim arrives as
// the XRedisHA Crossplane creates for it: cluster-scoped, generated name, claim labels.
func examples() map[string]example {
	return map[string]example{
		"redisha": {file: "redisha.yaml", xr: func(t *testing.T) *unstructured.Unstructured { return readExample(t, "redisha.yaml") }},
		"redisha-full": {
			file: "redisha-full.yaml",
			xr:   func(t *testing.T) *unstructured.Unstructured { return readExample(t, "redisha-full.yaml") },
			existing: &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"name": "orders-redis-password", "namespace": "shop"},
				"data":     map[string]any{"password": "c2VjcmV0IHdpdGggInF1b3RlcyIgYW5kIHNwYWNlcw=="}, // secret with "quotes" and spaces
			}},
		},
		"redisha-cluster": {file: "redisha-cluster.yaml", xr: func(t *testing.T) *unstructured.Unstructured { return readExample(t, "redisha-cluster.yaml") }},
		"redisha-claim": {file: "redisha-claim.yaml", xr: func(t *testing.T) *unstructured.Unstructured {
			return claimToXR(readExample(t, "redisha-claim.yaml"))
		}},
	}
}

func readExample(t testing.TB, file string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", file))
	if err != nil {
		t.Fatalf("cannot read example: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatalf("cannot parse example %s: %v", file, err)
	}
	return u
}

// claimToXR turns a RedisHAClaim into the XRedisHA Crossplane composes for it.
func claimToXR(claim *unstructured.Unstructured) *unstructured.Unstructured {
	xr := claim.DeepCopy()
	xr.SetKind("XRedisHA")
	xr.SetName(claim.GetName() + "-x7k2p")
	xr.SetNamespace("")
	xr.SetLabels(map[string]string{v1alpha1.LabelClaimName: claim.GetName(), v1alpha1.LabelClaimNamespace: claim.GetNamespace()})
	return xr
}

// TestGolden renders every example and compares the whole composed set with its golden file.
// Run `go test ./function -run TestGolden -update` after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	for name, ex := range examples() {
		t.Run(name, func(t *testing.T) {
			r, err := Render(context.Background(), RenderInput{
				XR:                     ex.xr(t),
				ExistingPasswordSecret: ex.existing,
				Options:                []Option{WithPasswordGenerator(testPasswordGenerator), WithDefaultTunnelImage("ghcr.io/redis-ha/redis-ha-tunnel:v0.0.0-test")},
			})
			if err != nil {
				t.Fatalf("Render(%s): %v", ex.file, err)
			}
			for rn, u := range r.Composed {
				if err := decodeStrict(u); err != nil {
					t.Errorf("composed resource %q does not decode strictly into its Kubernetes type: %v", rn, err)
				}
			}
			got := goldenYAML(t, r)
			path := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("cannot read golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render(%s): composed set differs from %s (-want +got):\n%s", ex.file, path, diff)
			}
		})
	}
}

// goldenYAML writes the desired XR and every composed resource, sorted by composition
// resource name, as one multi-document YAML file.
func goldenYAML(t *testing.T, r *Rendered) []byte {
	t.Helper()
	var b bytes.Buffer
	doc := func(header string, obj map[string]any) {
		y, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "---\n# %s\n%s", header, y)
	}
	doc(fmt.Sprintf("desired composite (ready: %t)", r.XRReady), r.XR.Object)
	for _, name := range slices.Sorted(maps.Keys(r.Composed)) {
		doc(fmt.Sprintf("composed resource %q (ready: %t)", name, r.Ready[name]), r.Composed[name].Object)
	}
	return b.Bytes()
}

// serviceMonitor mirrors the fields of monitoring.coreos.com/v1 ServiceMonitor the function
// writes, so the strict decode catches a misspelled field there too.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// decodeStrict decodes a composed object into its typed Kubernetes struct, failing on any
// field the type does not have, and rejects the zero-value fields typed structs would emit.
func decodeStrict(u *unstructured.Unstructured) error {
	var into any
	switch gvk := u.GroupVersionKind(); gvk.GroupVersion().String() + "/" + gvk.Kind {
	case "v1/Secret":
		into = &corev1.Secret{}
	case "v1/ConfigMap":
		into = &corev1.ConfigMap{}
	case "v1/Service":
		into = &corev1.Service{}
	case "v1/ServiceAccount":
		into = &corev1.ServiceAccount{}
	case "apps/v1/StatefulSet":
		into = &appsv1.StatefulSet{}
	case "apps/v1/Deployment":
		into = &appsv1.Deployment{}
	case "batch/v1/Job":
		into = &batchv1.Job{}
	case "policy/v1/PodDisruptionBudget":
		into = &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1/NetworkPolicy":
		into = &networkingv1.NetworkPolicy{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		into = &serviceMonitor{}
	default:
		return fmt.Errorf("no typed struct for %s", gvk)
	}
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(into); err != nil {
		return err
	}
	for _, zero := range []string{`"creationTimestamp"`, `"status":{}`, `:null`} {
		if strings.Contains(string(b), zero) {
			return fmt.Errorf("contains the zero-value field %s", zero)
		}
	}
	if u.GetName() == "" || u.GetNamespace() == "" {
		return fmt.Errorf("has no name or namespace")
	}
	return nil
}
