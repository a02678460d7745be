// Package redisproc starts real redis-server and redis-sentinel processes on free loopback
// ports in temporary directories, waits until they answer, and cleans them up again.
//
// It serves the tunnel integration tests, the demo, the benchmarks and the chaos runs, so
// its core takes a context.Context and returns errors instead of depending on testing.T;
// the subpackage redisproctest adds the thin testing wrapper (skip when the binaries are
// missing, fail when CI=true, cleanup via t.Cleanup).
//
// The building block is Start: "run this binary with this config text". The caller's
// config is written to <dir>/redis.conf (or sentinel.conf) followed by a few override
// lines (port, bind, dir, daemonize no, ...) so that a config rendered for Kubernetes can
// be run on loopback unchanged apart from addresses. StartCluster builds a typical
// 1 master + N replicas + M sentinels setup on top of it.
//
//	c, err := redisproc.StartCluster(ctx, redisproc.ClusterOptions{Replicas: 2, Sentinels: 3})
//	if err != nil { ... }
//	defer c.Close()
//	fmt.Println(c.Master().Addr(), c.SentinelAddrs())
package redisproc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Kind says which program a Process runs.
type Kind string

const (
	// KindServer runs redis-server.
	KindServer Kind = "server"
	// KindSentinel runs redis-sentinel (redis-server in sentinel mode).
	KindSentinel Kind = "sentinel"
)

// Spec describes one process to start.
type Spec struct {
	// Kind selects redis-server or redis-sentinel.
	Kind Kind
	// Name labels the process in logs and errors, e.g. "redis-0" or "sentinel-2".
	Name string
	// Config is the configuration text. It may be empty. Port, bind, dir, daemonize,
	// pidfile and logfile lines are overridden by Start (appended after this text, and
	// for Redis the last occurrence of a directive wins).
	Config string
	// Port to listen on; 0 picks a free loopback port (and retries on a collision).
	Port int
	// BindAddr is the listen address, default 127.0.0.1.
	BindAddr string
	// Dir is the working directory (data, config, log). Empty creates a temp dir that
	// Close removes (in memory when possible: see makeScratchDir); a given Dir is kept.
	Dir string
	// Binary overrides the program path (default redis-server or redis-sentinel from PATH).
	Binary string
	// Password is used by readiness checks and Client when the config sets requirepass.
	Password string
	// Username goes with Password (ACL users); empty means the default user.
	Username string
	// TLS, when set, makes the process listen with TLS only (port 0, tls-port Port; the
	// config must carry tls-cert-file and friends) and is the client config readiness
	// checks and Client use.
	TLS *tls.Config
	// ReadyTimeout bounds the wait for the first PONG (default 10s).
	ReadyTimeout time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// Process is one running (or stopped) redis-server or redis-sentinel.
// Its methods are safe for concurrent use.
type Process struct {
	spec      Spec
	ownsDir   bool
	confPath  string
	logPath   string
	logger    *slog.Logger
	closeOnce sync.Once

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current cmd has been reaped
}

// Start writes the config, launches the process and waits until it answers PING.
// When Spec.Port is 0 and the chosen port is taken by someone else in the meantime,
// it retries with another port a few times.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.Kind != KindServer && spec.Kind != KindSentinel {
		return nil, fmt.Errorf("redisproc: Spec.Kind must be %q or %q, got %q", KindServer, KindSentinel, spec.Kind)
	}
	if spec.Name == "" {
		spec.Name = string(spec.Kind)
	}
	if spec.BindAddr == "" {
		spec.BindAddr = "127.0.0.1"
	}
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = 10 * time.Second
	}
	if spec.Binary == "" {
		spec.Binary = "redis-server"
		if spec.Kind == KindSentinel {
			spec.Binary = "redis-sentinel"
		}
	}
	bin, err := exec.LookPath(spec.Binary)
	if err != nil {
		return nil, fmt.Errorf("redisproc: %s: find %s: %w", spec.Name, spec.Binary, err)
	}
	spec.Binary = bin
	p := &Process{spec: spec, logger: spec.Logger}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if spec.Dir == "" {
		dir, err := makeScratchDir("redisproc-" + sanitize(spec.Name) + "-")
		if err != nil {
			return nil, fmt.Errorf("redisproc: %s: create temp dir: %w", spec.Name, err)
		}
		p.spec.Dir = dir
		p.ownsDir = true
	} else if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("redisproc: %s: create dir: %w", spec.Name, err)
	}
	confName := "redis.conf"
	if spec.Kind == KindSentinel {
		confName = "sentinel.conf"
	}
	p.confPath = filepath.Join(p.spec.Dir, confName)
	p.logPath = filepath.Join(p.spec.Dir, string(spec.Kind)+".log")

	fixedPort := spec.Port != 0
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if !fixedPort {
			port, err := FreePort(spec.BindAddr)
			if err != nil {
				p.removeDir()
				return nil, fmt.Errorf("redisproc: %s: %w", spec.Name, err)
			}
			p.spec.Port = port
		}
		if err := os.WriteFile(p.confPath, []byte(p.renderConfig()), 0o644); err != nil {
			p.removeDir()
			return nil, fmt.Errorf("redisproc: %s: write config: %w", spec.Name, err)
		}
		lastErr = p.launchAndWait(ctx)
		if lastErr == nil {
			return p, nil
		}
		p.kill()
		if fixedPort || !errors.Is(lastErr, errAddrInUse) || ctx.Err() != nil {
			break
		}
	}
	p.removeDir()
	return nil, lastErr
}

var errAddrInUse = errors.New("address already in use")

// renderConfig appends the overrides that pin the process to our port and directory.
func (p *Process) renderConfig() string {
	var b strings.Builder
	b.WriteString(p.spec.Config)
	if !strings.HasSuffix(p.spec.Config, "\n") && p.spec.Config != "" {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\n# ---- redisproc overrides ----\n")
	if p.spec.TLS != nil {
		fmt.Fprintf(&b, "port 0\ntls-port %d\n", p.spec.Port)
	} else {
		fmt.Fprintf(&b, "port %d\n", p.spec.Port)
	}
	fmt.Fprintf(&b, "bind %s\n", p.spec.BindAddr)
	fmt.Fprintf(&b, "dir %s\n", quote(p.spec.Dir))
	b.WriteString("daemonize no\n")
	b.WriteString("pidfile \"\"\n")
	b.WriteString("logfile \"\"\n")
	return b.String()
}

func (p *Process) launchAndWait(ctx context.Context) error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("redisproc: %s: open log: %w", p.spec.Name, err)
	}
	args := []string{p.confPath}
	if p.spec.Kind == KindSentinel && filepath.Base(p.spec.Binary) == "redis-server" {
		args = append(args, "--sentinel")
	}
	// Not exec.CommandContext: the process must outlive the start context; Close/Kill end it.
	cmd := exec.Command(p.spec.Binary, args...)
	cmd.Dir = p.spec.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group so Kill reaches everything it forks (BGSAVE children);
	// Pdeathsig so a crashed test binary does not leave servers behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("redisproc: %s: start %s: %w", p.spec.Name, p.spec.Binary, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd = cmd
	p.exited = exited
	p.mu.Unlock()
	p.logger.Debug("redisproc started", "name", p.spec.Name, "addr", p.Addr(), "pid", cmd.Process.Pid, "dir", p.spec.Dir)

	waitCtx, cancel := context.WithTimeout(ctx, p.spec.ReadyTimeout)
	defer cancel()
	for {
		select {
		case <-exited:
			tail := p.LogTail(2048)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("redisproc: %s: port %d: %w", p.spec.Name, p.spec.Port, errAddrInUse)
			}
			return fmt.Errorf("redisproc: %s exited during start; log tail:\n%s", p.spec.Name, tail)
		case <-waitCtx.Done():
			return fmt.Errorf("redisproc: %s on %s not ready after %s: %w; log tail:\n%s",
				p.spec.Name, p.Addr(), p.spec.ReadyTimeout, waitCtx.Err(), p.LogTail(2048))
		case <-time.After(20 * time.Millisecond):
		}
		if err := p.Ping(waitCtx); err == nil {
			return nil
		}
	}
}

// Ping sends PING (after AUTH when a password is set) and expects PONG. A server still
// loading its dataset answers -LOADING, which counts as not ready.
func (p *Process) Ping(ctx context.Context) error {
	c, err := p.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := redis.String(c.Do("PING"))
	if err != nil {
		return fmt.Errorf("redisproc: %s: PING: %w", p.spec.Name, err)
	}
	if s != "PONG" {
		return fmt.Errorf("redisproc: %s: PING answered %q", p.spec.Name, s)
	}
	return nil
}

// Client dials the process (authenticating when Spec.Password is set) with 2 s timeouts.
// The caller closes the connection.
func (p *Process) Client(ctx context.Context) (redis.Conn, error) {
	opts := []redis.DialOption{
		redis.DialConnectTimeout(2 * time.Second),
		redis.DialReadTimeout(2 * time.Second),
		redis.DialWriteTimeout(2 * time.Second),
	}
	if p.spec.TLS != nil {
		opts = append(opts, redis.DialUseTLS(true), redis.DialTLSConfig(p.spec.TLS))
	}
	if p.spec.Password != "" {
		opts = append(opts, redis.DialPassword(p.spec.Password))
		if p.spec.Username != "" {
			opts = append(opts, redis.DialUsername(p.spec.Username))
		}
	}
	c, err := redis.DialContext(ctx, "tcp", p.Addr(), opts...)
	if err != nil {
		return nil, fmt.Errorf("redisproc: %s: dial %s: %w", p.spec.Name, p.Addr(), err)
	}
	return c, nil
}

// Do runs one command on a fresh connection; handy for tests and the demo.
func (p *Process) Do(ctx context.Context, cmd string, args ...any) (any, error) {
	c, err := p.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	reply, err := c.Do(cmd, args...)
	if err != nil {
		return nil, fmt.Errorf("redisproc: %s: %s: %w", p.spec.Name, cmd, err)
	}
	return reply, nil
}

// Name is the label given in Spec.Name.
func (p *Process) Name() string { return p.spec.Name }

// Kind is KindServer or KindSentinel.
func (p *Process) Kind() Kind { return p.spec.Kind }

// Addr is the "host:port" the process listens on.
func (p *Process) Addr() string {
	return net.JoinHostPort(p.spec.BindAddr, strconv.Itoa(p.spec.Port))
}

// Host is the listen address without the port.
func (p *Process) Host() string { return p.spec.BindAddr }

// Port is the listen port.
func (p *Process) Port() int { return p.spec.Port }

// Dir is the working directory holding config, data and log.
func (p *Process) Dir() string { return p.spec.Dir }

// ConfigPath is the config file the process runs with (Sentinel and CONFIG REWRITE change it).
func (p *Process) ConfigPath() string { return p.confPath }

// LogPath is the file collecting the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Pid is the process id, or 0 when not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.isExitedLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process has been started and not yet exited.
func (p *Process) Running() bool { return p.Pid() != 0 }

func (p *Process) isExitedLocked() bool {
	if p.exited == nil {
		return true
	}
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL to the process group and waits until the process is reaped:
// the "kill -9 the master" of chaos tests. Killing a stopped process is a no-op.
func (p *Process) Kill() error {
	return p.signalAndWait(syscall.SIGKILL, 5*time.Second)
}

// Stop sends SIGTERM (Redis shuts down cleanly) and falls back to SIGKILL after timeout.
func (p *Process) Stop(timeout time.Duration) error {
	if err := p.signalAndWait(syscall.SIGTERM, timeout); err == nil {
		return nil
	}
	return p.Kill()
}

// Pause sends SIGSTOP: the process keeps its sockets but stops answering (a hung node).
func (p *Process) Pause() error { return p.signal(syscall.SIGSTOP) }

// Resume sends SIGCONT after Pause.
func (p *Process) Resume() error { return p.signal(syscall.SIGCONT) }

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.isExitedLocked() {
		return fmt.Errorf("redisproc: %s is not running", p.spec.Name)
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("redisproc: %s: signal %v: %w", p.spec.Name, sig, err)
	}
	return nil
}

func (p *Process) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	// A paused process ignores SIGTERM until continued.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("redisproc: %s: signal %v: %w", p.spec.Name, sig, err)
	}
	select {
	case <-exited:
		p.logger.Debug("redisproc stopped", "name", p.spec.Name, "signal", sig.String())
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("redisproc: %s did not exit %s after %v", p.spec.Name, timeout, sig)
	}
}

func (p *Process) kill() { _ = p.Kill() }

// Restart starts the process again on the same port, directory and config file (as
// possibly rewritten by Sentinel or CONFIG REWRITE), killing it first if it still runs.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Kill(); err != nil {
		return err
	}
	return p.launchAndWait(ctx)
}

// Close kills the process and removes its directory when Start created it.
func (p *Process) Close() error {
	var err error
	p.closeOnce.Do(func() {
		err = p.Kill()
		p.removeDir()
	})
	return err
}

func (p *Process) removeDir() {
	if p.ownsDir && os.Getenv("REDISPROC_KEEP") == "" {
		_ = os.RemoveAll(p.spec.Dir)
	}
}

// LogTail returns up to the last n bytes of the process log, for error messages.
func (p *Process) LogTail(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return string(b)
}

// FreePort asks the kernel for a free TCP port on host. Another program may take it before
// it is used; Start retries on "Address already in use".
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func quote(s string) string { return strconv.Quote(s) }

// makeScratchDir creates the directory of a process without a Dir: under
// $REDISPROC_TMPDIR if set, else under /dev/shm (a RAM file system) when it can, else in
// the system temp dir. Sentinel fsyncs its config file on every state change and replicas
// write the RDB of a full sync: on a disk busy with compiles an fsync can block a Sentinel
// for seconds (it then enters TILT mode and stops acting for 30 s, as seen in CI), which
// no production Sentinel shares with a build. These directories are thrown away anyway.
func makeScratchDir(pattern string) (string, error) {
	if dir := os.Getenv("REDISPROC_TMPDIR"); dir != "" {
		return os.MkdirTemp(dir, pattern)
	}
	if dir, err := os.MkdirTemp("/dev/shm", pattern); err == nil {
		return dir, nil
	}
	return os.MkdirTemp("", pattern)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
