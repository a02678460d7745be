package childproc

import (
	"context"
	"errors"
	"strings"
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
			wantErr: "waiting 300ms for the nodes: context deadline exceeded (last: 3 of 4 nodes Ready)",
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
			err := Poll(context.Background(), Wait{What: "the nodes", Timeout: 300 * time.Millisecond, Interval: 10 * time.Millisecond},
				func(context.Context) (bool, error) {
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

// TestPollFailsFastOnExit checks that Poll stops waiting when a watched process exits, with
// the process's name, status and output, even while cond is blocked: with a minute of timeout,
// a Poll that waited it out would end with a deadline error instead of the ExitError.
func TestPollFailsFastOnExit(t *testing.T) {
	cases := map[string]struct {
		reason     string
		script     string
		exitsFirst bool
		want       string
		wantTail   string
	}{
		"ExitsLater": {
			reason:   "a process that dies during the wait ends it",
			script:   "echo listening; sleep 0.2; echo 'fatal: lost etcd' >&2; exit 2",
			want:     "waiting for the API: apiserver exited (exit status 2); last lines of",
			wantTail: "listening\nfatal: lost etcd",
		},
		"ExitedBefore": {
			reason:     "a process already gone ends the wait before cond runs, status 0 included",
			script:     "echo bye",
			exitsFirst: true,
			want:       "waiting for the API: apiserver exited (exit status 0)",
			wantTail:   "bye",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			healthy := startSh(t, "healthy", "echo up; exec sleep 60", nil)
			p := startSh(t, "apiserver", tc.script, nil)
			if tc.exitsFirst {
				_ = p.Wait(context.Background())
			}
			err := Poll(context.Background(), Wait{What: "the API", Timeout: time.Minute, Interval: 10 * time.Millisecond, Watch: []*Process{healthy, p}},
				func(ctx context.Context) (bool, error) {
					<-ctx.Done() // a probe that hangs until its context ends
					return false, ctx.Err()
				})
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Name != "apiserver" {
				t.Fatalf("%s: Poll = %v, want an error wrapping apiserver's ExitError", tc.reason, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), exit.Tail) {
				t.Errorf("%s: error %q does not contain %q and the tail", tc.reason, err, tc.want)
			}
			if exit.Tail != tc.wantTail {
				t.Errorf("%s: tail %q, want %q", tc.reason, exit.Tail, tc.wantTail)
			}
		})
	}
}

// TestPollTimeoutTails checks that TailLines adds the watched processes' output to a timeout.
func TestPollTimeoutTails(t *testing.T) {
	p := startSh(t, "haproxy", "echo 'backend has no server available'; exec sleep 60", nil)
	waitForLog(t, p, "backend has no server available")
	err := Poll(context.Background(), Wait{What: "routing", Timeout: 100 * time.Millisecond, Interval: 10 * time.Millisecond, Watch: []*Process{p}, TailLines: 5},
		func(context.Context) (bool, error) { return false, errors.New("ROLE says slave") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll = %v, want a deadline error", err)
	}
	want := "waiting 100ms for routing: context deadline exceeded (last: ROLE says slave)\n----- last 5 lines of haproxy (" + p.LogPath() + ") -----\nbackend has no server available"
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
}
