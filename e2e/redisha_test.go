//go:build e2e

package e2e_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Files of the other parts of the project the RedisHA steps need, relative to the repository
// root. While any is missing (the branches that add them have not been merged) the steps skip
// with the list, unless E2E_REQUIRE_ALL=true makes that a failure.
var redisHAFiles = []string{
	"package/rbac/clusterrole.yaml",
	"package/configuration/xrd-redisha.yaml",
	"package/configuration/xrd-xredisha.yaml",
	"compositions/redisha.yaml",
	"compositions/xredisha.yaml",
	"examples/redisha.yaml",
	"examples/redisha-claim.yaml",
}

// functionName is the functionRef of our Compositions.
const functionName = "function-redis-ha"

func testRedisHA(ctx context.Context, t *testing.T, e *env) {
	e.needCrossplane(t)
	var missing []string
	for _, f := range redisHAFiles {
		if _, err := os.Stat(filepath.Join(e.root, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("redis-ha API files not in %s yet: %s", e.root, strings.Join(missing, ", "))
		if os.Getenv("E2E_REQUIRE_ALL") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if e.xp != nil {
		bin := envOr("E2E_FUNCTION", filepath.Join(e.root, "_output/bin/function-redis-ha"))
		if _, err := os.Stat(bin); err != nil {
			requirement(t, "function binary (E2E_FUNCTION): %v; `make build` builds it", err)
		}
		// The function's flags: the SDK's listen address and mTLS directory, and its metrics
		// listener moved off :8080 (Crossplane and others want it). Override with
		// E2E_FUNCTION_ARGS (space-separated, same placeholders) if the flags differ.
		args := strings.Fields(envOr("E2E_FUNCTION_ARGS", "--address={address} --tls-certs-dir={certs}"))
		endpoint := e.startFunction(ctx, t, functionName, bin, args)
		if err := e.xp.RegisterFunction(ctx, functionName, endpoint); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.dump(t, "redishas.redisha.io,xredishas.redisha.io,redishaclaims.redisha.io", "default")
		}
	})
	install := []string{"package/rbac/clusterrole.yaml", "package/configuration/xrd-redisha.yaml", "package/configuration/xrd-xredisha.yaml", "compositions/redisha.yaml", "compositions/xredisha.yaml"}
	if e.cp == nil {
		// On a real cluster the Configuration package may own the XRDs and Compositions;
		// applying our copies over them would fight the package manager.
		if _, err := e.k.Run(ctx, nil, "get", "xrd/redishas.redisha.io"); err == nil {
			t.Log("real cluster: XRDs already installed (Configuration package?), not applying package/ and compositions/")
			install = nil
		}
	}
	for _, f := range install {
		e.applyFile(ctx, t, f)
	}
	e.kubectl(ctx, t, "wait", "--for=condition=Established", "xrd/redishas.redisha.io", "xrd/xredishas.redisha.io", "--timeout=90s")
	e.kubectl(ctx, t, "wait", "--for=condition=Offered", "xrd/xredishas.redisha.io", "--timeout=90s")
	e.kubectl(ctx, t, "wait", "--for=condition=Established", "crd/redishas.redisha.io", "crd/xredishas.redisha.io", "crd/redishaclaims.redisha.io", "--timeout=90s")

	steps := []struct {
		name string
		run  func(context.Context, *testing.T, *env)
	}{
		{"every example passes server-side dry-run", testExamplesDryRun},
		{"invalid specs are rejected with our CEL messages", testInvalidRejected},
		{"namespaced RedisHA becomes Ready, scales, keeps its password", testNamespacedRedisHA},
		{"claim becomes Ready and is garbage-collected on delete", testClaimLifecycle},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { s.run(ctx, t, e) })
	}
}

var apiVersionLine = regexp.MustCompile(`(?m)^apiVersion:\s*(\S+)\s*$`)

// exampleFiles lists the manifests the dry-run step applies: every YAML file directly in
// examples/, and every file further down (GitOps trees) whose documents are all redisha.io
// objects; testdata, templates and objects of APIs this cluster lacks (Argo CD, Backstage) are
// left out.
func exampleFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(path) != ".yaml" {
			return nil
		}
		if filepath.Dir(path) == dir {
			files = append(files, path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "${{") {
			return nil // a Backstage template skeleton, not a manifest yet
		}
		versions := apiVersionLine.FindAllStringSubmatch(string(b), -1)
		for _, v := range versions {
			if !strings.HasPrefix(v[1], "redisha.io/") {
				return nil
			}
		}
		if len(versions) > 0 {
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

var namespaceLine = regexp.MustCompile(`(?m)^\s+namespace:\s*([a-z0-9-]+)\s*$`)

// testExamplesDryRun applies every example with --dry-run=server: the API server runs defaulting,
// the schema and every CEL rule, and stores nothing.
func testExamplesDryRun(ctx context.Context, t *testing.T, e *env) {
	files, err := exampleFiles(filepath.Join(e.root, "examples"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s/examples (%v)", e.root, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Examples may live in namespaces of their own (e.g. shop); dry-run needs them to exist.
		for _, m := range namespaceLine.FindAllStringSubmatch(string(b), -1) {
			e.apply(ctx, t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+m[1]+"\n")
		}
		if _, err := e.k.Run(ctx, b, "apply", "--dry-run=server", "--server-side", "--field-manager=redis-ha-e2e", "-f", "-"); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		rel, _ := filepath.Rel(e.root, f)
		t.Logf("dry-run ok: %s", rel)
	}
}

// testInvalidRejected sends specs the XRDs must refuse, for both the namespaced XR and the
// claim, and checks the API server answers with our CEL message.
func testInvalidRejected(ctx context.Context, t *testing.T, e *env) {
	cases := map[string]struct {
		reason string
		spec   string
		want   string
	}{
		"EvenSentinels": {
			reason: "an even Sentinel count cannot form a strict majority",
			spec:   "sentinel: {replicas: 4}",
			want:   "spec.sentinel.replicas must be odd",
		},
		"CustomSizeWithoutResources": {
			reason: "size custom has nothing to size from",
			spec:   "size: custom",
			want:   "spec.size: custom needs spec.resources",
		},
		"TLSWithoutSecret": {
			reason: "TLS needs a certificate Secret",
			spec:   "tls: {enabled: true}",
			want:   "spec.tls.secretName is required when spec.tls.enabled",
		},
		"ConfigKeyNotAllowListed": {
			reason: "redis.conf keys that break replication or auth are managed by RedisHA",
			spec:   `redis: {config: {"replicaof": "evil 6379"}}`,
			want:   "spec.redis.config",
		},
		"FailoverNotLongerThanDownAfter": {
			reason: "a failover must be allowed to take longer than detecting the failure",
			spec:   "sentinel: {downAfter: 30s, failoverTimeout: 10s}",
			want:   "spec.sentinel.failoverTimeout must be longer than spec.sentinel.downAfter",
		},
	}
	for name, tc := range cases {
		for _, kind := range []string{"RedisHA", "RedisHAClaim"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				obj := fmt.Sprintf("apiVersion: redisha.io/v1alpha1\nkind: %s\nmetadata: {name: invalid, namespace: default}\nspec:\n  %s\n", kind, tc.spec)
				_, err := e.k.Run(ctx, []byte(obj), "apply", "--dry-run=server", "--server-side", "--field-manager=redis-ha-e2e", "-f", "-")
				if err == nil {
					t.Fatalf("%s: the API server accepted spec {%s}, want rejection with %q", tc.reason, tc.spec, tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: rejection does not contain %q:\n%v", tc.reason, tc.want, err)
				}
			})
		}
	}
}

// testNamespacedRedisHA applies the minimal example and follows it to Ready, scales the Redis
// StatefulSet through spec.redis.replicas, changes an unrelated setting and checks the
// generated password survives, then deletes it and checks garbage collection.
func testNamespacedRedisHA(ctx context.Context, t *testing.T, e *env) {
	e.applyFile(ctx, t, "examples/redisha.yaml")
	const xr, ns = "redisha.redisha.io/cache", "default"
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		_, _ = e.k.Run(dctx, nil, "-n", ns, "delete", xr, "--ignore-not-found", "--wait=true", "--timeout=80s")
	})
	e.checkArgoHealth(ctx, t, xr, ns, "Progressing")
	e.waitReady(ctx, t, xr, ns, 4*time.Minute)
	e.checkArgoHealth(ctx, t, xr, ns, "Healthy")
	refs := e.composedRefs(ctx, t, xr, ns)
	t.Logf("composed: %d resources", len(refs))
	e.checkComposed(ctx, t, xr, ns, refs)
	kinds := map[string]int{}
	for _, r := range refs {
		kinds[r.Kind]++
	}
	for kind, min := range map[string]int{"StatefulSet": 2, "Deployment": 1, "Service": 2, "Secret": 1, "PodDisruptionBudget": 3} {
		if kinds[kind] < min {
			t.Errorf("composed %d %s, want at least %d (all: %v)", kinds[kind], kind, min, kinds)
		}
	}
	e.checkStatus(ctx, t, xr, ns, componentCounts{Redis: 3, Sentinel: 3, Tunnel: 2})

	secret := e.kubectl(ctx, t, "-n", ns, "get", xr, "-o", "jsonpath={.status.connectionSecret}")
	if secret == "" {
		secret = "cache-redis"
	}
	password := e.secretValue(ctx, t, ns, secret, "password")
	if password == "" {
		t.Fatalf("connection Secret %s has no password", secret)
	}

	redisSTS := e.redisStatefulSet(ctx, t, refs)
	e.kubectl(ctx, t, "-n", ns, "patch", xr, "--type=merge", "-p", `{"spec":{"redis":{"replicas":4}}}`)
	e.waitFor(ctx, t, redisSTS.Name+" scaled to 4 ready replicas", 3*time.Minute, func(ctx context.Context) (bool, error) {
		out, err := e.k.Run(ctx, nil, "-n", ns, "get", "statefulset", redisSTS.Name, "-o", "jsonpath={.spec.replicas} {.status.readyReplicas}")
		if err != nil {
			return false, err
		}
		if s := strings.TrimSpace(string(out)); s != "4 4" {
			return false, fmt.Errorf("spec.replicas, readyReplicas = %s", s)
		}
		return true, nil
	})

	e.kubectl(ctx, t, "-n", ns, "patch", xr, "--type=merge", "-p", `{"spec":{"redis":{"maxMemoryPolicy":"volatile-lru"}}}`)
	e.waitFor(ctx, t, "maxmemory-policy volatile-lru in a composed ConfigMap", 2*time.Minute, func(ctx context.Context) (bool, error) {
		for _, r := range e.composedRefs(ctx, t, xr, ns) {
			if r.Kind != "ConfigMap" {
				continue
			}
			out, err := e.k.Run(ctx, nil, "-n", r.Namespace, "get", "configmap", r.Name, "-o", "jsonpath={.data}")
			if err != nil {
				return false, err
			}
			if strings.Contains(string(out), "volatile-lru") {
				return true, nil
			}
		}
		return false, fmt.Errorf("no composed ConfigMap mentions volatile-lru yet")
	})
	e.waitReady(ctx, t, xr, ns, 2*time.Minute)
	e.checkStatus(ctx, t, xr, ns, componentCounts{Redis: 4, Sentinel: 3, Tunnel: 2})
	if got := e.secretValue(ctx, t, ns, secret, "password"); got != password {
		t.Errorf("password in %s changed after a spec edit; it must be generated once and kept", secret)
	}

	refs = e.composedRefs(ctx, t, xr, ns)
	e.kubectl(ctx, t, "-n", ns, "delete", xr, "--wait=true", "--timeout=120s")
	e.waitGone(ctx, t, refs, 2*time.Minute)
	e.waitPodsGone(ctx, t, ns, "cache-")
}

// testClaimLifecycle applies the claim example, waits for the claim and its cluster XR to be
// Ready, then deletes the claim and sees the XR and everything composed garbage-collected.
func testClaimLifecycle(ctx context.Context, t *testing.T, e *env) {
	e.applyFile(ctx, t, "examples/redisha-claim.yaml")
	const claim, ns = "redishaclaim.redisha.io/sessions", "default"
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		_, _ = e.k.Run(dctx, nil, "-n", ns, "delete", claim, "--ignore-not-found", "--wait=true", "--timeout=80s")
	})
	e.checkArgoHealth(ctx, t, claim, ns, "Progressing")
	e.waitReady(ctx, t, claim, ns, 4*time.Minute)
	e.checkArgoHealth(ctx, t, claim, ns, "Healthy")
	xrName := e.kubectl(ctx, t, "-n", ns, "get", claim, "-o", "jsonpath={.spec.resourceRef.name}")
	if xrName == "" {
		t.Fatal("claim has no spec.resourceRef to its XRedisHA")
	}
	xr := "xredisha.redisha.io/" + xrName
	e.waitReady(ctx, t, xr, "", time.Minute)
	e.checkArgoHealth(ctx, t, xr, "", "Healthy")
	refs := e.composedRefs(ctx, t, xr, "")
	for i := range refs {
		if refs[i].Namespace == "" && namespacedKind(refs[i].Kind) {
			// A legacy XR is cluster scoped; its namespaced resources go to the claim's namespace.
			refs[i].Namespace = ns
		}
	}
	if len(refs) == 0 {
		t.Fatal("the claim's XR composed nothing")
	}
	e.checkComposed(ctx, t, xr, "", refs)
	e.checkStatus(ctx, t, xr, "", componentCounts{Redis: 3, Sentinel: 3, Tunnel: 2})
	if got := e.kubectl(ctx, t, "-n", ns, "get", claim, "-o", "jsonpath={.status.endpoint}"); got == "" {
		t.Errorf("claim status.endpoint is empty after Ready; Crossplane copies it from the XR")
	}
	e.kubectl(ctx, t, "-n", ns, "delete", claim, "--wait=true", "--timeout=120s")
	e.waitFor(ctx, t, "XR "+xrName+" deleted with its claim", 2*time.Minute, func(ctx context.Context) (bool, error) {
		out, err := e.k.Run(ctx, nil, "get", xr, "--ignore-not-found", "-o", "name")
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(string(out)) != "" {
			return false, fmt.Errorf("%s still exists", xr)
		}
		return true, nil
	})
	e.waitGone(ctx, t, refs, 2*time.Minute)
	e.waitPodsGone(ctx, t, ns, "sessions-")
}

// waitPodsGone waits until no pod whose name starts with prefix is left in namespace: the pods
// of composed StatefulSets and Deployments go through the garbage collector, not Crossplane.
func (e *env) waitPodsGone(ctx context.Context, t *testing.T, namespace, prefix string) {
	t.Helper()
	e.waitFor(ctx, t, "pods "+prefix+"* garbage-collected", 2*time.Minute, func(ctx context.Context) (bool, error) {
		out, err := e.k.Run(ctx, nil, "-n", namespace, "get", "pods", "-o", "name")
		if err != nil {
			return false, err
		}
		var left []string
		for _, name := range strings.Fields(string(out)) {
			if strings.HasPrefix(strings.TrimPrefix(name, "pod/"), prefix) {
				left = append(left, name)
			}
		}
		if len(left) > 0 {
			return false, fmt.Errorf("still there: %s", strings.Join(left, ", "))
		}
		return true, nil
	})
}

// componentCounts are the pods each component should have, all of them ready.
type componentCounts struct{ Redis, Sentinel, Tunnel int32 }

// checkStatus waits for the XR status our function writes to report what a Ready XR must: an
// endpoint, the connection Secret's name and every component's pods ready. It waits rather than
// reads once because the status is only as fresh as the XR's last reconcile (see the circuit
// breaker note in README.md), and logs how long convergence took.
func (e *env) checkStatus(ctx context.Context, t *testing.T, xr, namespace string, want componentCounts) {
	t.Helper()
	type counts struct {
		Replicas int32 `json:"replicas"`
		Ready    int32 `json:"ready"`
	}
	wantMap := map[string]counts{
		"redis":    {Replicas: want.Redis, Ready: want.Redis},
		"sentinel": {Replicas: want.Sentinel, Ready: want.Sentinel},
		"tunnel":   {Replicas: want.Tunnel, Ready: want.Tunnel},
	}
	e.waitFor(ctx, t, xr+" status with endpoint and all pods ready", 150*time.Second, func(ctx context.Context) (bool, error) {
		var obj struct {
			Status struct {
				Endpoint         string `json:"endpoint"`
				ConnectionSecret string `json:"connectionSecret"`
				Redis            counts `json:"redis"`
				Sentinel         counts `json:"sentinel"`
				Tunnel           counts `json:"tunnel"`
			} `json:"status"`
		}
		out, err := e.k.Run(ctx, nil, nsArgs(namespace, "get", xr, "-o", "json")...)
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal(out, &obj); err != nil {
			return false, fmt.Errorf("decode %s: %w", xr, err)
		}
		st := obj.Status
		if st.Endpoint == "" || st.ConnectionSecret == "" {
			return false, fmt.Errorf("status.endpoint = %q, status.connectionSecret = %q; both must be set", st.Endpoint, st.ConnectionSecret)
		}
		got := map[string]counts{"redis": st.Redis, "sentinel": st.Sentinel, "tunnel": st.Tunnel}
		if diff := cmp.Diff(wantMap, got); diff != "" {
			return false, fmt.Errorf("status pod counts (-want +got):\n%s", diff)
		}
		return true, nil
	})
}

// redisStatefulSet picks the Redis (not Sentinel) StatefulSet among composed resources.
func (e *env) redisStatefulSet(ctx context.Context, t *testing.T, refs []ref) ref {
	t.Helper()
	var found []ref
	for _, r := range refs {
		if r.Kind == "StatefulSet" && !strings.Contains(r.Name, "sentinel") {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one non-Sentinel StatefulSet among composed resources, got %+v", found)
	}
	return found[0]
}

func (e *env) secretValue(ctx context.Context, t *testing.T, namespace, name, key string) string {
	t.Helper()
	enc := e.kubectl(ctx, t, "-n", namespace, "get", "secret", name, "-o", "jsonpath={.data."+key+"}")
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("secret %s/%s key %s: %v", namespace, name, key, err)
	}
	return string(b)
}

func (e *env) applyFile(ctx context.Context, t *testing.T, rel string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.k.Apply(ctx, b); err != nil {
		t.Fatalf("apply %s: %v", rel, err)
	}
}

func namespacedKind(kind string) bool {
	switch kind {
	case "ClusterRole", "ClusterRoleBinding", "Namespace", "PersistentVolume", "StorageClass":
		return false
	}
	return true
}
