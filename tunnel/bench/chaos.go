package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	// EventPromotedSlave is a Sentinel leader's +promoted-slave: one per failover that
	// promoted a replica, so a round with two of them saw a double failover.
	EventPromotedSlave = "+promoted-slave"
	EventRestarted     = "old master back as replica"
)

// ChaosOptions configures RunChaos. Zero values take the documented defaults.
type ChaosOptions struct {
	// TunnelBinary is the redis-ha-tunnel executable (required).
	TunnelBinary string
	// Graceful is the number of SENTINEL FAILOVER rounds (default 3; -1 for none).
	Graceful int
	// GracefulKillPairs is the number of SENTINEL FAILOVER rounds each followed at once by
	// a kill -9 round of the new master, run after the graceful rounds (default 0).
	GracefulKillPairs int
	// Kills is the number of kill -9 rounds after those (default 3; -1 for none).
	Kills int
	// DownAfter is Sentinel's down-after-milliseconds (default 1s).
	DownAfter time.Duration
	// FailoverTimeout is Sentinel's failover-timeout (default 5s).
	FailoverTimeout time.Duration
	// Settle is how long both writers run undisturbed before each round (default 1s).
	Settle time.Duration
	// WriteRate caps each writer at this many writes a second (0: as fast as the path
	// answers). A paced writer leaves the machine idle enough for Sentinel's timers, as
	// an application does; an unpaced one measures the path's own speed.
	WriteRate int
	// KillDownFor keeps a killed master dead this long after the Sentinels named a new
	// master, before it restarts as a replica (default 0: at once). A few seconds let a
	// second failover that follows the first happen without the old master, as after a
	// node loss in a cluster.
	KillDownFor time.Duration
	// SentinelPingPeriod, when set, is passed to every Sentinel as SENTINEL DEBUG
	// ping-period: also the period of its reconnects. Above DownAfter it makes the race
	// behind a second failover of a healthy new master (a Sentinel that has just switched
	// marks the new master down before it reconnected to it) happen at most switches,
	// instead of at a few percent of them with the 1 s default.
	SentinelPingPeriod time.Duration
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
	o.Graceful, o.Kills, o.GracefulKillPairs = max(o.Graceful, 0), max(o.Kills, 0), max(o.GracefulKillPairs, 0)
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

// PathResult is what one path, a proxy and the cluster behind it, went through.
type PathResult struct {
	// Name is TargetTunnel or TargetHAProxy.
	Name string
	// Acks in the order they arrived.
	Acks []Ack
	// Errors counts failed writes and failed connects.
	Errors int
	// Rounds are the path's failovers: the same index and kind on every path, the
	// timings of its own cluster.
	Rounds []Round
	// Events are its cluster's failover events on the run's clock.
	Events []Event
	// SentinelLog is every event its Sentinels published, one line each: time since the
	// run started, the Sentinel, the channel and its message.
	SentinelLog []string
	// ProxyLog is the end of the proxy's log (the tunnel's fences, cutovers, loss checks).
	ProxyLog string
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
	// Failovers is the number of promotions Sentinel leaders reported (+promoted-slave)
	// in the round: 1 normally, 2 when Sentinel failed over the new master again.
	Failovers int
	// End is when the next round's window began or the run ended.
	End time.Duration
	// Err is set when the round did not complete.
	Err string
}

// KillExposure is how far before a kill -9 a kill round's window starts, so a write lost
// with the killed master is counted where it is lost, not in the round before.
const KillExposure = 100 * time.Millisecond

// KillLossWindow is the documented limit of the tunnel's promise after a crash: Redis
// answers a write before its replicas have it (asynchronous replication), so a write the
// master acknowledged this shortly before a kill -9 may have reached no replica and is
// lost with it. No proxy can prevent that (a client that must not lose it uses WAIT); any
// other acknowledged write lost is a failure of the path.
const KillLossWindow = 10 * time.Millisecond

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
	// LostInKillWindow is the part of Lost acked in the KillLossWindow before a kill -9:
	// lost with the killed master, which had not replicated them yet.
	LostInKillWindow int
	// Acked is the number of acked writes in the round.
	Acked int
	// FirstWrite is the time from promotion to the first acked write that survived (-1: none).
	FirstWrite time.Duration
	// Gap is the longest time between two acks (lost ones included: the client saw them)
	// in the round, from its start to its end: a second failover in the round counts.
	Gap time.Duration
}

// ChaosReport is everything RunChaos recorded.
type ChaosReport struct {
	Started  time.Time
	Duration time.Duration
	Options  ChaosOptions
	// Paths are the tunnel's and HAProxy's, each with its own cluster.
	Paths []PathResult
	// LoadBefore and LoadAfter are /proc/loadavg at start and end.
	LoadBefore, LoadAfter string
}

// Path returns the path named name, or nil.
func (r *ChaosReport) Path(name string) *PathResult {
	for i := range r.Paths {
		if r.Paths[i].Name == name {
			return &r.Paths[i]
		}
	}
	return nil
}

// Rounds returns the rounds of the first path: index and kind are the same on every
// path, timings are the first path's.
func (r *ChaosReport) Rounds() []Round {
	if len(r.Paths) == 0 {
		return nil
	}
	return r.Paths[0].Rounds
}

// chaosPath is one path while the run goes on: its own cluster and proxy (env), its
// writer, and what it records.
type chaosPath struct {
	name   string
	env    *env
	writer *pathWriter
	mu     sync.Mutex
	res    PathResult
}

func (p *chaosPath) addEvent(ev Event) {
	p.mu.Lock()
	p.res.Events = append(p.res.Events, ev)
	p.mu.Unlock()
}

// watchSentinels records every event of the path's Sentinels until ctx ends.
func (p *chaosPath) watchSentinels(ctx context.Context, wg *sync.WaitGroup, since func() time.Duration) {
	for _, s := range p.env.cluster.Sentinels() {
		wg.Go(func() {
			watchSentinelEvents(ctx, s.Addr(), func(channel, msg string) {
				at := since()
				p.mu.Lock()
				p.res.SentinelLog = append(p.res.SentinelLog, fmt.Sprintf("%9.3f %s %s %s", at.Seconds(), s.Name(), channel, msg))
				p.mu.Unlock()
				switch channel {
				case EventSwitchMaster, EventPromotedSlave:
					p.addEvent(Event{At: at, Kind: channel, Detail: msg})
				}
			})
		})
	}
}

// RunChaos starts two identical worlds, each a master, 2 replicas and 3 Sentinels: one
// behind the tunnel binary, one behind HAProxy with the Helm chart's config, so neither
// proxy's actions (the tunnel re-points replicas and demotes old masters) change what
// the other path sees. One writer per path; every round performs the same failover on
// both clusters at the same moment. After the last round every acked key is checked on
// its cluster's final master. Everything it started is stopped before it returns.
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

	paths := []*chaosPath{{name: TargetTunnel}, {name: TargetHAProxy}}
	defer func() {
		for _, p := range paths {
			if p.env != nil {
				p.env.close()
			}
		}
	}()
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var bg sync.WaitGroup
	for _, p := range paths {
		fmt.Fprintf(o.Progress, "%s path:\n", p.name)
		e, err := startEnv(ctx, envOptions{tunnelBinary: o.TunnelBinary, downAfter: o.DownAfter, failoverTimeout: o.FailoverTimeout,
			only: p.name, progress: o.Progress, logger: o.Logger})
		if err != nil {
			return nil, err
		}
		p.env = e
		if o.SentinelPingPeriod > 0 {
			for _, s := range e.cluster.Sentinels() {
				if _, err := s.Do(ctx, "SENTINEL", "DEBUG", "ping-period", o.SentinelPingPeriod.Milliseconds()); err != nil {
					return nil, fmt.Errorf("flag --sentinel-ping-period: %s: %w", s.Name(), err)
				}
			}
		}
		p.watchSentinels(bgCtx, &bg, since)
		p.writer = &pathWriter{name: p.name, addr: e.addr[p.name], prefix: fmt.Sprintf("chaos:%d:%s:", t0.UnixNano(), p.name), rate: o.WriteRate}
	}
	writeCtx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	var ww sync.WaitGroup
	for _, p := range paths {
		ww.Go(func() { p.writer.run(writeCtx, since) })
	}

	kinds := slices.Repeat([]string{EventFailover}, o.Graceful)
	kinds = append(kinds, slices.Repeat([]string{EventFailover, EventKill}, o.GracefulKillPairs)...)
	kinds = append(kinds, slices.Repeat([]string{EventKill}, o.Kills)...)
	for i, kind := range kinds {
		if pause(ctx, o.Settle); ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fmt.Fprintf(o.Progress, "round %d: %s\n", i+1, kind)
		failed := false
		var rw sync.WaitGroup
		for _, p := range paths {
			p.res.Rounds = append(p.res.Rounds, Round{Index: i + 1, Kind: kind})
			r := &p.res.Rounds[len(p.res.Rounds)-1]
			rw.Go(func() {
				if err := runRound(ctx, p.env.cluster, r, o, p.name, since, p.addEvent); err != nil {
					r.Err = err.Error()
				}
			})
		}
		rw.Wait()
		for _, p := range paths {
			if r := p.res.Rounds[i]; r.Err != "" {
				fmt.Fprintf(o.Progress, "round %d failed on the %s path: %s\n", r.Index, p.name, r.Err)
				failed = true
			}
		}
		if failed {
			break
		}
	}
	pause(ctx, o.Settle)
	stopWriters()
	ww.Wait()
	end := since()
	stopBG()
	bg.Wait()

	checkCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range paths {
		setRoundEnds(p.res.Rounds, end)
		master, err := p.env.cluster.Master(checkCtx)
		if err != nil {
			return nil, fmt.Errorf("find the final master of the %s path: %w", p.name, err)
		}
		fmt.Fprintf(o.Progress, "checking every acked key of the %s path on its final master %s\n", p.name, master.Name())
		if err := markLost(checkCtx, master, p.writer.prefix, p.writer.acks); err != nil {
			return nil, fmt.Errorf("check %s keys: %w", p.name, err)
		}
		p.res.Name, p.res.Acks, p.res.Errors = p.name, p.writer.acks, p.writer.errors
		if proxy := p.env.proxy(p.name); proxy != nil {
			p.res.ProxyLog = proxy.Tail(60)
		}
		slices.SortFunc(p.res.Events, func(a, b Event) int { return int(a.At - b.At) })
		attributeEvents(p.res.Rounds, p.res.Events)
		rep.Paths = append(rep.Paths, p.res)
	}
	rep.Duration = time.Since(rep.Started)
	rep.LoadAfter = LoadAvg()
	return rep, nil
}

// attributeEvents assigns events to the rounds whose windows hold them and fills each
// round's first +switch-master and its count of promotions.
func attributeEvents(rounds []Round, events []Event) {
	for i := range rounds {
		r := &rounds[i]
		for j := range events {
			ev := &events[j]
			if ev.At >= r.WindowStart() && ev.At < r.End && ev.Round == 0 {
				ev.Round = r.Index
				if ev.Kind == EventSwitchMaster && r.SwitchMaster == 0 {
					r.SwitchMaster = ev.At
				}
				if ev.Kind == EventPromotedSlave {
					r.Failovers++
				}
			}
		}
	}
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
func runRound(ctx context.Context, c *redisproc.Cluster, r *Round, o ChaosOptions, path string, since func() time.Duration, addEvent func(Event)) error {
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
		fmt.Fprintf(o.Progress, "  %s: %s promoted %s after the %s\n", path, ev.Detail, (ev.At - r.Start).Round(time.Millisecond), r.Kind)
	}
	if r.Kind == EventKill {
		if pause(ctx, o.KillDownFor); ctx.Err() != nil {
			return ctx.Err()
		}
		// A second failover while the old master was down may have moved the master on.
		if newMaster, err = c.Master(ctx); err != nil {
			return fmt.Errorf("find the master to restart %s under: %w", old.Name(), err)
		}
		// Like a restarted pod whose init container points it at the current master. Its
		// dump.rdb is only what its last full resync received (the harness's Redis keeps
		// no data): loading it, hundreds of MB after many rounds, would only delay the
		// restart, and the new master sends everything again anyway.
		if err := os.Remove(filepath.Join(old.Dir(), "dump.rdb")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s's stale dump.rdb: %w", old.Name(), err)
		}
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

// watchSentinelEvents reports every event one Sentinel publishes (all channels but the
// Sentinels' own hello messages) until ctx ends, reconnecting after errors. It blocks in
// Receive: a read timeout would break the connection, and events published while it
// reconnects would be missed.
func watchSentinelEvents(ctx context.Context, addr string, report func(channel, msg string)) {
	for ctx.Err() == nil {
		c, err := redis.DialContext(ctx, "tcp", addr, redis.DialConnectTimeout(time.Second))
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		psc := redis.PubSubConn{Conn: c}
		if err := psc.PSubscribe("*"); err == nil {
			for {
				m := psc.Receive()
				if _, failed := m.(error); failed {
					break
				}
				if pm, ok := m.(redis.Message); ok && !strings.HasPrefix(pm.Channel, "__sentinel__") {
					report(pm.Channel, string(pm.Data))
				}
			}
		}
		stop()
		c.Close()
	}
}

// pathWriter writes unique keys through one proxy on one connection, reconnecting after
// any error (a fresh connection is what most clients do after an I/O error, and the
// only way through a proxy that left them on a demoted master).
type pathWriter struct {
	name, addr, prefix string
	// rate paces the writes (per second, 0: unpaced); a writer that fell behind does
	// not burst to catch up.
	rate   int
	acks   []Ack
	errors int
}

func (w *pathWriter) run(ctx context.Context, since func() time.Duration) {
	var c redis.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	var seq int64
	var interval time.Duration
	if w.rate > 0 {
		interval = time.Second / time.Duration(w.rate)
	}
	next := time.Now()
	for ctx.Err() == nil {
		if interval > 0 {
			if wait := time.Until(next); wait > 0 {
				time.Sleep(wait)
			}
			next = next.Add(interval)
			if behind := time.Now().Add(-interval); next.Before(behind) {
				next = behind
			}
		}
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

// Analyze computes the figures of the path's round i (an index into p.Rounds).
func (p PathResult) Analyze(i int) PathRound {
	round := p.Rounds[i]
	out := PathRound{FirstWrite: -1}
	var times []time.Duration
	for _, a := range p.Acks {
		if a.At < round.WindowStart() || a.At >= round.End {
			continue
		}
		out.Acked++
		if a.Lost {
			out.Lost++
			if round.Kind == EventKill && a.At < round.Start && a.At >= round.Start-KillLossWindow {
				out.LostInKillWindow++
			}
		}
		times = append(times, a.At)
		if round.Promoted > 0 && out.FirstWrite < 0 && !a.Lost && a.At >= round.Promoted {
			out.FirstWrite = a.At - round.Promoted
		}
	}
	out.Gap, _ = LongestGap(times, round.Start, round.End)
	return out
}

// WriteMarkdown prints the per-round and total tables.
func (r *ChaosReport) WriteMarkdown(w io.Writer) {
	pace := "as fast as the path answers"
	if r.Options.WriteRate > 0 {
		pace = fmt.Sprintf("paced at %d/s", r.Options.WriteRate)
	}
	fmt.Fprintf(w, "Sentinel down-after-milliseconds %d, failover-timeout %d", r.Options.DownAfter.Milliseconds(), r.Options.FailoverTimeout.Milliseconds())
	if r.Options.SentinelPingPeriod > 0 {
		fmt.Fprintf(w, ", SENTINEL DEBUG ping-period %d", r.Options.SentinelPingPeriod.Milliseconds())
	}
	if r.Options.KillDownFor > 0 {
		fmt.Fprintf(w, "; a killed master stays down %s after the Sentinels named a new one, then restarts as a replica", r.Options.KillDownFor)
	}
	fmt.Fprintf(w, "; one writer per path (%s), sequential SET of unique keys on one connection (reconnect after any error, 10 ms pause); ROLE of the replicas polled every 5 ms for the promotion time. The longest write gap spans the whole round, a second failover in it included. A kill -9 round counts the writes acked from %s before the kill on; those acked in the last %s before it may be lost with the killed master (asynchronous replication).\n\n",
		pace, KillExposure, KillLossWindow)
	fmt.Fprintf(w, "| round | event | promoted after | +switch-master after | Sentinel failovers | path | acked | acked but lost | promotion -> first surviving write | longest write gap |\n|---|---|---:|---:|---:|---|---:|---:|---:|---:|\n")
	type total struct {
		acked, lost, lostBeforeKill int
		first                       []float64
		maxGap                      time.Duration
	}
	totals := map[string]map[string]*total{}
	for i, round := range r.Rounds() {
		for _, p := range r.Paths {
			if i >= len(p.Rounds) {
				continue
			}
			pr, a := p.Rounds[i], p.Analyze(i)
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
			t.lostBeforeKill += a.LostInKillWindow
			if a.FirstWrite >= 0 {
				t.first = append(t.first, float64(a.FirstWrite)/float64(time.Millisecond))
			}
			t.maxGap = max(t.maxGap, a.Gap)
			fmt.Fprintf(w, "| %d | %s | %s | %s | %d | %s | %d | %s | %s | %s |\n", pr.Index, pr.Kind,
				rel(pr.Promoted, pr.Start), rel(pr.SwitchMaster, pr.Start), pr.Failovers, p.Name, a.Acked, lostCell(a.Lost, a.LostInKillWindow),
				durOrNone(a.FirstWrite), a.Gap.Round(time.Millisecond))
			if pr.Err != "" {
				fmt.Fprintf(w, "| %d | %s | round failed on the %s path: %s ||||||||\n", pr.Index, pr.Kind, p.Name, strings.ReplaceAll(pr.Err, "|", "/"))
			}
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

// GapTargetRatio is the target for a kill -9 round: the tunnel's longest write gap at
// most this fraction of HAProxy's in the same round.
const GapTargetRatio = 0.7

// RoundVerdict judges one round against the tunnel's targets: no acknowledged write lost
// (after a kill -9, none but those acked in the KillLossWindow before it), never more
// lost than HAProxy in the same round, and after a kill -9 a longest write gap of at most
// GapTargetRatio of HAProxy's.
type RoundVerdict struct {
	// Round is the tunnel path's round; HAProxyRound the same round on HAProxy's cluster.
	Round, HAProxyRound Round
	Tunnel, HAProxy     PathRound
	// GapRatio is the tunnel's longest gap over HAProxy's (kill rounds; 0 otherwise).
	GapRatio float64
	// Failures names every target the round missed (none: it met them all).
	Failures []string
}

// Verdicts judges every round that both paths wrote through.
func (r *ChaosReport) Verdicts() []RoundVerdict {
	tunnel, haproxy := r.Path(TargetTunnel), r.Path(TargetHAProxy)
	if tunnel == nil || haproxy == nil {
		return nil
	}
	var out []RoundVerdict
	for i, round := range tunnel.Rounds {
		if i >= len(haproxy.Rounds) {
			break
		}
		v := RoundVerdict{Round: round, HAProxyRound: haproxy.Rounds[i], Tunnel: tunnel.Analyze(i), HAProxy: haproxy.Analyze(i)}
		if n := v.Tunnel.Lost - v.Tunnel.LostInKillWindow; n > 0 {
			v.Failures = append(v.Failures, fmt.Sprintf("%d acked writes lost", n))
		}
		if v.Tunnel.Lost > v.HAProxy.Lost {
			v.Failures = append(v.Failures, "lost more than HAProxy")
		}
		if round.Kind == EventKill && v.HAProxy.Gap > 0 {
			v.GapRatio = float64(v.Tunnel.Gap) / float64(v.HAProxy.Gap)
			if v.GapRatio > GapTargetRatio {
				v.Failures = append(v.Failures, fmt.Sprintf("gap %.2fx HAProxy's", v.GapRatio))
			}
		}
		for _, e := range []string{round.Err, v.HAProxyRound.Err} {
			if e != "" {
				v.Failures = append(v.Failures, "round failed: "+e)
			}
		}
		out = append(out, v)
	}
	return out
}

// WriteTargets prints every round's verdict and how many rounds met every target.
func (r *ChaosReport) WriteTargets(w io.Writer) {
	verdicts := r.Verdicts()
	fmt.Fprintf(w, "Targets: no acknowledged write lost (kill -9: but those acked < %s before it), never more lost than HAProxy, kill -9 gap <= %.1fx HAProxy's.\n\n",
		KillLossWindow, GapTargetRatio)
	fmt.Fprintf(w, "| round | event | Sentinel failovers (tunnel / HAProxy cluster) | tunnel lost (< %s before kill) | HAProxy lost | tunnel gap | HAProxy gap | gap ratio | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n", KillLossWindow)
	met, kills, killsMet := 0, 0, 0
	for _, v := range verdicts {
		ratio, verdict := "", "met"
		if v.GapRatio > 0 {
			ratio = fmt.Sprintf("%.2f", v.GapRatio)
		}
		if len(v.Failures) > 0 {
			verdict = "**missed**: " + strings.Join(v.Failures, ", ")
		} else {
			met++
		}
		if v.Round.Kind == EventKill {
			kills++
			if len(v.Failures) == 0 {
				killsMet++
			}
		}
		fmt.Fprintf(w, "| %d | %s | %d / %d | %s | %d | %s | %s | %s | %s |\n", v.Round.Index, v.Round.Kind, v.Round.Failovers, v.HAProxyRound.Failovers,
			lostCell(v.Tunnel.Lost, v.Tunnel.LostInKillWindow), v.HAProxy.Lost, v.Tunnel.Gap.Round(time.Millisecond),
			v.HAProxy.Gap.Round(time.Millisecond), ratio, verdict)
	}
	fmt.Fprintf(w, "\n%d of %d rounds met every target (%d of %d kill -9 rounds).\n", met, len(verdicts), killsMet, kills)
}

// lostCell prints a lost count and how many of them were acked just before a kill -9.
func lostCell(lost, inKillWindow int) string {
	if inKillWindow == 0 {
		return strconv.Itoa(lost)
	}
	return fmt.Sprintf("%d (%d acked < %s before the kill)", lost, inKillWindow, KillLossWindow)
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
