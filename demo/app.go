package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/redis-ha/redis-ha/internal/childproc"
)

// appEvent is the part of a demo-app output line the demo reads (see examples/demo-app).
type appEvent struct {
	Event         string    `json:"event"`
	Time          time.Time `json:"time"`
	Acked         uint64    `json:"acked"`
	Failed        uint64    `json:"failed"`
	Reconnects    uint64    `json:"reconnects"`
	ReadsMissing  uint64    `json:"readsMissing"`
	MaxGapMs      float64   `json:"maxGapMs"`
	TotalMaxGapMs float64   `json:"totalMaxGapMs"`
	Checked       uint64    `json:"checked"`
	Missing       uint64    `json:"missing"`
	GapMs         float64   `json:"gapMs"`
	GapStart      time.Time `json:"gapStart"`
	LastError     string    `json:"lastError"`
}

// demoApp is the running examples/demo-app: it follows its output and asks it to verify.
type demoApp struct {
	proc *childproc.Process

	mu       sync.Mutex
	resumed  []appEvent // every "resumed" line: writes came back after a gap
	verifies chan appEvent
	summary  chan appEvent
	progress func(appEvent)
}

func startDemoApp(path, tunnelAddr, password, logDir string, progress func(appEvent)) (*demoApp, error) {
	a := &demoApp{verifies: make(chan appEvent, 4), summary: make(chan appEvent, 1), progress: progress}
	env := []string{"REDIS_ADDR=" + tunnelAddr, "REDIS_PASSWORD=" + password}
	proc, err := childproc.Start(childproc.Options{Name: "demo-app", Path: path, Args: []string{"--rate=2000", "--progress=1s"},
		Env: env, LogDir: logDir, OnStdoutLine: a.onLine})
	if err != nil {
		return nil, err
	}
	a.proc = proc
	return a, nil
}

func (a *demoApp) onLine(line string) {
	var e appEvent
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return // not one of ours; the log keeps stderr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e.Event {
	case "progress":
		if a.progress != nil {
			a.progress(e)
		}
	case "verify":
		a.verifies <- e
	case "summary":
		a.summary <- e
	case "resumed":
		a.resumed = append(a.resumed, e)
	}
}

// verify asks the app to read back every write it got acknowledged so far, and returns its
// answer.
func (a *demoApp) verify(ctx context.Context) (appEvent, error) {
	if err := a.proc.Signal(syscall.SIGUSR1); err != nil {
		return appEvent{}, err
	}
	select {
	case e := <-a.verifies:
		return e, nil
	case <-ctx.Done():
		return appEvent{}, fmt.Errorf("demo-app did not answer the check in time: %w", ctx.Err())
	case <-a.proc.Done():
		return appEvent{}, fmt.Errorf("during the check: %w", a.proc.ExitError())
	}
}

// stop ends the app; it checks every acknowledged write a last time and reports it.
func (a *demoApp) stop(ctx context.Context) (appEvent, error) {
	if err := a.proc.Signal(syscall.SIGTERM); err != nil {
		return appEvent{}, err
	}
	select {
	case e := <-a.summary:
		return e, a.proc.Wait(ctx)
	case <-ctx.Done():
		a.proc.Stop(0)
		return appEvent{}, fmt.Errorf("demo-app did not finish its last check in time: %w", ctx.Err())
	case <-a.proc.Done():
		return appEvent{}, fmt.Errorf("no summary: %w", a.proc.ExitError())
	}
}

// firstResumedAfter returns the first time writes came back after a gap that began at or
// after t.
func (a *demoApp) firstResumedAfter(t time.Time) (appEvent, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.resumed {
		if !e.GapStart.Before(t.Add(-time.Second)) && e.Time.After(t) {
			return e, true
		}
	}
	return appEvent{}, false
}
