package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/function"
)

// The function and the tunnel share only the tunnel's flags. TestComposedArgsParse keeps
// that contract: for every example RedisHA, the tunnel container the function composes
// (its args, and its environment with Secret references standing in as placeholders) is
// accepted by this command's own flag parsing (and, without TLS, whose certificates live
// in the pod, by tunnel.Config validation), in the mode the example asks for.
func TestComposedArgsParse(t *testing.T) {
	examples, err := filepath.Glob("../../../examples/redisha*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples/redisha*.yaml found: %v", err)
	}
	for _, path := range examples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			xr := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &xr.Object); err != nil {
				t.Fatal(err)
			}
			if xr.GetKind() != "RedisHA" {
				t.Skipf("%s is a %s, not a RedisHA", path, xr.GetKind())
			}
			out, err := function.Render(context.Background(), function.RenderInput{XR: xr})
			if err != nil {
				t.Fatalf("the function rejected %s: %v", path, err)
			}
			var tunnelDeployment *appsv1.Deployment
			for _, u := range out.Composed {
				if u.GetKind() == "Deployment" && strings.HasSuffix(u.GetName(), "-tunnel") {
					tunnelDeployment = &appsv1.Deployment{}
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, tunnelDeployment); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tunnelDeployment == nil {
				t.Fatalf("no tunnel Deployment composed for %s", path)
			}
			ctr := tunnelDeployment.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range ctr.Env {
				env[e.Name] = e.Value
				if e.ValueFrom != nil {
					env[e.Name] = "from-a-secret"
				}
			}
			readFile := func(string) ([]byte, error) { return []byte("from-a-file"), nil }
			o, err := parseFlags(ctr.Args, func(k string) string { return env[k] }, readFile)
			if err != nil {
				t.Fatalf("composed tunnel args %q: %v", ctr.Args, err)
			}
			mode, _, _ := unstructured.NestedString(xr.Object, "spec", "mode")
			if got := len(o.Cluster) > 0; got != (mode == "cluster") {
				t.Errorf("spec.mode %q composed a tunnel in cluster mode = %v: %q", mode, got, ctr.Args)
			}
			if o.TLSCertFile != "" {
				return // building the Config loads the certificates, which live in the pod
			}
			if _, err := o.tunnelConfig(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatalf("composed tunnel args %q: %v", ctr.Args, err)
			}
		})
	}
}
