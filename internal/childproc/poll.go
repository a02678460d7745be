package childproc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Wait says what Poll waits for, how long, and which processes it needs.
type Wait struct {
	// What names the awaited state in errors, e.g. "kube-apiserver /readyz".
	What string
	// Timeout bounds the whole wait; Interval is the pause between two calls of the condition.
	Timeout, Interval time.Duration
	// Watch are the processes the awaited state depends on: when one of them exits, Poll
	// returns at once with an error wrapping its *ExitError (name, status, last output lines)
	// instead of waiting out Timeout for something that can no longer come.
	Watch []*Process
	// TailLines, when positive, adds that many last log lines of every watched process to the
	// timeout error. Leave it 0 where the caller reports the logs itself.
	TailLines int
}

// Poll calls cond every w.Interval until it returns true with no error, ctx ends, w.Timeout
// passes, or a process in w.Watch exits. An error from cond means "not yet, and here is why":
// components come up in any order, so errors are expected for a while; a true with an error
// is not done either. The timeout error names what was awaited and cond's last error.
func Poll(ctx context.Context, w Wait, cond func(context.Context) (bool, error)) error {
	ctx, cancelTimeout := context.WithTimeout(ctx, w.Timeout)
	defer cancelTimeout()
	// A watched process's exit cancels ctx with its ExitError as the cause: that also ends a
	// cond call in flight (an HTTP probe, a kubectl run) instead of waiting for it.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, p := range w.Watch {
		go func() {
			select {
			case <-p.Done():
				cancel(p.exitErr)
			case <-ctx.Done():
			}
		}()
	}
	var last error
	for {
		if err := firstExit(w.Watch); err != nil {
			return fmt.Errorf("waiting for %s: %w", w.What, err)
		}
		ok, err := cond(ctx)
		if err != nil {
			last = err
		} else if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			var exit *ExitError
			if errors.As(context.Cause(ctx), &exit) {
				return fmt.Errorf("waiting for %s: %w", w.What, exit)
			}
			err := fmt.Errorf("waiting %s for %s: %w", w.Timeout, w.What, ctx.Err())
			if last != nil {
				err = fmt.Errorf("%w (last: %v)", err, last)
			}
			if tails := w.tails(); tails != "" {
				err = fmt.Errorf("%w%s", err, tails)
			}
			return err
		case <-time.After(w.Interval):
		}
	}
}

// firstExit returns the ExitError of the first process in procs that has exited, or nil.
func firstExit(procs []*Process) error {
	for _, p := range procs {
		if exit := p.ExitError(); exit != nil {
			return exit
		}
	}
	return nil
}

// tails is the TailLines last lines of every watched process, one block each, or "".
func (w Wait) tails() string {
	if w.TailLines <= 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range w.Watch {
		fmt.Fprintf(&b, "\n----- last %d lines of %s (%s) -----\n%s", w.TailLines, p.name, p.logPath, p.Tail(w.TailLines))
	}
	return b.String()
}
