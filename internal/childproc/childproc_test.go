package childproc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// startSh runs script with /bin/sh in a temp dir and stops it when the test ends.
func startSh(t *testing.T, name, script string, onLine func(string)) *Process {
	t.Helper()
	p, err := Start(Options{Name: name, Path: "/bin/sh", Args: []string{"-c", script}, LogDir: t.TempDir(), OnStdoutLine: onLine})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(0) })
	return p
}

// waitForLog waits until the last line of p's log is want: a script prints it once its traps
// are set.
func waitForLog(t *testing.T, p *Process, want string) {
	t.Helper()
	err := Poll(context.Background(), Wait{What: want + " in the log of " + p.Name(), Timeout: 10 * time.Second, Interval: 10 * time.Millisecond, Watch: []*Process{p}},
		func(context.Context) (bool, error) { return p.Tail(1) == want, nil })
	if err != nil {
		t.Fatal(err)
	}
}

func TestTail(t *testing.T) {
	cases := map[string]struct {
		reason string
		script string
		lines  int
		want   string
	}{
		"LastLines": {
			reason: "Tail keeps the last n lines of stdout and stderr, in order",
			script: "echo one; echo two >&2; echo three; echo four >&2",
			lines:  3,
			want:   "two\nthree\nfour",
		},
		"FewerLines": {
			reason: "asking for more lines than there are gives them all",
			script: "echo only",
			lines:  5,
			want:   "only",
		},
		"LongLog": {
			reason: "of a log longer than Tail reads, the cut first line is dropped and the end kept",
			script: "i=0; while [ $i -lt 3000 ]; do echo \"line $i of a log much longer than the 64 KiB Tail reads\"; i=$((i+1)); done; echo last",
			lines:  2,
			want:   "line 2999 of a log much longer than the 64 KiB Tail reads\nlast",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := startSh(t, "tail", tc.script, nil)
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, p.Tail(tc.lines)); diff != "" {
				t.Errorf("%s: Tail(%d) -want +got:\n%s", tc.reason, tc.lines, diff)
			}
		})
	}
}

// TestExitErrorCarriesTail checks that a failing program's error names it, its status and the
// end of its output, and that Exited and Wait agree.
func TestExitErrorCarriesTail(t *testing.T) {
	p := startSh(t, "failing-tool", "echo starting; echo 'config: port 70000 out of range' >&2; exit 3", nil)
	err := p.Wait(context.Background())
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("Wait = %v, want an error wrapping exit status 3", err)
	}
	for _, want := range []string{"failing-tool exited (exit status 3)", "starting\nconfig: port 70000 out of range", p.LogPath()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Wait error %q does not contain %q", err, want)
		}
	}
	exited, exitedErr := p.Exited()
	if !exited || exitedErr != err {
		t.Errorf("Exited() = %v, %v; want true and the error Wait returned", exited, exitedErr)
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal to an exited process succeeded, want an error (its group id may be reused)")
	}
}

// TestCleanExit checks that exit status 0 is no error.
func TestCleanExit(t *testing.T) {
	p := startSh(t, "ok", "echo done", nil)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatalf("Wait = %v, want nil", err)
	}
	if exited, err := p.Exited(); !exited || err != nil {
		t.Errorf("Exited() = %v, %v; want true, nil", exited, err)
	}
}

func TestStop(t *testing.T) {
	cases := map[string]struct {
		reason string
		script string
		grace  time.Duration
		want   string
	}{
		"Graceful": {
			reason: "a program that ends on SIGTERM is not killed, however long the grace",
			script: "trap 'echo cleaning up; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
			grace:  time.Minute,
			want:   "exit status 0",
		},
		"IgnoresSIGTERM": {
			reason: "a program that ignores SIGTERM is killed after the grace period",
			script: "trap '' TERM; echo ready; while :; do sleep 0.05; done",
			grace:  100 * time.Millisecond,
			want:   "signal: killed",
		},
		"NoGrace": {
			reason: "grace 0 kills at once",
			script: "trap '' TERM; echo ready; while :; do sleep 0.05; done",
			grace:  0,
			want:   "signal: killed",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := startSh(t, "stoppable", tc.script, nil)
			waitForLog(t, p, "ready")
			p.Stop(tc.grace)
			exited, _ := p.Exited()
			if !exited {
				t.Fatalf("%s: still running after Stop", tc.reason)
			}
			if got := p.ExitError().Status(); got != tc.want {
				t.Errorf("%s: ended with %q, want %q", tc.reason, got, tc.want)
			}
			p.Stop(tc.grace) // a second Stop of an exited process returns at once
		})
	}
}

// TestStopReachesProcessGroup checks that Stop ends what the program forked, too.
func TestStopReachesProcessGroup(t *testing.T) {
	p := startSh(t, "forker", "sleep 60 & echo child $!; wait", nil)
	var child int
	if err := Poll(context.Background(), Wait{What: "child pid in the log", Timeout: 10 * time.Second, Interval: 10 * time.Millisecond, Watch: []*Process{p}},
		func(context.Context) (bool, error) {
			_, err := fmt.Sscanf(p.Tail(1), "child %d", &child)
			return err == nil && child > 0, err
		}); err != nil {
		t.Fatal(err)
	}
	p.Stop(5 * time.Second)
	if err := Poll(context.Background(), Wait{What: "forked child gone", Timeout: 10 * time.Second, Interval: 10 * time.Millisecond},
		func(context.Context) (bool, error) { return syscall.Kill(child, 0) != nil, nil }); err != nil {
		t.Errorf("child %d of the process group survived Stop: %v", child, err)
	}
}

// TestSignal checks that Signal reaches the program.
func TestSignal(t *testing.T) {
	p := startSh(t, "signalled", "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done", nil)
	waitForLog(t, p, "ready")
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p, "got USR1")
}

// TestOnStdoutLine checks that stdout goes line by line to the callback and stderr to the log.
func TestOnStdoutLine(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
	)
	p := startSh(t, "reporter", `echo '{"event":"progress"}'; echo 'a warning' >&2; echo '{"event":"summary"}'`, func(l string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
	})
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{`{"event":"progress"}`, `{"event":"summary"}`}, lines); diff != "" {
		t.Errorf("stdout lines -want +got:\n%s", diff)
	}
	if got := p.Tail(10); got != "a warning" {
		t.Errorf("log = %q, want only the stderr line", got)
	}
}

// TestEnv checks that Options.Env adds to the inherited environment.
func TestEnv(t *testing.T) {
	t.Setenv("CHILDPROC_INHERITED", "from parent")
	p, err := Start(Options{Name: "env", Path: "/bin/sh", Args: []string{"-c", `echo "$CHILDPROC_INHERITED / $CHILDPROC_ADDED"`},
		Env: []string{"CHILDPROC_ADDED=from options"}, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Tail(1), "from parent / from options"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		reason string
		opts   Options
		want   string
	}{
		"NoName":    {reason: "the name labels the log", opts: Options{Path: "/bin/true", LogDir: dir}, want: "Options.Name is required"},
		"NoPath":    {reason: "the program is required", opts: Options{Name: "x", LogDir: dir}, want: "Options.Path of x is required"},
		"NoLogDir":  {reason: "the log needs a place", opts: Options{Name: "x", Path: "/bin/true"}, want: "Options.LogDir of x is required"},
		"NoProgram": {reason: "a missing program is named", opts: Options{Name: "x", Path: dir + "/missing", LogDir: dir}, want: "start x (" + dir + "/missing)"},
		"NoDir":     {reason: "a missing log dir is reported", opts: Options{Name: "x", Path: "/bin/true", LogDir: dir + "/missing"}, want: "create the log of x"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Start(tc.opts)
			if err == nil {
				p.Stop(0)
				t.Fatalf("%s: Start succeeded, want an error containing %q", tc.reason, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q does not contain %q", tc.reason, err, tc.want)
			}
		})
	}
}
