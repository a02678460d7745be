package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// buildBinary compiles the command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redis-ha-tunnel")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBinaryBadFlagExitsWithOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--sentinels", "127.0.0.1:1", "--master", "m=:0", "--failover-hold", "forever")
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("want non-zero exit, got %v", err)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "--failover-hold") {
		t.Errorf("want one line naming --failover-hold, got %q", msg)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := redisproc.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// TestBinarySmokeAndSIGTERMDrain runs the built binary against real Redis and Sentinel:
// it becomes ready, forwards commands, and on SIGTERM stops accepting, lets the open
// session finish its work, and exits 0 as soon as that session closes.
func TestBinarySmokeAndSIGTERMDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real redis processes")
	}
	redisproctest.RequireBinaries(t)
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{Sentinels: 1})
	bin := buildBinary(t)
	listen, metrics := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "--master", "mymaster="+listen, "--metrics-listen", metrics,
		"--drain-timeout", "20s", "--poll-interval", "200ms", "--log-format", "json")
	cmd.Env = append(os.Environ(), "REDIS_HA_TUNNEL_SENTINELS="+strings.Join(c.SentinelAddrs(), ","))
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("tunnel log:\n%s", logs.String())
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz %d: %s", resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("readyz: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	master, _ := c.Master(context.Background())
	if want := fmt.Sprintf(`redis_ha_tunnel_master{addr=%q,name="mymaster"} 1`, master.Addr()); !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}

	conn, err := redis.Dial("tcp", listen, redis.DialReadTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Do("SET", "smoke", "1"); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused once the listener closed...
	waitRefused := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(waitRefused) {
			t.Fatal("tunnel still accepts after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ...while the open session keeps working during the drain.
	if got, err := redis.String(conn.Do("GET", "smoke")); err != nil || got != "1" {
		t.Fatalf("GET during drain = %q, %v", got, err)
	}
	select {
	case err := <-exited:
		t.Fatalf("exited before the open session closed: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	closedAt := time.Now()
	conn.Close()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after drain: %v", err)
		}
		if d := time.Since(closedAt); d > 3*time.Second {
			t.Errorf("exit took %s after the last session closed", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit after the last session closed")
	}
	if !strings.Contains(logs.String(), "draining") {
		t.Errorf("log lacks the drain message")
	}
}
