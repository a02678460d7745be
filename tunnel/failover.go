package tunnel

import (
	"time"
)

// actionKind is what the failover state machine asks the watcher to do. The machine
// itself does no I/O, so every routing decision is unit-testable.
type actionKind int

const (
	// actFence: stop forwarding client bytes to Addr and hold new connections.
	actFence actionKind = iota + 1
	// actUnfence: resume the parked sessions on Addr and let new connections through.
	actUnfence
	// actVerify: ask Addr for ROLE once; the answer comes back through onRole.
	actVerify
	// actWatchCandidate: poll ROLE of Addr every few ms until it says master; the answer
	// comes back through onRole.
	actWatchCandidate
	// actCutover: route to Addr (verified master) and close every session on From.
	actCutover
	// actSetDown: Addr (the target) is unreachable (Down) or reachable again: hold new
	// connections while down.
	actSetDown
	// actPollNow: run a poll round over the Sentinels now.
	actPollNow
)

func (k actionKind) String() string {
	switch k {
	case actFence:
		return "fence"
	case actUnfence:
		return "unfence"
	case actVerify:
		return "verify"
	case actWatchCandidate:
		return "watch-candidate"
	case actCutover:
		return "cutover"
	case actSetDown:
		return "set-down"
	case actPollNow:
		return "poll-now"
	}
	return "unknown"
}

// action is one step for the watcher to execute.
type action struct {
	Kind   actionKind
	Addr   string
	From   string
	Down   bool
	Reason string
}

// pollView is one Sentinel's answer (or failure) in a poll round.
type pollView struct {
	Sentinel string
	View     sentinelMasterView
	Err      error
}

// failoverMachine decides, for one Sentinel master name, where client connections go.
// Rules it enforces:
//   - only ever route to an address whose ROLE said master (cutover needs a verified
//     candidate);
//   - fence the current target once a Sentinel won the election to fail it over
//     (+elected-leader, or any later step of that failover, from any Sentinel): the leader
//     sends SLAVEOF NO ONE two timer ticks later, so the fence has that margin. A
//     +try-failover alone does not fence: it is only a bid, and with a short
//     down-after-milliseconds Sentinels bid for a failover of a healthy master right after
//     every switch (see onEvent);
//   - never switch away from a target that still says master unless a failover of it
//     began (fenced) or it is unreachable or demoted;
//   - never route back to a node we cut away from unless a failover newer than the one
//     that demoted it names it again (see demoted).
type failoverMachine struct {
	name string
	hold time.Duration

	target        string
	targetDown    bool
	targetDemoted bool
	fenced        bool
	fencedAt      time.Time
	// switchedAway is set when a +switch-master moved the Sentinels off the target: then
	// the target is demoted for sure and must never be unfenced, even after the hold.
	switchedAway bool
	// attempts maps a Sentinel address to when it began a failover of the target.
	attempts map[string]time.Time
	// demoted maps addresses we cut away from to the epoch of the failover that
	// demoted them. Only a later failover (a higher epoch) may name such a node again:
	// a Sentinel still finishing the older failover announces the demoted node as master
	// for another second or more (+switch-master carries no epoch).
	demoted map[string]uint64
	// authorized holds addresses a failover newer than their demotion named as the
	// chosen or new master.
	authorized map[string]bool
	// nominatedIn is the failover epoch under which an address was named as the new
	// master (0: unknown); it becomes the demotion epoch of the node we leave for it.
	nominatedIn map[string]uint64
	// sentinelEpoch is each Sentinel's current epoch, from its +new-epoch events: the
	// epoch of a failover it leads or voted in.
	sentinelEpoch map[string]uint64
	maxEpoch      uint64
	// reachableSentinels is the number of Sentinels that answered the last poll.
	reachableSentinels int
}

func newFailoverMachine(name string, hold time.Duration) *failoverMachine {
	return &failoverMachine{
		name:          name,
		hold:          hold,
		attempts:      map[string]time.Time{},
		demoted:       map[string]uint64{},
		authorized:    map[string]bool{},
		nominatedIn:   map[string]uint64{},
		sentinelEpoch: map[string]uint64{},
	}
}

// ready is the /readyz condition: a master was verified and at least one Sentinel
// answers. A fence or an unreachable master does not make the tunnel unready: it holds
// new connections itself for --failover-hold, whereas an unready pod would be dropped
// from the Service endpoints and clients would be refused instead of held.
func (m *failoverMachine) ready() bool {
	return m.target != "" && m.reachableSentinels > 0
}

func (m *failoverMachine) blocked(addr string) bool {
	_, wasDemoted := m.demoted[addr]
	return wasDemoted && !m.authorized[addr]
}

// nominate records that a failover of epoch named addr as the new master. A node we cut
// away from is accepted only from a failover newer than its demotion; ok is false then,
// and the caller asks the Sentinels instead (the poll compares config epochs).
func (m *failoverMachine) nominate(addr string, epoch uint64) (ok bool) {
	if demotedIn, was := m.demoted[addr]; was && epoch <= demotedIn {
		return false
	}
	m.authorized[addr] = true
	m.nominatedIn[addr] = epoch
	return true
}

func (m *failoverMachine) fence(now time.Time, reason string) []action {
	if m.target == "" || m.fenced {
		return nil
	}
	m.fenced, m.fencedAt = true, now
	return []action{{Kind: actFence, Addr: m.target, Reason: reason}}
}

func (m *failoverMachine) unfence(reason string) []action {
	if !m.fenced {
		return nil
	}
	m.fenced = false
	clear(m.attempts)
	return []action{{Kind: actUnfence, Addr: m.target, Reason: reason}}
}

// onEvent handles one event published by Sentinel src.
//
// Why +try-failover does not fence: with down-after-milliseconds near Sentinel's
// reconnect period (1 s), a Sentinel that has just switched to a new master marks it
// +sdown about a second later although it answers (the switch reset its ping clock, and
// the link to the new address is opened only when the 1 s reconnect throttle of the dead
// old address allows), and the votes the other Sentinels gave about the old master,
// remembered for 5 s, make that +odown at once: a +try-failover of a healthy master
// (redis/redis#8607). Fenced at the bid, clients waited until that attempt was elected
// and done, or until it aborted after its election timeout (up to failover-timeout).
// Fenced at +elected-leader, a bid that is never elected costs nothing, and one that is
// elected is handled like SENTINEL FAILOVER: the fence still comes two ticks before the
// promotion, and the offset check compares what the replica has with the old master.
// A master that crashed takes no writes either way; only one cut off from the Sentinels
// but not from the tunnel takes writes for one more tick (after down-after of them).
func (m *failoverMachine) onEvent(src string, ev sentinelEvent, now time.Time) []action {
	if ev.Channel == "+new-epoch" {
		m.maxEpoch = max(m.maxEpoch, ev.Epoch)
		m.sentinelEpoch[src] = max(m.sentinelEpoch[src], ev.Epoch)
		return nil
	}
	if ev.MasterName != m.name {
		return nil
	}
	switch {
	case ev.Channel == "+switch-master":
		if ev.NewMasterAddr == m.target {
			return nil
		}
		if m.target != "" && ev.MasterAddr != m.target && !m.targetDown && !m.targetDemoted {
			// A switch between two nodes we do not route to: the poll backstop sorts it out.
			return nil
		}
		acts := []action(nil)
		if m.target != "" && ev.MasterAddr == m.target {
			m.switchedAway = true
			acts = append(acts, m.fence(now, ev.Channel)...)
		}
		if !m.nominate(ev.NewMasterAddr, m.sentinelEpoch[src]) {
			return append(acts, action{Kind: actPollNow, Reason: ev.Channel + " names a demoted node"})
		}
		return append(acts, action{Kind: actWatchCandidate, Addr: ev.NewMasterAddr, Reason: ev.Channel})
	case failoverBeginEvents[ev.Channel]:
		if m.target != "" && ev.MasterAddr != m.target {
			return nil // late event about a master we already left
		}
		var acts []action
		if m.target != "" {
			if _, ok := m.attempts[src]; !ok {
				m.attempts[src] = now
			}
			if ev.Channel != "+try-failover" {
				acts = append(acts, m.fence(now, ev.Channel)...)
			}
		}
		if candidateEvents[ev.Channel] && ev.InstanceAddr != "" {
			if !m.nominate(ev.InstanceAddr, m.sentinelEpoch[src]) {
				return append(acts, action{Kind: actPollNow, Reason: ev.Channel + " names a demoted node"})
			}
			acts = append(acts, action{Kind: actWatchCandidate, Addr: ev.InstanceAddr, Reason: ev.Channel})
		}
		return acts
	case isFailoverAbort(ev.Channel):
		if ev.MasterAddr != m.target {
			return nil
		}
		delete(m.attempts, src)
		if m.fenced && len(m.attempts) == 0 && !m.switchedAway {
			// Unfence only once ROLE confirms the target is still master.
			return []action{{Kind: actVerify, Addr: m.target, Reason: ev.Channel}}
		}
		return nil
	case (ev.Channel == "+sdown" || ev.Channel == "+odown" || ev.Channel == "-sdown" ||
		ev.Channel == "-odown" || ev.Channel == "+convert-to-slave" || ev.Channel == "+reboot") &&
		ev.InstanceAddr == m.target && m.target != "":
		return []action{{Kind: actVerify, Addr: m.target, Reason: ev.Channel}}
	}
	return nil
}

// onRole handles a ROLE answer (or error) from addr.
func (m *failoverMachine) onRole(addr string, ri roleInfo, err error, now time.Time) []action {
	if addr != m.target {
		if err != nil || ri.Role != "master" {
			return nil
		}
		return m.onCandidateMaster(addr)
	}
	if err != nil {
		if m.targetDown {
			return nil
		}
		m.targetDown = true
		return []action{{Kind: actSetDown, Addr: addr, Down: true, Reason: err.Error()}}
	}
	var acts []action
	if m.targetDown {
		m.targetDown = false
		acts = append(acts, action{Kind: actSetDown, Addr: addr, Down: false, Reason: "answers ROLE again"})
	}
	if ri.Role != "master" {
		m.targetDemoted = true
		// A pseudo attempt keeps the fence until a cutover or the hold expires.
		m.attempts["ROLE"] = now
		acts = append(acts, m.fence(now, "target says ROLE "+ri.Role)...)
		switch {
		case m.reachableSentinels > 0:
			// Ask the Sentinels rather than follow ROLE's master address: with
			// announce-hostnames the two may spell the same node differently, and
			// routing by a spelling the Sentinels do not use would hide their events.
			acts = append(acts, action{Kind: actPollNow, Reason: "target demoted"})
		case ri.MasterAddr != "" && ri.MasterAddr != addr && !m.blocked(ri.MasterAddr):
			acts = append(acts, action{Kind: actWatchCandidate, Addr: ri.MasterAddr, Reason: "target follows it"})
		}
		return acts
	}
	m.targetDemoted = false
	if m.fenced && !m.switchedAway {
		switch {
		case len(m.attempts) == 0:
			acts = append(acts, m.unfence("failover aborted, target still master")...)
		case now.Sub(m.fencedAt) >= m.hold:
			acts = append(acts, m.unfence("failover-hold expired, target still master")...)
		}
	}
	return acts
}

// onCandidateMaster handles a node other than the target that said ROLE master.
func (m *failoverMachine) onCandidateMaster(addr string) []action {
	if addr == m.target || m.blocked(addr) {
		return nil
	}
	if m.target != "" && !m.fenced && !m.targetDown && !m.targetDemoted {
		// The target still serves as master and no failover of it began: stay.
		return nil
	}
	from := m.target
	if from != "" {
		// The failover that named addr demoted from; without its epoch (a missed
		// +new-epoch, a ROLE lead) the newest epoch seen stands in.
		epoch := m.nominatedIn[addr]
		if epoch == 0 {
			epoch = m.maxEpoch
		}
		m.demoted[from] = epoch
	}
	delete(m.demoted, addr)
	delete(m.authorized, addr)
	clear(m.nominatedIn)
	m.target = addr
	m.fenced, m.targetDown, m.targetDemoted, m.switchedAway = false, false, false, false
	clear(m.attempts)
	return []action{{Kind: actCutover, From: from, Addr: addr}}
}

// onPoll handles one poll round over all Sentinels.
func (m *failoverMachine) onPoll(views []pollView) []action {
	reachable := 0
	for _, v := range views {
		if v.Err == nil {
			reachable++
			m.maxEpoch = max(m.maxEpoch, v.View.ConfigEpoch)
		}
	}
	m.reachableSentinels = reachable
	var acts []action
	if m.target != "" {
		acts = append(acts, action{Kind: actVerify, Addr: m.target, Reason: "poll"})
	}
	decided, epoch, ok := decideMaster(views)
	if !ok || decided == m.target {
		return acts
	}
	if m.blocked(decided) && !m.nominate(decided, epoch) {
		return acts
	}
	m.nominatedIn[decided] = max(m.nominatedIn[decided], epoch)
	return append(acts, action{Kind: actVerify, Addr: decided, Reason: "poll majority"})
}

// onTick re-checks an unreachable target, and checks the failover hold: a fence older
// than --failover-hold re-checks the target, and onRole unfences if it is still master and
// was not switched away.
func (m *failoverMachine) onTick(now time.Time) []action {
	if m.targetDown && m.target != "" {
		// One failed ROLE must not hold new connections for a whole poll interval:
		// re-check an unreachable target every tick (the watcher dedups in-flight checks).
		return []action{{Kind: actVerify, Addr: m.target, Reason: "target down"}}
	}
	if m.fenced && !m.switchedAway && m.target != "" && now.Sub(m.fencedAt) >= m.hold {
		return []action{{Kind: actVerify, Addr: m.target, Reason: "failover-hold expired"}}
	}
	return nil
}

// onDialFailed handles a data-path dial failure to addr.
func (m *failoverMachine) onDialFailed(addr string) []action {
	if addr != m.target || m.targetDown {
		return nil
	}
	return []action{{Kind: actVerify, Addr: addr, Reason: "dial failed"}}
}

// decideMaster picks the master address a majority of the answering Sentinels report;
// without a majority the answer with the newest config epoch wins, and a tie at that
// epoch between different addresses means no decision.
func decideMaster(views []pollView) (addr string, epoch uint64, ok bool) {
	votes := map[string]int{}
	epochOf := map[string]uint64{}
	answered := 0
	for _, v := range views {
		if v.Err != nil || v.View.Addr == "" {
			continue
		}
		answered++
		votes[v.View.Addr]++
		epochOf[v.View.Addr] = max(epochOf[v.View.Addr], v.View.ConfigEpoch)
	}
	if answered == 0 {
		return "", 0, false
	}
	for a, n := range votes {
		if n*2 > answered {
			return a, epochOf[a], true
		}
	}
	var best string
	var bestEpoch uint64
	tie := false
	for a, e := range epochOf {
		switch {
		case best == "" || e > bestEpoch:
			best, bestEpoch, tie = a, e, false
		case e == bestEpoch:
			tie = true
		}
	}
	if tie {
		return "", 0, false
	}
	return best, bestEpoch, true
}
