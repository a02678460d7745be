package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// phase is what one failover of the demo did to the application.
type phase struct {
	Name      string `json:"name"`
	OldMaster string `json:"oldMaster"`
	NewMaster string `json:"newMaster"`
	// PromotedAfterMs is from the start of the phase (the command or the kill) to the moment
	// a replica first answered ROLE master.
	PromotedAfterMs float64 `json:"promotedAfterMs"`
	// FirstWriteAfterPromotionMs is from that moment to the first write acknowledged through
	// the tunnel after the outage; negative when writes never stopped.
	FirstWriteAfterPromotionMs float64 `json:"firstWriteAfterPromotionMs"`
	// LongestWriteGapMs is the longest time without an acknowledged write during the phase.
	LongestWriteGapMs float64 `json:"longestWriteGapMs"`
	// AckedMissing counts writes acknowledged before or during the phase that were gone
	// afterwards (and were not already missing before it).
	AckedMissing uint64 `json:"ackedMissing"`
	// AckedSoFar is how many writes the application had acknowledged at the check.
	AckedSoFar uint64 `json:"ackedSoFar"`
}

// scenario drives the failovers of the demo against a running deployment and application.
type scenario struct {
	dep     *localDeployment
	app     *demoApp
	say     func(format string, args ...any)
	missing uint64 // acknowledged writes found missing by the previous check
	// rejoin restarts a Redis process the way its pod would come back, running its init
	// script first (which asks the Sentinels for the current master), and returns the new
	// process.
	rejoin func(ctx context.Context, p *redisproc.Process) (*redisproc.Process, error)
}

// gracefulFailover asks a Sentinel to fail over, as an operator or a node drain would.
func (s *scenario) gracefulFailover(ctx context.Context) (phase, error) {
	old, err := s.currentMaster(ctx)
	if err != nil {
		return phase{}, err
	}
	s.say("SENTINEL FAILOVER %s (master is %s)", s.dep.masterName, old.Name())
	start := time.Now()
	if _, err := s.dep.sentinels[0].Do(ctx, "SENTINEL", "FAILOVER", s.dep.masterName); err != nil {
		return phase{}, fmt.Errorf("cannot start the failover: %w", err)
	}
	return s.finish(ctx, "graceful failover", old, start)
}

// killMaster kills the master with SIGKILL, as a node crash would.
func (s *scenario) killMaster(ctx context.Context) (phase, error) {
	old, err := s.currentMaster(ctx)
	if err != nil {
		return phase{}, err
	}
	s.say("kill -9 %s (the master, pid %d)", old.Name(), old.Pid())
	start := time.Now()
	if err := old.Kill(); err != nil {
		return phase{}, fmt.Errorf("cannot kill %s: %w", old.Name(), err)
	}
	return s.finish(ctx, "kill -9 of the master", old, start)
}

// finish waits for the promotion and the Sentinels to settle, then has the application check
// its writes.
func (s *scenario) finish(ctx context.Context, name string, old *redisproc.Process, start time.Time) (phase, error) {
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	promoted, promotedAt, err := s.dep.waitForMaster(waitCtx, old)
	if err != nil {
		return phase{}, err
	}
	p := phase{Name: name, OldMaster: old.Name(), NewMaster: promoted.Name(), PromotedAfterMs: ms(promotedAt.Sub(start))}
	s.say("%s answers ROLE master %.0f ms after the %s", promoted.Name(), p.PromotedAfterMs, name)
	if err := s.dep.waitSettled(waitCtx, promoted); err != nil && old.Running() {
		return p, err
	} else if err != nil {
		// The killed master cannot follow: settled means the Sentinels and the live replicas agree.
		if named, err := s.dep.sentinelMaster(waitCtx); err != nil || named != promoted.Addr() {
			return p, fmt.Errorf("the Sentinels did not settle on %s: %v", promoted.Name(), err)
		}
	}
	time.Sleep(time.Second) // let writes flow through the new master before the check
	check, err := s.app.verify(waitCtx)
	if err != nil {
		return p, err
	}
	if e, ok := s.app.firstResumedAfter(start); ok {
		p.FirstWriteAfterPromotionMs = ms(e.Time.Sub(promotedAt))
	} else {
		p.FirstWriteAfterPromotionMs = -1
	}
	p.LongestWriteGapMs = check.MaxGapMs
	p.AckedSoFar = check.Acked
	p.AckedMissing = check.Missing - min(check.Missing, s.missing)
	s.missing = check.Missing
	s.say("checked %d acknowledged writes: %d missing; longest write gap %.1f ms", check.Checked, p.AckedMissing, p.LongestWriteGapMs)
	return p, nil
}

// restartOldMaster brings a killed master back; it must rejoin as a replica.
func (s *scenario) restartOldMaster(ctx context.Context, old *redisproc.Process) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s.say("restarting %s", old.Name())
	back, err := s.rejoin(ctx, old)
	if err != nil {
		return "", fmt.Errorf("cannot restart %s: %w", old.Name(), err)
	}
	master, err := s.currentMaster(ctx)
	if err != nil {
		return "", err
	}
	if err := s.dep.waitSettled(ctx, master); err != nil {
		return "", err
	}
	r, err := role(ctx, back)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s is back as a %s of %s", back.Name(), replicaWord(r), master.Name()), nil
}

// currentMaster is the master the Sentinels name, checked with ROLE.
func (s *scenario) currentMaster(ctx context.Context) (*redisproc.Process, error) {
	addr, err := s.dep.sentinelMaster(ctx)
	if err != nil {
		return nil, err
	}
	p := s.dep.serverByAddr(addr)
	if p == nil {
		return nil, fmt.Errorf("the Sentinels name %s, which is none of the demo's Redis processes", addr)
	}
	if r, err := role(ctx, p); err != nil || r != "master" {
		return nil, fmt.Errorf("the Sentinels name %s as master but it says %q (%v)", p.Name(), r, err)
	}
	return p, nil
}

func replicaWord(role string) string {
	if role == "slave" {
		return "replica"
	}
	return role
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
