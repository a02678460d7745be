//go:build !linux

package tunnel

import (
	"errors"
	"net"
	"sync"
)

// reactorSupported reports whether this build has the epoll data path.
const reactorSupported = false

// reactor is the epoll data path, which exists on Linux only; elsewhere every session
// uses the goroutine pumps.
type reactor struct{}

func newReactor(int, *sync.Pool) (*reactor, error) {
	return nil, errors.New("reactor data path needs Linux epoll; use the goroutines data path")
}

func (r *reactor) close() {}

type reactorCmdKind uint8

const (
	cmdRefresh reactorCmdKind = iota
	cmdClose
)

type reactorLoop struct{}

func (l *reactorLoop) post(reactorCmdKind, *reactorConn) bool { return false }

type reactorConn struct{ loop *reactorLoop }

func (rc *reactorConn) shutdownSockets() {}

func (s *session) startReactor(func()) bool { return false }

// reactorListener exists on Linux only: elsewhere every listener has an accept goroutine.
type reactorListener struct{}

func (t *Tunnel) listenReactor(*listener, net.Listener) error {
	return errors.New("reactor data path needs Linux epoll")
}

func (r *reactor) unlisten(*reactorListener) {}

func (r *reactor) abortDials() {}
