package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Kubectl runs kubectl against one cluster. The harness drives the API server through kubectl
// on purpose: it is what users run, and server-side apply, dry-run and CEL messages show up
// exactly as a user would see them.
type Kubectl struct {
	Bin        string
	Kubeconfig string
}

// Run runs kubectl with args, feeding stdin when it is not nil, and returns stdout. The error
// carries the command line and stderr, so a failing step explains itself in the test log.
func (k Kubectl) Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	full := append([]string{"--kubeconfig", k.Kubeconfig}, args...)
	cmd := exec.CommandContext(ctx, k.Bin, full...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Apply server-side applies the given manifests with a field manager of our own.
func (k Kubectl) Apply(ctx context.Context, manifests []byte) error {
	_, err := k.Run(ctx, manifests, "apply", "--server-side", "--field-manager=redis-ha-e2e", "-f", "-")
	return err
}
