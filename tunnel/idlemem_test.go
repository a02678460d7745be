package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/procstat"
	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// BenchmarkIdleSessions opens TUNNEL_IDLE_SESSIONS (default 2000, at most 20000) client
// connections through an in-process tunnel to a real redis-server, sends one PING on each
// (so every session carried traffic once), leaves them idle and reports what the process
// holds per session: RSS, Go stack and heap, file descriptors and goroutines. The clients
// run in a child process, so the figures are the tunnel's (plus the benchmark's own
// baseline, subtracted). b.N is ignored: run with
//
//	TUNNEL_IDLE_SESSIONS=10000 go test -run '^$' -bench IdleSessions -benchtime 1x ./tunnel/
func BenchmarkIdleSessions(b *testing.B) {
	redisproctest.RequireBinaries(b)
	n := 2000
	if v := os.Getenv("TUNNEL_IDLE_SESSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 || n > 20000 {
			b.Fatalf("TUNNEL_IDLE_SESSIONS=%q: want 1..20000", v)
		}
	}
	// The tunnel (up to 6 fds per session with splice pipes) runs in this process;
	// redis-server and the client helper inherit the limit.
	want := uint64(6*n + 1000)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < want {
		raised := lim
		raised.Cur, raised.Max = want, max(want, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			// Without privilege only the soft limit can move, up to the hard one.
			lim.Cur = min(want, lim.Max)
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		} else {
			lim = raised
		}
	}
	if lim.Cur < uint64(2*n+500) {
		b.Skipf("RLIMIT_NOFILE hard limit %d is below the %d needed for %d sessions", lim.Max, 2*n+500, n)
	}
	c := redisproctest.StartCluster(b, redisproc.ClusterOptions{
		Sentinels:    1,
		ServerConfig: fmt.Sprintf("maxclients %d\n", n+100),
	})
	tun, err := New(Config{Sentinels: c.SentinelAddrs(), Masters: []Endpoint{{Name: c.MasterName(), Listen: "127.0.0.1:0"}},
		MaxClients: n + 100})
	if err != nil {
		b.Fatal(err)
	}
	if err := tun.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer tun.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !tun.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	addr := tun.MasterAddr(c.MasterName()).String()

	before := idleSnapshot(b)
	// The clients live in a child process (this test binary again, see
	// TestIdleClientsHelper): the figures below are the tunnel's alone, and each process
	// gets its own RLIMIT_NOFILE.
	helper := exec.Command(os.Args[0], "-test.run", "^TestIdleClientsHelper$")
	helper.Env = append(os.Environ(), "TUNNEL_IDLE_HELPER_ADDR="+addr, "TUNNEL_IDLE_HELPER_N="+strconv.Itoa(n))
	helper.Stderr = os.Stderr
	stdin, err := helper.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := helper.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the helper closes its connections and exits
		_ = helper.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		b.Fatalf("client helper: %q, %v", line, err)
	}
	time.Sleep(500 * time.Millisecond) // let every pump park
	after := idleSnapshot(b)
	per := func(a, z float64) float64 { return (z - a) / float64(n) }
	b.ReportMetric(per(before.rss, after.rss), "RSS-B/session")
	b.ReportMetric(per(before.stack, after.stack), "stack-B/session")
	b.ReportMetric(per(before.heap, after.heap), "heap-B/session")
	b.ReportMetric(per(before.fds, after.fds), "fds/session")
	b.ReportMetric(per(before.goroutines, after.goroutines), "goroutines/session")
	b.ReportMetric((after.rss-before.rss)/float64(n)*10000/(1<<20), "MiB-RSS/10k")
	b.Logf("%d idle sessions: RSS %.1f -> %.1f MiB, stack %.1f -> %.1f MiB, heap %.1f -> %.1f MiB, fds %.0f -> %.0f, goroutines %.0f -> %.0f",
		n, before.rss/(1<<20), after.rss/(1<<20), before.stack/(1<<20), after.stack/(1<<20), before.heap/(1<<20), after.heap/(1<<20),
		before.fds, after.fds, before.goroutines, after.goroutines)
	for range b.N {
	}
}

type idleFigures struct{ rss, stack, heap, fds, goroutines float64 }

// idleSnapshot collects garbage, returns freed memory to the OS and reads the figures.
func idleSnapshot(b *testing.B) idleFigures {
	b.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := procstat.RSSBytes(os.Getpid())
	if err != nil {
		b.Skipf("no resident size from /proc: %v", err)
	}
	fds, err := procstat.OpenFDs(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	return idleFigures{
		rss:        float64(rss),
		stack:      float64(ms.StackInuse),
		heap:       float64(ms.HeapInuse),
		fds:        float64(fds),
		goroutines: float64(runtime.NumGoroutine()),
	}
}

// TestIdleClientsHelper is BenchmarkIdleSessions' client process: with
// TUNNEL_IDLE_HELPER_ADDR set it opens TUNNEL_IDLE_HELPER_N connections there, PINGs on
// each, prints "ready" and keeps them until stdin closes. Otherwise it does nothing.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv("TUNNEL_IDLE_HELPER_ADDR")
	if addr == "" {
		t.Skip("only BenchmarkIdleSessions runs this, as its client process")
	}
	n, err := strconv.Atoi(os.Getenv("TUNNEL_IDLE_HELPER_N"))
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n+100) {
		lim.Cur = min(uint64(n+100), lim.Max)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	conns := make([]net.Conn, n)
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				conn.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	const workers = 32
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err == nil {
					conns[i] = conn
					_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err = conn.Write([]byte("PING\r\n")); err == nil {
						var line string
						line, err = bufio.NewReaderSize(conn, 16).ReadString('\n')
						if err == nil && line != "+PONG\r\n" {
							err = fmt.Errorf("PING answered %q", line)
						}
					}
					_ = conn.SetDeadline(time.Time{})
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("session %d: %w", i, err):
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
}
