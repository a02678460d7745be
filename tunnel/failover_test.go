package tunnel

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	addrA = "10.0.0.1:6379"
	addrB = "10.0.0.2:6379"
	addrC = "10.0.0.3:6379"
)

// step is one input to the machine; exactly one field besides src/advance is set.
type step struct {
	src        string
	advance    time.Duration // move the clock before the input
	event      [2]string     // channel, payload
	roleAddr   string
	role       roleInfo
	roleErr    error
	poll       []pollView
	tick       bool
	dialFailed string
}

type machineState struct {
	Target string
	Fenced bool
	Down   bool
	Ready  bool
}

func ev(channel, payload string) step { return step{src: "s1", event: [2]string{channel, payload}} }
func evFrom(src string, s step) step  { s.src = src; return s }
func roleMaster(addr string) step     { return step{roleAddr: addr, role: roleInfo{Role: "master"}} }
func roleErr(addr string) step {
	return step{roleAddr: addr, roleErr: errors.New("connection refused")}
}
func pollOf(addrs ...string) []pollView { return pollEpoch(0, addrs...) }
func pollEpoch(epoch uint64, addrs ...string) []pollView {
	var out []pollView
	for i, a := range addrs {
		v := pollView{Sentinel: string(rune('a' + i))}
		if a == "" {
			v.Err = errors.New("down")
		} else {
			v.View = sentinelMasterView{Addr: a, ConfigEpoch: epoch}
		}
		out = append(out, v)
	}
	return out
}

// routedToA brings a fresh machine to "routing to A, 3 Sentinels reachable".
var routedToA = []step{{poll: pollOf(addrA, addrA, addrA)}, roleMaster(addrA)}

// cutToB is a complete graceful failover A -> B (SENTINEL FAILOVER) on top of routedToA,
// in epoch 1: a Sentinel starting a failover publishes +new-epoch first.
var cutToB = []step{
	ev("+new-epoch", "1"),
	ev("+try-failover", "master mymaster 10.0.0.1 6379"),
	ev("+elected-leader", "master mymaster 10.0.0.1 6379"),
	ev("+selected-slave", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"),
	roleMaster(addrB),
}

// odownA is the quorum's verdict that A is down, which precedes an automatic failover.
var odownA = ev("+odown", "master mymaster 10.0.0.1 6379 #quorum 2/2")

func TestFailoverMachine(t *testing.T) {
	tests := map[string]struct {
		reason string
		setup  []step
		steps  []step
		want   []action
		state  machineState
	}{
		"startup routes to the poll majority after ROLE": {
			reason: "no byte goes anywhere before ROLE says master",
			steps:  []step{{poll: pollOf(addrA, addrA, addrB)}, roleMaster(addrA)},
			want:   []action{{Kind: actVerify, Addr: addrA, Reason: "poll majority"}, {Kind: actCutover, Addr: addrA}},
			state:  machineState{Target: addrA, Ready: true},
		},
		"startup does not route to a node that says slave": {
			reason: "poll answers are only candidates",
			steps:  []step{{poll: pollOf(addrA)}, {roleAddr: addrA, role: roleInfo{Role: "slave", MasterAddr: addrB}}},
			want:   []action{{Kind: actVerify, Addr: addrA, Reason: "poll majority"}},
			state:  machineState{},
		},
		"graceful failover": {
			reason: "fence at +elected-leader (two ticks before SLAVEOF NO ONE), watch the selected replica, cut over when it says master",
			setup:  routedToA,
			steps:  cutToB,
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "+elected-leader"},
				{Kind: actWatchCandidate, Addr: addrB, Reason: "+selected-slave"},
				{Kind: actCutover, From: addrA, Addr: addrB},
			},
			state: machineState{Target: addrB, Ready: true},
		},
		"late events about the old master are ignored": {
			reason: "+switch-master and reconf events arrive ~1s after our cutover",
			setup:  append(append([]step(nil), routedToA...), cutToB...),
			steps: []step{
				ev("+failover-state-reconf-slaves", "master mymaster 10.0.0.1 6379"),
				ev("+promoted-slave", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"),
				ev("+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"),
			},
			want:  nil,
			state: machineState{Target: addrB, Ready: true},
		},
		"poll naming the old master never moves clients back": {
			reason: "Sentinels answer the old master until the failover ends; it still says ROLE master",
			setup:  append(append([]step(nil), routedToA...), cutToB...),
			steps:  []step{{poll: pollOf(addrA, addrA, addrA)}, roleMaster(addrB), roleMaster(addrA)},
			want:   []action{{Kind: actVerify, Addr: addrB, Reason: "poll"}},
			state:  machineState{Target: addrB, Ready: true},
		},
		"requested failover of a master that is up is fenced at +elected-leader": {
			reason: "SENTINEL FAILOVER publishes +try-failover at once, SLAVEOF NO ONE two ticks after +elected-leader",
			setup:  routedToA,
			steps: []step{
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				ev("+elected-leader", "master mymaster 10.0.0.1 6379"),
				ev("+failover-state-select-slave", "master mymaster 10.0.0.1 6379"),
			},
			want:  []action{{Kind: actFence, Addr: addrA, Reason: "+elected-leader"}},
			state: machineState{Target: addrA, Fenced: true, Ready: true},
		},
		"a missed +elected-leader is covered by the next event": {
			reason: "+selected-slave still comes a tick before SLAVEOF NO ONE",
			setup:  routedToA,
			steps: []step{
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				ev("+selected-slave", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"),
			},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "+selected-slave"},
				{Kind: actWatchCandidate, Addr: addrB, Reason: "+selected-slave"},
			},
			state: machineState{Target: addrA, Fenced: true, Ready: true},
		},
		"+odown then -odown: a later requested failover waits for the leader again": {
			reason: "the down verdict was withdrawn; the master is up",
			setup:  routedToA,
			steps: []step{
				odownA,
				ev("-odown", "master mymaster 10.0.0.1 6379"),
				roleMaster(addrA),
				roleMaster(addrA),
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
			},
			want: []action{
				{Kind: actVerify, Addr: addrA, Reason: "+odown"},
				{Kind: actVerify, Addr: addrA, Reason: "-odown"},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"a bid that is never elected does not fence": {
			reason: "with down-after near 1 s, Sentinels bid for a failover of a healthy new master right after a switch (redis/redis#8607); clients must not wait out the bid",
			setup:  routedToA,
			steps: []step{
				ev("+sdown", "master mymaster 10.0.0.1 6379"),
				odownA,
				ev("+new-epoch", "3"),
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				ev("-sdown", "master mymaster 10.0.0.1 6379"),
				ev("-odown", "master mymaster 10.0.0.1 6379"),
				roleMaster(addrA),
				{advance: 5 * time.Second, tick: true},
				ev("-failover-abort-not-elected", "master mymaster 10.0.0.1 6379"),
			},
			want: []action{
				{Kind: actVerify, Addr: addrA, Reason: "+sdown"},
				{Kind: actVerify, Addr: addrA, Reason: "+odown"},
				{Kind: actVerify, Addr: addrA, Reason: "-sdown"},
				{Kind: actVerify, Addr: addrA, Reason: "-odown"},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"abort after the election unfences once ROLE confirms the old master": {
			reason: "no failover happened: resume the parked sessions",
			setup:  append(append([]step(nil), routedToA...), odownA, roleMaster(addrA)),
			steps: []step{
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				ev("+elected-leader", "master mymaster 10.0.0.1 6379"),
				ev("-failover-abort-no-good-slave", "master mymaster 10.0.0.1 6379"),
				roleMaster(addrA),
			},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "+elected-leader"},
				{Kind: actVerify, Addr: addrA, Reason: "-failover-abort-no-good-slave"},
				{Kind: actUnfence, Addr: addrA, Reason: "failover aborted, target still master"},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"abort by a losing Sentinel keeps the fence of the leader": {
			reason: "after kill -9 several Sentinels try; only the elected one goes on",
			setup:  append(append([]step(nil), routedToA...), odownA, roleMaster(addrA)),
			steps: []step{
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				evFrom("s2", ev("+try-failover", "master mymaster 10.0.0.1 6379")),
				ev("+elected-leader", "master mymaster 10.0.0.1 6379"),
				evFrom("s2", ev("-failover-abort-not-elected", "master mymaster 10.0.0.1 6379")),
				roleMaster(addrA),
			},
			want:  []action{{Kind: actFence, Addr: addrA, Reason: "+elected-leader"}},
			state: machineState{Target: addrA, Fenced: true, Ready: true},
		},
		"double failover after a crash never routes back to the demoted node": {
			reason: "issue 14: B, promoted after A's crash, is failed over again to C by a bid of a Sentinel that had just switched; " +
				"the first leader's late +switch-master A->B and polls naming B (epoch 5) while C is briefly unreachable must not move clients back to B",
			setup: routedToA,
			steps: []step{
				roleErr(addrA),
				odownA,
				ev("+new-epoch", "5"),
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				ev("+elected-leader", "master mymaster 10.0.0.1 6379"),
				ev("+selected-slave", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"),
				roleMaster(addrB),
				evFrom("s3", ev("+new-epoch", "6")),
				evFrom("s3", ev("+try-failover", "master mymaster 10.0.0.2 6379")),
				ev("+new-epoch", "6"), // s1 votes for s3
				evFrom("s3", ev("+elected-leader", "master mymaster 10.0.0.2 6379")),
				evFrom("s3", ev("+selected-slave", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.2 6379")),
				roleMaster(addrC),
				roleErr(addrC),
				ev("+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"),
				{poll: pollEpoch(5, addrB, addrB, addrC)},
				roleMaster(addrB),
				roleMaster(addrC),
			},
			want: []action{
				{Kind: actSetDown, Addr: addrA, Down: true, Reason: "connection refused"},
				{Kind: actVerify, Addr: addrA, Reason: "+odown"},
				{Kind: actFence, Addr: addrA, Reason: "+elected-leader"},
				{Kind: actWatchCandidate, Addr: addrB, Reason: "+selected-slave"},
				{Kind: actCutover, From: addrA, Addr: addrB},
				{Kind: actFence, Addr: addrB, Reason: "+elected-leader"},
				{Kind: actWatchCandidate, Addr: addrC, Reason: "+selected-slave"},
				{Kind: actCutover, From: addrB, Addr: addrC},
				{Kind: actSetDown, Addr: addrC, Down: true, Reason: "connection refused"},
				{Kind: actPollNow, Reason: "+switch-master names a demoted node"},
				{Kind: actVerify, Addr: addrC, Reason: "poll"},
				{Kind: actSetDown, Addr: addrC, Down: false, Reason: "answers ROLE again"},
			},
			state: machineState{Target: addrC, Ready: true},
		},
		"a late +switch-master to a demoted node while the target is down asks the Sentinels": {
			reason: "+switch-master carries no epoch: the poll's config epochs decide",
			setup:  append(append([]step(nil), routedToA...), cutToB...),
			steps:  []step{roleErr(addrB), ev("+switch-master", "mymaster 10.0.0.2 6379 10.0.0.1 6379")},
			want: []action{
				{Kind: actSetDown, Addr: addrB, Down: true, Reason: "connection refused"},
				{Kind: actFence, Addr: addrB, Reason: "+switch-master"},
				{Kind: actPollNow, Reason: "+switch-master names a demoted node"},
			},
			state: machineState{Target: addrB, Fenced: true, Down: true, Ready: true},
		},
		"hold expiry unfences a target that is still master": {
			reason: "a stuck failover must not block clients forever",
			setup:  routedToA,
			steps: []step{
				ev("+elected-leader", "master mymaster 10.0.0.1 6379"),
				{advance: 11 * time.Second, tick: true},
				roleMaster(addrA),
			},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "+elected-leader"},
				{Kind: actVerify, Addr: addrA, Reason: "failover-hold expired"},
				{Kind: actUnfence, Addr: addrA, Reason: "failover-hold expired, target still master"},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"switch-master away from the target is never unfenced": {
			reason: "Sentinel demoted it; the old master keeps saying ROLE master for seconds",
			setup:  routedToA,
			steps: []step{
				ev("+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"),
				{advance: 11 * time.Second, tick: true},
				roleMaster(addrA),
			},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "+switch-master"},
				{Kind: actWatchCandidate, Addr: addrB, Reason: "+switch-master"},
			},
			state: machineState{Target: addrA, Fenced: true, Ready: true},
		},
		"switch-master as the first sign cuts over once the new master is verified": {
			reason: "events before it were missed (Sentinel reconnecting)",
			setup:  routedToA,
			steps:  []step{ev("+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"), roleMaster(addrB)},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "+switch-master"},
				{Kind: actWatchCandidate, Addr: addrB, Reason: "+switch-master"},
				{Kind: actCutover, From: addrA, Addr: addrB},
			},
			state: machineState{Target: addrB, Ready: true},
		},
		"kill -9 of the master": {
			reason: "unreachable target holds new connections; follow the failover",
			setup:  routedToA,
			steps: []step{
				{dialFailed: addrA},
				roleErr(addrA),
				ev("+sdown", "master mymaster 10.0.0.1 6379"),
				roleErr(addrA),
				ev("+odown", "master mymaster 10.0.0.1 6379 #quorum 2/2"),
				ev("+try-failover", "master mymaster 10.0.0.1 6379"),
				ev("+selected-slave", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379"),
				roleMaster(addrC),
			},
			want: []action{
				{Kind: actVerify, Addr: addrA, Reason: "dial failed"},
				{Kind: actSetDown, Addr: addrA, Down: true, Reason: "connection refused"},
				{Kind: actVerify, Addr: addrA, Reason: "+sdown"},
				{Kind: actVerify, Addr: addrA, Reason: "+odown"},
				{Kind: actFence, Addr: addrA, Reason: "+selected-slave"},
				{Kind: actWatchCandidate, Addr: addrC, Reason: "+selected-slave"},
				{Kind: actCutover, From: addrA, Addr: addrC},
			},
			state: machineState{Target: addrC, Ready: true},
		},
		"unreachable target with Sentinels naming another master": {
			reason: "poll backstop finds the new master when every event was missed",
			setup:  routedToA,
			steps:  []step{roleErr(addrA), {poll: pollOf(addrB, addrB, "")}, roleErr(addrA), roleMaster(addrB)},
			want: []action{
				{Kind: actSetDown, Addr: addrA, Down: true, Reason: "connection refused"},
				{Kind: actVerify, Addr: addrA, Reason: "poll"},
				{Kind: actVerify, Addr: addrB, Reason: "poll majority"},
				{Kind: actCutover, From: addrA, Addr: addrB},
			},
			state: machineState{Target: addrB, Ready: true},
		},
		"target demoted behind our back: ask the Sentinels": {
			reason: "ROLE says slave: fence, poll now, route where the Sentinels (and ROLE) say",
			setup:  routedToA,
			steps: []step{
				{roleAddr: addrA, role: roleInfo{Role: "slave", MasterAddr: "redis-1.short:6379"}},
				{poll: pollOf(addrB, addrB, addrB)},
				roleMaster(addrB),
			},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "target says ROLE slave"},
				{Kind: actPollNow, Reason: "target demoted"},
				{Kind: actVerify, Addr: addrA, Reason: "poll"},
				{Kind: actVerify, Addr: addrB, Reason: "poll majority"},
				{Kind: actCutover, From: addrA, Addr: addrB},
			},
			state: machineState{Target: addrB, Ready: true},
		},
		"target demoted with every Sentinel down follows ROLE": {
			reason: "no Sentinel to ask: ROLE's master address is the only lead",
			setup:  append(append([]step(nil), routedToA...), step{poll: pollOf("", "", "")}, roleMaster(addrA)),
			steps:  []step{{roleAddr: addrA, role: roleInfo{Role: "slave", MasterAddr: addrB}}, roleMaster(addrB)},
			want: []action{
				{Kind: actFence, Addr: addrA, Reason: "target says ROLE slave"},
				{Kind: actWatchCandidate, Addr: addrB, Reason: "target follows it"},
				{Kind: actCutover, From: addrA, Addr: addrB},
			},
			state: machineState{Target: addrB},
		},
		"all Sentinels down keeps the verified master": {
			reason: "traffic keeps flowing while ROLE says master; not ready",
			setup:  routedToA,
			steps:  []step{{poll: pollOf("", "", "")}, roleMaster(addrA)},
			want:   []action{{Kind: actVerify, Addr: addrA, Reason: "poll"}},
			state:  machineState{Target: addrA},
		},
		"a second master without a failover is ignored": {
			reason: "never switch away from a healthy target because another node says master",
			setup:  routedToA,
			steps:  []step{{poll: pollOf(addrB, addrA, addrB)}, roleMaster(addrA), roleMaster(addrB)},
			want:   []action{{Kind: actVerify, Addr: addrA, Reason: "poll"}, {Kind: actVerify, Addr: addrB, Reason: "poll majority"}},
			state:  machineState{Target: addrA, Ready: true},
		},
		"a demoted node is allowed again when a failover selects it": {
			reason: "A came back as replica and is promoted in a later failover",
			setup:  append(append([]step(nil), routedToA...), cutToB...),
			steps: []step{
				ev("+new-epoch", "2"),
				ev("+try-failover", "master mymaster 10.0.0.2 6379"),
				ev("+elected-leader", "master mymaster 10.0.0.2 6379"),
				ev("+selected-slave", "slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.2 6379"),
				roleMaster(addrA),
			},
			want: []action{
				{Kind: actFence, Addr: addrB, Reason: "+elected-leader"},
				{Kind: actWatchCandidate, Addr: addrA, Reason: "+selected-slave"},
				{Kind: actCutover, From: addrB, Addr: addrA},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"a newer config epoch re-authorizes a demoted node": {
			reason: "the Sentinels moved on after a later failover we missed entirely",
			setup:  append(append([]step(nil), routedToA...), cutToB...),
			steps:  []step{roleErr(addrB), {poll: pollEpoch(7, addrA, addrA)}, roleErr(addrB), roleMaster(addrA)},
			want: []action{
				{Kind: actSetDown, Addr: addrB, Down: true, Reason: "connection refused"},
				{Kind: actVerify, Addr: addrB, Reason: "poll"},
				{Kind: actVerify, Addr: addrA, Reason: "poll majority"},
				{Kind: actCutover, From: addrB, Addr: addrA},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"unreachable target is re-checked every tick": {
			reason: "a single failed ROLE must not hold new connections until the next poll",
			setup:  routedToA,
			steps:  []step{roleErr(addrA), {tick: true}, roleMaster(addrA)},
			want: []action{
				{Kind: actSetDown, Addr: addrA, Down: true, Reason: "connection refused"},
				{Kind: actVerify, Addr: addrA, Reason: "target down"},
				{Kind: actSetDown, Addr: addrA, Down: false, Reason: "answers ROLE again"},
			},
			state: machineState{Target: addrA, Ready: true},
		},
		"events of other master names are ignored": {
			reason: "one watcher per name",
			setup:  routedToA,
			steps:  []step{ev("+try-failover", "master other 10.0.0.1 6379")},
			state:  machineState{Target: addrA, Ready: true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := newFailoverMachine("mymaster", 10*time.Second)
			now := time.Unix(1000, 0)
			run := func(steps []step) []action {
				var acts []action
				for i, s := range steps {
					now = now.Add(s.advance + time.Millisecond)
					switch {
					case s.event[0] != "":
						e, err := parseSentinelEvent(s.event[0], s.event[1])
						if err != nil {
							t.Fatalf("step %d: %v", i, err)
						}
						acts = append(acts, m.onEvent(s.src, e, now)...)
					case s.roleAddr != "":
						acts = append(acts, m.onRole(s.roleAddr, s.role, s.roleErr, now)...)
					case s.poll != nil:
						acts = append(acts, m.onPoll(s.poll)...)
					case s.tick:
						acts = append(acts, m.onTick(now)...)
					case s.dialFailed != "":
						acts = append(acts, m.onDialFailed(s.dialFailed)...)
					}
				}
				return acts
			}
			run(tc.setup)
			got := run(tc.steps)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: actions -want +got:\n%s", tc.reason, diff)
			}
			state := machineState{Target: m.target, Fenced: m.fenced, Down: m.targetDown, Ready: m.ready()}
			if diff := cmp.Diff(tc.state, state); diff != "" {
				t.Errorf("%s: final state -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDecideMaster(t *testing.T) {
	v := func(addr string, epoch uint64) pollView {
		return pollView{View: sentinelMasterView{Addr: addr, ConfigEpoch: epoch}}
	}
	down := pollView{Err: errors.New("down")}
	type result struct {
		Addr string
		OK   bool
	}
	tests := map[string]struct {
		reason string
		views  []pollView
		want   result
	}{
		"unanimous":             {reason: "all agree", views: []pollView{v(addrA, 1), v(addrA, 1), v(addrA, 1)}, want: result{addrA, true}},
		"majority":              {reason: "2 of 3", views: []pollView{v(addrA, 1), v(addrB, 2), v(addrA, 1)}, want: result{addrA, true}},
		"majority of reachable": {reason: "down Sentinels do not count", views: []pollView{down, v(addrB, 2), down}, want: result{addrB, true}},
		"split, newest epoch":   {reason: "no majority: highest config epoch wins", views: []pollView{v(addrA, 1), v(addrB, 3), down, down}, want: result{addrB, true}},
		"split, same epoch":     {reason: "tie at the top epoch: no decision", views: []pollView{v(addrA, 2), v(addrB, 2)}, want: result{"", false}},
		"none":                  {reason: "nobody answered", views: []pollView{down, down}, want: result{"", false}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			addr, _, ok := decideMaster(tc.views)
			if diff := cmp.Diff(tc.want, result{addr, ok}); diff != "" {
				t.Errorf("%s: decideMaster() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}
