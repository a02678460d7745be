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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// builtBinary is the command compiled once by TestMain for the tests that run it.
var builtBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redis-ha-tunnel-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	builtBinary = filepath.Join(dir, "redis-ha-tunnel")
	code := 0
	if out, err := exec.Command("go", "build", "-o", builtBinary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		code = 1
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary returns the binary TestMain built.
func buildBinary(t *testing.T) string {
	t.Helper()
	return builtBinary
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

// watchBinary starts cmd, kills it when the test ends (logging its stderr if the test
// failed) and returns a channel that receives its exit, and its stderr.
func watchBinary(t *testing.T, cmd *exec.Cmd) (chan error, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cmd.Stderr = logs
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
	return exited, logs
}

// stopBinary sends SIGTERM and expects exit code 0 within 20 s.
func stopBinary(t *testing.T, cmd *exec.Cmd, exited <-chan error) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGTERM")
	}
}

// waitReady waits up to 10 s for /readyz of the metrics address to answer 200.
func waitReady(t *testing.T, metrics string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz %d: %s", resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("readyz: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBinaryClusterMode runs the built binary in Redis Cluster mode (--cluster from the
// environment, --listen): it becomes ready, routes keys of every shard, counts its shard
// connections in /metrics, and exits 0 on SIGTERM.
func TestBinaryClusterMode(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real redis processes")
	}
	rc := redisproctest.StartRedisCluster(t, redisproc.RedisClusterOptions{Masters: 3})
	bin := buildBinary(t)
	listen, metrics := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "--listen", listen, "--metrics-listen", metrics, "--cluster-refresh-interval", "500ms")
	cmd.Env = append(os.Environ(), "REDIS_HA_TUNNEL_CLUSTER="+rc.Seeds()[0])
	exited, _ := watchBinary(t, cmd)
	waitReady(t, metrics)
	conn, err := redis.Dial("tcp", listen, redis.DialReadTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 50 {
		key := fmt.Sprintf("binary:%d", i)
		if _, err := conn.Do("SET", key, i); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		if got, err := redis.Int(conn.Do("GET", key)); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v", key, got, err)
		}
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), "redis_ha_tunnel_cluster_shard_connections_open{master="); n != 3 {
		t.Errorf("metrics name %d shard masters with open connections, want 3:\n%s", n, body)
	}
	conn.Close()
	stopBinary(t, cmd, exited)
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
	exited, logs := watchBinary(t, cmd)

	waitReady(t, metrics)
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

// startBinary runs the tunnel binary through bash (for ulimit) and returns a wait channel.
func startBinary(t *testing.T, shellPrefix string, bin string, args ...string) (*exec.Cmd, chan error, *syncBuffer) {
	t.Helper()
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + a + "'"
	}
	cmd := exec.Command("bash", "-c", shellPrefix+" exec '"+bin+"' "+strings.Join(quoted, " "))
	exited, logs := watchBinary(t, cmd)
	return cmd, exited, logs
}

// syncBuffer is a bytes.Buffer safe for the exec copier and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func ping(addr string, timeout time.Duration) error {
	c, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(timeout), redis.DialReadTimeout(timeout))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Do("PING")
	return err
}

// TestBinaryEMFILEBacksOffAndRecovers runs the tunnel with only 64 file descriptors and
// opens more connections than that: it must log accept errors, back off instead of
// exiting or spinning, and serve again once clients leave.
func TestBinaryEMFILEBacksOffAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real redis processes")
	}
	redisproctest.RequireBinaries(t)
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{Sentinels: 1})
	bin := buildBinary(t)
	listen, metrics := freeAddr(t), freeAddr(t)
	cmd, exited, logs := startBinary(t, "ulimit -n 64;", bin, "--sentinels", strings.Join(c.SentinelAddrs(), ","),
		"--master", "mymaster="+listen, "--metrics-listen", metrics, "--failover-hold", "1s", "--poll-interval", "200ms")
	deadline := time.Now().Add(10 * time.Second)
	for ping(listen, time.Second) != nil {
		if time.Now().After(deadline) {
			t.Fatal("tunnel never served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var clients []net.Conn
	for i := 0; i < 80; i++ {
		nc, err := net.DialTimeout("tcp", listen, time.Second)
		if err != nil {
			break // backlog full: also fine
		}
		clients = append(clients, nc)
	}
	waitLog := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "accept failed, backing off") {
		if time.Now().After(waitLog) {
			t.Fatalf("no accept backoff logged with %d clients on 64 fds", len(clients))
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("tunnel exited under EMFILE: %v", err)
	default:
	}
	for _, nc := range clients {
		nc.Close()
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		err := ping(listen, time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tunnel did not recover after clients left: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopBinary(t, cmd, exited)
}
