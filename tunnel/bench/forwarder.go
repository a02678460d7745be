package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Reference forwarders: the smallest possible goroutine-per-connection TCP proxy to a
// fixed address, with no Sentinel logic. They tell how much of the tunnel's cost is the
// Go data path itself (fwd-splice copies like the tunnel, io.Copy between TCP
// connections, which splices on Linux; fwd-readwrite copies through a 16 KiB buffer with
// read(2)/write(2)).
const (
	TargetForwardSplice    = "fwd-splice"
	TargetForwardReadWrite = "fwd-readwrite"
)

type forwarder struct {
	ln        net.Listener
	target    string
	readWrite bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
}

func startForwarder(ctx context.Context, target string, readWrite bool) (*forwarder, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("forwarder listen: %w", err)
	}
	f := &forwarder{ln: ln, target: target, readWrite: readWrite, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.acceptLoop()
	return f, nil
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) track(c net.Conn, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

func (f *forwarder) acceptLoop() {
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
			f.serve(c)
		}()
	}
}

func (f *forwarder) serve(client net.Conn) {
	server, err := net.Dial("tcp", f.target)
	if err != nil {
		client.Close()
		return
	}
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
		client.(*net.TCPConn).CloseWrite()
	}()
	f.copy(server, client)
	server.(*net.TCPConn).CloseWrite()
	<-done
}

func (f *forwarder) copy(dst, src net.Conn) {
	if !f.readWrite {
		_, _ = io.Copy(dst, src)
		return
	}
	// Hiding ReadFrom/WriteTo makes io.CopyBuffer use plain Read and Write.
	buf := make([]byte, 16<<10)
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}

func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
