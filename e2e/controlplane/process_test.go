package controlplane

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis-ha/redis-ha/internal/childproc"
)

// TestPollFailsFastWhenComponentExits checks that a wait ends as soon as a component started
// with StartProcess dies, naming it and showing its log, instead of running into the timeout
// (two minutes here: a Poll that waited it out would end with a deadline error instead).
func TestPollFailsFastWhenComponentExits(t *testing.T) {
	cp := &ControlPlane{Dir: t.TempDir()}
	t.Cleanup(cp.Stop)
	if _, err := cp.StartProcess("etcd", "/bin/sh", []string{"-c", "echo serving; exec sleep 60"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.StartProcess("kube-apiserver", "/bin/sh",
		[]string{"-c", "echo starting; sleep 0.2; echo 'E1125 run.go:72] error: etcd cluster is unavailable' >&2; exit 1"}, nil); err != nil {
		t.Fatal(err)
	}
	err := cp.Poll(context.Background(), "kube-apiserver /readyz", 2*time.Minute, 50*time.Millisecond, func(context.Context) (bool, error) {
		return false, errors.New("connection refused")
	})
	var exit *childproc.ExitError
	if !errors.As(err, &exit) || exit.Name != "kube-apiserver" {
		t.Fatalf("Poll = %v, want the exit of kube-apiserver", err)
	}
	for _, want := range []string{"waiting for kube-apiserver /readyz: kube-apiserver exited (exit status 1)", "starting\nE1125 run.go:72] error: etcd cluster is unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if logs := cp.Logs(5); !strings.Contains(logs, "----- kube-apiserver (exited: exit status 1)") || !strings.Contains(logs, "----- etcd (running)") {
		t.Errorf("Logs do not show which component exited:\n%s", logs)
	}
}
