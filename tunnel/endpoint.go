package tunnel

import (
	"sync"
	"time"
)

// masterEndpoint is the data path's view of one Sentinel master name: where new sessions
// go and which sessions exist. The watcher writes it, the proxy reads it; it holds no
// routing logic of its own.
type masterEndpoint struct {
	name string

	mu     sync.Mutex
	target string // verified master, "" none yet
	fenced bool   // a failover of target began: hold new connections, park client bytes
	down   bool   // target unreachable: hold new connections
	// writeGated: target was just promoted and still refuses writes (min-replicas-to-write
	// not met yet): hold new connections until it accepts them or their hold runs out.
	writeGated bool
	changed    chan struct{}
	sessions   map[*session]struct{}

	// dialFailed tells the watcher that the data path could not reach an address.
	dialFailed chan string
}

func newMasterEndpoint(name string) *masterEndpoint {
	return &masterEndpoint{
		name:       name,
		changed:    make(chan struct{}),
		sessions:   map[*session]struct{}{},
		dialFailed: make(chan string, 1),
	}
}

func (e *masterEndpoint) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// route returns the address new sessions may use now ("" when they must wait), whether
// that master still refuses writes (a held connection waits for it while its hold lasts,
// then goes there anyway: reads work) and a channel closed at the next change.
func (e *masterEndpoint) route() (addr string, writeGated bool, changed <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target == "" || e.fenced || e.down {
		return "", false, e.changed
	}
	return e.target, e.writeGated, e.changed
}

// openWriteGate lets new sessions through to addr once it accepts writes.
func (e *masterEndpoint) openWriteGate(addr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target != addr || !e.writeGated {
		return
	}
	e.writeGated = false
	e.notifyLocked()
}

// current returns the target and whether it is usable, for metrics and readiness.
func (e *masterEndpoint) current() (target string, fenced, down bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target, e.fenced, e.down
}

// setTarget switches to a verified master and closes every session attached elsewhere.
// writeGated holds new sessions until openWriteGate. It returns how many sessions it closed.
func (e *masterEndpoint) setTarget(addr string, writeGated bool) int {
	e.mu.Lock()
	e.target, e.fenced, e.down, e.writeGated = addr, false, false, writeGated
	var cut []*session
	for s := range e.sessions {
		if s.upstream != addr {
			cut = append(cut, s)
			delete(e.sessions, s)
		}
	}
	e.notifyLocked()
	e.mu.Unlock()
	for _, s := range cut {
		s.close()
	}
	return len(cut)
}

// fence parks the client->server direction of every session on addr and holds new
// sessions. It returns a channel closed when all of them parked or ended, or after wait.
func (e *masterEndpoint) fence(addr string, wait time.Duration) <-chan struct{} {
	e.mu.Lock()
	var parked []<-chan struct{}
	var dones []<-chan struct{}
	if e.target == addr {
		e.fenced = true
		for s := range e.sessions {
			if s.upstream == addr {
				parked = append(parked, s.fence())
				dones = append(dones, s.done())
			}
		}
		e.notifyLocked()
	}
	e.mu.Unlock()
	all := make(chan struct{})
	go func() {
		defer close(all)
		timeout := time.NewTimer(wait)
		defer timeout.Stop()
		for i := range parked {
			select {
			case <-parked[i]:
			case <-dones[i]:
			case <-timeout.C:
				return
			}
		}
	}()
	return all
}

// unfence resumes the parked sessions on addr and lets new sessions through.
func (e *masterEndpoint) unfence(addr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target != addr || !e.fenced {
		return
	}
	e.fenced = false
	for s := range e.sessions {
		if s.upstream == addr {
			s.unfence()
		}
	}
	e.notifyLocked()
}

// setDown marks the target unreachable (hold new sessions) or reachable again.
func (e *masterEndpoint) setDown(addr string, down bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target != addr || e.down == down {
		return
	}
	e.down = down
	e.notifyLocked()
}

// attach registers a session dialed to s.upstream. It fails when the route moved away
// from that address meanwhile; a session arriving during a fence starts parked.
func (e *masterEndpoint) attach(s *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.upstream != e.target {
		return false
	}
	e.sessions[s] = struct{}{}
	if e.fenced {
		s.fence()
	}
	return true
}

func (e *masterEndpoint) detach(s *session) {
	e.mu.Lock()
	delete(e.sessions, s)
	e.mu.Unlock()
}

// reportDialFailure tells the watcher, without blocking, that addr refused a dial.
func (e *masterEndpoint) reportDialFailure(addr string) {
	select {
	case e.dialFailed <- addr:
	default:
	}
}

// replicaEndpoint spreads read-only sessions over the healthy replicas of one master name,
// falling back to the master when there is none.
type replicaEndpoint struct {
	name   string
	master *masterEndpoint

	mu       sync.Mutex
	replicas []string
	next     int
	sessions map[*session]struct{}
}

func newReplicaEndpoint(name string, master *masterEndpoint) *replicaEndpoint {
	return &replicaEndpoint{name: name, master: master, sessions: map[*session]struct{}{}}
}

// setReplicas replaces the healthy replica list.
func (e *replicaEndpoint) setReplicas(addrs []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.replicas = addrs
}

// pick returns the next healthy replica round-robin, or the master's route (read-only
// sessions need not wait for the master to accept writes).
func (e *replicaEndpoint) pick() (addr string, changed <-chan struct{}) {
	e.mu.Lock()
	if n := len(e.replicas); n > 0 {
		addr = e.replicas[e.next%n]
		e.next++
		e.mu.Unlock()
		return addr, nil
	}
	e.mu.Unlock()
	addr, _, changed = e.master.route()
	return addr, changed
}

func (e *replicaEndpoint) attach(s *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessions[s] = struct{}{}
	return true
}

func (e *replicaEndpoint) detach(s *session) {
	e.mu.Lock()
	delete(e.sessions, s)
	e.mu.Unlock()
}

// allSessions snapshots the sessions of both kinds of endpoint for shutdown.
func (e *masterEndpoint) allSessions() []*session {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*session, 0, len(e.sessions))
	for s := range e.sessions {
		out = append(out, s)
	}
	return out
}

func (e *replicaEndpoint) allSessions() []*session {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*session, 0, len(e.sessions))
	for s := range e.sessions {
		out = append(out, s)
	}
	return out
}

// targetAddr returns the current target ("" none).
func (e *masterEndpoint) targetAddr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target
}
