package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis-ha/redis-ha/internal/childproc"
)

// StartProcess starts bin with args and extra environment variables as a component of the
// control plane: its output goes to Dir/<name>.log, and it is tracked, so Stop ends it, Logs
// shows its log, and Poll fails at once when it exits. For programs that are meant to exit
// (one-shot commands), use childproc.Start instead.
func (cp *ControlPlane) StartProcess(name, bin string, args, env []string) (*childproc.Process, error) {
	p, err := childproc.Start(childproc.Options{Name: name, Path: bin, Args: args, Env: env, LogDir: cp.Dir})
	if err != nil {
		return nil, err
	}
	cp.processes = append(cp.processes, p)
	return p, nil
}

// FreePort asks the kernel for a free loopback TCP port. Another process may take it before
// it is used; inside the test's own network namespace nothing else runs.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	// Hold all listeners until every port is chosen, so the kernel cannot hand one out twice.
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Poll calls cond every interval until it returns true, ctx ends, or timeout passes. An error
// from cond means "not yet, and here is why": components come up in any order, so errors are
// expected for a while. The error on timeout names what was awaited and the last reason. When a
// process started by StartProcess exits meanwhile, Poll returns at once with its name, status
// and last log lines: whatever is awaited depends on the whole control plane. A nil cp (tests
// against an existing cluster) has no processes to watch.
func (cp *ControlPlane) Poll(ctx context.Context, what string, timeout, interval time.Duration, cond func(context.Context) (bool, error)) error {
	var watch []*childproc.Process
	if cp != nil {
		watch = cp.processes
	}
	return childproc.Poll(ctx, childproc.Wait{What: what, Timeout: timeout, Interval: interval, Watch: watch}, cond)
}

func itoa(i int) string { return strconv.Itoa(i) }
