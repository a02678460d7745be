package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// buildBinaries builds the demo and the two programs it runs into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+"/", ".", "../../../tunnel/cmd/redis-ha-tunnel", "../../../examples/demo-app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestInterruptCleansUp runs the demo binary, interrupts it with SIGINT (Ctrl-C) while the
// application writes, and checks that it exits promptly, leaves no process behind and
// removes its temporary directory; then a second run starts cleanly.
func TestInterruptCleansUp(t *testing.T) {
	redisproctest.RequireBinaries(t, "redis-server", "redis-sentinel", "redis-cli")
	if testing.Short() {
		t.Skip("starts a whole RedisHA; skipped with -short")
	}
	bin := buildBinaries(t)
	tmp := t.TempDir()

	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "redis-ha-demo"), "--bin-dir", bin, "--example", "../../../examples/redisha.yaml", "--warmup", "30s")
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		var seen []string
		for lines.Scan() {
			seen = append(seen, lines.Text())
			if strings.Contains(lines.Text(), "acked ") { // the application is writing through the tunnel
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		go io.Copy(io.Discard, stdout)
		err = cmd.Wait()
		cancel()
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("run %d: the demo took %s to stop after SIGINT", run, took)
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("run %d: interrupted demo ended with %v, want exit status 1 (interrupted); output:\n%s", run, err, strings.Join(seen, "\n"))
		}
		if len(seen) == 0 || !strings.Contains(seen[len(seen)-1], "acked ") {
			t.Fatalf("run %d: the demo never got the application writing; output:\n%s", run, strings.Join(seen, "\n"))
		}
		left, _ := filepath.Glob(filepath.Join(tmp, "redis-ha-demo-*"))
		if len(left) > 0 {
			t.Errorf("run %d: temporary directories left behind: %v", run, left)
		}
		if procs := processesMentioning(t, tmp); len(procs) > 0 {
			t.Errorf("run %d: processes left behind: %v", run, procs)
		}
	}
}

// processesMentioning lists the command lines of running processes that mention path.
func processesMentioning(t *testing.T, path string) []string {
	t.Helper()
	var found []string
	// The processes may need a moment to be reaped after their parent died.
	deadline := time.Now().Add(5 * time.Second)
	for {
		found = found[:0]
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || len(cmdline) == 0 {
				continue
			}
			line := strings.ReplaceAll(string(cmdline), "\x00", " ")
			if strings.Contains(line, path) && !strings.Contains(line, "redis-ha-demo") {
				found = append(found, line)
			}
		}
		if len(found) == 0 || time.Now().After(deadline) {
			return found
		}
		time.Sleep(100 * time.Millisecond)
	}
}
