package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"
)

// verifyBatch is how many keys one MGET reads back.
const verifyBatch = 1000

// writer writes one key per tick over a single connection, the way a plain application
// would: on any error it drops the connection and dials again.
type writer struct {
	cfg  config
	rep  *reporter
	conn redis.Conn

	seq   uint64   // last sequence number used
	acked []uint64 // sequence numbers of acknowledged writes, in order

	failed, reconnects, reads, readsMissing uint64
	lastAck                                 time.Time
	maxGap, totalMaxGap                     time.Duration
	lastErr                                 error
}

func newWriter(cfg config, rep *reporter) *writer {
	return &writer{cfg: cfg, rep: rep}
}

func (w *writer) key(seq uint64) string {
	return w.cfg.keyPrefix + ":" + strconv.FormatUint(seq, 10)
}

// run writes until ctx ends, verifying on every signal received on verifyRequests, and once
// more at the end. It returns an error only when the final check could not run at all.
func (w *writer) run(ctx context.Context, verifyRequests <-chan os.Signal) error {
	w.rep.emit(event{Event: "start", Time: time.Now(), Addr: w.cfg.addr, KeyPrefix: w.cfg.keyPrefix})
	interval := time.Second / time.Duration(w.cfg.rate)
	progress := time.NewTicker(w.cfg.progressDur)
	defer progress.Stop()
	next := time.Now()
	w.lastAck = next

loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-verifyRequests:
			w.rep.emit(w.verify(ctx, "verify"))
		case <-progress.C:
			w.rep.emit(w.snapshot("progress"))
		default:
		}
		w.writeOne()
		next = next.Add(interval)
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait)
		} else if wait < -100*time.Millisecond {
			next = time.Now() // after an outage, carry on at the set rate instead of bursting
		}
	}

	// The final check gets its own time: ctx is already done.
	final, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	summary := w.verify(final, "summary")
	w.rep.emit(summary)
	if w.conn != nil {
		_ = w.conn.Close()
	}
	if summary.LastError != "" && summary.Checked < uint64(len(w.acked)) {
		return fmt.Errorf("final check read %d of %d acknowledged keys: %s", summary.Checked, len(w.acked), summary.LastError)
	}
	return nil
}

// writeOne sends one SET and, every --read-every writes, one GET of an earlier key.
func (w *writer) writeOne() {
	c, err := w.connection()
	if err != nil {
		w.failed++
		w.lastErr = err
		time.Sleep(5 * time.Millisecond) // the tunnel holds or the master is away: retry soon
		return
	}
	w.seq++
	seq := w.seq
	reply, err := redis.String(c.Do("SET", w.key(seq), seq))
	if err != nil || reply != "OK" {
		w.fail(fmt.Errorf("SET %s: %v %w", w.key(seq), reply, err))
		return
	}
	now := time.Now()
	gap := now.Sub(w.lastAck)
	if gap >= w.cfg.gapReport {
		e := w.snapshot("resumed")
		e.Time, e.GapMs, e.GapStart = now, float64(gap.Microseconds())/1000, w.lastAck
		w.rep.emit(e)
	}
	w.maxGap = max(w.maxGap, gap)
	w.totalMaxGap = max(w.totalMaxGap, gap)
	w.lastAck = now
	w.acked = append(w.acked, seq)

	if w.cfg.readEvery == 0 || len(w.acked)%w.cfg.readEvery != 0 {
		return
	}
	earlier := w.acked[len(w.acked)/2] // an older key, not the one just written
	got, err := redis.Uint64(c.Do("GET", w.key(earlier)))
	switch {
	case errors.Is(err, redis.ErrNil):
		w.reads++
		w.readsMissing++
	case err != nil:
		w.fail(fmt.Errorf("GET %s: %w", w.key(earlier), err))
	default:
		w.reads++
		if got != earlier {
			w.readsMissing++
		}
	}
}

func (w *writer) connection() (redis.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	opts := []redis.DialOption{
		redis.DialConnectTimeout(w.cfg.timeout),
		redis.DialReadTimeout(w.cfg.timeout),
		redis.DialWriteTimeout(w.cfg.timeout),
		redis.DialUsername(w.cfg.username),
		redis.DialPassword(w.cfg.password),
	}
	c, err := redis.Dial("tcp", w.cfg.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", w.cfg.addr, err)
	}
	w.reconnects++
	w.conn = c
	return c, nil
}

// fail records a failed command and drops the connection, as most clients do.
func (w *writer) fail(err error) {
	w.failed++
	w.lastErr = err
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

// verify reads every acknowledged key back and counts the ones that are gone or changed.
// A connection error retries the same batch until ctx ends.
func (w *writer) verify(ctx context.Context, name string) event {
	var checked, missing uint64
	var lastErr error
	for start := 0; start < len(w.acked) && ctx.Err() == nil; {
		batch := w.acked[start:min(start+verifyBatch, len(w.acked))]
		args := make([]any, len(batch))
		for i, seq := range batch {
			args[i] = w.key(seq)
		}
		c, err := w.connection()
		var values []any
		if err == nil {
			values, err = redis.Values(c.Do("MGET", args...))
		}
		if err != nil {
			lastErr = err
			w.fail(err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for i, v := range values {
			got, err := redis.Uint64(v, nil)
			if err != nil || got != batch[i] {
				missing++
			}
		}
		checked += uint64(len(batch))
		start += len(batch)
	}
	e := w.snapshot(name)
	e.Checked, e.Missing = checked, missing
	e.LastError = ""
	if checked < uint64(len(w.acked)) && lastErr != nil {
		e.LastError = lastErr.Error()
	}
	// The check paused the writes: that pause is not a failover gap.
	w.maxGap = 0
	w.lastAck = time.Now()
	return e
}

func (w *writer) snapshot(name string) event {
	e := event{
		Event:         name,
		Time:          time.Now(),
		Acked:         uint64(len(w.acked)),
		Failed:        w.failed,
		Reconnects:    w.reconnects,
		Reads:         w.reads,
		ReadsMissing:  w.readsMissing,
		MaxGapMs:      float64(w.maxGap.Microseconds()) / 1000,
		TotalMaxGapMs: float64(w.totalMaxGap.Microseconds()) / 1000,
	}
	if w.lastErr != nil {
		e.LastError = w.lastErr.Error()
	}
	return e
}
