package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// Event kinds on the chaos timeline.
const (
	EventFailover     = "SENTINEL FAILOVER"
	EventKill         = "kill -9"
	EventPromoted     = "promoted"
	EventSwitchMaster = "+switch-master"
	EventRestarted    = "old master back as replica"
)

// ChaosOptions configures RunChaos. Zero values take the documented defaults.
type ChaosOptions struct {
	// TunnelBinary is the redis-ha-tunnel executable (required).
	TunnelBinary string
	// Graceful is the number of SENTINEL FAILOVER rounds (default 3; -1 for none).
	Graceful int
	// Kills is the number of kill -9 rounds (default 3; -1 for none).
	Kills int
	// DownAfter is Sentinel's down-after-milliseconds (default 1s).
	DownAfter time.Duration
	// FailoverTimeout is Sentinel's failover-timeout (default 5s).
	FailoverTimeout time.Duration
	// Settle is how long both writers run undisturbed before each round (default 1s).
	Settle time.Duration
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// Logger receives redisproc lifecycle logs; nil discards.
	Logger *slog.Logger
}

func (o *ChaosOptions) defaults() {
	if o.Graceful == 0 {
		o.Graceful = 3
	}
	if o.Kills == 0 {
		o.Kills = 3
	}
	o.Graceful, o.Kills = max(o.Graceful, 0), max(o.Kills, 0)
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 5 * time.Second
	}
	if o.Settle == 0 {
		o.Settle = time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Event is something that happened to the cluster, at a time since the run started.
type Event struct {
	At    time.Duration
	Kind  string
	Round int
	// Detail is e.g. the promoted server.
	Detail string
}

// Ack is one acknowledged write: its key sequence number and when the reply arrived.
type Ack struct {
	At  time.Duration
	Seq int64
	// Lost is set when the final master does not have the key.
	Lost bool
}

// PathResult is what one writer (through the tunnel or HAProxy) saw.
type PathResult struct {
	// Name is TargetTunnel or TargetHAProxy.
	Name string
	// Acks in the order they arrived.
	Acks []Ack
	// Errors counts failed writes and failed connects.
	Errors int
}

// Round is one failover of the run.
type Round struct {
	// Index counts from 1; Kind is EventFailover or EventKill.
	Index int
	Kind  string
	// Start is when the failover command was sent or the master killed.
	Start time.Duration
	// Promoted is when a replica first answered ROLE master (0: not seen).
	Promoted time.Duration
	// SwitchMaster is the first +switch-master from any Sentinel (0: not seen).
	SwitchMaster time.Duration
	// End is when the next round's window began or the run ended.
	End time.Duration
	// Err is set when the round did not complete.
	Err string
}

// KillExposure is how long before a kill -9 an acknowledged write may still be missing
// from every replica: Redis answers a write before its replicas have it (asynchronous
// replication), and a master killed before its replication stream left takes the write
// with it. A kill round's window starts this long before the kill, so such a loss is
// counted where it happens (as lost before the kill), not in the round before.
const KillExposure = 100 * time.Millisecond

// WindowStart is when the acks counted for this round begin: the round start, or for a
// kill round KillExposure before it.
func (r Round) WindowStart() time.Duration {
	if r.Kind == EventKill {
		return r.Start - KillExposure
	}
	return r.Start
}

// PathRound is the per-round figure of one path.
type PathRound struct {
	// Lost is the acked writes of this round that the final master does not have.
	Lost int
	// LostBeforeKill is the part of Lost acked in the KillExposure before a kill -9: lost
	// with the killed master, which had not replicated them yet (no proxy can prevent it;
	// a client that must not lose them uses WAIT).
	LostBeforeKill int
	// Acked is the number of acked writes in the round.
	Acked int
	// FirstWrite is the time from promotion to the first acked write that survived (-1: none).
	FirstWrite time.Duration
	// Gap is the longest time between two acks (lost ones included: the client saw them)
	// from the round start until the path has written again after the promotion.
	Gap time.Duration
}

// ChaosReport is everything RunChaos recorded.
type ChaosReport struct {
	Started  time.Time
	Duration time.Duration
	Options  ChaosOptions
	Rounds   []Round
	Events   []Event
	Paths    []PathResult
	// LoadBefore and LoadAfter are /proc/loadavg at start and end.
	LoadBefore, LoadAfter string
	// TunnelLog is the end of the tunnel's log (fences, cutovers, loss checks).
	TunnelLog string
}

// RunChaos starts a master, 2 replicas and 3 Sentinels, HAProxy with the Helm chart's
// config and the tunnel binary, runs one writer through each proxy, and performs the
// graceful and then the kill -9 rounds. After the last round it checks every acked key
// on the final master. Everything it started is stopped before it returns.
func RunChaos(ctx context.Context, o ChaosOptions) (*ChaosReport, error) {
	o.defaults()
	if o.TunnelBinary == "" {
		return nil, errors.New("flag --tunnel-binary is required (make build writes _output/bin/redis-ha-tunnel)")
	}
	if o.DownAfter < 100*time.Millisecond {
		return nil, fmt.Errorf("flag --down-after: %s is below Sentinel's useful minimum of 100ms", o.DownAfter)
	}
	rep := &ChaosReport{Started: time.Now(), Options: o, LoadBefore: LoadAvg()}
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0) }

	e, err := startEnv(ctx, envOptions{tunnelBinary: o.TunnelBinary, downAfter: o.DownAfter, failoverTimeout: o.FailoverTimeout,
		progress: o.Progress, logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer e.close()

	var mu sync.Mutex
	addEvent := func(ev Event) {
		mu.Lock()
		rep.Events = append(rep.Events, ev)
		mu.Unlock()
	}
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var bg sync.WaitGroup
	for _, s := range e.cluster.Sentinels() {
		bg.Add(1)
		go func() {
			defer bg.Done()
			watchSwitchMaster(bgCtx, s.Addr(), func(msg string) {
				addEvent(Event{At: since(), Kind: EventSwitchMaster, Detail: msg})
			})
		}()
	}
	writers := []*pathWriter{
		{name: TargetTunnel, addr: e.addr[TargetTunnel], prefix: fmt.Sprintf("chaos:%d:tunnel:", t0.UnixNano())},
		{name: TargetHAProxy, addr: e.addr[TargetHAProxy], prefix: fmt.Sprintf("chaos:%d:haproxy:", t0.UnixNano())},
	}
	writeCtx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	var ww sync.WaitGroup
	for _, w := range writers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			w.run(writeCtx, since)
		}()
	}

	kinds := slices.Repeat([]string{EventFailover}, o.Graceful)
	kinds = append(kinds, slices.Repeat([]string{EventKill}, o.Kills)...)
	for i, kind := range kinds {
		if pause(ctx, o.Settle); ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := Round{Index: i + 1, Kind: kind}
		fmt.Fprintf(o.Progress, "round %d: %s\n", r.Index, kind)
		if err := runRound(ctx, e.cluster, &r, since, addEvent, o.Progress); err != nil {
			r.Err = err.Error()
			fmt.Fprintf(o.Progress, "round %d failed: %v\n", r.Index, err)
			rep.Rounds = append(rep.Rounds, r)
			break
		}
		rep.Rounds = append(rep.Rounds, r)
	}
	pause(ctx, o.Settle)
	stopWriters()
	ww.Wait()
	end := since()
	setRoundEnds(rep.Rounds, end)
	stopBG()
	bg.Wait()
	rep.TunnelLog = e.tunnel.Tail(60)

	checkCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	master, err := e.cluster.Master(checkCtx)
	if err != nil {
		return nil, fmt.Errorf("find the final master: %w", err)
	}
	fmt.Fprintf(o.Progress, "checking every acked key on the final master %s\n", master.Name())
	for _, w := range writers {
		if err := markLost(checkCtx, master, w.prefix, w.acks); err != nil {
			return nil, fmt.Errorf("check %s keys: %w", w.name, err)
		}
		rep.Paths = append(rep.Paths, PathResult{Name: w.name, Acks: w.acks, Errors: w.errors})
	}
	slices.SortFunc(rep.Events, func(a, b Event) int { return int(a.At - b.At) })
	// Attribute the +switch-master events to rounds now that the times are known.
	for i := range rep.Rounds {
		r := &rep.Rounds[i]
		for j := range rep.Events {
			ev := &rep.Events[j]
			if ev.At >= r.WindowStart() && ev.At < r.End && ev.Round == 0 {
				ev.Round = r.Index
				if ev.Kind == EventSwitchMaster && r.SwitchMaster == 0 {
					r.SwitchMaster = ev.At
				}
			}
		}
	}
	rep.Duration = time.Since(rep.Started)
	rep.LoadAfter = LoadAvg()
	return rep, nil
}

// setRoundEnds ends each round's window where the next one's begins, the last at end.
func setRoundEnds(rounds []Round, end time.Duration) {
	for i := range rounds {
		rounds[i].End = end
		if i+1 < len(rounds) {
			rounds[i].End = rounds[i+1].WindowStart()
		}
	}
}

// runRound performs one failover and waits until the cluster is ready for the next.
func runRound(ctx context.Context, c *redisproc.Cluster, r *Round, since func() time.Duration, addEvent func(Event), progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	old, err := c.Master(ctx)
	if err != nil {
		return err
	}
	var candidates []*redisproc.Process
	for _, s := range c.Servers() {
		if s != old && s.Running() {
			candidates = append(candidates, s)
		}
	}
	watchCtx, stopWatch := context.WithTimeout(ctx, 60*time.Second)
	defer stopWatch()
	promoted := make(chan Event, 1)
	go func() {
		if ev, ok := watchPromotion(watchCtx, candidates, since); ok {
			ev.Round = r.Index
			promoted <- ev
		}
		close(promoted)
	}()
	r.Start = since()
	addEvent(Event{At: r.Start, Kind: r.Kind, Round: r.Index, Detail: old.Name()})
	switch r.Kind {
	case EventFailover:
		if err := sentinelFailover(ctx, c); err != nil {
			return err
		}
	case EventKill:
		if err := old.Kill(); err != nil {
			return fmt.Errorf("kill -9 %s: %w", old.Name(), err)
		}
	}
	newMaster, err := c.WaitNewMaster(ctx, old)
	if err != nil {
		return fmt.Errorf("wait for a new master: %w", err)
	}
	stopWatch()
	if ev, ok := <-promoted; ok {
		r.Promoted = ev.At
		addEvent(ev)
		fmt.Fprintf(progress, "  %s promoted %s after the %s\n", ev.Detail, (ev.At - r.Start).Round(time.Millisecond), r.Kind)
	}
	if r.Kind == EventKill {
		// Like a restarted pod whose init container points it at the current master.
		f, err := os.OpenFile(old.ConfigPath(), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("rewrite %s config: %w", old.Name(), err)
		}
		_, werr := fmt.Fprintf(f, "\nreplicaof %s %d\n", newMaster.Host(), newMaster.Port())
		if cerr := f.Close(); werr != nil || cerr != nil {
			return fmt.Errorf("rewrite %s config: %w", old.Name(), errors.Join(werr, cerr))
		}
		if err := old.Restart(ctx); err != nil {
			return fmt.Errorf("restart %s: %w", old.Name(), err)
		}
		addEvent(Event{At: since(), Kind: EventRestarted, Round: r.Index, Detail: old.Name()})
	}
	// The next failover needs Sentinels that agree and replicas in sync.
	if err := c.WaitSentinelsSettled(ctx); err != nil {
		return fmt.Errorf("wait for the Sentinels to settle: %w", err)
	}
	return nil
}

func sentinelFailover(ctx context.Context, c *redisproc.Cluster) error {
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		for _, s := range c.Sentinels() {
			if !s.Running() {
				continue
			}
			if _, err := s.Do(ctx, "SENTINEL", "FAILOVER", c.MasterName()); err != nil {
				// -INPROG or -NOGOODSLAVE right after a previous round: retry shortly.
				last = err
				continue
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("SENTINEL FAILOVER refused: %w", last)
}

// watchPromotion polls ROLE on every candidate every 5 ms on kept-open connections and
// reports the first that answers master.
func watchPromotion(ctx context.Context, candidates []*redisproc.Process, since func() time.Duration) (Event, bool) {
	conns := make([]redis.Conn, len(candidates))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, p := range candidates {
			if conns[i] == nil {
				c, err := redis.DialContext(ctx, "tcp", p.Addr(), redis.DialConnectTimeout(200*time.Millisecond),
					redis.DialReadTimeout(200*time.Millisecond), redis.DialWriteTimeout(200*time.Millisecond))
				if err != nil {
					continue
				}
				conns[i] = c
			}
			v, err := redis.Values(conns[i].Do("ROLE"))
			if err != nil || len(v) == 0 {
				conns[i].Close()
				conns[i] = nil
				continue
			}
			if role, _ := redis.String(v[0], nil); role == "master" {
				return Event{At: since(), Kind: EventPromoted, Detail: p.Name()}, true
			}
		}
		select {
		case <-ctx.Done():
			return Event{}, false
		case <-tick.C:
		}
	}
}

// watchSwitchMaster reports every +switch-master message of one Sentinel until ctx ends.
func watchSwitchMaster(ctx context.Context, addr string, report func(msg string)) {
	for ctx.Err() == nil {
		c, err := redis.DialContext(ctx, "tcp", addr, redis.DialConnectTimeout(time.Second))
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		psc := redis.PubSubConn{Conn: c}
		if err := psc.Subscribe("+switch-master"); err != nil {
			c.Close()
			continue
		}
		for ctx.Err() == nil {
			switch m := psc.ReceiveWithTimeout(200 * time.Millisecond).(type) {
			case redis.Message:
				report(string(m.Data))
			case error:
				var ne interface{ Timeout() bool }
				if errors.As(m, &ne) && ne.Timeout() {
					continue
				}
				c.Close()
				c = nil
			}
			if c == nil {
				break
			}
		}
		if c != nil {
			c.Close()
		}
	}
}

// pathWriter writes unique keys through one proxy on one connection, reconnecting after
// any error (a fresh connection is what most clients do after an I/O error, and the
// only way through a proxy that left them on a demoted master).
type pathWriter struct {
	name, addr, prefix string
	acks               []Ack
	errors             int
}

func (w *pathWriter) run(ctx context.Context, since func() time.Duration) {
	var c redis.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	var seq int64
	for ctx.Err() == nil {
		if c == nil {
			var err error
			// Timeouts like common client defaults: a held connection may wait out a failover.
			c, err = redis.DialContext(ctx, "tcp", w.addr, redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(3*time.Second), redis.DialWriteTimeout(3*time.Second))
			if err != nil {
				w.errors++
				c = nil
				pause(ctx, 10*time.Millisecond)
				continue
			}
		}
		seq++
		_, err := c.Do("SET", w.prefix+fmt.Sprint(seq), seq)
		if err != nil {
			w.errors++
			c.Close()
			c = nil
			pause(ctx, 10*time.Millisecond)
			continue
		}
		w.acks = append(w.acks, Ack{At: since(), Seq: seq})
	}
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// markLost sets Lost on every ack whose key the master does not have (EXISTS, pipelined
// in batches of 1000).
func markLost(ctx context.Context, master *redisproc.Process, prefix string, acks []Ack) error {
	c, err := master.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for start := 0; start < len(acks); start += 1000 {
		batch := acks[start:min(start+1000, len(acks))]
		for _, a := range batch {
			if err := c.Send("EXISTS", prefix+fmt.Sprint(a.Seq)); err != nil {
				return err
			}
		}
		if err := c.Flush(); err != nil {
			return err
		}
		for i := range batch {
			n, err := redis.Int(c.Receive())
			if err != nil {
				return err
			}
			batch[i].Lost = n == 0
		}
	}
	return nil
}

// Analyze computes the per-round figures of one path.
func (r *ChaosReport) Analyze(p PathResult, round Round) PathRound {
	out := PathRound{FirstWrite: -1}
	var times []time.Duration
	for _, a := range p.Acks {
		if a.At < round.WindowStart() || a.At >= round.End {
			continue
		}
		out.Acked++
		if a.Lost {
			out.Lost++
			if round.Kind == EventKill && a.At < round.Start {
				out.LostBeforeKill++
			}
		}
		times = append(times, a.At)
		if round.Promoted > 0 && out.FirstWrite < 0 && !a.Lost && a.At >= round.Promoted {
			out.FirstWrite = a.At - round.Promoted
		}
	}
	// The gap window ends at the first surviving write after the promotion (or the round end).
	gapEnd := round.End
	if out.FirstWrite >= 0 {
		gapEnd = round.Promoted + out.FirstWrite
	}
	out.Gap, _ = LongestGap(times, round.Start, gapEnd)
	return out
}

// WriteMarkdown prints the per-round and total tables.
func (r *ChaosReport) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Sentinel down-after-milliseconds %d, failover-timeout %d; one writer per path, sequential SET of unique keys on one connection (reconnect after any error, 10 ms pause); ROLE of the replicas polled every 5 ms for the promotion time. A kill -9 round counts the writes acked from %s before the kill on: those the killed master had not replicated yet are lost with it (asynchronous replication).\n\n",
		r.Options.DownAfter.Milliseconds(), r.Options.FailoverTimeout.Milliseconds(), KillExposure)
	fmt.Fprintf(w, "| round | event | promoted after | +switch-master after | path | acked | acked but lost | promotion -> first surviving write | longest write gap |\n|---|---|---:|---:|---|---:|---:|---:|---:|\n")
	type total struct {
		acked, lost, lostBeforeKill int
		first                       []float64
		maxGap                      time.Duration
	}
	totals := map[string]map[string]*total{}
	for _, round := range r.Rounds {
		for _, p := range r.Paths {
			a := r.Analyze(p, round)
			if totals[round.Kind] == nil {
				totals[round.Kind] = map[string]*total{}
			}
			t := totals[round.Kind][p.Name]
			if t == nil {
				t = &total{}
				totals[round.Kind][p.Name] = t
			}
			t.acked += a.Acked
			t.lost += a.Lost
			t.lostBeforeKill += a.LostBeforeKill
			if a.FirstWrite >= 0 {
				t.first = append(t.first, float64(a.FirstWrite)/float64(time.Millisecond))
			}
			t.maxGap = max(t.maxGap, a.Gap)
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %d | %s | %s | %s |\n", round.Index, round.Kind,
				rel(round.Promoted, round.Start), rel(round.SwitchMaster, round.Start), p.Name, a.Acked, lostCell(a.Lost, a.LostBeforeKill),
				durOrNone(a.FirstWrite), a.Gap.Round(time.Millisecond))
		}
		if round.Err != "" {
			fmt.Fprintf(w, "| %d | %s | round failed: %s |||||||\n", round.Index, round.Kind, strings.ReplaceAll(round.Err, "|", "/"))
		}
	}
	fmt.Fprintf(w, "\nTotals:\n\n| event | path | acked | acked but lost | promotion -> first surviving write (median / max) | longest write gap |\n|---|---|---:|---:|---:|---:|\n")
	for _, kind := range []string{EventFailover, EventKill} {
		for _, p := range r.Paths {
			t := totals[kind][p.Name]
			if t == nil {
				continue
			}
			firsts := "none"
			if len(t.first) > 0 {
				firsts = fmt.Sprintf("%.0f ms / %.0f ms", Median(t.first), slices.Max(t.first))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", kind, p.Name, t.acked, lostCell(t.lost, t.lostBeforeKill), firsts, t.maxGap.Round(time.Millisecond))
		}
	}
}

// lostCell prints a lost count and how many of them were acked before a kill -9.
func lostCell(lost, beforeKill int) string {
	if beforeKill == 0 {
		return strconv.Itoa(lost)
	}
	return fmt.Sprintf("%d (%d acked < %s before the kill)", lost, beforeKill, KillExposure)
}

func rel(at, start time.Duration) string {
	if at == 0 {
		return "not seen"
	}
	return (at - start).Round(time.Millisecond).String()
}

func durOrNone(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return d.Round(time.Millisecond).String()
}
