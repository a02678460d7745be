//go:build linux

package tunnel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The reactor also accepts and dials. A plain TCP listener sits in every loop's epoll set
// (EPOLLEXCLUSIVE: the kernel wakes one loop per connection); the woken loop accepts with
// accept4, and when the route is open it connects to the upstream with a non-blocking
// connect and waits for it in the same epoll set. A new session so costs no goroutine,
// no registration with Go's netpoller and no descriptor copies: about 20 system calls
// from accept to close, like HAProxy, where the net package path took about 40.
// Everything that has to wait (a fence, a write gate, no master, a host name not resolved
// yet, a failed dial) hands the client to the goroutine path (Tunnel.serve), which holds
// it up to --failover-hold exactly as before.

// acceptBatch bounds the connections one wakeup accepts, so the sessions on the loop keep
// moving under a connection flood.
const acceptBatch = 64

// dialSweepInterval is how often a loop with dials in flight checks their deadlines.
const dialSweepInterval = 100 * time.Millisecond

// reactorListener is a listening socket served by the loops.
type reactorListener struct {
	t  *Tunnel
	l  *listener
	fd int
	// perLoop is this listener's state in each loop.
	perLoop []*loopListener
}

// loopListener is one loop's view of a reactorListener (touched by that loop only, once
// registered).
type loopListener struct {
	rl      *reactorListener
	loop    *reactorLoop
	backoff acceptBackoff
	// active: the socket is in the loop's epoll set (not paused, not removed).
	active, removed bool
}

// pendingDial is the state of a session whose upstream connect is in flight.
type pendingDial struct {
	l        *listener
	addr     string
	release  func()
	accepted time.Time
	deadline time.Time
	// idx is the position in the loop's dialing list.
	idx int
}

// listenReactor takes ln's socket for the loops and closes ln. The socket gets the
// options accepted connections inherit on Linux (TCP_NODELAY and the keepalive),
// so the loops set none per connection.
func (t *Tunnel) listenReactor(l *listener, ln net.Listener) error {
	fd, err := dupConnFD(ln.(*net.TCPListener))
	if err != nil {
		return err
	}
	if err := setDataSockopts(fd); err != nil {
		_ = unix.Close(fd)
		return err
	}
	_ = ln.Close()
	rl := &reactorListener{t: t, l: l, fd: fd}
	for _, loop := range t.reactor.loops {
		ll := &loopListener{rl: rl, loop: loop}
		if err := loop.addListener(ll); err != nil {
			t.reactor.unlisten(rl)
			return err
		}
		rl.perLoop = append(rl.perLoop, ll)
	}
	l.rl = rl
	return nil
}

// setDataSockopts sets what every data-path socket needs: no Nagle delay (commands and
// replies are small and answered at once) and keepalive that finds vanished peers.
func setDataSockopts(fd int) error {
	for _, o := range []struct{ level, opt, value int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(tcpKeepAlive.Idle / time.Second)},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(tcpKeepAlive.Interval / time.Second)},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, tcpKeepAlive.Count},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return fmt.Errorf("reactor: setsockopt: %w", err)
		}
	}
	return nil
}

// addListener puts the listening socket into the loop's epoll set.
func (l *reactorLoop) addListener(ll *loopListener) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return errors.New("reactor: stopped")
	}
	l.listeners[int32(ll.rl.fd)] = ll
	if err := ll.activate(); err != nil {
		delete(l.listeners, int32(ll.rl.fd))
		return err
	}
	return nil
}

// activate adds the socket to the epoll set.
func (ll *loopListener) activate() error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(ll.rl.fd)}
	if err := unix.EpollCtl(ll.loop.epfd, unix.EPOLL_CTL_ADD, ll.rl.fd, &ev); err != nil {
		return fmt.Errorf("reactor: register listener: %w", err)
	}
	ll.active = true
	return nil
}

// deactivate takes the socket out of the epoll set (a paused or stopped listener would
// otherwise be reported readable again and again).
func (ll *loopListener) deactivate() {
	if ll.active {
		_ = unix.EpollCtl(ll.loop.epfd, unix.EPOLL_CTL_DEL, ll.rl.fd, nil)
		ll.active = false
	}
}

// unlisten removes rl from every loop, waits until each loop let go of it, then closes
// the socket: no connection is accepted from it afterwards.
func (r *reactor) unlisten(rl *reactorListener) {
	for _, ll := range rl.perLoop {
		ack := make(chan struct{})
		if ll.loop.postCmd(reactorCmd{kind: cmdRemoveListener, ll: ll, ack: ack}) {
			<-ack
		}
	}
	_ = unix.Close(rl.fd)
}

// acceptReady accepts the connections waiting on a listener (loop goroutine).
func (ll *loopListener) acceptReady() {
	t := ll.rl.t
	for range acceptBatch {
		if t.draining.Load() || t.closed.Load() {
			// Stopping: leave the backlog to the close of the socket.
			ll.deactivate()
			return
		}
		cfd, errno := accept4(ll.rl.fd)
		switch errno {
		case 0:
		case unix.EAGAIN:
			// Drained without running out of descriptors (a dial may find the limit after
			// accept succeeded, so success alone does not reset the backoff).
			ll.backoff.reset()
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		default:
			ll.pause(errno)
			return
		}
		ll.admit(cfd)
		if !ll.active {
			return // paused: out of descriptors
		}
	}
}

// pause stops accepting after an error such as EMFILE and resumes after a growing
// backoff: retrying at once would spin while the process has no descriptors left.
func (ll *loopListener) pause(err error) {
	t, l := ll.rl.t, ll.rl.l
	d := ll.backoff.next()
	t.metrics.acceptErrors.Inc()
	t.log.Warn("accept failed, backing off", "name", l.name, "err", err, "backoff", d)
	ll.deactivate()
	time.AfterFunc(d, func() { ll.loop.postCmd(reactorCmd{kind: cmdResumeListener, ll: ll}) })
}

// resume re-adds a paused listener (loop goroutine).
func (ll *loopListener) resume() {
	t := ll.rl.t
	if ll.removed || ll.active || t.draining.Load() || t.closed.Load() {
		return
	}
	if err := ll.activate(); err != nil {
		t.log.Error("accept could not resume", "name", ll.rl.l.name, "err", err)
	}
}

// admit takes an accepted client: refuse it past --max-clients, else dial its upstream.
func (ll *loopListener) admit(cfd int) {
	t, l := ll.rl.t, ll.rl.l
	if !t.limiter.acquire() {
		t.metrics.rejected.WithLabelValues(l.name, "max-clients").Inc()
		// A new socket's send buffer is empty: the short reply goes out whole.
		_, _ = writeFD(cfd, []byte(maxClientsReply))
		_ = unix.Close(cfd)
		return
	}
	t.sessWG.Add(1)
	ll.dial(cfd, time.Now())
}

// dial starts the upstream connect of a new client, or hands the client to the
// goroutine path when it has to wait (loop goroutine).
func (ll *loopListener) dial(cfd int, now time.Time) {
	l, ln, t := ll.loop, ll.rl.l, ll.rl.t
	release := t.releaseClient
	addr, writeGated, _ := ln.route()
	if addr == "" || writeGated {
		t.serveFD(ln, cfd, release)
		return
	}
	ap, ok := t.upstreamAddrs.lookup(addr, now)
	if !ok {
		t.serveFD(ln, cfd, release)
		return
	}
	sfd, err := connectNonblocking(ap)
	if err != nil {
		if outOfDescriptors(err) {
			// The process is at its limit, not the upstream at fault: refuse the client
			// and stop accepting for a while, as if accept itself had failed.
			_ = unix.Close(cfd)
			release()
			ll.pause(err)
			return
		}
		t.upstreamDialFailed(ln, addr, err)
		t.serveFD(ln, cfd, release)
		return
	}
	rc := &reactorConn{loop: l, cfd: cfd, sfd: sfd, dial: &pendingDial{
		l: ln, addr: addr, release: release, accepted: now, deadline: now.Add(t.cfg.DialTimeout),
	}}
	l.mu.Lock()
	l.conns[int32(sfd)] = rc
	l.mu.Unlock()
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, sfd, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(sfd)}); err != nil {
		l.mu.Lock()
		delete(l.conns, int32(sfd))
		l.mu.Unlock()
		_ = unix.Close(sfd)
		t.serveFD(ln, cfd, release)
		return
	}
	rc.dial.idx = len(l.dialing)
	l.dialing = append(l.dialing, rc)
}

// dialEvent finishes an upstream connect: the session starts, or the client goes to the
// goroutine path (loop goroutine).
func (rc *reactorConn) dialEvent() {
	d, l := rc.dial, rc.loop
	ln := d.l
	t := ln.t
	l.stopDialing(rc)
	soErr, err := unix.GetsockoptInt(rc.sfd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soErr != 0 {
		err = syscall.Errno(soErr)
	}
	if err != nil {
		rc.dialFailed(fmt.Errorf("connect: %w", err))
		return
	}
	s := newSession(nil, nil, d.addr, t.copyBuffers, ln.countBytes)
	s.reactor = t.reactor
	s.rc = rc
	rc.s = s
	if !ln.attach(s) {
		// The route moved while connecting: the goroutine path waits for the new one.
		rc.abandonDial()
		t.serveFD(ln, rc.cfd, d.release)
		return
	}
	rc.dial = nil
	ln.held.Observe(time.Since(d.accepted).Seconds())
	ln.sessionsOpen.Inc()
	ln.sessionsTotal.Inc()
	rc.onDone = t.sessionDone(ln, s, d.release)
	rc.readFence()
	rc.cmask, rc.smask = rc.wantMasks()
	l.mu.Lock()
	l.conns[int32(rc.cfd)] = rc
	// Both descriptors are in the map now: end removes them whatever happens next.
	rc.added = true
	l.mu.Unlock()
	if unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, rc.sfd, &unix.EpollEvent{Events: rc.smask, Fd: int32(rc.sfd)}) != nil ||
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, rc.cfd, &unix.EpollEvent{Events: rc.cmask, Fd: int32(rc.cfd)}) != nil {
		rc.end(false)
		return
	}
	if t.closed.Load() {
		// Close may have listed the sessions before this one attached.
		s.close()
	}
}

// dialFailed gives up on a connect: the watcher hears of it and the client goes to the
// goroutine path, which re-resolves and retries while the hold lasts.
func (rc *reactorConn) dialFailed(err error) {
	d := rc.dial
	t := d.l.t
	rc.abandonDial()
	t.upstreamDialFailed(d.l, d.addr, err)
	if t.closed.Load() {
		_ = unix.Close(rc.cfd)
		d.release()
		return
	}
	t.serveFD(d.l, rc.cfd, d.release)
}

// abandonDial forgets the upstream socket of a pending dial; the client socket stays.
func (rc *reactorConn) abandonDial() {
	l := rc.loop
	l.mu.Lock()
	delete(l.conns, int32(rc.sfd))
	l.mu.Unlock()
	// The last descriptor of the socket: closing it also leaves the epoll set.
	_ = unix.Close(rc.sfd)
	rc.ended = true
}

// abortDial ends a pending dial with its client (the loop is stopping).
func (rc *reactorConn) abortDial() {
	d := rc.dial
	rc.loop.stopDialing(rc)
	rc.abandonDial()
	_ = unix.Close(rc.cfd)
	d.release()
}

// stopDialing removes rc from the loop's dialing list.
func (l *reactorLoop) stopDialing(rc *reactorConn) {
	i := rc.dial.idx
	if i < 0 {
		return
	}
	last := len(l.dialing) - 1
	l.dialing[i] = l.dialing[last]
	l.dialing[i].dial.idx = i
	l.dialing[last] = nil
	l.dialing = l.dialing[:last]
	rc.dial.idx = -1
}

// sweepDials fails the connects past their deadline (loop goroutine).
func (l *reactorLoop) sweepDials(now time.Time) {
	l.failDials(func(d *pendingDial) bool { return now.After(d.deadline) }, os.ErrDeadlineExceeded)
}

// abortDials fails every connect in flight at once instead of at its deadline; Close
// uses it so that it does not wait out the dial timeout (loop goroutine).
func (l *reactorLoop) abortDials() {
	l.failDials(func(*pendingDial) bool { return true }, net.ErrClosed)
}

// failDials fails the connects in flight that over selects, with cause (loop goroutine).
func (l *reactorLoop) failDials(over func(*pendingDial) bool, cause error) {
	// stopDialing moves the last entry into the freed place: walking down from the end,
	// every entry is seen once.
	for i := len(l.dialing) - 1; i >= 0; i-- {
		if i >= len(l.dialing) {
			continue
		}
		if rc := l.dialing[i]; over(rc.dial) {
			l.stopDialing(rc)
			rc.dialFailed(fmt.Errorf("connect: %w", cause))
		}
	}
}

// abortDials makes every loop fail its connects in flight.
func (r *reactor) abortDials() {
	for _, l := range r.loops {
		l.post(cmdAbortDials, nil)
	}
}

// serveFD hands an accepted client socket to the goroutine path (Tunnel.serve).
func (t *Tunnel) serveFD(l *listener, cfd int, release func()) {
	f := os.NewFile(uintptr(cfd), "client")
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		t.log.Warn("client socket unusable, closing it", "name", l.name, "err", err)
		release()
		return
	}
	go func() {
		if !t.serve(l, c, release) {
			release()
		}
	}()
}

// connectNonblocking opens a TCP socket to ap with the upstream socket options and starts
// connecting; the loop learns the outcome from EPOLLOUT and SO_ERROR.
func connectNonblocking(ap netip.AddrPort) (int, error) {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip := ap.Addr(); ip.Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := setDataSockopts(fd); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", ap, err)
	}
	return fd, nil
}

// outOfDescriptors reports whether err means the process or system ran out of file
// descriptors or socket memory.
func outOfDescriptors(err error) bool {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// accept4 accepts one connection, non-blocking and close-on-exec, without the peer
// address (nothing uses it). Like readFD it is a raw system call: the listening socket is
// non-blocking.
func accept4(fd int) (int, syscall.Errno) {
	nfd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), 0
}
