package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis-ha/redis-ha/internal/childproc"
	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// Options configure Run.
type Options struct {
	// Example is the RedisHA to render, e.g. examples/redisha.yaml.
	Example string
	// BinDir holds the redis-ha-tunnel and demo-app binaries.
	BinDir string
	// WorkDir is where configs, data and logs go; empty makes a temporary one that Run removes.
	WorkDir string
	// Warmup is how long the application writes before the first failover.
	Warmup time.Duration
	// KeepRunning leaves everything up after the report until ctx ends.
	KeepRunning bool
	// ReportPath, when set, receives the report as JSON.
	ReportPath string
	// Out receives progress and the report.
	Out io.Writer
}

// Run renders the example, runs what was composed on this machine, fails the master over
// gracefully and with kill -9, brings the old master back, and reports. Everything it starts
// is stopped and removed when it returns, also on error or when ctx is cancelled (Ctrl-C).
// It returns an error when a step fails or when the report breaks redis-ha's promise: no
// acknowledged write lost on a graceful failover.
func Run(ctx context.Context, o Options) (_ *Report, err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Warmup == 0 {
		o.Warmup = 3 * time.Second
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, "    "+format+"\n", args...) }
	step := func(format string, args ...any) { fmt.Fprintf(o.Out, "==> "+format+"\n", args...) }

	tunnelBin, appBin := filepath.Join(o.BinDir, "redis-ha-tunnel"), filepath.Join(o.BinDir, "demo-app")
	for _, bin := range []string{tunnelBin, appBin} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%s is missing: build it first with `make build` (%w)", bin, err)
		}
	}
	if err := ensurePrograms(ctx, o.Out); err != nil {
		return nil, err
	}

	step("Rendering %s with the composition function (in process)", o.Example)
	c, password, err := renderExample(ctx, o.Example)
	if err != nil {
		return nil, err
	}
	for _, line := range c.summary {
		say("%s", line)
	}
	report := &Report{Composed: c.summary}

	workDir := o.WorkDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "redis-ha-demo-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(workDir)
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	step("Starting what was composed, on loopback (only ports, paths and host names remapped)")
	l := newLocalizer(workDir)
	redisPods, err := l.pods(c, &c.redis, redisproc.KindServer)
	if err != nil {
		return nil, err
	}
	sentinelPods, err := l.pods(c, &c.sentinel, redisproc.KindSentinel)
	if err != nil {
		return nil, err
	}
	l.remap(redisPods, &c.redis)
	l.remap(sentinelPods, &c.sentinel)

	dep := &localDeployment{masterName: c.masterName()}
	for _, p := range redisPods {
		proc, err := p.start(ctx, p.env["REDISCLI_AUTH"])
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { _ = proc.Close() })
		dep.servers = append(dep.servers, proc)
		say("%-18s %s  %s", p.name, proc.Addr(), roleOf(ctx, proc))
	}
	for _, p := range sentinelPods {
		proc, err := p.start(ctx, p.env["REDISCLI_AUTH"])
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { _ = proc.Close() })
		dep.sentinels = append(dep.sentinels, proc)
		say("%-18s %s  sentinel", p.name, proc.Addr())
	}
	settleCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := dep.waitSettled(settleCtx, dep.servers[0]); err != nil {
		return nil, err
	}

	t, err := l.localizeTunnel(c)
	if err != nil {
		return nil, err
	}
	tunnel, err := childproc.Start(childproc.Options{Name: "redis-ha-tunnel", Path: tunnelBin, Args: t.args, Env: t.env, LogDir: workDir})
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { tunnel.Stop(5 * time.Second) })
	if err := waitReady(ctx, tunnel, "http://"+t.metricsAddr+"/readyz", 20*time.Second); err != nil {
		return nil, err
	}
	say("%-18s %s  (read-only %s, metrics http://%s/metrics)", "redis-ha-tunnel", t.masterAddr, t.readOnlyAddr, t.metricsAddr)
	say("tunnel args: %s", strings.Join(t.args, " "))

	step("Starting examples/demo-app: a plain Redis client that knows only %s", t.masterAddr)
	app, err := startDemoApp(appBin, t.masterAddr, password, workDir, func(e appEvent) {
		line := fmt.Sprintf("acked %-7d failed %-4d longest gap %6.1f ms", e.Acked, e.Failed, e.MaxGapMs)
		if e.LastError != "" {
			line += "  last error: " + e.LastError
		}
		say("%s", line)
	})
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { app.proc.Stop(5 * time.Second) })
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}

	s := &scenario{dep: dep, app: app, say: say, rejoin: func(ctx context.Context, old *redisproc.Process) (*redisproc.Process, error) {
		for i, p := range redisPods {
			if dep.servers[i] != old {
				continue
			}
			_ = old.Close()
			proc, err := p.start(ctx, p.env["REDISCLI_AUTH"])
			if err != nil {
				return nil, err
			}
			cleanups = append(cleanups, func() { _ = proc.Close() })
			dep.servers[i] = proc
			return proc, nil
		}
		return nil, fmt.Errorf("%s is not one of the demo's Redis pods", old.Name())
	}}

	step("Graceful failover")
	graceful, err := s.gracefulFailover(ctx)
	if err != nil {
		return nil, err
	}
	report.Phases = append(report.Phases, graceful)
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}

	step("Crash: kill -9 of the master")
	killed, err := s.killMaster(ctx)
	if err != nil {
		return nil, err
	}
	report.Phases = append(report.Phases, killed)

	step("Restarting the killed master")
	killedProc := dep.serverByName(killed.OldMaster)
	if report.Rejoined, err = s.restartOldMaster(ctx, killedProc); err != nil {
		return nil, err
	}
	say("%s", report.Rejoined)
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}

	stopCtx, cancelStop := context.WithTimeout(ctx, 40*time.Second)
	defer cancelStop()
	summary, err := app.stop(stopCtx)
	if err != nil {
		return nil, err
	}
	report.AckedWrites, report.FailedWrites, report.MissingAtEnd = summary.Acked, summary.Failed, summary.Missing
	if master, err := s.currentMaster(ctx); err == nil {
		report.CurrentMaster = fmt.Sprintf("%s (%s)", master.Name(), master.Addr())
	}
	report.print(o.Out)
	if o.ReportPath != "" {
		if err := report.writeJSON(o.ReportPath); err != nil {
			return report, err
		}
	}
	if err := report.check(); err != nil {
		return report, err
	}
	if o.KeepRunning {
		step("Still running; Ctrl-C stops everything")
		say("connect: REDISCLI_AUTH=<password from the connection Secret> redis-cli -h 127.0.0.1 -p %s", portOf(t.masterAddr))
		say("password: %s", password)
		say("logs and configs: %s", workDir)
		<-ctx.Done()
	}
	return report, nil
}

// demoPackages are the Debian packages that bring the programs the demo runs.
var demoPackages = map[string]string{"redis-server": "redis-server", "redis-sentinel": "redis-sentinel", "redis-cli": "redis-tools"}

// ensurePrograms installs missing programs with apt-get when running as root, and otherwise
// fails with the one command to run.
func ensurePrograms(ctx context.Context, out io.Writer) error {
	var missing []string
	for _, prog := range slices.Sorted(maps.Keys(demoPackages)) {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, demoPackages[prog])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	install := "apt-get install -y " + strings.Join(missing, " ")
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s missing; install with: sudo apt-get update && sudo %s", strings.Join(missing, ", "), install)
	}
	fmt.Fprintf(out, "==> Installing %s with apt-get\n", strings.Join(missing, ", "))
	for _, args := range [][]string{{"apt-get", "update", "-qq"}, append([]string{"apt-get", "install", "-y", "-qq"}, missing...)} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cannot install %s (%s): %w\n%s", strings.Join(missing, ", "), strings.Join(args, " "), err, msg)
		}
	}
	return nil
}

// waitReady polls url until it answers 200, the process exits, or the time is up.
func waitReady(ctx context.Context, p *childproc.Process, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	return childproc.Poll(ctx, childproc.Wait{What: p.Name() + " ready at " + url, Timeout: timeout, Interval: 50 * time.Millisecond,
		Watch: []*childproc.Process{p}, TailLines: 20}, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return true, nil
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return errors.Join(errors.New("interrupted"), ctx.Err())
	case <-time.After(d):
		return nil
	}
}

func roleOf(ctx context.Context, p *redisproc.Process) string {
	r, err := role(ctx, p)
	if err != nil {
		return "?"
	}
	return replicaWord(r)
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}
