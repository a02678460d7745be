package tunnel

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// tcpPair returns both ends of a real loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { d.Close(); s.Close() })
	return d.(*net.TCPConn), s.(*net.TCPConn)
}

// engines are the data paths every session test runs against: new returns the reactor
// a session gets (nil: goroutine pumps).
var engines = map[string]struct {
	reason string
	new    func(t *testing.T) *reactor
}{
	"goroutines": {reason: "two goroutines per session", new: func(*testing.T) *reactor { return nil }},
	"reactor": {reason: "epoll loops", new: func(t *testing.T) *reactor {
		if !reactorSupported {
			t.Skip("reactor data path needs Linux")
		}
		r, err := newReactor(2, newCopyBuffers())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.close)
		return r
	}},
}

// forEachEngine runs test once per data path.
func forEachEngine(t *testing.T, test func(t *testing.T, r *reactor)) {
	for name, e := range engines {
		t.Run(name, func(t *testing.T) {
			test(t, e.new(t))
		})
	}
}

// bridged builds app <-> [client side | session | server side] <-> upstream with real
// sockets and starts the session on r (nil: goroutine pumps).
func bridged(t *testing.T, r *reactor) (app, upstream *net.TCPConn, s *session, done chan struct{}) {
	app, clientSide := tcpPair(t)
	serverSide, upstream := tcpPair(t)
	s = newSession(clientSide, serverSide, "upstream", newCopyBuffers(), func(int64, int64) {})
	s.reactor = r
	done = make(chan struct{})
	go func() {
		s.run()
		close(done)
	}()
	return app, upstream, s, done
}

func readExactly(t *testing.T, c net.Conn, n int, within time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v (got %q)", n, err, buf)
	}
	return string(buf)
}

func TestSessionFenceParksAndUnfenceResumesWithoutLoss(t *testing.T) {
	forEachEngine(t, func(t *testing.T, r *reactor) {
		app, upstream, s, done := bridged(t, r)
		io.WriteString(app, "SET a 1\r\n")
		if got := readExactly(t, upstream, 9, time.Second); got != "SET a 1\r\n" {
			t.Fatalf("upstream got %q", got)
		}

		parked := s.fence()
		select {
		case <-parked:
		case <-time.After(time.Second):
			t.Fatal("client->server pump did not park")
		}
		// Bytes sent while fenced must not reach the old master...
		io.WriteString(app, "SET b 2\r\n")
		upstream.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		if n, err := upstream.Read(make([]byte, 16)); n != 0 || err == nil {
			t.Fatalf("fenced session forwarded %d bytes (err %v)", n, err)
		}
		// ...while replies still flow back to the client.
		io.WriteString(upstream, "+OK\r\n")
		if got := readExactly(t, app, 5, time.Second); got != "+OK\r\n" {
			t.Fatalf("reply while fenced: %q", got)
		}

		s.unfence()
		io.WriteString(app, "SET c 3\r\n")
		if got := readExactly(t, upstream, 18, time.Second); got != "SET b 2\r\nSET c 3\r\n" {
			t.Fatalf("after unfence upstream got %q: stream not continuous", got)
		}

		// Fence again and cut: the session ends and the client sees the close.
		s.fence()
		s.close()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("session did not end after close")
		}
		app.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := app.Read(make([]byte, 1)); err == nil {
			t.Fatal("client connection still open after cut")
		}
	})
}

func TestSessionHalfClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, r *reactor) {
		app, upstream, _, done := bridged(t, r)
		io.WriteString(app, "PING\r\n")
		app.CloseWrite()
		// The upstream sees the bytes, then EOF, and can still answer.
		upstream.SetReadDeadline(time.Now().Add(time.Second))
		all, err := io.ReadAll(upstream)
		if err != nil || string(all) != "PING\r\n" {
			t.Fatalf("upstream read %q, %v; want PING then EOF", all, err)
		}
		io.WriteString(upstream, "+PONG\r\n")
		upstream.Close()
		app.SetReadDeadline(time.Now().Add(time.Second))
		got, err := io.ReadAll(app)
		if err != nil || string(got) != "+PONG\r\n" {
			t.Fatalf("client read %q, %v", got, err)
		}
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("session did not end")
		}
	})
}

func TestSessionLargeTransferWithFenceCycles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, r *reactor) {
		app, upstream, s, done := bridged(t, r)
		const total = 4 << 20
		payload := strings.Repeat("0123456789abcdef", total/16)
		go func() {
			for i := 0; i < len(payload); i += 64 << 10 {
				io.WriteString(app, payload[i:min(i+64<<10, len(payload))])
			}
		}()
		// Fence and unfence repeatedly while data streams: nothing may be lost or reordered.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				s.fence()
				time.Sleep(time.Millisecond)
				s.unfence()
			}
		}()
		upstream.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(bufio.NewReader(io.LimitReader(upstream, total)))
		close(stop)
		if err != nil || len(got) != total || string(got) != payload {
			t.Fatalf("received %d of %d bytes intact=%t err=%v", len(got), total, string(got) == payload, err)
		}
		s.close()
		<-done
	})
}

func TestMasterEndpointCutsSessionsOnOldTarget(t *testing.T) {
	forEachEngine(t, func(t *testing.T, r *reactor) {
		e := newMasterEndpoint("m")
		e.setTarget("old:1", false)
		var sessions []*session
		var ended []chan struct{}
		for i := 0; i < 3; i++ {
			a, b := tcpPair(t)
			c, d := tcpPair(t)
			_ = a
			_ = d
			s := newSession(b, c, "old:1", newCopyBuffers(), func(int64, int64) {})
			s.reactor = r
			if !e.attach(s) {
				t.Fatal("attach to the current target failed")
			}
			end := make(chan struct{})
			s.start(func() { close(end) })
			sessions = append(sessions, s)
			ended = append(ended, end)
		}
		stale := newSession(nil, nil, "other:1", nil, nil)
		if e.attach(stale) {
			t.Fatal("attached a session dialed to a non-target address")
		}
		if addr, _, _ := e.route(); addr != "old:1" {
			t.Fatalf("route = %q", addr)
		}
		e.fence("old:1", 10*time.Millisecond)
		if addr, _, _ := e.route(); addr != "" {
			t.Fatalf("route during fence = %q, want none (hold)", addr)
		}
		start := time.Now()
		if n := e.setTarget("new:1", false); n != 3 {
			t.Fatalf("setTarget closed %d sessions, want 3", n)
		}
		for i, s := range sessions {
			select {
			case <-s.done():
			default:
				t.Fatalf("session %d still open after cutover", i)
			}
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("closing sessions took %s, want < 100ms", d)
		}
		if addr, _, _ := e.route(); addr != "new:1" {
			t.Fatalf("route after cutover = %q", addr)
		}
		for i, end := range ended {
			select {
			case <-end:
			case <-time.After(time.Second):
				t.Fatalf("session %d: onDone not called after cutover", i)
			}
		}
	})
}
