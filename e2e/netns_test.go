//go:build e2e

package e2e_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestMain re-runs the test binary inside a fresh network namespace (unshare --net, then the
// loopback interface brought up), so the control plane, Crossplane and the function get a
// loopback of their own: no port clashes with other work on the machine, nothing reachable from
// outside, nothing outside reachable. Where unshare is not permitted (no root, no user
// namespaces) the test runs on the host's loopback instead. E2E_NETNS=off disables the
// re-exec; a real cluster (E2E_KUBECONFIG) needs the host network and skips it.
func TestMain(m *testing.M) {
	if code, ran := runInNetworkNamespace(); ran {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

const inNetnsEnv = "E2E_IN_NETNS"

func runInNetworkNamespace() (code int, ran bool) {
	if os.Getenv(inNetnsEnv) != "" || os.Getenv("E2E_NETNS") == "off" || os.Getenv("E2E_KUBECONFIG") != "" {
		return 0, false
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: unshare not found, running on the host's loopback")
		return 0, false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: ip (iproute2) not found, running on the host's loopback")
		return 0, false
	}
	if out, err := exec.Command(unshare, "--net", "--", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot create a network namespace (%v: %s), running on the host's loopback\n", err, out)
		return 0, false
	}
	args := append([]string{"--net", "--", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", os.Args[0]}, os.Args[1:]...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), inNetnsEnv+"=1")
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), true
		}
		fmt.Fprintln(os.Stderr, "e2e: run inside network namespace:", err)
		return 1, true
	}
	return 0, true
}
