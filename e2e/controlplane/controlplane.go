// Package controlplane runs a real Kubernetes control plane as local processes for end-to-end
// tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the KWOK controller
// with fake nodes (so pods get scheduled and become Ready without a kubelet or containers), and
// Crossplane core out of cluster against it. Everything listens on loopback, certificates are
// made here, every wait is bounded, and Stop ends every process group and removes the files.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-ha/redis-ha/internal/childproc"
)

// Binaries are the programs a ControlPlane runs, as built by e2e/tools.sh.
type Binaries struct {
	Etcd              string
	APIServer         string
	ControllerManager string
	Scheduler         string
	KWOK              string
	// KWOKStages is the kustomize/stage directory of the sigs.k8s.io/kwok module.
	KWOKStages string
	Kubectl    string
}

// BinariesFromEnv reads the binary paths from the E2E_* variables `e2e/tools.sh env` prints,
// and checks that each exists.
func BinariesFromEnv() (Binaries, error) {
	b := Binaries{
		Etcd:              os.Getenv("E2E_ETCD"),
		APIServer:         os.Getenv("E2E_KUBE_APISERVER"),
		ControllerManager: os.Getenv("E2E_KUBE_CONTROLLER_MANAGER"),
		Scheduler:         os.Getenv("E2E_KUBE_SCHEDULER"),
		KWOK:              os.Getenv("E2E_KWOK"),
		KWOKStages:        os.Getenv("E2E_KWOK_STAGES"),
		Kubectl:           os.Getenv("E2E_KUBECTL"),
	}
	var errs []error
	if b.Kubectl == "" {
		b.Kubectl = "kubectl" // from PATH; e2e/tools.sh builds a matching one
	} else if _, err := os.Stat(b.Kubectl); err != nil {
		errs = append(errs, fmt.Errorf("E2E_KUBECTL=%s: %w; build it with e2e/tools.sh kube", b.Kubectl, err))
	}
	for env, path := range map[string]string{
		"E2E_ETCD": b.Etcd, "E2E_KUBE_APISERVER": b.APIServer, "E2E_KUBE_CONTROLLER_MANAGER": b.ControllerManager,
		"E2E_KUBE_SCHEDULER": b.Scheduler, "E2E_KWOK": b.KWOK, "E2E_KWOK_STAGES": b.KWOKStages,
	} {
		if path == "" {
			errs = append(errs, fmt.Errorf("%s is not set: run `eval $(e2e/tools.sh env)` after `e2e/tools.sh` (or `make e2e`)", env))
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w; build it with e2e/tools.sh", env, path, err))
		}
	}
	return b, errors.Join(errs...)
}

// Options tune a ControlPlane.
type Options struct {
	// Nodes is how many KWOK fake nodes to create; each gets its own hostname and one of three
	// zones, so hard pod anti-affinity and zone spreading can be satisfied.
	Nodes int
	// Log receives progress lines (t.Logf in tests).
	Log func(format string, args ...any)
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	// Dir holds certificates, data, logs and the kubeconfig; Stop removes it.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig (member of system:masters).
	Kubeconfig string
	// Server is the API server URL.
	Server  string
	Kubectl Kubectl

	bins      Binaries
	opts      Options
	ca        *CertificateAuthority
	token     string
	processes []*childproc.Process
	keepDir   bool
}

// Start brings up etcd, the API server, the controller manager, the scheduler and KWOK with
// fake nodes, in that order, waiting (bounded) for each to be usable. On error everything
// started so far is stopped again.
func Start(ctx context.Context, bins Binaries, opts Options) (cp *ControlPlane, err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 4
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	dir, err := os.MkdirTemp("", "redis-ha-e2e-")
	if err != nil {
		return nil, fmt.Errorf("make control plane dir: %w", err)
	}
	cp = &ControlPlane{Dir: dir, bins: bins, opts: opts}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, cp.Logs(30))
			cp.Stop()
		}
	}()
	started := time.Now()
	if err := cp.writeCredentials(); err != nil {
		return cp, err
	}
	etcdURL, err := cp.startEtcd(ctx)
	if err != nil {
		return cp, err
	}
	opts.Log("etcd up after %s", time.Since(started).Round(time.Millisecond))
	if err := cp.startAPIServer(ctx, etcdURL); err != nil {
		return cp, err
	}
	opts.Log("kube-apiserver ready after %s (%s)", time.Since(started).Round(time.Millisecond), cp.Server)
	if err := cp.startControllerManager(); err != nil {
		return cp, err
	}
	if err := cp.startScheduler(); err != nil {
		return cp, err
	}
	if err := cp.startKWOK(ctx); err != nil {
		return cp, err
	}
	if err := cp.waitForNamespaceSetup(ctx); err != nil {
		return cp, err
	}
	opts.Log("control plane with %d ready fake nodes up after %s", opts.Nodes, time.Since(started).Round(time.Millisecond))
	return cp, nil
}

// KeepDir leaves the directory with logs and data in place after Stop, for debugging.
func (cp *ControlPlane) KeepDir() { cp.keepDir = true }

// Stop ends every component, newest first, and removes Dir.
func (cp *ControlPlane) Stop() {
	for i := len(cp.processes) - 1; i >= 0; i-- {
		cp.processes[i].Stop(10 * time.Second)
	}
	cp.processes = nil
	if !cp.keepDir {
		_ = os.RemoveAll(cp.Dir)
	}
}

// Logs returns the last lines of every component's log and whether it has exited.
func (cp *ControlPlane) Logs(lines int) string {
	var b strings.Builder
	for _, p := range cp.processes {
		state := "running"
		if exit := p.ExitError(); exit != nil {
			state = "exited: " + exit.Status()
		}
		fmt.Fprintf(&b, "----- %s (%s), last %d lines of %s -----\n%s\n", p.Name(), state, lines, p.LogPath(), p.Tail(lines))
	}
	return b.String()
}

func (cp *ControlPlane) path(name string) string { return filepath.Join(cp.Dir, name) }

// writeCredentials makes the CA, the API server's serving certificate, the service-account key
// pair, a static admin token and the kubeconfig every component and kubectl use.
func (cp *ControlPlane) writeCredentials() error {
	ca, err := NewCertificateAuthority("redis-ha-e2e-ca")
	if err != nil {
		return err
	}
	cp.ca = ca
	if err := writeFile(cp.path("ca.crt"), ca.CertPEM); err != nil {
		return err
	}
	cert, key, err := ca.Issue(CertificateRequest{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
		Server:     true,
	})
	if err != nil {
		return err
	}
	if err := writeFile(cp.path("apiserver.crt"), cert); err != nil {
		return err
	}
	if err := writeFile(cp.path("apiserver.key"), key); err != nil {
		return err
	}
	if _, _, err := WriteServiceAccountKeys(cp.Dir); err != nil {
		return err
	}
	cp.token = randomToken()
	// A static token in system:masters: the components run as admin, which keeps the harness
	// free of per-component RBAC bootstrapping that the test is not about.
	return writeFile(cp.path("tokens.csv"), []byte(cp.token+`,redis-ha-e2e-admin,redis-ha-e2e-admin,"system:masters"`+"\n"))
}

func (cp *ControlPlane) writeKubeconfig() error {
	cp.Kubeconfig = cp.path("kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
    namespace: default
current-context: e2e
`, cp.Server, cp.path("ca.crt"), cp.token)
	cp.Kubectl = Kubectl{Bin: cp.bins.Kubectl, Kubeconfig: cp.Kubeconfig}
	return writeFile(cp.Kubeconfig, []byte(kc))
}

func (cp *ControlPlane) startEtcd(ctx context.Context) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	client := "http://127.0.0.1:" + itoa(ports[0])
	peer := "http://127.0.0.1:" + itoa(ports[1])
	_, err = cp.StartProcess("etcd", cp.bins.Etcd, []string{
		"--name=e2e",
		"--data-dir=" + cp.path("etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=e2e=" + peer,
		// The data dies with the test: no fsync keeps a busy shared disk from slowing us down.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}, nil)
	if err != nil {
		return "", err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	err = cp.Poll(ctx, "etcd /health", 30*time.Second, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, hc, client+"/health", "")
	})
	return client, err
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, etcdURL string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	cp.Server = "https://127.0.0.1:" + itoa(port)
	if err := cp.writeKubeconfig(); err != nil {
		return err
	}
	if _, err := cp.StartProcess("kube-apiserver", cp.bins.APIServer, []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + itoa(port),
		"--cert-dir=" + cp.path("apiserver-certs"),
		"--tls-cert-file=" + cp.path("apiserver.crt"),
		"--tls-private-key-file=" + cp.path("apiserver.key"),
		"--client-ca-file=" + cp.path("ca.crt"),
		"--token-auth-file=" + cp.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cp.path("sa.pub"),
		"--service-account-signing-key-file=" + cp.path("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		// The default reconciler publishes the advertise address into the kubernetes
		// Endpoints and fails the readiness check on this loopback-only setup.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}, nil); err != nil {
		return err
	}
	hc, err := cp.httpClient()
	if err != nil {
		return err
	}
	return cp.Poll(ctx, "kube-apiserver /readyz", 90*time.Second, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, hc, cp.Server+"/readyz", cp.token)
	})
}

func (cp *ControlPlane) startControllerManager() error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	_, err = cp.StartProcess("kube-controller-manager", cp.bins.ControllerManager, []string{
		"--kubeconfig=" + cp.Kubeconfig,
		"--authentication-kubeconfig=" + cp.Kubeconfig,
		"--authorization-kubeconfig=" + cp.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + itoa(port),
		"--cert-dir=" + cp.path("kcm-certs"),
		"--leader-elect=false",
		// Garbage collector, Deployment/ReplicaSet/StatefulSet, disruption, namespace,
		// service-account, endpoint slice and PV binding controllers: everything composed
		// resources need for real status; the default set includes them all.
		"--controllers=*",
		"--service-account-private-key-file=" + cp.path("sa.key"),
		"--root-ca-file=" + cp.path("ca.crt"),
		"--use-service-account-credentials=false",
		"--cluster-cidr=10.244.0.0/16",
		"--allocate-node-cidrs=false",
		"--v=1",
	}, nil)
	return err
}

func (cp *ControlPlane) startScheduler() error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	_, err = cp.StartProcess("kube-scheduler", cp.bins.Scheduler, []string{
		"--kubeconfig=" + cp.Kubeconfig,
		"--authentication-kubeconfig=" + cp.Kubeconfig,
		"--authorization-kubeconfig=" + cp.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + itoa(port),
		"--cert-dir=" + cp.path("scheduler-certs"),
		"--leader-elect=false",
		"--v=1",
	}, nil)
	return err
}

// waitForNamespaceSetup waits for the controller manager's service-account and root-CA
// controllers to have prepared the default namespace; before that, pods are refused.
func (cp *ControlPlane) waitForNamespaceSetup(ctx context.Context) error {
	return cp.Poll(ctx, "default ServiceAccount and kube-root-ca.crt ConfigMap", 60*time.Second, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		if _, err := cp.Kubectl.Run(ctx, nil, "get", "serviceaccount/default", "-n", "default"); err != nil {
			return false, err
		}
		_, err := cp.Kubectl.Run(ctx, nil, "get", "configmap/kube-root-ca.crt", "-n", "default")
		return err == nil, err
	})
}

func (cp *ControlPlane) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	pool.AddCert(cp.ca.Cert)
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			Proxy:           nil,
		},
	}, nil
}

func httpOK(ctx context.Context, hc *http.Client, url, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return true, nil
}
