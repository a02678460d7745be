// Package childproc runs the helper programs that the demo, the benchmarks and the end-to-end
// control plane start next to themselves (the tunnel binary, haproxy, etcd, kube-apiserver,
// Crossplane, a demo client...) as child processes, and does the same four things for all of
// them: it writes the program's output to a log file, ties the program's life to ours, stops it
// with SIGTERM and then SIGKILL after a grace period, and reports an exit with the last lines of
// its output, so that a failure message says why without opening the log.
//
// Every program runs in a process group of its own: Signal and Stop reach whatever it forked,
// too, and a Ctrl-C in the terminal reaches only our process, which then stops its children in
// order instead of all of them dying at once. Pdeathsig kills the program if our process dies
// without stopping it.
//
//	p, err := childproc.Start(childproc.Options{Name: "haproxy", Path: bin, Args: args, LogDir: dir})
//	if err != nil { ... }
//	defer p.Stop(5 * time.Second)
//	err = childproc.Poll(ctx, childproc.Wait{What: "haproxy routing", Timeout: 15 * time.Second,
//		Interval: 20 * time.Millisecond, Watch: []*childproc.Process{p}}, ready)
package childproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExitTailLines is how many of the last output lines an ExitError carries.
const ExitTailLines = 20

// tailBytes bounds how much of the end of a log Tail reads: enough for a few hundred long lines
// without reading a control-plane component's whole log.
const tailBytes = 64 << 10

// Options say which program to run and where its output goes.
type Options struct {
	// Name labels the process in errors and names its log file, LogDir/Name.log.
	Name string
	// Path is the program to run; Args are its arguments (without the program name).
	Path string
	Args []string
	// Env entries (KEY=VALUE) are added to this process's environment; a later entry for
	// the same key wins.
	Env []string
	// LogDir is the directory of the log file (it must exist). The log holds the program's
	// stderr and, unless OnStdoutLine is set, its stdout.
	LogDir string
	// OnStdoutLine, when set, receives each line the program prints on stdout, in order, from
	// a goroutine of its own; stdout then does not go to the log. For programs that report
	// events on stdout (the demo app's JSON lines).
	OnStdoutLine func(line string)
}

// Process is a running (or exited) child program started by Start.
type Process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	// exitErr is set before done is closed and never changed after: read it only once done
	// is closed.
	exitErr *ExitError
}

// ExitError reports that a process ended: how (Err, nil for exit status 0) and the last
// ExitTailLines lines of its log (Tail).
type ExitError struct {
	// Name is the process's Options.Name.
	Name string
	// Err is what waiting for the process returned (an *exec.ExitError for a failure status
	// or a signal), nil when it exited with status 0.
	Err error
	// LogPath is the process's log file.
	LogPath string
	// Tail is the end of the log at the time the process exited.
	Tail string
}

// Error names the process and how it ended, followed by the end of its log.
func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited (%s); last lines of %s:\n%s", e.Name, e.Status(), e.LogPath, e.Tail)
}

// Status says how the process ended, without the log: "exit status 3", "signal: killed".
func (e *ExitError) Status() string {
	if e.Err == nil {
		return "exit status 0"
	}
	return e.Err.Error()
}

// Unwrap returns Err, so errors.As finds the *exec.ExitError.
func (e *ExitError) Unwrap() error { return e.Err }

// Start starts the program described by o and returns at once; the program runs until it
// exits, Stop ends it, or our process dies.
func Start(o Options) (*Process, error) {
	switch {
	case o.Name == "":
		return nil, errors.New("childproc: Options.Name is required: it names the log file and labels errors")
	case o.Path == "":
		return nil, fmt.Errorf("childproc: Options.Path of %s is required: the program to run", o.Name)
	case o.LogDir == "":
		return nil, fmt.Errorf("childproc: Options.LogDir of %s is required: where %s.log goes", o.Name, o.Name)
	}
	logPath := filepath.Join(o.LogDir, o.Name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create the log of %s: %w", o.Name, err)
	}
	cmd := exec.Command(o.Path, o.Args...)
	cmd.Env = append(os.Environ(), o.Env...)
	// A file (not a pipe) as output: the child writes to it directly, so Wait returns when the
	// child exits even if something it forked still holds the descriptor.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if o.OnStdoutLine != nil {
		cmd.Stdout = nil
		if stdout, err = cmd.StdoutPipe(); err != nil {
			_ = logFile.Close()
			return nil, fmt.Errorf("read the output of %s: %w", o.Name, err)
		}
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", o.Name, o.Path, err)
	}
	p := &Process{name: o.Name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	var lines sync.WaitGroup
	if stdout != nil {
		lines.Go(func() {
			scanner := bufio.NewScanner(stdout)
			scanner.Buffer(make([]byte, 64<<10), 1<<20)
			for scanner.Scan() {
				o.OnStdoutLine(scanner.Text())
			}
			// A line too long for the scanner ends the scan: keep draining, or the program
			// would block writing to a full pipe.
			_, _ = io.Copy(io.Discard, stdout)
		})
	}
	go func() {
		lines.Wait() // Wait closes the stdout pipe: read it to the end first
		err := cmd.Wait()
		_ = logFile.Close()
		p.exitErr = &ExitError{Name: p.name, Err: err, LogPath: logPath, Tail: p.Tail(ExitTailLines)}
		close(p.done)
	}()
	return p, nil
}

// Name is Options.Name.
func (p *Process) Name() string { return p.name }

// LogPath is the path of the process's log file.
func (p *Process) LogPath() string { return p.logPath }

// Pid is the process id, which is also the id of its process group.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and its output has been read.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited and, when it exited with a status other than
// 0 or by a signal, an *ExitError with the end of its log.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		if p.exitErr.Err != nil {
			return true, p.exitErr
		}
		return true, nil
	default:
		return false, nil
	}
}

// ExitError returns how the process ended, with the end of its log, also for exit status 0
// (for a program that should not have ended at all); nil while it runs.
func (p *Process) ExitError() *ExitError {
	select {
	case <-p.done:
		return p.exitErr
	default:
		return nil
	}
}

// Wait waits until the process exits or ctx ends. It returns nil for exit status 0, an
// *ExitError for any other exit, and ctx's error when ctx ends first.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		_, err := p.Exited()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Signal sends sig to the process group. It fails once the process has exited: the group id
// may then belong to someone else.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("signal %s to %s: %w", sig, p.name, p.exitErr)
	default:
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, p.name, err)
	}
	return nil
}

// Stop sends SIGTERM to the process group, SIGKILL when the process has not exited within
// grace (at once for 0), and returns once it has exited. It does nothing for a process that
// has exited already.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
}

// Tail returns the last n lines of the process's log, for failure reports; it reads at most
// the last 64 KiB.
func (p *Process) Tail(n int) string {
	text, err := readTail(p.logPath, tailBytes)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readTail returns the last limit bytes of the file at path, starting at a line boundary when
// it does not return the whole file.
func readTail(path string, limit int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	offset := max(info.Size()-limit, 0)
	buf := make([]byte, info.Size()-offset)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	buf = buf[:n]
	if offset > 0 {
		if i := strings.IndexByte(string(buf), '\n'); i >= 0 {
			buf = buf[i+1:] // the first line is cut
		}
	}
	return string(buf), nil
}
