package tunnel

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// aLongTimeAgo is a read deadline in the past: setting it interrupts a blocked Read
// (or a wait for readability) at once without losing unread bytes, which stay in the socket buffer.
var aLongTimeAgo = time.Unix(1, 0)

// session is one client connection bridged to one upstream Redis. The client->server
// direction can be fenced (parked without reading) and resumed; the server->client
// direction always flows, so replies to commands already sent still reach the client.
type session struct {
	client   net.Conn
	server   net.Conn
	upstream string

	mu           sync.Mutex
	fenced       bool
	resume       chan struct{} // closed by unfence
	parked       chan struct{} // closed when the client->server pump has parked for the current fence
	parkSignaled bool

	closed    chan struct{}
	closeOnce sync.Once

	// onBytes reports bytes moved, in batches (when a direction goes idle, at least
	// every MiB, and at the end).
	onBytes func(up, down int64)
	// bufs lends copy buffers only while bytes flow.
	bufs *sync.Pool
	// reactor, when set, moves the bytes of a plain TCP session on an epoll loop instead
	// of two goroutines (see reactor_linux.go); rc is the session's state there once
	// started (guarded by mu).
	reactor *reactor
	rc      *reactorConn
}

func newSession(client, server net.Conn, upstream string, bufs *sync.Pool, onBytes func(up, down int64)) *session {
	return &session{
		bufs:     bufs,
		client:   client,
		server:   server,
		upstream: upstream,
		closed:   make(chan struct{}),
		onBytes:  onBytes,
	}
}

// fence stops forwarding client bytes. It returns a channel closed once the pump parked
// (or the session ended), so the caller knows no more bytes are on their way upstream.
func (s *session) fence() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fenced {
		s.fenced = true
		s.resume = make(chan struct{})
		s.parked = make(chan struct{})
		s.parkSignaled = false
		select {
		case <-s.closed:
			// Ended: nothing can reach the server any more.
			s.signalParkedLocked()
			return s.parked
		default:
		}
		if s.rc != nil {
			s.rc.loop.post(cmdRefresh, s.rc)
		} else if !s.forReactor() {
			_ = s.client.SetReadDeadline(aLongTimeAgo)
		}
		// A reactor session not started yet reads the fence when its loop adds it.
	}
	return s.parked
}

// signalParkedLocked closes the current fence's parked channel, once: nothing more from
// the client can reach the server. s.mu must be held; without a fence it does nothing.
func (s *session) signalParkedLocked() {
	if s.fenced && !s.parkSignaled {
		s.parkSignaled = true
		close(s.parked)
	}
}

// unfence resumes forwarding; no byte was lost, they waited in the client socket.
func (s *session) unfence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fenced {
		return
	}
	s.fenced = false
	if s.rc != nil {
		s.rc.loop.post(cmdRefresh, s.rc)
	} else if !s.forReactor() {
		_ = s.client.SetReadDeadline(time.Time{})
	}
	close(s.resume)
}

// close ends the session: both connections are closed, which unblocks both pumps. A
// session on a reactor loop is closed by its loop, which then calls onDone.
func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.mu.Lock()
		rc := s.rc
		s.mu.Unlock()
		if rc != nil {
			// Shut both sockets now, so that no byte moves once done() is closed; the
			// loop then releases them and calls onDone.
			rc.shutdownSockets()
			rc.loop.post(cmdClose, rc)
			return
		}
		// Not started, or on goroutine pumps: closing the conns ends it. A reactor
		// start racing with this sees closed and ends the session itself.
		_ = s.client.Close()
		_ = s.server.Close()
	})
}

// forReactor reports whether start hands the session to a reactor loop: both sides are
// plain TCP (TLS and other conns keep the goroutine pumps).
func (s *session) forReactor() bool {
	if s.reactor == nil {
		return false
	}
	_, clientTCP := s.client.(*net.TCPConn)
	_, serverTCP := s.server.(*net.TCPConn)
	return clientTCP && serverTCP
}

// done is closed when the session has been closed.
func (s *session) done() <-chan struct{} { return s.closed }

// start moves bytes both ways on two fresh goroutines and returns at once; when both
// directions ended it closes the session and calls onDone. Fresh goroutines keep the
// stacks of idle sessions small: the accepting goroutine grew its stack while dialing.
//
// With a reactor, a session whose both sides are plain TCP goes to a loop instead.
func (s *session) start(onDone func()) {
	if s.reactor != nil && s.startReactor(onDone) {
		return
	}
	var remaining atomic.Int32
	remaining.Store(2)
	finish := func() {
		if remaining.Add(-1) == 0 {
			s.close()
			onDone()
		}
	}
	go func() {
		defer finish()
		s.pumpServerToClient()
	}()
	go func() {
		defer finish()
		s.pumpClientToServer()
	}()
}

// run is start plus waiting for the end.
func (s *session) run() {
	done := make(chan struct{})
	s.start(func() { close(done) })
	<-done
}

// pumpClientToServer copies client bytes upstream. A deadline error means a fence: park
// until resumed or closed.
func (s *session) pumpClientToServer() {
	for {
		err := s.copy(s.server, s.client, func(n int64) { s.onBytes(n, 0) })
		if err == nil {
			// Client half-closed: pass the FIN on and keep reading replies.
			closeWrite(s.server)
			return
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			s.close()
			return
		}
		s.mu.Lock()
		if !s.fenced {
			// The fence was lifted between the interrupt and now.
			s.mu.Unlock()
			continue
		}
		resume := s.resume
		s.signalParkedLocked()
		s.mu.Unlock()
		select {
		case <-resume:
		case <-s.closed:
			return
		}
	}
}

// pumpServerToClient copies replies to the client. When Redis ends the connection the
// whole session ends: Redis never reads again after closing.
func (s *session) pumpServerToClient() {
	err := s.copy(s.client, s.server, func(n int64) { s.onBytes(0, n) })
	if err == nil {
		closeWrite(s.client)
	}
	s.close()
}

// copy moves bytes from src to dst until src reaches EOF (nil) or an error, such as the
// read deadline a fence sets. count receives the bytes moved, in batches.
//
// A plain TCP source is read through its raw file descriptor: the goroutine waits for
// readability holding no buffer, takes one from the pool only for the read that finds
// data, and returns it after the write. Idle sessions (most of a big client population)
// so cost two parked goroutines and two sockets, where io.Copy's splice path holds a
// pipe (two more fds and kernel pipe pages) per blocked direction, and a read loop would
// hold a buffer each. For the small packets of RESP, read+write also beats splice's
// two splice calls through a pipe. TLS and other sources fall back to a buffered loop.
func (s *session) copy(dst, src net.Conn, count func(int64)) error {
	if sc, ok := src.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return copyRaw(dst, rc, s.bufs, count)
		}
	}
	bufs := s.bufs
	buf := bufs.Get().(*[]byte)
	defer bufs.Put(buf)
	for {
		n, err := src.Read(*buf)
		if n > 0 {
			if _, werr := dst.Write((*buf)[:n]); werr != nil {
				count(int64(n))
				return werr
			}
			count(int64(n))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyRaw is copy for a source with a raw file descriptor (see copy).
func copyRaw(dst net.Conn, src syscall.RawConn, bufs *sync.Pool, count func(int64)) error {
	var (
		buf     *[]byte
		n       int
		readErr error
		pending int64
	)
	// read runs inside src.Read: returning false parks until the fd is readable (or the
	// read deadline passes, or the conn closes) and runs it again.
	read := func(fd uintptr) bool {
		if buf == nil {
			buf = bufs.Get().(*[]byte)
		}
		for {
			n, readErr = syscall.Read(int(fd), *buf)
			if readErr != syscall.EINTR {
				break
			}
		}
		if readErr == syscall.EAGAIN {
			// Idle: give the buffer back and report what moved before parking.
			bufs.Put(buf)
			buf = nil
			if pending > 0 {
				count(pending)
				pending = 0
			}
			return false
		}
		return true
	}
	defer func() {
		if buf != nil {
			bufs.Put(buf)
		}
		if pending > 0 {
			count(pending)
		}
	}()
	for {
		if err := src.Read(read); err != nil {
			return err
		}
		if readErr != nil {
			return os.NewSyscallError("read", readErr)
		}
		if n <= 0 {
			return nil // EOF
		}
		_, err := dst.Write((*buf)[:n])
		pending += int64(n)
		if err != nil {
			return err
		}
		if pending >= 1<<20 {
			count(pending)
			pending = 0
		}
	}
}

// copyBufferSize fits a pipeline of small RESP commands or a large value's chunk.
const copyBufferSize = 32 << 10

// newCopyBuffers is the pool of data-path buffers a Tunnel shares among its sessions: a
// buffer sits there whenever no bytes flow.
func newCopyBuffers() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, copyBufferSize)
		return &b
	}}
}

// closeWrite half-closes c when it supports it (*net.TCPConn, *tls.Conn).
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
