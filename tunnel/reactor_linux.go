//go:build linux

package tunnel

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reactorSupported reports whether this build has the epoll data path.
const reactorSupported = true

// reactor is the event-loop data path for plain TCP sessions: a few loops, each one
// goroutine waiting in a level-triggered epoll_wait, move the bytes of many sessions.
// Compared with a goroutine per direction on Go's netpoller, a message costs one read
// (level-triggered readiness needs no speculative read that ends in EAGAIN) and no
// goroutine wakeup. Sessions are spread over the loops round-robin.
type reactor struct {
	loops []*reactorLoop
	next  atomic.Uint32
	wg    sync.WaitGroup
}

// newReactor starts n loops sharing bufs for pending partial writes.
func newReactor(n int, bufs *sync.Pool) (*reactor, error) {
	if n < 1 {
		n = 1
	}
	r := &reactor{}
	for range n {
		l, err := newReactorLoop(bufs)
		if err != nil {
			r.close()
			return nil, err
		}
		r.loops = append(r.loops, l)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			l.run()
		}()
	}
	return r, nil
}

// pick returns the loop for the next session.
func (r *reactor) pick() *reactorLoop {
	return r.loops[int(r.next.Add(1))%len(r.loops)]
}

// close stops every loop, ending the sessions still on them, and waits for the loops.
func (r *reactor) close() {
	for _, l := range r.loops {
		l.stop()
	}
	r.wg.Wait()
}

type reactorCmdKind uint8

const (
	// cmdRefresh re-reads the session's fence state.
	cmdRefresh reactorCmdKind = iota
	// cmdClose ends the session.
	cmdClose
	// cmdRemoveListener takes a listener out of the loop, then closes ack.
	cmdRemoveListener
	// cmdResumeListener re-adds a listener paused after an accept error.
	cmdResumeListener
	// cmdAbortDials fails every upstream connect in flight (the tunnel is closing).
	cmdAbortDials
)

type reactorCmd struct {
	kind reactorCmdKind
	rc   *reactorConn
	ll   *loopListener
	ack  chan struct{}
}

// reactorLoop owns an epoll instance and the sessions registered on it. Only its own
// goroutine touches a reactorConn; other goroutines talk to it through post.
type reactorLoop struct {
	epfd int
	// wakefd is an eventfd that makes epoll_wait return when commands are queued.
	wakefd int
	bufs   *sync.Pool
	// scratch receives every read; only bytes a socket did not accept are copied into a
	// buffer of their own, so idle sessions hold none.
	scratch []byte

	mu sync.Mutex
	// conns maps both descriptors of every registered session to it (guarded by mu:
	// the starting goroutine registers sessions itself, sparing a wakeup per connection).
	conns map[int32]*reactorConn
	// listeners maps the listening sockets in the epoll set (guarded by mu).
	listeners map[int32]*loopListener
	queue     []reactorCmd
	stopped   bool

	// dialing lists the sessions whose upstream connect is in flight; nextSweep is when
	// their deadlines are checked next (loop goroutine only).
	dialing   []*reactorConn
	nextSweep time.Time
}

func newReactorLoop(bufs *sync.Pool) (*reactorLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("reactor: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("reactor: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wakefd)
		return nil, fmt.Errorf("reactor: register eventfd: %w", err)
	}
	return &reactorLoop{
		epfd: epfd, wakefd: wakefd, bufs: bufs,
		scratch:   make([]byte, copyBufferSize),
		conns:     map[int32]*reactorConn{},
		listeners: map[int32]*loopListener{},
	}, nil
}

// post queues a command for the loop and wakes it. It reports false once the loop
// stopped; then the caller cleans up itself.
func (l *reactorLoop) post(kind reactorCmdKind, rc *reactorConn) bool {
	return l.postCmd(reactorCmd{kind: kind, rc: rc})
}

// postCmd is post for any command.
func (l *reactorLoop) postCmd(c reactorCmd) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	wake := len(l.queue) == 0
	l.queue = append(l.queue, c)
	if wake {
		// The loop reads the eventfd before taking the queue, so a command appended to
		// an empty queue always finds the loop awake or about to wake.
		var one = [8]byte{1}
		for {
			if _, err := unix.Write(l.wakefd, one[:]); err != unix.EINTR {
				break
			}
		}
	}
	return true
}

// stop makes the loop end its sessions and return.
func (l *reactorLoop) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.stopped = true
	var one = [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
}

func (l *reactorLoop) run() {
	events := make([]unix.EpollEvent, 128)
	var spare []reactorCmd
	var batches uint
	ready := make([]*reactorConn, len(events))
	readyListeners := make([]*loopListener, len(events))
	for {
		// A non-blocking look first: under load events are usually ready, and a
		// blocking syscall makes the runtime hand this goroutine's P away.
		n, err := pollNow(l.epfd, events)
		if err == nil && n == 0 {
			timeout := -1
			if len(l.dialing) > 0 {
				timeout = int(dialSweepInterval / time.Millisecond)
			}
			n, err = unix.EpollWait(l.epfd, events, timeout)
		}
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// epoll_wait fails only on programming errors (bad fd, bad buffer).
			panic(fmt.Sprintf("reactor: epoll_wait: %v", err))
		}
		// A loop under load never blocks, and sysmon would preempt it every 10 ms with a
		// signal and stay awake polling; yielding now and then avoids both (yielding
		// every batch would cost a scheduler round trip per request at low load).
		if batches++; batches%256 == 0 {
			runtime.Gosched()
		}
		woken := false
		l.mu.Lock()
		for i := range n {
			if ready[i] = l.conns[events[i].Fd]; ready[i] == nil {
				readyListeners[i] = l.listeners[events[i].Fd]
			}
		}
		l.mu.Unlock()
		for i := range n {
			ev := &events[i]
			if ev.Fd == int32(l.wakefd) {
				woken = true
				continue
			}
			rc := ready[i]
			ready[i] = nil
			if ll := readyListeners[i]; ll != nil {
				readyListeners[i] = nil
				if ll.active {
					ll.acceptReady()
				}
				continue
			}
			switch {
			case rc == nil || rc.ended:
				// ended earlier in this batch
			case rc.dial != nil:
				rc.dialEvent()
			case ev.Fd == int32(rc.cfd):
				rc.clientEvent(ev.Events)
			default:
				rc.serverEvent(ev.Events)
			}
		}
		if len(l.dialing) > 0 {
			if now := time.Now(); now.After(l.nextSweep) {
				l.sweepDials(now)
				l.nextSweep = now.Add(dialSweepInterval)
			}
		}
		if !woken {
			continue
		}
		var buf [8]byte
		_, _ = unix.Read(l.wakefd, buf[:])
		l.mu.Lock()
		cmds, stopped := l.queue, l.stopped
		l.queue = spare[:0]
		l.mu.Unlock()
		for _, c := range cmds {
			switch c.kind {
			case cmdRefresh:
				if !c.rc.ended {
					c.rc.refresh()
				}
			case cmdClose:
				c.rc.end(false)
			case cmdRemoveListener:
				l.removeListener(c.ll)
				close(c.ack)
			case cmdResumeListener:
				c.ll.resume()
			case cmdAbortDials:
				l.abortDials()
			}
		}
		clear(cmds)
		spare = cmds
		if stopped {
			l.shutdown()
			return
		}
	}
}

// shutdown ends every session still on the loop and releases the loop's descriptors.
func (l *reactorLoop) shutdown() {
	// stopped is set: nobody registers any more.
	l.mu.Lock()
	var open []*reactorConn
	for _, rc := range l.conns {
		open = append(open, rc)
	}
	l.mu.Unlock()
	for _, rc := range open {
		rc.end(false)
	}
	l.mu.Lock()
	// Commands queued after the last wakeup: their sessions end too, and whoever removes
	// a listener is told it is gone.
	cmds := l.queue
	l.queue = nil
	var listeners []*loopListener
	for _, ll := range l.listeners {
		listeners = append(listeners, ll)
	}
	l.mu.Unlock()
	for _, c := range cmds {
		switch c.kind {
		case cmdRefresh, cmdClose:
			c.rc.end(false)
		case cmdRemoveListener:
			close(c.ack)
		}
	}
	for _, ll := range listeners {
		l.removeListener(ll)
	}
	_ = unix.Close(l.epfd)
	_ = unix.Close(l.wakefd)
}

// removeListener takes a listener out of the loop for good (loop goroutine).
func (l *reactorLoop) removeListener(ll *loopListener) {
	ll.removed = true
	ll.deactivate()
	l.mu.Lock()
	delete(l.listeners, int32(ll.rl.fd))
	l.mu.Unlock()
}

// pendingWrite holds the bytes a socket did not accept yet, in a pooled buffer.
type pendingWrite struct {
	buf      *[]byte
	off, end int
}

func (p *pendingWrite) empty() bool { return p.buf == nil }

// reactorConn is a session's state on its loop: the two descriptors (taken out of Go's
// netpoller), what each direction still has to write, and the fence as the loop sees it.
type reactorConn struct {
	s      *session
	loop   *reactorLoop
	onDone func()
	cfd    int
	sfd    int
	// cmask and smask are the epoll interests registered for the client and server fds.
	cmask, smask uint32
	// up holds client bytes the server did not accept yet; down, replies for the client.
	up, down pendingWrite
	// fenced: the client is not read. clientEOF: the client half-closed (FIN passed on
	// once up is flushed).
	fenced, clientEOF bool
	added, ended      bool
	// dial is set while the upstream connect of a session accepted by the loop is in
	// flight (only sfd is registered then, for EPOLLOUT); s and onDone are set after it.
	dial *pendingDial

	// fdMu guards the descriptors against reuse: session.close shuts the sockets
	// down from another goroutine, and must never touch a number the loop closed
	// already (it could name a new connection by then).
	fdMu      sync.Mutex
	fdsClosed bool
}

// shutdownSockets shuts both sockets down in both directions unless the loop closed
// them already: the peers see the end at once and no later write can succeed.
func (rc *reactorConn) shutdownSockets() {
	rc.fdMu.Lock()
	defer rc.fdMu.Unlock()
	if !rc.fdsClosed {
		_ = unix.Shutdown(rc.cfd, unix.SHUT_RDWR)
		_ = unix.Shutdown(rc.sfd, unix.SHUT_RDWR)
	}
}

// startReactor hands a session whose both sides are plain TCP to a loop. It reports
// false when the session must use the goroutine pumps instead (TLS or another conn type,
// or the descriptors could not be taken over; then the conns are untouched).
func (s *session) startReactor(onDone func()) bool {
	if !s.forReactor() {
		return false
	}
	client, server := s.client.(*net.TCPConn), s.server.(*net.TCPConn)
	cfd, err := dupConnFD(client)
	if err != nil {
		return s.fallBackToPumps()
	}
	sfd, err := dupConnFD(server)
	if err != nil {
		_ = unix.Close(cfd)
		return s.fallBackToPumps()
	}
	// Closing the net.Conns removes their descriptors from Go's netpoller; the sockets
	// live on through the duplicates, which share the non-blocking file status.
	_ = client.Close()
	_ = server.Close()
	rc := &reactorConn{s: s, loop: s.reactor.pick(), onDone: onDone, cfd: cfd, sfd: sfd}
	s.mu.Lock()
	select {
	case <-s.closed:
		// Closed before it started (cut during a failover): nothing to register.
		s.mu.Unlock()
		rc.end(false)
		return true
	default:
	}
	rc.fenced = s.fenced
	if !rc.register() {
		s.mu.Unlock()
		rc.end(false)
		return true
	}
	s.rc = rc
	// Nothing was read from the client yet.
	s.signalParkedLocked()
	s.mu.Unlock()
	return true
}

// fallBackToPumps lets the goroutine pumps take a session meant for the reactor: a fence
// set meanwhile was only recorded, so it gets the pumps' read deadline now.
func (s *session) fallBackToPumps() bool {
	s.mu.Lock()
	s.reactor = nil
	if s.fenced {
		_ = s.client.SetReadDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()
	return false
}

// dupConnFD duplicates the descriptor of a connection or listener (close-on-exec).
func dupConnFD(c syscall.Conn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("reactor: raw conn: %w", err)
	}
	nfd := -1
	var dupErr error
	if err := raw.Control(func(fd uintptr) {
		nfd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("reactor: control: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("reactor: dup: %w", dupErr)
	}
	return nfd, nil
}

// register adds both descriptors to the loop's epoll set and map, from the starting
// goroutine (epoll_ctl is safe next to a running epoll_wait). It reports false when the
// loop stopped or epoll refused; then nothing stays registered.
func (rc *reactorConn) register() bool {
	l := rc.loop
	rc.cmask, rc.smask = rc.wantMasks()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, rc.cfd, &unix.EpollEvent{Events: rc.cmask, Fd: int32(rc.cfd)}); err != nil {
		return false
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, rc.sfd, &unix.EpollEvent{Events: rc.smask, Fd: int32(rc.sfd)}); err != nil {
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, rc.cfd, nil)
		return false
	}
	// Published under mu: the loop sees a complete reactorConn.
	rc.added = true
	l.conns[int32(rc.cfd)] = rc
	l.conns[int32(rc.sfd)] = rc
	return true
}

// readFence copies the session's fence flag into the loop's view.
func (rc *reactorConn) readFence() {
	rc.s.mu.Lock()
	rc.fenced = rc.s.fenced
	rc.s.mu.Unlock()
}

// refresh applies a fence or unfence (loop goroutine).
func (rc *reactorConn) refresh() {
	rc.readFence()
	rc.updateMasks()
	rc.signalParked()
}

// signalParked closes the fence's channel once the loop neither reads the client nor
// has client bytes left to write: nothing more can reach the server. The session's
// current fence may be newer than the loop's view; the loop still reads nothing, so the
// signal holds for it too.
func (rc *reactorConn) signalParked() {
	if !rc.fenced || !rc.up.empty() {
		return
	}
	s := rc.s
	s.mu.Lock()
	s.signalParkedLocked()
	s.mu.Unlock()
}

// wantMasks derives the epoll interests from the state: read a side only while its
// peer has nothing pending (backpressure), the client also only while not fenced and
// not half-closed; ask for writability only while bytes wait.
func (rc *reactorConn) wantMasks() (c, s uint32) {
	if !rc.fenced && !rc.clientEOF && rc.up.empty() {
		c |= unix.EPOLLIN
	}
	if !rc.down.empty() {
		c |= unix.EPOLLOUT
	}
	if rc.down.empty() {
		s |= unix.EPOLLIN
	}
	if !rc.up.empty() {
		s |= unix.EPOLLOUT
	}
	return c, s
}

// updateMasks re-registers the interests that changed; an error ends the session.
func (rc *reactorConn) updateMasks() {
	c, s := rc.wantMasks()
	if c != rc.cmask {
		if err := unix.EpollCtl(rc.loop.epfd, unix.EPOLL_CTL_MOD, rc.cfd, &unix.EpollEvent{Events: c, Fd: int32(rc.cfd)}); err != nil {
			rc.end(false)
			return
		}
		rc.cmask = c
	}
	if s != rc.smask {
		if err := unix.EpollCtl(rc.loop.epfd, unix.EPOLL_CTL_MOD, rc.sfd, &unix.EpollEvent{Events: s, Fd: int32(rc.sfd)}); err != nil {
			rc.end(false)
			return
		}
		rc.smask = s
	}
}

const readableEvents = unix.EPOLLIN | unix.EPOLLHUP | unix.EPOLLERR

// clientEvent handles readiness of the client socket (loop goroutine).
func (rc *reactorConn) clientEvent(ev uint32) {
	if ev&unix.EPOLLOUT != 0 && !rc.down.empty() {
		if !rc.flush(rc.cfd, &rc.down) {
			return
		}
		rc.updateMasks()
	}
	if ev&readableEvents == 0 || rc.ended {
		return
	}
	if rc.cmask&unix.EPOLLIN == 0 {
		// Hang-up or error while the client is not read (fenced, half-closed or
		// waiting for the server): the client is gone, and level-triggered epoll would
		// report it again and again.
		if ev&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			rc.end(false)
		}
		return
	}
	n, err := readFD(rc.cfd, rc.loop.scratch)
	switch {
	case err == unix.EAGAIN:
	case err != nil:
		rc.end(false)
	case n == 0:
		// Half-close: pass the FIN on once the pending bytes are out; replies keep coming.
		rc.clientEOF = true
		if rc.up.empty() {
			_ = unix.Shutdown(rc.sfd, unix.SHUT_WR)
		}
		rc.updateMasks()
	default:
		rc.s.onBytes(int64(n), 0)
		if !rc.forward(rc.sfd, rc.loop.scratch[:n], &rc.up) {
			return
		}
		if !rc.up.empty() {
			rc.updateMasks()
		}
	}
}

// serverEvent handles readiness of the server socket (loop goroutine).
func (rc *reactorConn) serverEvent(ev uint32) {
	if ev&unix.EPOLLOUT != 0 && !rc.up.empty() {
		if !rc.flush(rc.sfd, &rc.up) {
			return
		}
		if rc.up.empty() {
			if rc.clientEOF {
				_ = unix.Shutdown(rc.sfd, unix.SHUT_WR)
			}
			rc.signalParked()
		}
		rc.updateMasks()
	}
	if ev&readableEvents == 0 || rc.ended {
		return
	}
	if rc.smask&unix.EPOLLIN == 0 {
		if ev&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			rc.end(false)
		}
		return
	}
	n, err := readFD(rc.sfd, rc.loop.scratch)
	switch {
	case err == unix.EAGAIN:
	case err != nil:
		rc.end(false)
	case n == 0:
		// Redis never reads again after closing: the whole session ends.
		rc.end(true)
	default:
		rc.s.onBytes(0, int64(n))
		if !rc.forward(rc.cfd, rc.loop.scratch[:n], &rc.down) {
			return
		}
		if !rc.down.empty() {
			rc.updateMasks()
		}
	}
}

// forward writes data to fd and keeps what the socket did not take in p. It reports
// false when the write failed and the session ended.
func (rc *reactorConn) forward(fd int, data []byte, p *pendingWrite) bool {
	w, err := writeFD(fd, data)
	if err != nil && err != unix.EAGAIN {
		rc.end(false)
		return false
	}
	if w < len(data) {
		p.buf = rc.loop.bufs.Get().(*[]byte)
		p.off, p.end = 0, copy(*p.buf, data[w:])
	}
	return true
}

// flush writes pending bytes; the buffer goes back to the pool once empty. It reports
// false when the write failed and the session ended.
func (rc *reactorConn) flush(fd int, p *pendingWrite) bool {
	w, err := writeFD(fd, (*p.buf)[p.off:p.end])
	if err != nil && err != unix.EAGAIN {
		rc.end(false)
		return false
	}
	p.off += w
	if p.off == p.end {
		rc.loop.bufs.Put(p.buf)
		*p = pendingWrite{}
	}
	return true
}

// end closes both sockets once, releases the buffers, marks the session closed, closes
// the fence channel if nobody saw it close yet, and calls onDone. serverEOF passes the
// server's FIN on to the client first, like the goroutine pump does.
func (rc *reactorConn) end(serverEOF bool) {
	if rc.ended {
		return
	}
	if rc.dial != nil {
		rc.abortDial()
		return
	}
	rc.ended = true
	if rc.added {
		rc.loop.mu.Lock()
		delete(rc.loop.conns, int32(rc.cfd))
		delete(rc.loop.conns, int32(rc.sfd))
		rc.loop.mu.Unlock()
	}
	if serverEOF {
		_ = unix.Shutdown(rc.cfd, unix.SHUT_WR)
	}
	// close also removes the descriptors from the epoll set: they are the last ones
	// referring to the sockets.
	rc.fdMu.Lock()
	rc.fdsClosed = true
	_ = unix.Close(rc.cfd)
	_ = unix.Close(rc.sfd)
	rc.fdMu.Unlock()
	for _, p := range []*pendingWrite{&rc.up, &rc.down} {
		if p.buf != nil {
			rc.loop.bufs.Put(p.buf)
			*p = pendingWrite{}
		}
	}
	s := rc.s
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	s.signalParkedLocked()
	s.mu.Unlock()
	rc.onDone()
}

// readFD, writeFD and pollNow are raw system calls: the sockets are non-blocking, so
// they return at once, and skipping the runtime's syscall bookkeeping (entersyscall,
// exitsyscall) keeps sysmon from waking every 20 µs to look for Ps stuck in syscalls,
// which measurably cost CPU per request.
func readFD(fd int, b []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if errno == 0 {
			return int(n), nil
		}
		if errno != unix.EINTR {
			return 0, errno
		}
	}
}

func writeFD(fd int, b []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if errno == 0 {
			return int(n), nil
		}
		if errno != unix.EINTR {
			return 0, errno
		}
	}
}

// pollNow is epoll_wait with timeout 0 (see readFD).
func pollNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))),
		uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
