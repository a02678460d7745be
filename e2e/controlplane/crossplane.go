package controlplane

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/redis-ha/redis-ha/internal/childproc"
)

// Names of the Secrets `crossplane core init` fills; the same names the Helm chart uses.
const (
	crossplaneNamespace        = "crossplane-system"
	crossplaneCASecret         = "crossplane-root-ca"
	crossplaneServerTLSSecret  = "crossplane-tls-server"
	crossplaneClientTLSSecret  = "crossplane-tls-client"
	crossplaneServiceAccount   = "crossplane"
	functionPackagePlaceholder = "xpkg.crossplane.io/redis-ha/e2e-never-pulled:v0.0.0"
)

// Crossplane is Crossplane core running out of cluster against a ControlPlane, with the
// Function package runtime set to External: Crossplane reads each Function's gRPC endpoint
// from its active FunctionRevision but never deploys it, so tests run functions as local
// processes (RegisterFunction).
type Crossplane struct {
	// RootCA is the CA `core init` created; Crossplane trusts function servers it signed and
	// presents a client certificate it signed.
	RootCA *CertificateAuthority

	cp      *ControlPlane
	process *childproc.Process
}

// StartCrossplane runs `crossplane core init` (installing Crossplane's CRDs from crdsDir and
// creating its TLS Secrets) and then `crossplane core start`, and waits until it is ready.
func (cp *ControlPlane) StartCrossplane(ctx context.Context, bin, crdsDir string) (*Crossplane, error) {
	if _, err := os.Stat(filepath.Join(crdsDir, "pkg.crossplane.io_functions.yaml")); err != nil {
		return nil, fmt.Errorf("crossplane CRDs dir %q: %w; it is cluster/crds of github.com/crossplane/crossplane/v2 in the module cache (e2e/tools.sh downloads it)", crdsDir, err)
	}
	if err := cp.Kubectl.Apply(ctx, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+crossplaneNamespace+"\n")); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", crossplaneNamespace, err)
	}
	env := []string{
		"KUBECONFIG=" + cp.Kubeconfig,
		"POD_NAMESPACE=" + crossplaneNamespace,
		"POD_SERVICE_ACCOUNT=" + crossplaneServiceAccount,
	}
	if err := cp.crossplaneInit(ctx, bin, crdsDir, env); err != nil {
		return nil, err
	}
	x := &Crossplane{cp: cp}
	clientDir := cp.path("crossplane-tls-client")
	if err := os.MkdirAll(clientDir, 0o700); err != nil {
		return nil, fmt.Errorf("make crossplane client certs dir: %w", err)
	}
	client, err := cp.secretData(ctx, crossplaneNamespace, crossplaneClientTLSSecret)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if len(client[k]) == 0 {
			return nil, fmt.Errorf("secret %s/%s has no %s after core init", crossplaneNamespace, crossplaneClientTLSSecret, k)
		}
		if err := writeFile(filepath.Join(clientDir, k), client[k]); err != nil {
			return nil, err
		}
	}
	root, err := cp.secretData(ctx, crossplaneNamespace, crossplaneCASecret)
	if err != nil {
		return nil, err
	}
	if x.RootCA, err = LoadCertificateAuthority(root["tls.crt"], root["tls.key"]); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", crossplaneNamespace, crossplaneCASecret, err)
	}

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	p, err := cp.StartProcess("crossplane", bin, []string{
		"core", "start",
		"--debug",
		// Functions run as local processes; Crossplane only reads their endpoints.
		"--package-runtime=External",
		"--enable-webhooks=false",
		"--xpkg-cache-dir=" + cp.path("crossplane-xpkg-cache"),
		"--metrics-port=" + itoa(ports[0]),
		"--health-probe-port=" + itoa(ports[1]),
		"--webhook-port=" + itoa(ports[2]),
	}, append(env, "TLS_CLIENT_CERTS_DIR="+clientDir))
	if err != nil {
		return nil, err
	}
	x.process = p
	hc := &http.Client{Timeout: 2 * time.Second}
	err = cp.Poll(ctx, "crossplane /readyz", 60*time.Second, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, hc, "http://127.0.0.1:"+itoa(ports[1])+"/readyz", "")
	})
	if err != nil {
		var exit *childproc.ExitError
		if !errors.As(err, &exit) { // an exit error has the log's end already
			err = fmt.Errorf("%w\n%s", err, p.Tail(40))
		}
		return nil, err
	}
	return x, nil
}

// crossplaneInit runs `crossplane core init` until it succeeds, at most a few times: its CRD
// migration steps read CRDs it has just created, which fails until the API server reports
// them Established.
func (cp *ControlPlane) crossplaneInit(ctx context.Context, bin, crdsDir string, env []string) error {
	args := []string{
		"core", "init",
		"--enable-webhooks=false",
		// kong derives the flag name from the field CRDsPath: --cr-ds-path.
		"--cr-ds-path=" + crdsDir,
		"--tlsca-secret-name=" + crossplaneCASecret, // kong: TLSCASecretName
		"--tls-server-secret-name=" + crossplaneServerTLSSecret,
		"--tls-client-secret-name=" + crossplaneClientTLSSecret,
	}
	var lastErr error
	for attempt := 1; attempt <= 4; attempt++ {
		// A one-shot command, so not tracked: its exit must not end the control plane's waits.
		p, err := childproc.Start(childproc.Options{Name: fmt.Sprintf("crossplane-init-%d", attempt), Path: bin, Args: args, Env: env, LogDir: cp.Dir})
		if err != nil {
			return err
		}
		waitCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
		if p.Wait(waitCtx) != nil && waitCtx.Err() != nil {
			p.Stop(5 * time.Second)
		}
		cancel()
		_, err = p.Exited()
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("crossplane core init (attempt %d): %w", attempt, err)
		// Whatever CRDs exist by now must be Established before the next attempt.
		_, _ = cp.Kubectl.Run(ctx, nil, "wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
	}
	return lastErr
}

func (cp *ControlPlane) secretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	out, err := cp.Kubectl.Run(ctx, nil, "get", "secret", "-n", namespace, name, "-o", "jsonpath={.data}")
	if err != nil {
		return nil, err
	}
	var encoded map[string]string
	if err := json.Unmarshal(out, &encoded); err != nil {
		return nil, fmt.Errorf("decode secret %s/%s: %w", namespace, name, err)
	}
	data := make(map[string][]byte, len(encoded))
	for k, v := range encoded {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("decode secret %s/%s key %s: %w", namespace, name, k, err)
		}
		data[k] = b
	}
	return data, nil
}

// Logs returns the last lines of Crossplane's log.
func (x *Crossplane) Logs(lines int) string { return x.process.Tail(lines) }

// WriteFunctionCertificates writes a server certificate for 127.0.0.1 and localhost, signed by
// Crossplane's root CA, as tls.crt, tls.key and ca.crt into dir: the layout function-sdk-go's
// MTLSCertificates option reads. Crossplane dials dns:///127.0.0.1:<port>, so it checks the IP
// SAN; the function in turn requires Crossplane's client certificate, signed by the same CA.
func (x *Crossplane) WriteFunctionCertificates(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make function certs dir: %w", err)
	}
	cert, key, err := x.RootCA.Issue(CertificateRequest{
		CommonName: "function-redis-ha",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Server:     true,
	})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"tls.crt": cert, "tls.key": key, "ca.crt": x.RootCA.CertPEM} {
		if err := writeFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// RegisterFunction makes Crossplane send RunFunction requests for the named Function to
// endpoint (e.g. dns:///127.0.0.1:9443). With the External runtime nothing sets a revision's
// endpoint, and the package manager would try to pull the package, so the harness creates the
// Function and its single active FunctionRevision paused (crossplane.io/paused) and writes the
// revision's status itself: endpoint plus the composition capability that Compositions check.
func (x *Crossplane) RegisterFunction(ctx context.Context, name, endpoint string) error {
	k := x.cp.Kubectl
	fn := fmt.Sprintf(`apiVersion: pkg.crossplane.io/v1
kind: Function
metadata:
  name: %[1]s
  annotations:
    crossplane.io/paused: "true"
spec:
  package: %[2]s
`, name, functionPackagePlaceholder)
	if err := k.Apply(ctx, []byte(fn)); err != nil {
		return fmt.Errorf("create Function %s: %w", name, err)
	}
	uid, err := k.Run(ctx, nil, "get", "function.pkg.crossplane.io", name, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		return err
	}
	rev := fmt.Sprintf(`apiVersion: pkg.crossplane.io/v1
kind: FunctionRevision
metadata:
  name: %[1]s-e2e
  annotations:
    crossplane.io/paused: "true"
  labels:
    pkg.crossplane.io/package: %[1]s
  ownerReferences:
  - apiVersion: pkg.crossplane.io/v1
    kind: Function
    name: %[1]s
    uid: %[3]s
    controller: true
spec:
  desiredState: Active
  image: %[2]s
  revision: 1
  ignoreCrossplaneConstraints: true
  skipDependencyResolution: true
`, name, functionPackagePlaceholder, uid)
	if err := k.Apply(ctx, []byte(rev)); err != nil {
		return fmt.Errorf("create FunctionRevision %s-e2e: %w", name, err)
	}
	status, err := json.Marshal(map[string]any{"status": map[string]any{
		"endpoint":     endpoint,
		"capabilities": []string{"composition"},
	}})
	if err != nil {
		return fmt.Errorf("encode FunctionRevision status: %w", err)
	}
	if _, err := k.Run(ctx, nil, "patch", "functionrevision.pkg.crossplane.io", name+"-e2e",
		"--subresource=status", "--type=merge", "-p", string(status)); err != nil {
		return fmt.Errorf("set endpoint of FunctionRevision %s-e2e: %w", name, err)
	}
	// The status must stick: a controller still reconciling the revision would reset it, so
	// require it unchanged on three reads a second apart.
	stable := 0
	return x.cp.Poll(ctx, "FunctionRevision endpoint to stay set", 20*time.Second, time.Second, func(ctx context.Context) (bool, error) {
		out, err := k.Run(ctx, nil, "get", "functionrevision.pkg.crossplane.io", name+"-e2e", "-o", "jsonpath={.status.endpoint}")
		if err != nil {
			stable = 0
			return false, err
		}
		if string(out) != endpoint {
			stable = 0
			return false, fmt.Errorf("status.endpoint is %q, want %q", out, endpoint)
		}
		stable++
		return stable >= 3, nil
	})
}
