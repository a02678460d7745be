package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// child is a program the demo runs next to the Redis processes (the tunnel, the demo app):
// in its own process group, so that stopping it also stops anything it started, with its
// stderr kept in a log file for the failure report.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

// startChild starts path with args and env (added to this process's environment). Each
// line the program prints on stdout goes to onLine, from a goroutine of its own.
func startChild(name, path string, args, env []string, logDir string, onLine func(string)) (*child, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log file for %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if onLine != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("cannot read the output of %s: %w", name, err)
		}
	} else {
		cmd.Stdout = logFile
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("cannot start %s (%s): %w", name, path, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	var lines sync.WaitGroup
	if stdout != nil {
		lines.Go(func() {
			scanner := bufio.NewScanner(stdout)
			scanner.Buffer(make([]byte, 64*1024), 1024*1024)
			for scanner.Scan() {
				onLine(scanner.Text())
			}
		})
	}
	go func() {
		lines.Wait() // Wait closes stdout: read it to the end first
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// running reports whether the program has not exited yet.
func (c *child) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the program's process group.
func (c *child) signal(sig syscall.Signal) error {
	if !c.running() {
		return fmt.Errorf("%s has exited: %v", c.name, c.waitErr)
	}
	return syscall.Kill(-c.cmd.Process.Pid, sig)
}

// wait waits until the program exits or ctx ends.
func (c *child) wait(ctx context.Context) error {
	select {
	case <-c.done:
		var exit *exec.ExitError
		if errors.As(c.waitErr, &exit) {
			return fmt.Errorf("%s exited with %v (log: %s)", c.name, exit, c.logPath)
		}
		return c.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop asks the program to end with SIGTERM and kills it after grace.
func (c *child) stop(grace time.Duration) {
	if !c.running() {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// logTail returns the last lines of the program's log, for error messages.
func (c *child) logTail() string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	const keep = 2000
	if len(data) > keep {
		data = data[len(data)-keep:]
	}
	return string(data)
}
