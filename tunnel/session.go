package tunnel

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// aLongTimeAgo is a read deadline in the past: setting it interrupts a blocked Read
// (or splice) at once without losing unread bytes, which stay in the socket buffer.
var aLongTimeAgo = time.Unix(1, 0)

// session is one client connection bridged to one upstream Redis. The client->server
// direction can be fenced (parked without reading) and resumed; the server->client
// direction always flows, so replies to commands already sent still reach the client.
type session struct {
	client   net.Conn
	server   net.Conn
	upstream string
	started  time.Time

	mu           sync.Mutex
	fenced       bool
	resume       chan struct{} // closed by unfence
	parked       chan struct{} // closed when the client->server pump has parked for the current fence
	parkSignaled bool

	closed    chan struct{}
	closeOnce sync.Once

	// bytesUp/bytesDown are reported to metrics after each copy segment.
	onBytes func(up, down int64)
}

func newSession(client, server net.Conn, upstream string, onBytes func(up, down int64)) *session {
	return &session{
		client:   client,
		server:   server,
		upstream: upstream,
		started:  time.Now(),
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
		_ = s.client.SetReadDeadline(aLongTimeAgo)
	}
	return s.parked
}

// unfence resumes forwarding; no byte was lost, they waited in the client socket.
func (s *session) unfence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fenced {
		return
	}
	s.fenced = false
	_ = s.client.SetReadDeadline(time.Time{})
	close(s.resume)
}

// close ends the session: both connections are closed, which unblocks both pumps.
func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.client.Close()
		_ = s.server.Close()
	})
}

// done is closed when the session has been closed.
func (s *session) done() <-chan struct{} { return s.closed }

// start moves bytes both ways on two fresh goroutines and returns at once; when both
// directions ended it closes the session and calls onDone. Fresh goroutines keep the
// stacks of idle sessions small: the accepting goroutine grew its stack while dialing.
func (s *session) start(onDone func()) {
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

// pumpClientToServer copies client bytes upstream. io.Copy between two *net.TCPConn uses
// splice(2) on Linux. A deadline error means a fence: park until resumed or closed.
func (s *session) pumpClientToServer() {
	for {
		n, err := io.Copy(s.server, s.client)
		s.onBytes(n, 0)
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
		if !s.parkSignaled {
			s.parkSignaled = true
			close(s.parked)
		}
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
	n, err := io.Copy(s.client, s.server)
	s.onBytes(0, n)
	if err == nil {
		closeWrite(s.client)
	}
	s.close()
}

// closeWrite half-closes c when it supports it (*net.TCPConn, *tls.Conn).
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
