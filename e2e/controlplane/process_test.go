package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	cases := map[string]struct {
		reason  string
		cond    func(calls int) (bool, error)
		wantErr string
	}{
		"EventuallyTrue": {
			reason: "errors before success only mean not yet",
			cond: func(calls int) (bool, error) {
				if calls < 3 {
					return false, errors.New("warming up")
				}
				return true, nil
			},
		},
		"NeverTrue": {
			reason:  "the timeout error names what was awaited and the last reason",
			cond:    func(int) (bool, error) { return false, errors.New("3 of 4 nodes Ready") },
			wantErr: "for the nodes: context deadline exceeded (last: 3 of 4 nodes Ready)",
		},
		"TrueWithError": {
			reason:  "a condition that reports an error is not done, even if it says true",
			cond:    func(int) (bool, error) { return true, errors.New("still there") },
			wantErr: "last: still there",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			calls := 0
			err := Poll(context.Background(), "the nodes", 300*time.Millisecond, 10*time.Millisecond, func(context.Context) (bool, error) {
				calls++
				return tc.cond(calls)
			})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("%s: %v", tc.reason, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%s: error = %v, want it to contain %q", tc.reason, err, tc.wantErr)
			}
		})
	}
}

// TestProcessStopKillsGroup checks Stop ends the component and whatever it forked.
func TestProcessStopKillsGroup(t *testing.T) {
	dir := t.TempDir()
	p, err := StartProcess("forker", dir, "/bin/sh", []string{"-c", "sleep 60 & echo child $!; wait"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	if err := Poll(context.Background(), "child pid in log", 5*time.Second, 20*time.Millisecond, func(context.Context) (bool, error) {
		_, err := fmt.Sscanf(p.Tail(1), "child %d", &child)
		return err == nil && child > 0, err
	}); err != nil {
		t.Fatal(err)
	}
	p.Stop(5 * time.Second)
	if exited, _ := p.Exited(); !exited {
		t.Fatal("process still running after Stop")
	}
	if err := Poll(context.Background(), "forked child gone", 5*time.Second, 20*time.Millisecond, func(context.Context) (bool, error) {
		return syscall.Kill(child, 0) != nil, nil
	}); err != nil {
		t.Errorf("child %d of the process group survived Stop: %v", child, err)
	}
}
