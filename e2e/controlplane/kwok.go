package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// kwokStageDirs are the stage sets of the KWOK module that make fake nodes Ready (with lease
// heartbeats, so the node lifecycle controller does not taint them), pods Running and Ready
// right after scheduling, and PersistentVolumeClaims of the kwok-volume class Bound.
var kwokStageDirs = []string{"node/fast", "node/heartbeat-with-lease", "pod/fast", "volume/fast"}

// kwokNodeLabel selects the nodes the KWOK controller manages.
const kwokNodeLabel = "redis-ha.io/e2e-node"

func (cp *ControlPlane) startKWOK(ctx context.Context) error {
	stages, storageClass, err := collectKWOKStages(cp.bins.KWOKStages)
	if err != nil {
		return err
	}
	if err := writeFile(cp.path("kwok-stages.yaml"), stages); err != nil {
		return err
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	if _, err := cp.StartProcess("kwok", cp.bins.KWOK, []string{
		"--kubeconfig=" + cp.Kubeconfig,
		"--config=" + cp.path("kwok-stages.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-label-selector=" + kwokNodeLabel,
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:" + itoa(port),
		// Apart from the service range (10.0.0.0/24), so pod and Service IPs never collide.
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
	}, nil); err != nil {
		return err
	}
	// The kwok-volume StorageClass is the default class: StatefulSet volume claims without a
	// class get a fake PersistentVolume from the pvc-provision stage.
	if err := cp.Kubectl.Apply(ctx, storageClass); err != nil {
		return fmt.Errorf("create the kwok-volume StorageClass: %w", err)
	}
	if err := cp.Kubectl.Apply(ctx, fakeNodes(cp.opts.Nodes)); err != nil {
		return fmt.Errorf("create fake nodes: %w", err)
	}
	return cp.Poll(ctx, fmt.Sprintf("%d fake nodes Ready", cp.opts.Nodes), 60*time.Second, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err := cp.Kubectl.Run(ctx, nil, "get", "nodes", "-l", kwokNodeLabel,
			"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return false, err
		}
		ready := strings.Count(string(out), "True")
		if ready < cp.opts.Nodes {
			return false, fmt.Errorf("%d of %d nodes Ready", ready, cp.opts.Nodes)
		}
		return true, nil
	})
}

// collectKWOKStages concatenates the Stage documents of kwokStageDirs into one multi-document
// YAML for `kwok --config`, and returns the StorageClass shipped with the volume stages
// separately, since it is an API object rather than KWOK configuration.
func collectKWOKStages(root string) (stages, storageClass []byte, err error) {
	var buf bytes.Buffer
	for _, dir := range kwokStageDirs {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
		if err != nil {
			return nil, nil, fmt.Errorf("list KWOK stages in %s: %w", dir, err)
		}
		sort.Strings(files)
		n := 0
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("read KWOK stage: %w", err)
			}
			if bytes.Contains(b, []byte("kind: StorageClass")) {
				storageClass = b
				continue
			}
			buf.WriteString("---\n")
			buf.Write(bytes.TrimSpace(b))
			buf.WriteString("\n")
			n++
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("no KWOK stages in %s; E2E_KWOK_STAGES must be the kustomize/stage directory of sigs.k8s.io/kwok", filepath.Join(root, dir))
		}
	}
	if storageClass == nil {
		return nil, nil, fmt.Errorf("no StorageClass in %s/volume/fast", root)
	}
	return buf.Bytes(), storageClass, nil
}

// fakeNodes returns n Node manifests spread over three zones, each with its own hostname, so
// hard anti-affinity on kubernetes.io/hostname and zone spreading are satisfiable.
func fakeNodes(n int) []byte {
	var b strings.Builder
	zones := []string{"zone-a", "zone-b", "zone-c"}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Node
metadata:
  name: %[1]s
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    %[2]s: "true"
    type: kwok
    kubernetes.io/hostname: %[1]s
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: %[3]s
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
`, name, kwokNodeLabel, zones[i%len(zones)])
	}
	return []byte(b.String())
}
