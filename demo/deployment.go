package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// localDeployment is a composed RedisHA running on this machine: the Redis data pods and the
// Sentinels as processes, indexed like their StatefulSet pods.
type localDeployment struct {
	masterName string
	servers    []*redisproc.Process
	sentinels  []*redisproc.Process
}

// serverByAddr returns the Redis process listening on addr.
func (d *localDeployment) serverByAddr(addr string) *redisproc.Process {
	for _, s := range d.servers {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// serverByName returns the Redis process of the pod with that name.
func (d *localDeployment) serverByName(name string) *redisproc.Process {
	for _, s := range d.servers {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// sentinelMaster returns the master the most Sentinels name, asking every running one.
func (d *localDeployment) sentinelMaster(ctx context.Context) (string, error) {
	votes := map[string]int{}
	var lastErr error
	for _, s := range d.sentinels {
		if !s.Running() {
			continue
		}
		reply, err := redis.Strings(s.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", d.masterName))
		if err != nil || len(reply) != 2 {
			lastErr = fmt.Errorf("asking %s for the master: %v", s.Name(), err)
			continue
		}
		votes[net.JoinHostPort(reply[0], reply[1])]++
	}
	best, bestVotes := "", 0
	for addr, n := range votes {
		if n > bestVotes || (n == bestVotes && addr < best) {
			best, bestVotes = addr, n
		}
	}
	if best == "" {
		return "", errors.Join(errors.New("no Sentinel named a master"), lastErr)
	}
	return best, nil
}

// role returns what a Redis process says it is (master, slave), or an error when it does
// not answer.
func role(ctx context.Context, p *redisproc.Process) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	return redisproc.Role(ctx, p)
}

// waitForMaster polls every Redis process other than except until one says ROLE master, and
// returns it with the time it was first seen as master.
func (d *localDeployment) waitForMaster(ctx context.Context, except *redisproc.Process) (*redisproc.Process, time.Time, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, s := range d.servers {
			if s == except || !s.Running() {
				continue
			}
			if r, err := role(ctx, s); err == nil && r == "master" {
				return s, time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, time.Time{}, fmt.Errorf("no replica became master: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// waitSettled waits until the Sentinels name master, it says ROLE master and every other
// running Redis process replicates from it with the link up.
func (d *localDeployment) waitSettled(ctx context.Context, master *redisproc.Process) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var why error
	for {
		if why = d.settled(ctx, master); why == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to lead: %w", master.Name(), why)
		case <-tick.C:
		}
	}
}

func (d *localDeployment) settled(ctx context.Context, master *redisproc.Process) error {
	named, err := d.sentinelMaster(ctx)
	if err != nil {
		return err
	}
	if named != master.Addr() {
		return fmt.Errorf("the Sentinels still name %s", named)
	}
	for _, s := range d.servers {
		if s == master || !s.Running() {
			continue
		}
		info, err := redis.String(s.Do(ctx, "INFO", "replication"))
		if err != nil {
			return fmt.Errorf("%s does not answer: %w", s.Name(), err)
		}
		fields := redisproc.ParseInfo(info)
		masterPort, _ := strconv.Atoi(fields["master_port"])
		if fields["role"] != "slave" || masterPort != master.Port() || fields["master_link_status"] != "up" {
			return fmt.Errorf("%s is not yet a replica of %s with the link up", s.Name(), master.Name())
		}
	}
	return nil
}
