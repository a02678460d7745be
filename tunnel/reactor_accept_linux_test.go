//go:build linux

package tunnel

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/redis-ha/redis-ha/internal/procstat"
)

// startRoutingOnly starts a Tunnel's master listener on the reactor loops without
// watchers or Sentinel subscribers: the test sets the route itself.
func startRoutingOnly(t *testing.T, mutate func(*Config)) *Tunnel {
	t.Helper()
	cfg := Config{Sentinels: []string{"127.0.0.1:1"}, Masters: []Endpoint{{Name: "m", Listen: "127.0.0.1:0"}},
		FailoverHold: 5 * time.Second, DialTimeout: time.Second, DataPath: DataPathReactor}
	if mutate != nil {
		mutate(&cfg)
	}
	tun, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tun.started.Store(true)
	if err := tun.listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tun.listeners[0].rl == nil {
		t.Fatal("listener not served by the loops")
	}
	t.Cleanup(func() { _ = tun.Close() })
	return tun
}

// startEcho runs a TCP server that echoes every connection, closed when the test ends.
func startEcho(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// echoThrough sends msg through the tunnel on c and expects it back.
func echoThrough(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

// acceptedInLoop reports whether every session of the endpoint was accepted and dialed
// by a loop (such sessions have no net.Conn: the goroutine path always has one).
func acceptedInLoop(tun *Tunnel) (inLoop, total int) {
	for _, s := range tun.masters["m"].allSessions() {
		total++
		if s.client == nil && s.server == nil {
			inLoop++
		}
	}
	return inLoop, total
}

// With the route open, the loop accepts and dials itself; bytes flow both ways, and the
// session ends with the client.
func TestReactorAcceptAndDialInLoop(t *testing.T) {
	tun := startRoutingOnly(t, nil)
	echo := startEcho(t)
	tun.masters["m"].setTarget(echo, false)

	var clients []net.Conn
	for i := range 5 {
		c, err := net.Dial("tcp", tun.MasterAddr("m").String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		echoThrough(t, c, "PING "+strconv.Itoa(i)+"\r\n")
	}
	if in, total := acceptedInLoop(tun); in != 5 || total != 5 {
		t.Fatalf("%d of %d sessions accepted in the loop, want 5 of 5", in, total)
	}
	for _, c := range clients {
		c.Close()
	}
	waitFor(t, 5*time.Second, "sessions to end", func() bool {
		_, total := acceptedInLoop(tun)
		return total == 0 && tun.limiter.current.Load() == 0
	})
}

// A connect that never completes (a server whose backlog is full drops the SYN) fails
// after DialTimeout: the watcher hears of it, and the client waits on the goroutine path
// until the route moves, losing none of the bytes it sent meanwhile.
func TestReactorDialTimeoutHandsClientToHold(t *testing.T) {
	tun := startRoutingOnly(t, func(c *Config) { c.DialTimeout = 300 * time.Millisecond })
	blackhole, _ := fullBacklogAddr(t)
	tun.masters["m"].setTarget(blackhole, false)

	c, err := net.Dial("tcp", tun.MasterAddr("m").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "SET k v\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case addr := <-tun.masters["m"].dialFailed:
		if addr != blackhole {
			t.Fatalf("dial failure reported for %s, want %s", addr, blackhole)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no dial failure reported for the unreachable upstream")
	}
	tun.masters["m"].setTarget(startEcho(t), false)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("SET k v\r\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "SET k v\r\n" {
		t.Fatalf("after the route moved: got %q, %v", got, err)
	}
}

// fullBacklogAddr listens with a backlog of one that is already taken and never accepts,
// so further connects hang in SYN_SENT.
func fullBacklogAddr(t *testing.T) (addr string, sockets int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
	sockets = 1
	// Fill the queue: connects that complete the handshake take the slots.
	for range 3 {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			sockets++
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr, sockets
}

// A host name is resolved in the background: the first client goes through the goroutine
// path (whose dialer resolves it), later ones are dialed by the loop.
func TestReactorResolvesHostNamesInBackground(t *testing.T) {
	tun := startRoutingOnly(t, nil)
	_, port, _ := net.SplitHostPort(startEcho(t))
	target := net.JoinHostPort("localhost", port)
	tun.masters["m"].setTarget(target, false)

	first, err := net.Dial("tcp", tun.MasterAddr("m").String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	echoThrough(t, first, "first\r\n")
	waitFor(t, 5*time.Second, "localhost resolved", func() bool {
		_, ok := tun.upstreamAddrs.lookup(target, time.Now())
		return ok
	})
	second, err := net.Dial("tcp", tun.MasterAddr("m").String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	echoThrough(t, second, "second\r\n")
	if in, total := acceptedInLoop(tun); in != 1 || total != 2 {
		t.Fatalf("%d of %d sessions accepted in the loop, want 1 of 2 (the first waited for DNS)", in, total)
	}
}

// Accepted sockets inherit TCP_NODELAY and the keepalive settings from the listening
// socket (Linux): the loops rely on it to set nothing per connection.
func TestAcceptedSocketsInheritDataSockopts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, err := dupConnFD(ln.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := setDataSockopts(fd); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var cfd int
	var errno unix.Errno
	for deadline := time.Now().Add(5 * time.Second); ; {
		if cfd, errno = accept4(fd); errno != unix.EAGAIN || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if errno != 0 {
		t.Fatalf("accept4: %v", errno)
	}
	defer unix.Close(cfd)
	for name, o := range map[string]struct{ level, opt, want int }{
		"TCP_NODELAY":   {unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		"SO_KEEPALIVE":  {unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		"TCP_KEEPIDLE":  {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 30},
		"TCP_KEEPINTVL": {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 10},
		"TCP_KEEPCNT":   {unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 3},
	} {
		got, err := unix.GetsockoptInt(cfd, o.level, o.opt)
		if err != nil || got != o.want {
			t.Errorf("%s on the accepted socket = %d, %v; want %d", name, got, err, o.want)
		}
	}
}

// Connections accepted and dialed in the loops leave no descriptor or goroutine behind
// once they end and the tunnel closes, including one still dialing at Close.
func TestReactorAcceptPathNoLeaks(t *testing.T) {
	echo := startEcho(t)
	runtime.GC()
	fdsBefore, gBefore := openSockets(t), runtime.NumGoroutine()
	backlogSockets := 0
	func() {
		// A dial timeout longer than the test: Close must not wait it out.
		tun := startRoutingOnly(t, func(c *Config) { c.DialTimeout = time.Minute })
		tun.masters["m"].setTarget(echo, false)
		for i := range 20 {
			c, err := net.Dial("tcp", tun.MasterAddr("m").String())
			if err != nil {
				t.Fatal(err)
			}
			echoThrough(t, c, "x"+strconv.Itoa(i))
			c.Close()
		}
		open, err := net.Dial("tcp", tun.MasterAddr("m").String())
		if err != nil {
			t.Fatal(err)
		}
		echoThrough(t, open, "still open")
		defer open.Close()
		// One more whose dial hangs when Close comes.
		blackhole, n := fullBacklogAddr(t)
		backlogSockets = n
		tun.masters["m"].setTarget(blackhole, false)
		hanging, err := net.Dial("tcp", tun.MasterAddr("m").String())
		if err != nil {
			t.Fatal(err)
		}
		defer hanging.Close()
		time.Sleep(50 * time.Millisecond)
		if err := tun.Close(); err != nil {
			t.Fatal(err)
		}
		_ = open.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := open.Read(make([]byte, 1)); err == nil {
			t.Fatal("session still open after Close")
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The backlog listener of the hanging dial is closed by its cleanup, after this
		// test body: allow its socket and the connections that filled it.
		fds, gs := openSockets(t), runtime.NumGoroutine()
		if fds <= fdsBefore+backlogSockets && gs <= gBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: %d sockets (before %d), %d goroutines (before %d)", fds, fdsBefore, gs, gBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openSockets is the number of open sockets of this process: unlike all descriptors, it
// does not move with the pipes the race detector and the runtime open.
func openSockets(t *testing.T) int {
	t.Helper()
	n, err := procstat.OpenSockets(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
