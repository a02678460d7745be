package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/redis-ha/redis-ha/internal/procstat"
	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/tunnel"
)

// Target names used in reports.
const (
	TargetDirect   = "direct"
	TargetHAProxy  = "haproxy"
	TargetTunnel   = "tunnel"
	TargetInProc   = "tunnel-inproc"
	masterNameBase = "mymaster"
)

// Mode is one redis-benchmark shape.
type Mode struct {
	// Name labels the mode in tables.
	Name string
	// Args are the extra redis-benchmark arguments.
	Args []string
	// NewConns marks the "one new connection per request" mode (-k 0).
	NewConns bool
	// Clients overrides PerfOptions.Clients (-c) when > 0.
	Clients int
	// LatencyOnly marks a mode that measures added latency without saturating the
	// machine; its throughput is not held against the targets.
	LatencyOnly bool
	// Requests is redis-benchmark -n: the requests of each test (SET, then GET).
	Requests int
}

// PerfOptions configures RunPerf. Zero values take the documented defaults.
type PerfOptions struct {
	// TunnelBinary is the redis-ha-tunnel executable (required).
	TunnelBinary string
	// RedisBenchmark is the redis-benchmark executable (default from PATH).
	RedisBenchmark string
	// Requests per keep-alive redis-benchmark run (-n; default 200000).
	Requests int
	// NewConnRequests per -k 0 run (default 20000): every request is a TCP connection,
	// so this is kept small enough for the loopback ephemeral port range.
	NewConnRequests int
	// Clients is -c (default 50); Pipeline is -P for the pipelined mode (default 16).
	Clients, Pipeline int
	// Rounds repeats the whole matrix, rotating the target order (default 3).
	Rounds int
	// InProcess adds the tunnel as a library in this process (target tunnel-inproc).
	InProcess bool
	// Forwarders adds the reference forwarders (fwd-splice, fwd-readwrite, fwd-rawread),
	// run as child processes of this binary's "forward" subcommand.
	Forwarders bool
	// CPUProfile, when set, writes a CPU profile of this process (so of the in-process
	// tunnel; the harness itself only waits) while the matrix runs. Needs InProcess.
	CPUProfile string
	// IdleClients is the number of idle connections opened through the tunnel and
	// HAProxy for the memory measurement (default 10000; -1 skips it).
	IdleClients int
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// Logger receives redisproc lifecycle logs; nil discards.
	Logger *slog.Logger
}

func (o *PerfOptions) defaults() {
	if o.RedisBenchmark == "" {
		o.RedisBenchmark = "redis-benchmark"
	}
	if o.Requests == 0 {
		o.Requests = 200000
	}
	if o.NewConnRequests == 0 {
		o.NewConnRequests = 20000
	}
	if o.Clients == 0 {
		o.Clients = 50
	}
	if o.Pipeline == 0 {
		o.Pipeline = 16
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	if o.IdleClients == 0 {
		o.IdleClients = 10000
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

func (o *PerfOptions) validate() error {
	if o.TunnelBinary == "" {
		return errors.New("flag --tunnel-binary is required (make build writes _output/bin/redis-ha-tunnel)")
	}
	if o.Requests < 1 || o.NewConnRequests < 1 || o.Clients < 1 || o.Pipeline < 1 || o.Rounds < 1 {
		return errors.New("flags --requests, --newconn-requests, --clients, --pipeline and --rounds must be >= 1")
	}
	if o.CPUProfile != "" && !o.InProcess {
		return errors.New("flag --cpuprofile needs --inprocess (it profiles the tunnel running inside the harness)")
	}
	return nil
}

// Modes returns the three redis-benchmark shapes of the issue.
func (o *PerfOptions) Modes() []Mode {
	return []Mode{
		{Name: "keep-alive", Requests: o.Requests},
		{Name: fmt.Sprintf("pipelined -P %d", o.Pipeline), Requests: o.Requests * 4, Args: []string{"-P", strconv.Itoa(o.Pipeline)}},
		{Name: "new conn (-k 0)", Requests: o.NewConnRequests, Args: []string{"-k", "0"}, NewConns: true},
		// One client: the machine is not saturated, so p50 shows the hop itself rather
		// than CPU queueing (with -c 50 on 2 cores every proxy competes with
		// redis-benchmark and redis-server for the same CPUs).
		{Name: "single client (-c 1)", Requests: max(o.Requests/10, 1000), Clients: 1, LatencyOnly: true},
	}
}

// Sample is one redis-benchmark result of one target, mode and round.
type Sample struct {
	Target, Mode string
	Round        int
	Row          BenchmarkRow
	// ProxyCPUPerRequest is the CPU time (user+system) the proxy process spent per
	// request of the whole run (SET and GET together); 0 for direct. Unlike req/s it
	// hardly depends on how busy the machine's other cores are.
	ProxyCPUPerRequest time.Duration
}

// IdleResult is the memory of a proxy holding many idle client connections.
type IdleResult struct {
	// Target is TargetTunnel or TargetHAProxy.
	Target string
	// Clients is how many connections were open (each answered one PING).
	Clients int
	// RSSBefore and RSSAfter are VmRSS before opening and with all open.
	RSSBefore, RSSAfter int64
	// FDsBefore and FDsAfter count the proxy's open file descriptors (/proc/<pid>/fd).
	FDsBefore, FDsAfter int
	// OpenTime is how long opening them took.
	OpenTime time.Duration
	// Err is set if the run failed part way.
	Err string
}

// PerfReport is everything RunPerf measured.
type PerfReport struct {
	Started  time.Time
	Duration time.Duration
	Options  PerfOptions
	Targets  []string
	Modes    []Mode
	Samples  []Sample
	Idle     []IdleResult
	// LoadBefore and LoadAfter are /proc/loadavg at start and end.
	LoadBefore, LoadAfter string
	// FileLimit is RLIMIT_NOFILE in force for the processes.
	FileLimit uint64
	// IdleCapped is the idle client count asked for when the file limit forced fewer (else 0).
	IdleCapped int
}

// RunPerf starts a master, 2 replicas and 3 Sentinels, HAProxy with the Helm chart's
// config and the tunnel binary, runs the redis-benchmark matrix in interleaved rounds,
// then measures idle connections. Everything it started is stopped before it returns.
func RunPerf(ctx context.Context, o PerfOptions) (*PerfReport, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(o.RedisBenchmark); err != nil {
		return nil, fmt.Errorf("flag --redis-benchmark: %w (apt-get install redis-tools)", err)
	}
	nofile, err := RaiseFileLimit(65536)
	if err != nil {
		return nil, err
	}
	rep := &PerfReport{Started: time.Now(), Options: o, Modes: o.Modes(), LoadBefore: LoadAvg(), FileLimit: nofile}
	// A proxy holds two descriptors per client; keep 100 spare for listeners, control
	// connections and the Go runtime.
	if limit := (int(nofile) - 100) / 2; o.IdleClients > limit {
		fmt.Fprintf(o.Progress, "RLIMIT_NOFILE is %d (hard limit, no CAP_SYS_RESOURCE): idle clients capped at %d instead of %d\n",
			nofile, limit, o.IdleClients)
		rep.IdleCapped = o.IdleClients
		o.IdleClients = limit
		rep.Options.IdleClients = limit
	}
	env, err := startEnv(ctx, envOptions{tunnelBinary: o.TunnelBinary, downAfter: 5 * time.Second,
		inProcess: o.InProcess, forwarders: o.Forwarders, progress: o.Progress, logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer env.close()
	rep.Targets = env.order

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("flag --cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("start CPU profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	for round := 0; round < o.Rounds; round++ {
		for _, mode := range rep.Modes {
			// Rotate the order every round so no target always runs first (warm caches,
			// load drift from the other work on the machine).
			for i := range rep.Targets {
				target := rep.Targets[(i+round)%len(rep.Targets)]
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				pid := env.pid[target]
				cpuBefore, _ := procstat.CPUTime(pid)
				rows, err := runRedisBenchmark(ctx, o, env.addr[target], mode)
				if err != nil {
					return rep, fmt.Errorf("round %d, %s, %s: %w", round+1, target, mode.Name, err)
				}
				var cpuPerRequest time.Duration
				if cpuAfter, err := procstat.CPUTime(pid); err == nil && len(rows) > 0 {
					cpuPerRequest = (cpuAfter - cpuBefore) / time.Duration(mode.Requests*len(rows))
				}
				for _, r := range rows {
					rep.Samples = append(rep.Samples, Sample{Target: target, Mode: mode.Name, Round: round + 1, Row: r, ProxyCPUPerRequest: cpuPerRequest})
					fmt.Fprintf(o.Progress, "round %d %-14s %-16s %-4s %10.0f req/s p50 %.3f ms proxy CPU %.1f us/req\n", round+1, target, mode.Name, r.Test, r.RPS, r.P50Ms,
						float64(cpuPerRequest.Nanoseconds())/1000)
				}
			}
		}
	}
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if o.IdleClients > 0 {
		type target struct {
			name string
			proc *Proc
		}
		procs := []target{{TargetTunnel, env.tunnel}, {TargetHAProxy, env.haproxy}}
		for _, f := range env.fwds {
			procs = append(procs, target{f.Name(), f})
		}
		for _, t := range procs {
			fmt.Fprintf(o.Progress, "opening %d idle clients through %s\n", o.IdleClients, t.name)
			res := MeasureIdle(ctx, t.proc.Addr, t.proc.Pid(), o.IdleClients)
			res.Target = t.name
			rep.Idle = append(rep.Idle, res)
			fmt.Fprintf(o.Progress, "%s: %d idle clients, RSS %.1f MiB -> %.1f MiB, fds %d -> %d (%s) %s\n", t.name, res.Clients,
				mib(res.RSSBefore), mib(res.RSSAfter), res.FDsBefore, res.FDsAfter, res.OpenTime.Round(time.Millisecond), res.Err)
		}
	}
	rep.Duration = time.Since(rep.Started)
	rep.LoadAfter = LoadAvg()
	return rep, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func runRedisBenchmark(ctx context.Context, o PerfOptions, addr string, mode Mode) ([]BenchmarkRow, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	clients := o.Clients
	if mode.Clients > 0 {
		clients = mode.Clients
	}
	args := append([]string{"-h", host, "-p", port, "-t", "set,get", "-c", strconv.Itoa(clients), "-n", strconv.Itoa(mode.Requests), "-q", "--csv"}, mode.Args...)
	// Bounded: a wedged proxy must not hang the run.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.RedisBenchmark, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("redis-benchmark %v: %w; stderr: %s", args, err, truncate(stderr.String(), 500))
	}
	rows, err := ParseBenchmarkCSV(&stdout)
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %v: %w", args, err)
	}
	return rows, nil
}

// MeasureIdle opens n connections to addr, each sending one PING and reading +PONG (so a
// proxy has dialed its upstream), reads the RSS of pid with all of them open, then
// closes them. Opening is bounded by 2 minutes.
func MeasureIdle(ctx context.Context, addr string, pid, n int) IdleResult {
	res := IdleResult{Clients: 0}
	before, err := procstat.RSSBytes(pid)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.RSSBefore = before
	res.FDsBefore = openFDs(pid)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				conns[i], errs[i] = openIdle(ctx, addr)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	res.OpenTime = time.Since(start)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var firstErr error
	for i := range conns {
		if errs[i] == nil {
			res.Clients++
		} else if firstErr == nil {
			firstErr = errs[i]
		}
	}
	if firstErr != nil {
		res.Err = fmt.Sprintf("%d of %d connections failed, first: %v", n-res.Clients, n, firstErr)
	}
	// Let the proxy settle (goroutine stacks grown, buffers allocated) before reading.
	time.Sleep(time.Second)
	after, err := procstat.RSSBytes(pid)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.RSSAfter = after
	res.FDsAfter = openFDs(pid)
	return res
}

// openFDs is the number of open descriptors of pid (-1 if unreadable).
func openFDs(pid int) int {
	n, err := procstat.OpenFDs(pid)
	if err != nil {
		return -1
	}
	return n
}

func openIdle(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		c.Close()
		return nil, fmt.Errorf("read PONG: %w", err)
	}
	if string(buf) != "+PONG\r\n" {
		c.Close()
		return nil, fmt.Errorf("PING answered %q", buf)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// LoadAvg returns the first three fields of /proc/loadavg ("" if unreadable).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return string(b)
	}
	return string(bytes.Join(f[:3], []byte(" ")))
}

// env is the cluster and the proxies in front of it.
type env struct {
	cluster *redisproc.Cluster
	dir     string
	haproxy *Proc
	tunnel  *Proc
	inproc  *tunnel.Tunnel
	fwds    []*Proc
	addr    map[string]string
	// pid is the process of each proxy target (this process for the in-process tunnel).
	pid map[string]int
	// order lists the targets as they were started (the report's column order).
	order []string
}

type envOptions struct {
	tunnelBinary string
	downAfter    time.Duration
	// failoverTimeout is Sentinel's failover-timeout (0: redisproc default).
	failoverTimeout time.Duration
	inProcess       bool
	forwarders      bool
	// only, when set (TargetTunnel or TargetHAProxy), starts that proxy alone.
	only     string
	progress io.Writer
	logger   *slog.Logger
}

func startEnv(ctx context.Context, o envOptions) (_ *env, err error) {
	e := &env{addr: map[string]string{}, pid: map[string]int{}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "tunnel-bench-"); err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	fmt.Fprintf(o.progress, "starting 1 master + 2 replicas + 3 sentinels (down-after %s)\n", o.downAfter)
	e.cluster, err = redisproc.StartCluster(ctx, redisproc.ClusterOptions{
		MasterName: masterNameBase, Replicas: 2, Sentinels: 3, DownAfter: o.downAfter, FailoverTimeout: o.failoverTimeout,
		// Idle-client runs put 10k+ connections on the master.
		ServerConfig: "maxclients 30000\n", Logger: o.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	master := e.cluster.Servers()[0]
	e.addr[TargetDirect] = master.Addr()
	e.order = append(e.order, TargetDirect)

	if o.only == "" || o.only == TargetHAProxy {
		if err := e.startHAProxy(ctx, o); err != nil {
			return nil, err
		}
	}
	if o.only == "" || o.only == TargetTunnel {
		if err := e.startTunnel(ctx, o); err != nil {
			return nil, err
		}
	}
	if o.inProcess {
		t, err := tunnel.New(tunnel.Config{Sentinels: e.cluster.SentinelAddrs(),
			Masters: []tunnel.Endpoint{{Name: masterNameBase, Listen: "127.0.0.1:0"}}, MaxClients: 30000})
		if err != nil {
			return nil, err
		}
		if err := t.Start(ctx); err != nil {
			return nil, err
		}
		e.inproc = t
		addr := t.MasterAddr(masterNameBase).String()
		if err := waitRole(ctx, addr); err != nil {
			return nil, fmt.Errorf("in-process tunnel: %w", err)
		}
		e.addr[TargetInProc] = addr
		e.pid[TargetInProc] = os.Getpid()
		e.order = append(e.order, TargetInProc)
	}
	if o.forwarders {
		// Separate processes (this binary's "forward" subcommand) so their idle RSS
		// and descriptors can be measured like the tunnel's.
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the harness binary for the forwarders: %w", err)
		}
		for _, mode := range CopyModes {
			addr, err := freeAddr()
			if err != nil {
				return nil, err
			}
			name := "fwd-" + mode
			p, err := startProc(ctx, helper{name: name, dir: e.dir, addr: addr, bin: self,
				args:        []string{"forward", "--listen", addr, "--target", master.Addr(), "--copy", mode},
				readyWithin: 10 * time.Second, what: "forwarding", ready: func(ctx context.Context) error {
					return expectRole(ctx, addr, "master")
				}})
			if err != nil {
				return nil, err
			}
			e.fwds = append(e.fwds, p)
			e.addr[name] = addr
			e.pid[name] = p.Pid()
			e.order = append(e.order, name)
		}
	}
	return e, nil
}

// startHAProxy starts HAProxy with the Helm chart's config in front of the cluster.
func (e *env) startHAProxy(ctx context.Context, o envOptions) error {
	var hs []HAProxyServer
	for i, s := range e.cluster.Servers() {
		hs = append(hs, HAProxyServer{RedisAddr: s.Addr(), SentinelAddr: e.cluster.Sentinels()[i].Addr()})
	}
	haAddr, err := freeAddr()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.progress, "starting haproxy on %s\n", haAddr)
	if e.haproxy, err = StartHAProxy(ctx, e.dir, haAddr, HAProxyConfig(haAddr, masterNameBase, hs)); err != nil {
		return err
	}
	e.addr[TargetHAProxy] = haAddr
	e.pid[TargetHAProxy] = e.haproxy.Pid()
	e.order = append(e.order, TargetHAProxy)
	return nil
}

// startTunnel starts the tunnel binary in front of the cluster.
func (e *env) startTunnel(ctx context.Context, o envOptions) error {
	tunAddr, err := freeAddr()
	if err != nil {
		return err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.progress, "starting %s on %s\n", o.tunnelBinary, tunAddr)
	if e.tunnel, err = StartTunnel(ctx, TunnelOptions{Binary: o.tunnelBinary, Dir: e.dir, Listen: tunAddr, MetricsListen: metricsAddr,
		MasterName: masterNameBase, Sentinels: e.cluster.SentinelAddrs(), MaxClients: 30000}); err != nil {
		return err
	}
	e.addr[TargetTunnel] = tunAddr
	e.pid[TargetTunnel] = e.tunnel.Pid()
	e.order = append(e.order, TargetTunnel)
	return nil
}

// proxy returns the helper process serving target (nil for none or in-process).
func (e *env) proxy(target string) *Proc {
	switch target {
	case TargetHAProxy:
		return e.haproxy
	case TargetTunnel:
		return e.tunnel
	}
	return nil
}

func waitRole(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		err := expectRole(ctx, addr, "master")
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not routing to the master: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (e *env) close() {
	for _, f := range e.fwds {
		f.Stop()
	}
	if e.inproc != nil {
		_ = e.inproc.Close()
	}
	if e.tunnel != nil {
		e.tunnel.Stop()
	}
	if e.haproxy != nil {
		e.haproxy.Stop()
	}
	if e.cluster != nil {
		_ = e.cluster.Close()
	}
	if e.dir != "" && os.Getenv("REDISPROC_KEEP") == "" {
		_ = os.RemoveAll(e.dir)
	}
}
