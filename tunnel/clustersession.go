package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sizes of a cluster session: reads start small and grow for large values (and shrink
// back once those are consumed); a reply buffer kept for reuse is dropped above
// clusterKeepReply so one large value does not pin its memory.
const (
	clusterReadBuffer = 16 << 10
	clusterKeepReply  = 64 << 10
	// clusterKeepFree bounds the queue places kept for reuse: a pipeline of a million
	// commands must not leave a million places behind.
	clusterKeepFree = 1024
)

// clusterSession is one client of the cluster mode. Its goroutine reads the client's
// commands (pipelined), routes each by key slot and writes it to the session's connection
// to that slot's master (one per master, opened on first use, authenticated like the
// client). Every command takes a place in the reply queue in the client's order; replies
// fill their places as they arrive, from any master in any order, and are written to the
// client from the head of the queue, so the client sees them in its own order.
//
// MOVED and ASK never reach the client: the upstream that read one sends the command
// again to the named node (after ASKING for ASK), keeping its place in the queue.
//
// Ordering across a slot map change: a command routed by a newer map must not overtake,
// on its new master, an older command of the same slot still in flight to the old one
// (that command will come back MOVED and be sent again). So when the table's version
// differs from the one the session's in-flight commands were routed with, the session
// waits for the queue to empty before routing more. Maps change rarely; the pause is as
// short as the commands in flight.
type clusterSession struct {
	r       *clusterRouter
	l       *listener
	client  net.Conn
	in      *respReader
	release func()

	// version is the slot table version the in-flight commands were routed with
	// (client goroutine only).
	version uint64
	// Scratch of the client goroutine: command name, key positions, the command re-encoded.
	nameBuf []byte
	keyIdx  []int
	// dirty lists the upstreams written to since the last flush (client goroutine only).
	dirty []*clusterUpstream
	// auth and hello are the client's accepted AUTH and HELLO, replayed on every
	// upstream the session opens (client goroutine writes, under upMu).
	auth, hello []byte

	upMu      sync.Mutex
	upstreams []*clusterUpstream

	mu        sync.Mutex
	idle      *sync.Cond // signalled when the queue empties or the session closes
	queue     []*pendingReply
	head      int
	free      []*pendingReply
	closed    bool
	closeOnce sync.Once

	writeMu sync.Mutex
	out     []byte // replies on their way to the client (under writeMu)
	// wantDeliver asks the goroutine writing to the client to look at the queue again
	// (see deliver).
	wantDeliver atomic.Bool

	readers sync.WaitGroup
}

// pendingReply is one command's place in the reply queue.
type pendingReply struct {
	// cmd is the command as sent upstream, kept to send it again after a redirect.
	cmd   []byte
	reply []byte
	done  bool
	// redirects counts the MOVED/ASK followed for this command.
	redirects int
}

func newClusterSession(r *clusterRouter, l *listener, client net.Conn, release func()) *clusterSession {
	s := &clusterSession{r: r, l: l, client: client, release: release, in: newRESPReader(client, clusterReadBuffer),
		nameBuf: make([]byte, 0, 64), version: r.table.version.Load()}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// run is the client goroutine: read, route, and when the client's bytes are used up,
// flush the upstreams and read again. At the client's EOF (or QUIT) the replies still
// due are delivered before the session ends.
func (s *clusterSession) run() {
	defer s.finish()
	for {
		args, ok, err := s.in.command()
		if err != nil {
			s.local(appendError(nil, "ERR "+err.Error()))
			s.flushUpstreams()
			s.waitIdle()
			return
		}
		if !ok {
			s.flushUpstreams()
			s.deliver()
			s.in.shrink(clusterReadBuffer)
			before := s.in.read
			err := s.in.fill()
			s.l.countBytes(s.in.read-before, 0)
			if err != nil {
				s.waitIdle()
				return
			}
			continue
		}
		if len(args) == 0 {
			continue
		}
		if quit := s.handle(args); quit {
			s.flushUpstreams()
			s.waitIdle()
			return
		}
	}
}

// Replies the tunnel gives itself.
var (
	replyOK   = []byte("+OK\r\n")
	replyPong = []byte("+PONG\r\n")
)

// handle routes one command or answers it locally. It reports whether the client quit.
func (s *clusterSession) handle(args [][]byte) (quit bool) {
	info, name := lookupCommand(s.nameBuf, args)
	s.nameBuf = name[:0]
	switch string(name) {
	case "ping":
		switch len(args) {
		case 1:
			s.local(replyPong)
		case 2:
			s.local(appendBulk(nil, args[1]))
		default:
			s.local(arityError(name))
		}
		return false
	case "echo":
		if len(args) != 2 {
			s.local(arityError(name))
			return false
		}
		s.local(appendBulk(nil, args[1]))
		return false
	case "select":
		s.selectDB(args, name)
		return false
	case "quit":
		s.local(replyOK)
		return true
	case "readonly", "readwrite", "asking":
		// Cluster client handshakes: the tunnel routes to masters and follows ASK itself.
		s.local(replyOK)
		return false
	case "auth", "hello":
		s.authenticate(args)
		return false
	}
	if reason := clusterUnsupported(string(name), info); reason != "" {
		s.local(appendError(nil, "ERR redis-ha-tunnel: "+displayName(name)+" "+reason))
		return false
	}
	keys := 0
	if info != nil {
		s.keyIdx = info.appendKeyIndexes(s.keyIdx[:0], args)
		keys = len(s.keyIdx)
	}
	slot := -1
	if keys == 0 {
		if info != nil && info.flags&cmdAllShards != 0 && string(name) != "info" {
			s.local(appendError(nil, "ERR redis-ha-tunnel: "+displayName(name)+
				" across the whole keyspace is not supported in cluster mode; send it to each shard's master directly"))
			return false
		}
	} else {
		slot = keySlot(args[s.keyIdx[0]])
		for _, i := range s.keyIdx[1:] {
			if keySlot(args[i]) != slot {
				s.local([]byte("-CROSSSLOT Keys in request don't hash to the same slot\r\n"))
				return false
			}
		}
	}
	node := s.route(slot)
	if node == nil {
		s.local([]byte("-CLUSTERDOWN Hash slot not served\r\n"))
		return false
	}
	pr := s.enqueue()
	pr.cmd = appendCommand(pr.cmd[:0], args...)
	if u := s.send(node, pr, false); u != nil && !u.dirty {
		u.dirty = true
		s.dirty = append(s.dirty, u)
	}
	return false
}

// route returns the master for slot (-1: a keyless command, any master). When the slot
// table changed since the in-flight commands were routed, it first waits until they are
// all answered (see clusterSession). The owner is read before the version, and the table
// bumps the version before it changes an owner: an owner newer than s.version always
// comes with a version that differs from it.
func (s *clusterSession) route(slot int) *clusterNode {
	var node *clusterNode
	if slot >= 0 {
		node = s.r.table.owners[slot].Load()
	}
	if v := s.r.table.version.Load(); v != s.version {
		s.flushUpstreams()
		s.waitIdle()
		// Nothing is in flight now: whatever the table says next cannot overtake anything.
		s.version = v
		if slot >= 0 {
			node = s.r.table.owners[slot].Load()
		}
	}
	if slot < 0 {
		node = s.anyNode()
	}
	return node
}

// anyNode is where a keyless command goes: a master the session is connected to already,
// else any master.
func (s *clusterSession) anyNode() *clusterNode {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	if len(s.upstreams) > 0 {
		return s.upstreams[0].node
	}
	return s.r.anyNode()
}

// clusterUnsupported returns why a command is refused in cluster mode ("" when it is not).
func clusterUnsupported(name string, info *commandInfo) string {
	switch name {
	case "multi", "exec", "discard", "watch", "unwatch":
		return "is not supported in cluster mode yet (transactions come with phase 2)"
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		return "is not supported in cluster mode yet (pub/sub comes with phase 2)"
	case "client|tracking", "client|caching", "client|reply", "reset", "wait", "waitaof":
		return "is not supported in cluster mode: its effect would depend on which shard's connection took it"
	}
	if info != nil && info.flags&cmdAdmin != 0 {
		return "is an admin command; in cluster mode send it to a node directly"
	}
	return ""
}

// displayName is a command name as an error shows it: upper case, subcommand after a space.
func displayName(name []byte) string {
	return strings.ToUpper(strings.ReplaceAll(string(name), "|", " "))
}

func arityError(name []byte) []byte {
	return appendError(nil, "ERR wrong number of arguments for '"+string(name)+"' command")
}

// selectDB answers SELECT as Redis Cluster does: only database 0 exists.
func (s *clusterSession) selectDB(args [][]byte, name []byte) {
	if len(args) != 2 {
		s.local(arityError(name))
		return
	}
	db, err := strconv.Atoi(string(args[1]))
	switch {
	case err != nil:
		s.local(appendError(nil, "ERR value is not an integer or out of range"))
	case db != 0:
		s.local(appendError(nil, "ERR SELECT is not allowed in cluster mode"))
	default:
		s.local(replyOK)
	}
}

// authenticate answers AUTH or HELLO: the tunnel runs it on a fresh connection to a
// master and gives the client that node's reply. When it succeeded, the command is
// replayed on every upstream the session opens from now on; upstreams already open are
// closed once the commands before it are answered, so they reopen authenticated.
func (s *clusterSession) authenticate(args [][]byte) {
	node := s.anyNode()
	if node == nil {
		s.local([]byte("-CLUSTERDOWN Hash slot not served\r\n"))
		return
	}
	cmd := appendCommand(nil, args...)
	reply, err := s.r.checkCommand(node.addr, cmd)
	if err != nil {
		s.local(appendError(nil, "ERR redis-ha-tunnel: cannot check "+strings.ToUpper(string(args[0]))+" on "+node.addr+": "+err.Error()))
		return
	}
	s.local(reply)
	if reply[0] == '-' {
		return
	}
	s.flushUpstreams()
	s.waitIdle()
	s.upMu.Lock()
	if asciiEqualFold(args[0], "auth") {
		s.auth = cmd
	} else {
		s.hello = cmd
		s.auth = nil // HELLO carries its own AUTH, if any
	}
	old := s.upstreams
	s.upstreams = nil
	s.upMu.Unlock()
	for _, u := range old {
		u.close()
	}
	// The dirty list was flushed: nothing refers to the closed upstreams any more.
}

// checkCommand runs one command on a fresh connection to addr and returns its raw reply.
func (r *clusterRouter) checkCommand(addr string, cmd []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(r.t.ctx, r.t.cfg.DialTimeout)
	defer cancel()
	conn, err := r.t.dialer.upstream(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(r.t.cfg.DialTimeout + r.t.cfg.ReadTimeout))
	if _, err := conn.Write(cmd); err != nil {
		return nil, err
	}
	rr := newRESPReader(conn, 4096)
	for {
		reply, ok, err := rr.reply()
		if err != nil {
			return nil, err
		}
		if ok {
			return bytes.Clone(reply), nil
		}
		if err := rr.fill(); err != nil {
			return nil, err
		}
	}
}

// enqueue takes the next place in the reply queue.
func (s *clusterSession) enqueue() *pendingReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pr *pendingReply
	if n := len(s.free); n > 0 {
		pr = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		pr = &pendingReply{}
	}
	s.queue = append(s.queue, pr)
	return pr
}

// local queues a reply the tunnel gives itself.
func (s *clusterSession) local(reply []byte) {
	pr := s.enqueue()
	s.complete(pr, reply)
}

// complete fills a command's place in the queue with its reply.
func (s *clusterSession) complete(pr *pendingReply, reply []byte) {
	s.mu.Lock()
	pr.reply = append(pr.reply[:0], reply...)
	pr.done = true
	s.mu.Unlock()
}

// deliver writes the answered places at the head of the queue to the client, in order.
// It never waits for another goroutine's write: if one is writing, that one is asked to
// look at the queue again when done. So a client that is slow to read holds up only the
// goroutine writing to it, never the reading of its commands (Redis too buffers replies
// for a client that pipelines without reading).
func (s *clusterSession) deliver() {
	for {
		s.wantDeliver.Store(true)
		if !s.writeMu.TryLock() {
			return // the writer sees wantDeliver after its write
		}
		s.wantDeliver.Store(false)
		s.deliverLocked()
		s.writeMu.Unlock()
		if !s.wantDeliver.Load() {
			return
		}
	}
}

// deliverLocked is deliver's write; writeMu is held.
func (s *clusterSession) deliverLocked() {
	s.mu.Lock()
	out := s.out[:0]
	for s.head < len(s.queue) && s.queue[s.head].done {
		pr := s.queue[s.head]
		s.queue[s.head] = nil
		s.head++
		out = append(out, pr.reply...)
		pr.done, pr.redirects = false, 0
		if cap(pr.reply) > clusterKeepReply {
			pr.reply = nil
		}
		if cap(pr.cmd) > clusterKeepReply {
			pr.cmd = nil
		}
		if len(s.free) < clusterKeepFree {
			s.free = append(s.free, pr)
		}
	}
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
		s.idle.Broadcast()
	} else if s.head > 1024 && s.head > len(s.queue)/2 {
		s.queue = s.queue[:copy(s.queue, s.queue[s.head:])]
		s.head = 0
	}
	closed := s.closed
	s.mu.Unlock()
	if len(out) > 0 && !closed {
		n, err := s.client.Write(out)
		s.l.countBytes(0, int64(n))
		if err != nil {
			s.close()
		}
	}
	if cap(out) > clusterKeepReply {
		out = nil
	}
	s.out = out
}

// waitIdle waits until every queued reply was delivered, or the session closed.
func (s *clusterSession) waitIdle() {
	s.deliver()
	s.mu.Lock()
	for s.head < len(s.queue) && !s.closed {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// send buffers pr's command on node's upstream (opening it on first use) and returns the
// upstream, to flush; after ASK the command goes behind ASKING. When the master cannot be
// reached pr gets an error reply and send returns nil.
func (s *clusterSession) send(node *clusterNode, pr *pendingReply, asking bool) *clusterUpstream {
	u, err := s.upstream(node)
	if err != nil {
		s.complete(pr, appendError(nil, "ERR redis-ha-tunnel: cannot reach shard master "+node.addr+": "+err.Error()))
		s.r.triggerRefresh()
		return nil
	}
	if !u.queue(pr, asking) {
		s.complete(pr, appendError(nil, "ERR redis-ha-tunnel: connection to shard master "+node.addr+" lost"))
		return nil
	}
	return u
}

// flushUpstreams writes the buffered commands of every upstream written to (client goroutine).
func (s *clusterSession) flushUpstreams() {
	for i, u := range s.dirty {
		u.dirty = false
		u.flush()
		s.dirty[i] = nil
	}
	s.dirty = s.dirty[:0]
}

// upstream returns the session's connection to node, dialing it on first use.
func (s *clusterSession) upstream(node *clusterNode) (*clusterUpstream, error) {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	for _, u := range s.upstreams {
		if u.node == node {
			return u, nil
		}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errors.New("session closed")
	}
	ctx, cancel := context.WithTimeout(s.r.t.ctx, s.r.t.cfg.DialTimeout)
	conn, err := s.r.t.dialer.upstream(ctx, node.addr)
	cancel()
	if err != nil {
		return nil, err
	}
	u := &clusterUpstream{s: s, node: node, conn: conn, in: newRESPReader(conn, clusterReadBuffer)}
	// Replay the client's authentication; the replies are the tunnel's, not the client's.
	for _, cmd := range [][]byte{s.auth, s.hello} {
		if cmd != nil {
			u.fifo = append(u.fifo, nil)
			u.out = append(u.out, cmd...)
		}
	}
	s.upstreams = append(s.upstreams, u)
	node.connections.Inc()
	s.readers.Add(1)
	go u.readLoop()
	return u, nil
}

// dropUpstream forgets a broken upstream; the next command for its node dials again.
func (s *clusterSession) dropUpstream(u *clusterUpstream) {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	for i, x := range s.upstreams {
		if x == u {
			s.upstreams = append(s.upstreams[:i], s.upstreams[i+1:]...)
			return
		}
	}
}

// redirect follows a MOVED or ASK reply for pr, read by from.
func (s *clusterSession) redirect(from *clusterUpstream, pr *pendingReply, reply []byte) {
	moved := isErrorReply(reply, "MOVED ")
	slot, addr, ok := parseRedirect(reply, from.node.addr)
	if !ok {
		s.complete(pr, reply)
		return
	}
	pr.redirects++
	if pr.redirects > s.r.cfg.MaxRedirects {
		s.r.t.metrics.clusterRedirects.WithLabelValues("exhausted").Inc()
		s.complete(pr, appendError(nil, fmt.Sprintf("ERR redis-ha-tunnel: more than %d MOVED/ASK redirects for one command; the cluster's slot map keeps changing (last: %s)",
			s.r.cfg.MaxRedirects, bytes.TrimSpace(reply[1:]))))
		return
	}
	var node *clusterNode
	if moved {
		s.r.t.metrics.clusterRedirects.WithLabelValues("moved").Inc()
		node = s.r.moved(slot, addr)
	} else {
		s.r.t.metrics.clusterRedirects.WithLabelValues("ask").Inc()
		node = s.r.node(addr)
	}
	if u := s.send(node, pr, !moved); u != nil {
		u.flush()
	}
}

// parseRedirect reads "-MOVED <slot> <host:port>" or "-ASK ...". An empty host (a node
// that does not know its endpoint) means the host of the node that answered.
func parseRedirect(reply []byte, from string) (slot int, addr string, ok bool) {
	fields := strings.Fields(string(reply[1:]))
	if len(fields) != 3 {
		return 0, "", false
	}
	slot, err := strconv.Atoi(fields[1])
	if err != nil || slot < 0 || slot >= clusterSlots {
		return 0, "", false
	}
	host, port, err := net.SplitHostPort(fields[2])
	if err != nil {
		return 0, "", false
	}
	if host == "" {
		host, _, _ = net.SplitHostPort(from)
	}
	return slot, net.JoinHostPort(host, port), true
}

// close ends the session: the client and every upstream are closed, which ends the
// goroutines.
func (s *clusterSession) close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.idle.Broadcast()
		s.mu.Unlock()
		_ = s.client.Close()
		s.upMu.Lock()
		ups := s.upstreams
		s.upstreams = nil
		s.upMu.Unlock()
		for _, u := range ups {
			u.close()
		}
	})
}

// finish runs when the client goroutine ends: close, wait for the upstream readers,
// release the client's slot.
func (s *clusterSession) finish() {
	s.close()
	s.readers.Wait()
	s.r.sessionEnded(s)
	s.release()
}

// clusterUpstream is a session's connection to one master. Commands are appended to out
// and fifo together, so fifo holds, in wire order, the place in the reply queue of every
// command awaiting its reply (nil for replies the tunnel consumes itself: ASKING, the
// replayed AUTH/HELLO).
type clusterUpstream struct {
	s    *clusterSession
	node *clusterNode
	conn net.Conn
	in   *respReader
	// dirty: written to since the session's last flushUpstreams (client goroutine only).
	dirty bool

	wmu   sync.Mutex // orders flushes
	mu    sync.Mutex
	out   []byte
	spare []byte
	fifo  []*pendingReply
	fhead int
	// broken: the connection failed; nothing more is queued on it.
	broken    bool
	closeOnce sync.Once
}

// askingCommand precedes a command sent after an ASK redirect.
var askingCommand = []byte("*1\r\n$6\r\nASKING\r\n")

// queue buffers pr's command. It reports false when the connection is broken.
func (u *clusterUpstream) queue(pr *pendingReply, asking bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.broken {
		return false
	}
	if asking {
		u.fifo = append(u.fifo, nil)
		u.out = append(u.out, askingCommand...)
	}
	u.fifo = append(u.fifo, pr)
	u.out = append(u.out, pr.cmd...)
	return true
}

// flush writes the buffered commands. The buffer is swapped out under mu and written
// under wmu only, so a slow socket never blocks the reader, which needs mu.
func (u *clusterUpstream) flush() {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	u.mu.Lock()
	out := u.out
	u.out = u.spare[:0]
	u.mu.Unlock()
	if len(out) > 0 {
		if _, err := u.conn.Write(out); err != nil {
			u.fail(err)
		}
	}
	if cap(out) > clusterKeepReply {
		out = nil
	}
	u.mu.Lock()
	u.spare = out
	u.mu.Unlock()
}

// readLoop reads replies and fills the places of their commands, following redirects;
// after each batch read it delivers what is ready to the client.
func (u *clusterUpstream) readLoop() {
	s := u.s
	defer s.readers.Done()
	for {
		reply, ok, err := u.in.reply()
		if err != nil {
			u.fail(fmt.Errorf("reply from %s: %w", u.node.addr, err))
			return
		}
		if !ok {
			s.deliver()
			u.in.shrink(clusterReadBuffer)
			if err := u.in.fill(); err != nil {
				u.fail(err)
				return
			}
			continue
		}
		u.mu.Lock()
		if u.fhead == len(u.fifo) {
			u.mu.Unlock()
			u.fail(fmt.Errorf("%s sent a reply nothing asked for", u.node.addr))
			return
		}
		pr := u.fifo[u.fhead]
		u.fifo[u.fhead] = nil
		u.fhead++
		switch {
		case u.fhead == len(u.fifo):
			u.fifo, u.fhead = u.fifo[:0], 0
		case u.fhead > 1024 && u.fhead > len(u.fifo)/2:
			// A pipeline that never drains would otherwise grow fifo forever.
			u.fifo = u.fifo[:copy(u.fifo, u.fifo[u.fhead:])]
			u.fhead = 0
		}
		u.mu.Unlock()
		switch {
		case pr == nil:
			// ASKING's +OK, or a replayed AUTH/HELLO.
		case isErrorReply(reply, "MOVED ") || isErrorReply(reply, "ASK "):
			s.redirect(u, pr, reply)
		default:
			s.complete(pr, reply)
		}
	}
}

// fail breaks the connection: every command still waiting on it gets an error reply
// (it may or may not have run), the session forgets it, and a slot map refresh is asked
// for (the master may be gone).
func (u *clusterUpstream) fail(err error) {
	s := u.s
	u.mu.Lock()
	wasBroken := u.broken
	u.broken = true
	waiting := u.fifo[u.fhead:]
	u.fifo, u.fhead = nil, 0
	u.mu.Unlock()
	u.close()
	s.dropUpstream(u)
	if wasBroken && len(waiting) == 0 {
		return // closed on purpose with nothing in flight
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		s.r.t.log.Debug("cluster upstream failed", "addr", u.node.addr, "err", err, "waiting", len(waiting))
		s.r.triggerRefresh()
	}
	msg := appendError(nil, "ERR redis-ha-tunnel: connection to shard master "+u.node.addr+" lost; the command may or may not have run")
	for _, pr := range waiting {
		if pr != nil {
			s.complete(pr, msg)
		}
	}
	s.deliver()
}

// close marks the connection broken and closes it; its reader then fails what is left.
func (u *clusterUpstream) close() {
	u.mu.Lock()
	u.broken = true
	u.mu.Unlock()
	u.closeOnce.Do(func() {
		_ = u.conn.Close()
		u.node.connections.Dec()
	})
}
