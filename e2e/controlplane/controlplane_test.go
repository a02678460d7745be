//go:build e2e

package controlplane

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestStartStop brings the control plane up, checks the API server answers as v1.37 with
// Ready fake nodes, and that Stop removes every process and the directory.
func TestStartStop(t *testing.T) {
	bins, err := BinariesFromEnv()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	cp, err := Start(ctx, bins, Options{Nodes: 3, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("up in %s", time.Since(started))
	stopped := false
	defer func() {
		if !stopped {
			cp.Stop()
		}
	}()
	out, err := cp.Kubectl.Run(ctx, nil, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"gitVersion": "v1.37`) {
		t.Errorf("server version is not v1.37.x:\n%s", out)
	}
	out, err = cp.Kubectl.Run(ctx, nil, "get", "nodes", "--no-headers")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(out), " Ready "); got != 3 {
		t.Errorf("%d Ready nodes, want 3:\n%s", got, out)
	}
	procs := cp.processes
	cp.Stop()
	stopped = true
	for _, p := range procs {
		if exited, _ := p.Exited(); !exited {
			t.Errorf("%s still running after Stop", p.Name())
		}
	}
	if _, err := os.Stat(cp.Dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed by Stop: %v", cp.Dir, err)
	}
}
