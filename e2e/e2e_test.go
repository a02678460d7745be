//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/e2e/controlplane"
)

// env is the cluster the test runs against and what runs next to it.
type env struct {
	k    controlplane.Kubectl
	cp   *controlplane.ControlPlane // nil against a real cluster
	xp   *controlplane.Crossplane   // nil against a real cluster
	root string                     // repository root: package/, compositions/, examples/
}

// TestEndToEnd brings up the control plane (or uses E2E_KUBECONFIG), then runs the steps in
// order; later steps build on earlier ones, so a failed step stops the rest.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if os.Getenv(inNetnsEnv) != "" {
		t.Log("running in a private network namespace (unshare --net)")
	}
	e := setUp(ctx, t)

	steps := []struct {
		name string
		run  func(context.Context, *testing.T, *env)
	}{
		{"control plane runs workloads", testWorkloads},
		{"crossplane core starts", testStartCrossplane},
		{"crossplane composes through a local mTLS function", testStandInComposition},
		{"redis-ha", testRedisHA},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(ctx, t, e) }) {
			t.Fatalf("step %q failed; the later steps build on it", s.name)
		}
	}
}

func setUp(ctx context.Context, t *testing.T) *env {
	t.Helper()
	root, err := filepath.Abs(envOr("E2E_REPO_ROOT", ".."))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{root: root}
	if kc := os.Getenv("E2E_KUBECONFIG"); kc != "" {
		t.Logf("using the cluster of E2E_KUBECONFIG=%s; Crossplane and function-redis-ha must be installed there", kc)
		e.k = controlplane.Kubectl{Bin: envOr("E2E_KUBECTL", "kubectl"), Kubeconfig: kc}
		return e
	}
	bins, err := controlplane.BinariesFromEnv()
	if err != nil {
		requirement(t, "control plane binaries: %v", err)
	}
	started := time.Now()
	cp, err := controlplane.Start(ctx, bins, controlplane.Options{Nodes: 4, Log: t.Logf})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	if os.Getenv("E2E_KEEP") != "" {
		cp.KeepDir()
		t.Logf("E2E_KEEP is set: logs and data stay in %s", cp.Dir)
	}
	t.Cleanup(cp.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("component logs:\n%s", cp.Logs(60))
		}
	})
	e.cp, e.k = cp, cp.Kubectl
	t.Logf("control plane up in %s; kubeconfig %s", time.Since(started).Round(time.Millisecond), cp.Kubeconfig)
	out := e.kubectl(ctx, t, "get", "nodes", "-o", "wide")
	t.Logf("nodes:\n%s", out)

	return e
}

// testStartCrossplane runs `crossplane core init` and `core start` against the local control
// plane; the later steps need it.
func testStartCrossplane(ctx context.Context, t *testing.T, e *env) {
	if e.cp == nil {
		t.Skip("real cluster: Crossplane is expected to be installed there")
	}
	xpBin := envOr("E2E_CROSSPLANE", filepath.Join(os.Getenv("HOME"), ".cache/redis-ha/bin/crossplane-core-v2.4.0"))
	if _, err := os.Stat(xpBin); err != nil {
		requirement(t, "Crossplane core binary (E2E_CROSSPLANE): %v; build it with e2e/tools.sh crossplane-core", err)
	}
	started := time.Now()
	xp, err := e.cp.StartCrossplane(ctx, xpBin, os.Getenv("E2E_CROSSPLANE_CRDS"))
	if err != nil {
		t.Fatalf("start crossplane: %v", err)
	}
	e.xp = xp
	t.Logf("crossplane core init + start took %s", time.Since(started).Round(time.Millisecond))
}

// needCrossplane skips a step that needs the local Crossplane when it could not start.
func (e *env) needCrossplane(t *testing.T) {
	t.Helper()
	if e.cp != nil && e.xp == nil {
		t.Skip("Crossplane is not running (see the step crossplane core starts)")
	}
}

// testWorkloads proves the controllers, scheduler and KWOK work together: a Deployment and a
// StatefulSet with a volume claim become ready, and deleting them garbage-collects their pods.
func testWorkloads(ctx context.Context, t *testing.T, e *env) {
	if e.cp == nil {
		t.Skip("real cluster: nothing to prove about the local control plane")
	}
	ns := "e2e-workloads"
	e.apply(ctx, t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.invalid/never-pulled:1}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: %[1]s}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: db}}
      containers: [{name: db, image: registry.invalid/never-pulled:1}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`, ns))
	e.kubectl(ctx, t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=90s")
	e.kubectl(ctx, t, "-n", ns, "rollout", "status", "statefulset/db", "--timeout=90s")
	t.Logf("workloads:\n%s", e.kubectl(ctx, t, "-n", ns, "get", "deployments,statefulsets,pods,pvc", "-o", "wide"))
	ready := e.kubectl(ctx, t, "-n", ns, "get", "statefulset/db", "deployment/web", "-o", "jsonpath={.items[*].status.readyReplicas}")
	if ready != "2 2" {
		t.Fatalf("ready replicas of statefulset/db and deployment/web = %q, want \"2 2\"", ready)
	}
	e.kubectl(ctx, t, "-n", ns, "delete", "deployment/web", "statefulset/db", "--wait=true", "--timeout=60s")
	e.waitFor(ctx, t, "pods of deleted workloads garbage-collected", 60*time.Second, func(ctx context.Context) (bool, error) {
		out, err := e.k.Run(ctx, nil, "-n", ns, "get", "pods,replicasets", "-o", "name")
		if err != nil {
			return false, err
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			return false, fmt.Errorf("still there: %s", strings.ReplaceAll(s, "\n", ", "))
		}
		return true, nil
	})
}

// testStandInComposition proves the whole Crossplane path on our own: an XRD, a Pipeline
// Composition, a function served as a local process over mTLS with a certificate from
// Crossplane's root CA, a composed resource with the XR as controller, XR status from the
// function, and garbage collection on delete. It uses e2e/standin, not function-redis-ha, so
// a failure here is the harness's, not the product's.
func testStandInComposition(ctx context.Context, t *testing.T, e *env) {
	if e.cp == nil {
		t.Skip("real cluster: the stand-in function only runs next to a local Crossplane")
	}
	e.needCrossplane(t)
	// The stand-in belongs to the harness, so it is looked up next to this package, not below
	// E2E_REPO_ROOT.
	bin, err := filepath.Abs(envOr("E2E_STANDIN_FUNCTION", "../_output/bin/e2e-standin-function"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		requirement(t, "stand-in function (E2E_STANDIN_FUNCTION): %v; `make e2e` builds it from e2e/standin", err)
	}
	endpoint := e.startFunction(ctx, t, "e2e-standin", bin, []string{"--address={address}", "--tls-certs-dir={certs}", "--metrics-address="})
	if err := e.xp.RegisterFunction(ctx, "e2e-standin", endpoint); err != nil {
		t.Fatal(err)
	}
	e.apply(ctx, t, `apiVersion: apiextensions.crossplane.io/v2
kind: CompositeResourceDefinition
metadata: {name: echoes.e2e.redis-ha.io}
spec:
  group: e2e.redis-ha.io
  names: {kind: Echo, plural: echoes}
  scope: Namespaced
  defaultCompositionRef: {name: echoes.e2e.redis-ha.io}
  versions:
  - name: v1alpha1
    served: true
    referenceable: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              message: {type: string, minLength: 1}
            required: [message]
          status:
            type: object
            properties:
              echo: {type: string}
`)
	e.kubectl(ctx, t, "wait", "--for=condition=Established", "xrd/echoes.e2e.redis-ha.io", "--timeout=60s")
	e.apply(ctx, t, `apiVersion: apiextensions.crossplane.io/v1
kind: Composition
metadata: {name: echoes.e2e.redis-ha.io}
spec:
  compositeTypeRef: {apiVersion: e2e.redis-ha.io/v1alpha1, kind: Echo}
  mode: Pipeline
  pipeline:
  - step: echo
    functionRef: {name: e2e-standin}
---
apiVersion: v1
kind: Namespace
metadata: {name: e2e-echo}
`)
	e.kubectl(ctx, t, "wait", "--for=condition=Established", "crd/echoes.e2e.redis-ha.io", "--timeout=60s")
	e.apply(ctx, t, "apiVersion: e2e.redis-ha.io/v1alpha1\nkind: Echo\nmetadata: {name: hello, namespace: e2e-echo}\nspec: {message: hi there}\n")
	t.Cleanup(func() {
		if t.Failed() {
			e.dump(t, "echo.e2e.redis-ha.io", "e2e-echo")
		}
	})
	e.waitReady(ctx, t, "echo/hello", "e2e-echo", 90*time.Second)
	if got := e.kubectl(ctx, t, "-n", "e2e-echo", "get", "echo/hello", "-o", "jsonpath={.status.echo}"); got != "hi there" {
		t.Errorf("status.echo = %q, want the function to have written %q", got, "hi there")
	}
	refs := e.composedRefs(ctx, t, "echo/hello", "e2e-echo")
	if len(refs) != 1 || refs[0].Kind != "ConfigMap" {
		t.Fatalf("composed resources = %+v, want exactly one ConfigMap", refs)
	}
	e.checkComposed(ctx, t, "echo/hello", "e2e-echo", refs)
	if got := e.kubectl(ctx, t, "-n", "e2e-echo", "get", "configmap", refs[0].Name, "-o", "jsonpath={.data.message}"); got != "hi there" {
		t.Errorf("composed ConfigMap data.message = %q, want %q", got, "hi there")
	}
	e.kubectl(ctx, t, "-n", "e2e-echo", "delete", "echo/hello", "--wait=true", "--timeout=60s")
	e.waitGone(ctx, t, refs, 60*time.Second)
}

// startFunction runs a composition function as a local process serving mTLS on a free loopback
// port with a certificate from Crossplane's root CA, and returns the gRPC target Crossplane
// should dial. In args, {address} and {certs} are replaced by the listen address and the
// certificates directory.
func (e *env) startFunction(ctx context.Context, t *testing.T, name, bin string, args []string) string {
	t.Helper()
	certs := filepath.Join(e.cp.Dir, name+"-tls")
	if err := e.xp.WriteFunctionCertificates(certs); err != nil {
		t.Fatal(err)
	}
	port, err := controlplane.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	address := "127.0.0.1:" + fmt.Sprint(port)
	expanded := make([]string, len(args))
	for i, a := range args {
		expanded[i] = strings.NewReplacer("{address}", address, "{certs}", certs).Replace(a)
	}
	if _, err := e.cp.StartProcess(name, bin, expanded, nil); err != nil {
		t.Fatal(err)
	}
	e.waitFor(ctx, t, name+" listening on "+address, 30*time.Second, func(ctx context.Context) (bool, error) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", address)
		if err != nil {
			return false, err
		}
		return true, c.Close()
	})
	return "dns:///" + address
}

// ref is one entry of an XR's resourceRefs.
type ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
}

func (r ref) resource() string {
	group := ""
	if i := strings.Index(r.APIVersion, "/"); i > 0 {
		group = "." + r.APIVersion[:i]
	}
	return strings.ToLower(r.Kind) + group + "/" + r.Name
}

// composedRefs reads the resourceRefs of an XR: spec.crossplane.resourceRefs for Crossplane v2
// XRs, spec.resourceRefs for legacy cluster XRs. The namespace of a ref defaults to the XR's.
func (e *env) composedRefs(ctx context.Context, t *testing.T, xr, namespace string) []ref {
	t.Helper()
	var obj struct {
		Spec struct {
			ResourceRefs []ref `json:"resourceRefs"`
			Crossplane   struct {
				ResourceRefs []ref `json:"resourceRefs"`
			} `json:"crossplane"`
		} `json:"spec"`
	}
	e.getJSON(ctx, t, &obj, nsArgs(namespace, "get", xr, "-o", "json")...)
	refs := append(obj.Spec.Crossplane.ResourceRefs, obj.Spec.ResourceRefs...)
	for i := range refs {
		if refs[i].Namespace == "" {
			refs[i].Namespace = namespace
		}
	}
	return refs
}

// checkComposed asserts every composed resource exists, names the XR as its controller owner,
// carries the crossplane.io/composite label, and was written by server-side apply.
func (e *env) checkComposed(ctx context.Context, t *testing.T, xr, namespace string, refs []ref) {
	t.Helper()
	var owner struct {
		Metadata struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"metadata"`
	}
	e.getJSON(ctx, t, &owner, nsArgs(namespace, "get", xr, "-o", "json")...)
	for _, r := range refs {
		var obj struct {
			Metadata struct {
				Labels          map[string]string `json:"labels"`
				OwnerReferences []struct {
					UID        string `json:"uid"`
					Controller bool   `json:"controller"`
				} `json:"ownerReferences"`
				ManagedFields []struct {
					Manager   string `json:"manager"`
					Operation string `json:"operation"`
				} `json:"managedFields"`
			} `json:"metadata"`
		}
		// kubectl hides managedFields unless asked.
		e.getJSON(ctx, t, &obj, nsArgs(r.Namespace, "get", r.resource(), "--show-managed-fields", "-o", "json")...)
		owned := false
		for _, o := range obj.Metadata.OwnerReferences {
			owned = owned || (o.UID == owner.Metadata.UID && o.Controller)
		}
		if !owned {
			t.Errorf("%s: no controller ownerReference to %s (uid %s)", r.resource(), xr, owner.Metadata.UID)
		}
		if got := obj.Metadata.Labels["crossplane.io/composite"]; got != owner.Metadata.Name {
			t.Errorf("%s: label crossplane.io/composite = %q, want %q", r.resource(), got, owner.Metadata.Name)
		}
		applied := false
		for _, m := range obj.Metadata.ManagedFields {
			applied = applied || m.Operation == "Apply"
		}
		if !applied {
			t.Errorf("%s: no server-side Apply entry in managedFields %+v", r.resource(), obj.Metadata.ManagedFields)
		}
	}
}

// waitReady waits for an XR or claim to be Synced and Ready.
func (e *env) waitReady(ctx context.Context, t *testing.T, obj, namespace string, timeout time.Duration) {
	t.Helper()
	e.waitFor(ctx, t, obj+" Synced and Ready", timeout, func(ctx context.Context) (bool, error) {
		var o struct {
			Status struct {
				Conditions []struct {
					Type, Status, Reason, Message string
				} `json:"conditions"`
			} `json:"status"`
		}
		out, err := e.k.Run(ctx, nil, nsArgs(namespace, "get", obj, "-o", "json")...)
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal(out, &o); err != nil {
			return false, err
		}
		want := map[string]bool{"Synced": false, "Ready": false}
		var notYet []string
		for _, c := range o.Status.Conditions {
			if _, ok := want[c.Type]; !ok {
				continue
			}
			want[c.Type] = c.Status == "True"
			if c.Status != "True" {
				notYet = append(notYet, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
			}
		}
		if want["Synced"] && want["Ready"] {
			return true, nil
		}
		return false, fmt.Errorf("conditions: %v", notYet)
	})
}

// waitGone waits until none of refs exists any more.
func (e *env) waitGone(ctx context.Context, t *testing.T, refs []ref, timeout time.Duration) {
	t.Helper()
	e.waitFor(ctx, t, "composed resources garbage-collected", timeout, func(ctx context.Context) (bool, error) {
		var left []string
		for _, r := range refs {
			out, err := e.k.Run(ctx, nil, nsArgs(r.Namespace, "get", r.resource(), "--ignore-not-found", "-o", "name")...)
			if err != nil {
				return false, err
			}
			if strings.TrimSpace(string(out)) != "" {
				left = append(left, r.resource())
			}
		}
		if len(left) > 0 {
			return false, fmt.Errorf("still there: %s", strings.Join(left, ", "))
		}
		return true, nil
	})
}

// dump logs what a human needs to see when a step fails: the XRs, the composed resources'
// status and the events of the namespace.
func (e *env) dump(t *testing.T, kinds, namespace string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"get", kinds, "-A", "-o", "yaml"},
		{"get", "statefulsets,deployments,pods,services,configmaps,pvc,poddisruptionbudgets,networkpolicies", "-n", namespace, "-o", "wide"},
		{"get", "events", "-n", namespace, "--sort-by=.lastTimestamp"},
		{"get", "functions.pkg.crossplane.io,functionrevisions.pkg.crossplane.io", "-o", "yaml"},
	} {
		out, err := e.k.Run(ctx, nil, args...)
		t.Logf("$ kubectl %s\n%s%v", strings.Join(args, " "), out, errOrEmpty(err))
	}
	if e.xp != nil {
		t.Logf("crossplane log (last 60 lines):\n%s", e.xp.Logs(60))
	}
}

func (e *env) kubectl(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.k.Run(ctx, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func (e *env) apply(ctx context.Context, t *testing.T, manifests string) {
	t.Helper()
	if err := e.k.Apply(ctx, []byte(manifests)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) getJSON(ctx context.Context, t *testing.T, into any, args ...string) {
	t.Helper()
	out, err := e.k.Run(ctx, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatalf("decode output of kubectl %s: %v", strings.Join(args, " "), err)
	}
}

func (e *env) waitFor(ctx context.Context, t *testing.T, what string, timeout time.Duration, cond func(context.Context) (bool, error)) {
	t.Helper()
	started := time.Now()
	if err := e.cp.Poll(ctx, what, timeout, 500*time.Millisecond, cond); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s after %s", what, time.Since(started).Round(100*time.Millisecond))
}

// requirement fails the test under CI (CI=true), where every prerequisite must be there, and
// skips it elsewhere with the reason.
func requirement(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing (required under CI=true): "+format, args...)
	}
	t.Skipf("skipping, missing: "+format, args...)
}

func nsArgs(namespace string, args ...string) []string {
	if namespace == "" {
		return args
	}
	return append([]string{"-n", namespace}, args...)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "error: " + err.Error()
}
