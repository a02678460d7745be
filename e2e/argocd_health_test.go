//go:build e2e

package e2e_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/redis-ha/redis-ha/examples/gitops"
)

// checkArgoHealth runs the Argo CD health check we ship (examples/argocd/argocd-cm.yaml) on
// the live object, as Argo CD's controller would, and wants the given health status: the
// fixtures of the Lua tests are only as good as their likeness to what Crossplane writes.
func (e *env) checkArgoHealth(ctx context.Context, t *testing.T, obj, namespace, want string) {
	t.Helper()
	scripts, err := gitops.ShippedHealthScripts(e.root)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(e.kubectl(ctx, t, nsArgs(namespace, "get", obj, "-o", "json")...))); err != nil {
		t.Fatalf("decode %s: %v", obj, err)
	}
	key := gitops.ConfigMapHealthKey(u.GroupVersionKind().Group, u.GetKind())
	script, ok := scripts[key]
	if !ok {
		t.Fatalf("argocd-cm has no %s for the live %s", key, obj)
	}
	got, err := gitops.RunHealthScript(script, u)
	if err != nil {
		t.Fatalf("Argo CD health of the live %s: %v", obj, err)
	}
	t.Logf("Argo CD health of the live %s: %s (%s)", obj, got.Status, got.Message)
	if got.Status != want {
		t.Errorf("Argo CD health of the live %s is %s (%s), want %s", obj, got.Status, got.Message, want)
	}
}
