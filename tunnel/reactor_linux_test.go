//go:build linux

package tunnel

import (
	"bytes"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/procstat"
)

// newTestReactor starts a reactor with n loops, closed when the test ends.
func newTestReactor(t *testing.T, n int) *reactor {
	t.Helper()
	r, err := newReactor(n, newCopyBuffers())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// reactorBridge is bridged with byte counting and an onDone counter.
type reactorBridge struct {
	app, upstream *net.TCPConn
	s             *session
	up, down      atomic.Int64
	doneCalls     atomic.Int32
	ended         chan struct{}
}

func newReactorBridge(t *testing.T, r *reactor) *reactorBridge {
	t.Helper()
	b := &reactorBridge{ended: make(chan struct{})}
	var clientSide, serverSide *net.TCPConn
	b.app, clientSide = tcpPair(t)
	serverSide, b.upstream = tcpPair(t)
	b.s = newSession(clientSide, serverSide, "upstream", newCopyBuffers(), func(u, d int64) {
		b.up.Add(u)
		b.down.Add(d)
	})
	b.s.reactor = r
	b.s.start(func() {
		if b.doneCalls.Add(1) == 1 {
			close(b.ended)
		}
	})
	return b
}

func (b *reactorBridge) waitEnded(t *testing.T) {
	t.Helper()
	select {
	case <-b.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
}

func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// A client that does not read makes the reactor keep the rest of a partial write and
// stop reading the server, so the server's own writes block: nothing is buffered
// without bound, and once the client reads everything arrives intact.
func TestReactorBackpressureSlowReader(t *testing.T) {
	b := newReactorBridge(t, newTestReactor(t, 1))
	// Small, but above the loopback MSS: a window below it stalls TCP itself.
	if err := b.app.SetReadBuffer(256 << 10); err != nil {
		t.Fatal(err)
	}
	payload := pattern(32 << 20)
	var written atomic.Int64
	writeDone := make(chan error, 1)
	go func() {
		for off := 0; off < len(payload); off += 64 << 10 {
			n, err := b.upstream.Write(payload[off:min(off+64<<10, len(payload))])
			written.Add(int64(n))
			if err != nil {
				writeDone <- err
				return
			}
		}
		writeDone <- nil
	}()
	time.Sleep(300 * time.Millisecond)
	if w := written.Load(); w >= int64(len(payload)) {
		t.Fatalf("server wrote all %d bytes to a client that reads nothing: no backpressure", w)
	}
	b.app.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, len(payload))
	if n, err := io.ReadFull(b.app, got); err != nil {
		t.Fatalf("client read %d of %d bytes (server wrote %d, reactor moved %d): %v", n, len(payload), written.Load(), b.down.Load(), err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("bytes reordered or corrupted under backpressure")
	}
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	b.s.close()
	b.waitEnded(t)
	if d := b.down.Load(); d != int64(len(payload)) {
		t.Fatalf("onBytes reported %d bytes down, want %d", d, len(payload))
	}
}

// fence must not report parked while client bytes the reactor already read still wait
// for a server that does not read; it does once they are delivered, and after that no
// client byte reaches the server until unfence.
func TestReactorFenceWithBytesInFlight(t *testing.T) {
	b := newReactorBridge(t, newTestReactor(t, 1))
	if err := b.upstream.SetReadBuffer(256 << 10); err != nil {
		t.Fatal(err)
	}
	payload := pattern(32 << 20)
	go func() {
		_, _ = b.app.Write(payload) // blocks until the end of the test reads it all
	}()
	// Wait until the reactor had to keep bytes: it stops reading the client (the
	// count stands still) only while a partial write to the server is pending.
	deadline := time.Now().Add(5 * time.Second)
	for last := int64(-1); ; {
		time.Sleep(100 * time.Millisecond)
		n := b.up.Load()
		if n > 0 && n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client bytes never stopped flowing to a server that reads nothing (%d read)", n)
		}
		last = n
	}
	parked := b.s.fence()
	select {
	case <-parked:
		t.Fatal("fence reported parked while client bytes were still waiting for the server")
	case <-time.After(200 * time.Millisecond):
	}
	var got []byte
	buf := make([]byte, 64<<10)
	readFor := func(d time.Duration) {
		b.upstream.SetReadDeadline(time.Now().Add(d))
		for {
			n, err := b.upstream.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return
			}
		}
	}
	// Let the server read what is in flight; parked must close meanwhile, once the
	// pending bytes are written. No timing window decides what counts: at the park every
	// client byte the tunnel read was written (nothing pending), so the server must get
	// exactly that many bytes, however long the kernel buffers take to drain, and not one
	// more until unfence.
	deadline = time.Now().Add(10 * time.Second)
	for {
		select {
		case <-parked:
		default:
			if time.Now().After(deadline) {
				t.Fatal("fence never parked after the server read the bytes in flight")
			}
			readFor(20 * time.Millisecond)
			continue
		}
		break
	}
	atFence := int(b.up.Load())
	for len(got) < atFence && time.Now().Before(deadline) {
		readFor(50 * time.Millisecond)
	}
	if len(got) != atFence {
		t.Fatalf("the server got %d bytes by the park; the tunnel had read (and so written) %d", len(got), atFence)
	}
	readFor(200 * time.Millisecond)
	if len(got) != atFence {
		t.Fatalf("%d client bytes reached the server after the fence parked", len(got)-atFence)
	}
	if atFence == 0 || atFence >= len(payload) {
		t.Fatalf("fence caught %d of %d bytes; want a fence in mid-stream", atFence, len(payload))
	}
	b.s.unfence()
	b.upstream.SetReadDeadline(time.Now().Add(20 * time.Second))
	rest := make([]byte, len(payload)-atFence)
	if _, err := io.ReadFull(b.upstream, rest); err != nil {
		t.Fatalf("after unfence: %v", err)
	}
	if !bytes.Equal(append(got, rest...), payload) {
		t.Fatal("stream not continuous across the fence")
	}
	b.s.close()
	b.waitEnded(t)
}

// close, fence and unfence from many goroutines while bytes flow both ways: every
// session ends once, onDone runs once, and fence channels all close.
func TestReactorCloseRacesWithEvents(t *testing.T) {
	r := newTestReactor(t, 2)
	const sessions = 40
	var wg sync.WaitGroup
	bridges := make([]*reactorBridge, sessions)
	for i := range bridges {
		bridges[i] = newReactorBridge(t, r)
	}
	for i, b := range bridges {
		// Traffic both ways until the session dies.
		wg.Add(2)
		go func() {
			defer wg.Done()
			msg := []byte("*1\r\n$4\r\nPING\r\n")
			for {
				if _, err := b.app.Write(msg); err != nil {
					return
				}
				select {
				case <-b.ended:
					return
				default:
				}
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := b.upstream.Read(buf)
				if err != nil {
					return
				}
				if _, err := b.upstream.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				if _, err := b.app.Read(buf); err != nil {
					return
				}
			}
		}()
		// Fencers and closers race.
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 20 {
				p := b.s.fence()
				select {
				case <-p:
				case <-b.s.done():
				case <-time.After(5 * time.Second):
					t.Errorf("session %d: fence channel never closed", i)
					return
				}
				b.s.unfence()
			}
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%7) * time.Millisecond)
			b.s.close()
			b.s.close()
		}()
	}
	for _, b := range bridges {
		b.waitEnded(t)
		// A fence after the end closes at once.
		select {
		case <-b.s.fence():
		case <-time.After(5 * time.Second):
			t.Fatal("fence on an ended session never closed")
		}
	}
	for _, b := range bridges {
		// Unblock the peers' loops: the sockets the reactor held are closed already.
		b.app.Close()
		b.upstream.Close()
	}
	wg.Wait()
	for i, b := range bridges {
		if n := b.doneCalls.Load(); n != 1 {
			t.Errorf("session %d: onDone ran %d times", i, n)
		}
	}
}

// Sessions spread over every loop and each carries its own stream.
func TestReactorManySessionsAcrossLoops(t *testing.T) {
	r := newTestReactor(t, 3)
	const sessions = 60
	bridges := make([]*reactorBridge, sessions)
	for i := range bridges {
		bridges[i] = newReactorBridge(t, r)
	}
	used := map[*reactorLoop]int{}
	for _, b := range bridges {
		b.s.mu.Lock()
		used[b.s.rc.loop]++
		b.s.mu.Unlock()
	}
	if len(used) != 3 {
		t.Fatalf("sessions used %d of 3 loops", len(used))
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i, b := range bridges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i*37)
			go func() {
				buf := make([]byte, len(req))
				if _, err := io.ReadFull(b.upstream, buf); err != nil {
					return
				}
				_, _ = b.upstream.Write(buf)
			}()
			if _, err := b.app.Write(req); err != nil {
				errs <- err
				return
			}
			b.app.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(req))
			if _, err := io.ReadFull(b.app, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, req) {
				errs <- io.ErrUnexpectedEOF
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, b := range bridges {
		b.s.close()
		b.waitEnded(t)
	}
}

// countFDs is the number of open descriptors of this process.
func countFDs(t *testing.T) int {
	t.Helper()
	n, err := procstat.OpenFDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// After sessions end (client close, server close, close()) and the reactor stops, no
// descriptor or goroutine is left behind.
func TestReactorNoLeaks(t *testing.T) {
	// Settle the runtime's own descriptors and goroutines first.
	warm := newReactorBridge(t, newTestReactor(t, 1))
	warm.s.close()
	warm.waitEnded(t)
	warm.app.Close()
	warm.upstream.Close()
	runtime.GC()
	fdsBefore, gBefore := countFDs(t), runtime.NumGoroutine()

	r, err := newReactor(2, newCopyBuffers())
	if err != nil {
		t.Fatal(err)
	}
	var bridges []*reactorBridge
	for i := range 30 {
		b := newReactorBridge(t, r)
		io.WriteString(b.app, "PING\r\n")
		readExactly(t, b.upstream, 6, 5*time.Second)
		switch i % 3 {
		case 0:
			// Half-close passes on; the server then ends the session like Redis does.
			b.app.Close()
			_, _ = io.Copy(io.Discard, b.upstream)
			b.upstream.Close()
		case 1:
			b.upstream.Close()
		}
		bridges = append(bridges, b)
	}
	for i, b := range bridges {
		if i%3 == 2 {
			b.s.close()
		}
	}
	for _, b := range bridges {
		b.waitEnded(t)
		b.app.Close()
		b.upstream.Close()
	}
	// One session still open when the reactor stops ends with it.
	last := newReactorBridge(t, r)
	r.close()
	last.waitEnded(t)
	last.app.Close()
	last.upstream.Close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		fds, gs := countFDs(t), runtime.NumGoroutine()
		if fds <= fdsBefore && gs <= gBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: %d fds (before %d), %d goroutines (before %d)", fds, fdsBefore, gs, gBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
