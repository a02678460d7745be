package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
)

// Reference forwarders: the smallest possible goroutine-per-connection TCP proxy to a
// fixed address, with no Sentinel logic. They tell how much of the tunnel's cost is the
// Go data path itself, and try the alternatives to its io.Copy:
//
//   - splice: io.Copy between the TCP connections (splice(2) on Linux), like the tunnel;
//   - readwrite: io.CopyBuffer through a 16 KiB buffer per direction (read/write);
//   - rawread: wait for readability through syscall.RawConn without holding anything,
//     then read into a pooled 16 KiB buffer and write it on. An idle session holds no
//     buffer and no splice pipe.
const (
	CopySplice    = "splice"
	CopyReadWrite = "readwrite"
	CopyRawRead   = "rawread"
)

// CopyModes lists the forwarder copy modes.
var CopyModes = []string{CopySplice, CopyReadWrite, CopyRawRead}

// Forwarder is a running reference forwarder.
type Forwarder struct {
	ln     net.Listener
	target string
	mode   string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	pool   sync.Pool
}

// StartForwarder listens on listen and forwards every connection to target, copying
// with mode (one of CopyModes).
func StartForwarder(ctx context.Context, listen, target, mode string) (*Forwarder, error) {
	switch mode {
	case CopySplice, CopyReadWrite, CopyRawRead:
	default:
		return nil, fmt.Errorf("forwarder copy mode %q: want one of %v", mode, CopyModes)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("forwarder listen: %w", err)
	}
	f := &Forwarder{ln: ln, target: target, mode: mode, conns: map[net.Conn]struct{}{}}
	f.pool.New = func() any { b := make([]byte, 16<<10); return &b }
	f.wg.Add(1)
	go f.acceptLoop()
	return f, nil
}

// Addr is the bound listen address.
func (f *Forwarder) Addr() string { return f.ln.Addr().String() }

func (f *Forwarder) track(c net.Conn, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

func (f *Forwarder) acceptLoop() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(c.(*net.TCPConn))
		}()
	}
}

func (f *Forwarder) serve(client *net.TCPConn) {
	c, err := net.Dial("tcp", f.target)
	if err != nil {
		client.Close()
		return
	}
	server := c.(*net.TCPConn)
	f.track(client, true)
	f.track(server, true)
	defer func() {
		f.track(client, false)
		f.track(server, false)
		client.Close()
		server.Close()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.copy(client, server)
		_ = client.CloseWrite()
	}()
	f.copy(server, client)
	_ = server.CloseWrite()
	<-done
}

func (f *Forwarder) copy(dst, src *net.TCPConn) {
	switch f.mode {
	case CopySplice:
		_, _ = io.Copy(dst, src)
	case CopyReadWrite:
		// Hiding ReadFrom/WriteTo makes io.CopyBuffer use plain Read and Write.
		buf := make([]byte, 16<<10)
		_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
	case CopyRawRead:
		_ = f.copyRawRead(dst, src)
	}
}

// copyRawRead waits for src to be readable without holding a buffer, reads what is
// there into a pooled buffer and writes it to dst.
func (f *Forwarder) copyRawRead(dst, src *net.TCPConn) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	for {
		var buf *[]byte
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			b := f.pool.Get().(*[]byte)
			for {
				n, rerr = syscall.Read(int(fd), *b)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				f.pool.Put(b)
				return false // park in the netpoller, holding nothing
			}
			buf = b
			return true
		})
		if err != nil {
			return err
		}
		if rerr != nil || n <= 0 {
			f.pool.Put(buf)
			return rerr // nil at EOF
		}
		_, werr := dst.Write((*buf)[:n])
		f.pool.Put(buf)
		if werr != nil {
			return werr
		}
	}
}

// Close stops accepting, closes every connection and waits for the goroutines.
func (f *Forwarder) Close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
