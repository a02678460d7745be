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
//   - fence the current target on the first sign of a failover of it, from any Sentinel
//     (for a requested failover of a master that is up, at +elected-leader: see
//     targetODown);
//   - never switch away from a target that still says master unless a failover of it
//     began (fenced) or it is unreachable or demoted;
//   - never route back to a node we cut away from unless an event names it as the new
//     master or the Sentinels' config epoch moved past the demotion.
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
	// targetODown: a Sentinel reported the target objectively down (+odown, until -odown).
	// A failover that follows is the automatic kind, and its old master may still take
	// our clients' writes while cut off from the Sentinels: it is fenced at +try-failover.
	// A failover without it was requested (SENTINEL FAILOVER) of a master that is up; the
	// leader publishes +try-failover at once but sends SLAVEOF NO ONE only two timer ticks
	// (50-100 ms each) after +elected-leader, so the fence waits for +elected-leader: two
	// ticks of margin, and the write gap is at most those two ticks plus the cutover,
	// where fencing at +try-failover added up to one more.
	targetODown bool
	// attempts maps a Sentinel address to when it began a failover of the target.
	attempts map[string]time.Time
	// demoted maps addresses we cut away from to the highest config epoch known then.
	demoted map[string]uint64
	// authorized holds addresses an event named as the chosen/new master.
	authorized map[string]bool
	maxEpoch   uint64
	// reachableSentinels is the number of Sentinels that answered the last poll.
	reachableSentinels int
}

func newFailoverMachine(name string, hold time.Duration) *failoverMachine {
	return &failoverMachine{
		name:       name,
		hold:       hold,
		attempts:   map[string]time.Time{},
		demoted:    map[string]uint64{},
		authorized: map[string]bool{},
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
func (m *failoverMachine) onEvent(src string, ev sentinelEvent, now time.Time) []action {
	if ev.Channel == "+new-epoch" {
		m.maxEpoch = max(m.maxEpoch, ev.Epoch)
		return nil
	}
	if ev.MasterName != m.name {
		return nil
	}
	if m.target != "" && ev.InstanceAddr == m.target {
		switch ev.Channel {
		case "+odown":
			m.targetODown = true
		case "-odown":
			m.targetODown = false
		}
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
		m.authorized[ev.NewMasterAddr] = true
		acts := []action(nil)
		if m.target != "" && ev.MasterAddr == m.target {
			m.switchedAway = true
			acts = append(acts, m.fence(now, ev.Channel)...)
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
			if ev.Channel != "+try-failover" || m.targetODown {
				acts = append(acts, m.fence(now, ev.Channel)...)
			}
		}
		if candidateEvents[ev.Channel] && ev.InstanceAddr != "" {
			m.authorized[ev.InstanceAddr] = true
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
		m.demoted[from] = m.maxEpoch
	}
	delete(m.demoted, addr)
	delete(m.authorized, addr)
	m.target = addr
	m.fenced, m.targetDown, m.targetDemoted, m.switchedAway, m.targetODown = false, false, false, false, false
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
	if demotedAt, was := m.demoted[decided]; was && epoch > demotedAt {
		m.authorized[decided] = true
	}
	if !m.blocked(decided) {
		acts = append(acts, action{Kind: actVerify, Addr: decided, Reason: "poll majority"})
	}
	return acts
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
