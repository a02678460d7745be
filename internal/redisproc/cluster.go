package redisproc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

// ClusterOptions shapes a Sentinel-managed replication group for StartCluster.
// Zero values pick small, test-friendly defaults.
type ClusterOptions struct {
	// MasterName is the Sentinel master name (default "mymaster").
	MasterName string
	// Replicas is the number of replicas next to the master (0 is allowed).
	Replicas int
	// Sentinels is the number of Sentinels (0 starts none).
	Sentinels int
	// Quorum for ODOWN (default: majority of Sentinels).
	Quorum int
	// DownAfter is Sentinel's down-after-milliseconds (default 1s).
	DownAfter time.Duration
	// FailoverTimeout is Sentinel's failover-timeout (default 5s).
	FailoverTimeout time.Duration
	// Password sets requirepass and masterauth on the servers and auth-pass on the Sentinels.
	Password string
	// SentinelPassword sets requirepass on the Sentinels themselves.
	SentinelPassword string
	// ServerConfig is extra config text for every redis-server.
	ServerConfig string
	// SentinelConfig is extra global config text for every Sentinel.
	SentinelConfig string
	// Hostname, when set (e.g. "localhost"), makes the group use a DNS name instead of
	// 127.0.0.1 like Kubernetes with announce-hostnames: replicas announce it
	// (replica-announce-ip), replicaof and sentinel monitor use it, and the Sentinels run
	// with resolve-hostnames and announce-hostnames, so events and replies carry it.
	Hostname string
	// TLS, when set, runs every server and Sentinel TLS-only, replication and Sentinel
	// links included.
	TLS *ClusterTLS
	// ReadyTimeout bounds the whole start including Sentinel discovery (default 30s).
	ReadyTimeout time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// ClusterTLS names the PEM files a TLS cluster uses and the client config to reach it.
type ClusterTLS struct {
	// CertFile and KeyFile are the certificate every process serves and presents to peers.
	CertFile, KeyFile string
	// CAFile verifies peers.
	CAFile string
	// Client is the tls.Config readiness checks and Process.Client use.
	Client *tls.Config
}

func (t *ClusterTLS) config() string {
	if t == nil {
		return ""
	}
	// Clients need no certificate: the tunnel test verifies the servers only.
	return fmt.Sprintf("tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-replication yes\ntls-auth-clients no\n",
		quote(t.CertFile), quote(t.KeyFile), quote(t.CAFile))
}

func (t *ClusterTLS) client() *tls.Config {
	if t == nil {
		return nil
	}
	return t.Client
}

func (o *ClusterOptions) defaults() {
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	if o.Quorum == 0 {
		o.Quorum = o.Sentinels/2 + 1
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 5 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
}

// Cluster is a running master, its replicas and the Sentinels monitoring them.
// Servers keep their index across failovers: Servers()[0] is the initial master.
type Cluster struct {
	opts      ClusterOptions
	servers   []*Process
	sentinels []*Process
	closeOnce sync.Once
}

// ServerConfig renders the minimal redis-server config StartCluster uses; replicaOf is
// "" for the master or "host:port" of the master.
func ServerConfig(opts ClusterOptions, replicaOf string) string {
	var b strings.Builder
	b.WriteString("save \"\"\nappendonly no\n")
	// Diskless sync with no delay: replicas come up in milliseconds, not seconds.
	b.WriteString("repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n")
	b.WriteString("protected-mode no\n")
	b.WriteString(opts.TLS.config())
	if opts.Password != "" {
		fmt.Fprintf(&b, "requirepass %s\nmasterauth %s\n", quote(opts.Password), quote(opts.Password))
	}
	if replicaOf != "" {
		host, port, _ := net.SplitHostPort(replicaOf)
		if opts.Hostname != "" {
			host = opts.Hostname
		}
		fmt.Fprintf(&b, "replicaof %s %s\n", host, port)
	}
	if opts.Hostname != "" {
		fmt.Fprintf(&b, "replica-announce-ip %s\n", opts.Hostname)
	}
	b.WriteString(opts.ServerConfig)
	b.WriteByte('\n')
	return b.String()
}

// SentinelConfig renders the minimal Sentinel config StartCluster uses for a master at masterAddr.
func SentinelConfig(opts ClusterOptions, masterAddr string) string {
	opts.defaults()
	host, port, _ := net.SplitHostPort(masterAddr)
	var b strings.Builder
	b.WriteString("protected-mode no\n")
	b.WriteString(opts.TLS.config())
	if opts.Hostname != "" {
		host = opts.Hostname
		b.WriteString("sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n")
		fmt.Fprintf(&b, "sentinel announce-ip %s\n", opts.Hostname)
	}
	fmt.Fprintf(&b, "sentinel monitor %s %s %s %d\n", opts.MasterName, host, port, opts.Quorum)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", opts.MasterName, opts.DownAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", opts.MasterName, opts.FailoverTimeout.Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", opts.MasterName)
	if opts.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", opts.MasterName, quote(opts.Password))
	}
	if opts.SentinelPassword != "" {
		fmt.Fprintf(&b, "requirepass %s\n", quote(opts.SentinelPassword))
	}
	b.WriteString(opts.SentinelConfig)
	b.WriteByte('\n')
	return b.String()
}

// StartCluster starts 1 master, opts.Replicas replicas and opts.Sentinels Sentinels and
// waits until every replica is in sync and every Sentinel knows all replicas and all
// other Sentinels, so a failover can start right away. On error everything started is
// cleaned up.
func StartCluster(ctx context.Context, opts ClusterOptions) (_ *Cluster, err error) {
	opts.defaults()
	if opts.Replicas < 0 || opts.Sentinels < 0 {
		return nil, fmt.Errorf("redisproc: ClusterOptions.Replicas and .Sentinels must be >= 0")
	}
	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	c := &Cluster{opts: opts}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	start := func(kind Kind, name, config string) (*Process, error) {
		return Start(ctx, Spec{Kind: kind, Name: name, Config: config, Password: c.passwordFor(kind), TLS: opts.TLS.client(), Logger: opts.Logger})
	}
	master, err := start(KindServer, "redis-0", ServerConfig(opts, ""))
	if err != nil {
		return nil, err
	}
	c.servers = append(c.servers, master)
	for i := 1; i <= opts.Replicas; i++ {
		r, err := start(KindServer, fmt.Sprintf("redis-%d", i), ServerConfig(opts, master.Addr()))
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, r)
	}
	if err := c.WaitReplicasInSync(ctx, master); err != nil {
		return nil, err
	}
	for i := 0; i < opts.Sentinels; i++ {
		s, err := start(KindSentinel, fmt.Sprintf("sentinel-%d", i), SentinelConfig(opts, master.Addr()))
		if err != nil {
			return nil, err
		}
		c.sentinels = append(c.sentinels, s)
	}
	if err := c.WaitSentinelsSettled(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) passwordFor(kind Kind) string {
	if kind == KindSentinel {
		return c.opts.SentinelPassword
	}
	return c.opts.Password
}

// Options returns the options the cluster was started with (defaults filled in).
func (c *Cluster) Options() ClusterOptions { return c.opts }

// MasterName is the Sentinel master name.
func (c *Cluster) MasterName() string { return c.opts.MasterName }

// Servers returns all redis-server processes; index 0 is the initial master.
func (c *Cluster) Servers() []*Process { return append([]*Process(nil), c.servers...) }

// Sentinels returns the Sentinel processes.
func (c *Cluster) Sentinels() []*Process { return append([]*Process(nil), c.sentinels...) }

// SentinelAddrs returns "host:port" of every Sentinel.
func (c *Cluster) SentinelAddrs() []string {
	out := make([]string, len(c.sentinels))
	for i, s := range c.sentinels {
		out[i] = s.Addr()
	}
	return out
}

// ServerByAddr finds the redis-server listening on addr (or on Hostname:port), or nil.
func (c *Cluster) ServerByAddr(addr string) *Process {
	for _, s := range c.servers {
		if s.Addr() == addr || (c.opts.Hostname != "" && net.JoinHostPort(c.opts.Hostname, strconv.Itoa(s.Port())) == addr) {
			return s
		}
	}
	return nil
}

// Role asks a server for ROLE and returns "master", "slave" (or "sentinel").
func Role(ctx context.Context, p *Process) (string, error) {
	reply, err := redis.Values(p.Do(ctx, "ROLE"))
	if err != nil {
		return "", err
	}
	if len(reply) == 0 {
		return "", fmt.Errorf("redisproc: %s: empty ROLE reply", p.Name())
	}
	role, err := redis.String(reply[0], nil)
	if err != nil {
		return "", fmt.Errorf("redisproc: %s: ROLE: %w", p.Name(), err)
	}
	return role, nil
}

// Master returns the server that currently says ROLE master and that the Sentinels (if any)
// agree on. With no Sentinels it is the first running server answering ROLE master.
func (c *Cluster) Master(ctx context.Context) (*Process, error) {
	if len(c.sentinels) > 0 {
		addr, err := c.SentinelMasterAddr(ctx)
		if err != nil {
			return nil, err
		}
		p := c.ServerByAddr(addr)
		if p == nil {
			return nil, fmt.Errorf("redisproc: Sentinels name %s, which is not one of our servers", addr)
		}
		return p, nil
	}
	for _, s := range c.servers {
		if role, err := Role(ctx, s); err == nil && role == "master" {
			return s, nil
		}
	}
	return nil, errors.New("redisproc: no server answers ROLE master")
}

// SentinelMasterAddr asks the Sentinels for the master address and returns the answer
// a majority gives.
func (c *Cluster) SentinelMasterAddr(ctx context.Context) (string, error) {
	votes := map[string]int{}
	var lastErr error
	for _, s := range c.sentinels {
		if !s.Running() {
			continue
		}
		addr, err := sentinelGetMasterAddr(ctx, s, c.opts.MasterName)
		if err != nil {
			lastErr = err
			continue
		}
		votes[addr]++
	}
	for addr, n := range votes {
		if n > len(c.sentinels)/2 {
			return addr, nil
		}
	}
	return "", fmt.Errorf("redisproc: no majority among Sentinels for %s (votes %v, last error %v)", c.opts.MasterName, votes, lastErr)
}

func sentinelGetMasterAddr(ctx context.Context, s *Process, name string) (string, error) {
	hp, err := redis.Strings(s.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name))
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("redisproc: %s: GET-MASTER-ADDR-BY-NAME answered %q", s.Name(), hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// WaitReplicasInSync waits until master lists every other running server as an online
// replica at the master's replication offset.
func (c *Cluster) WaitReplicasInSync(ctx context.Context, master *Process) error {
	want := 0
	for _, s := range c.servers {
		if s != master && s.Running() {
			want++
		}
	}
	return poll(ctx, 20*time.Millisecond, func() error {
		info, err := redis.String(master.Do(ctx, "INFO", "replication"))
		if err != nil {
			return err
		}
		fields := ParseInfo(info)
		offset := fields["master_repl_offset"]
		inSync := 0
		for k, v := range fields {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online") && strings.Contains(v, "offset="+offset+",") {
				inSync++
			}
		}
		if inSync < want {
			return fmt.Errorf("redisproc: %d of %d replicas of %s in sync at offset %s", inSync, want, master.Name(), offset)
		}
		return nil
	})
}

// WaitSentinelsSettled waits until every running Sentinel reports the same master, sees
// all running replicas as healthy and knows every other running Sentinel.
func (c *Cluster) WaitSentinelsSettled(ctx context.Context) error {
	return c.WaitSentinelsReady(ctx, -1)
}

// WaitSentinelsReady is WaitSentinelsSettled needing only minReplicas healthy replicas
// (-1: all running servers but the master). After a failover the old master takes
// Sentinel several seconds to convert; the next failover only needs one good replica.
func (c *Cluster) WaitSentinelsReady(ctx context.Context, minReplicas int) error {
	running := 0
	for _, s := range c.sentinels {
		if s.Running() {
			running++
		}
	}
	wantReplicas := 0
	for _, s := range c.servers {
		if s.Running() {
			wantReplicas++
		}
	}
	wantReplicas-- // one of them is the master
	if minReplicas >= 0 {
		wantReplicas = minReplicas
	}
	return poll(ctx, 50*time.Millisecond, func() error {
		var masterAddr string
		for _, s := range c.sentinels {
			if !s.Running() {
				continue
			}
			addr, err := sentinelGetMasterAddr(ctx, s, c.opts.MasterName)
			if err != nil {
				return err
			}
			if masterAddr != "" && addr != masterAddr {
				return fmt.Errorf("redisproc: Sentinels disagree on master: %s vs %s", masterAddr, addr)
			}
			masterAddr = addr
			master, err := redis.StringMap(s.Do(ctx, "SENTINEL", "MASTER", c.opts.MasterName))
			if err != nil {
				return err
			}
			if f := master["flags"]; f != "master" {
				return fmt.Errorf("redisproc: %s: master flags %q", s.Name(), f)
			}
			replicas, err := redis.Values(s.Do(ctx, "SENTINEL", "REPLICAS", c.opts.MasterName))
			if err != nil {
				return err
			}
			healthy := 0
			for _, r := range replicas {
				m, err := redis.StringMap(r, nil)
				if err != nil {
					return err
				}
				if m["flags"] == "slave" && m["master-link-status"] == "ok" {
					healthy++
				}
			}
			if healthy < wantReplicas {
				return fmt.Errorf("redisproc: %s sees %d of %d healthy replicas", s.Name(), healthy, wantReplicas)
			}
			if n, err := strconv.Atoi(master["num-other-sentinels"]); err != nil || n < running-1 {
				return fmt.Errorf("redisproc: %s knows %s of %d other Sentinels", s.Name(), master["num-other-sentinels"], running-1)
			}
		}
		return nil
	})
}

// Failover runs SENTINEL FAILOVER on the first running Sentinel and waits until the
// Sentinels agree on a new master that says ROLE master and all replicas follow it.
// It returns the new master.
func (c *Cluster) Failover(ctx context.Context) (*Process, error) {
	old, err := c.Master(ctx)
	if err != nil {
		return nil, err
	}
	var sent bool
	for _, s := range c.sentinels {
		if !s.Running() {
			continue
		}
		if _, err := s.Do(ctx, "SENTINEL", "FAILOVER", c.opts.MasterName); err != nil {
			return nil, err
		}
		sent = true
		break
	}
	if !sent {
		return nil, errors.New("redisproc: no running Sentinel for SENTINEL FAILOVER")
	}
	return c.WaitNewMaster(ctx, old)
}

// WaitNewMaster waits until the Sentinels agree on a master other than old that answers
// ROLE master, and returns it.
func (c *Cluster) WaitNewMaster(ctx context.Context, old *Process) (*Process, error) {
	var found *Process
	err := poll(ctx, 20*time.Millisecond, func() error {
		addr, err := c.SentinelMasterAddr(ctx)
		if err != nil {
			return err
		}
		p := c.ServerByAddr(addr)
		if p == nil {
			return fmt.Errorf("redisproc: Sentinels name unknown %s", addr)
		}
		if p == old {
			return fmt.Errorf("redisproc: Sentinels still name %s", addr)
		}
		role, err := Role(ctx, p)
		if err != nil {
			return err
		}
		if role != "master" {
			return fmt.Errorf("redisproc: %s says %s", p.Name(), role)
		}
		found = p
		return nil
	})
	return found, err
}

// Close stops every process and removes their directories.
func (c *Cluster) Close() error {
	var errs []error
	c.closeOnce.Do(func() {
		for _, s := range c.sentinels {
			errs = append(errs, s.Close())
		}
		for _, s := range c.servers {
			errs = append(errs, s.Close())
		}
	})
	return errors.Join(errs...)
}

// ParseInfo splits an INFO reply into its key:value fields (sections and comments dropped).
func ParseInfo(info string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// poll runs check every interval until it succeeds or ctx ends; the error names the last failure.
func poll(ctx context.Context, interval time.Duration, check func() error) error {
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}
