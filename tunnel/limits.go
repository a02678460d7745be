package tunnel

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// clientLimiter caps concurrent client connections across all listeners (--max-clients).
type clientLimiter struct {
	max     int64
	current atomic.Int64
}

// acquire takes a slot, or reports false when max is reached.
func (l *clientLimiter) acquire() bool {
	if l.current.Add(1) > l.max {
		l.current.Add(-1)
		return false
	}
	return true
}

func (l *clientLimiter) release() { l.current.Add(-1) }

// maxClientsReply is written to a client refused for --max-clients before closing it.
const maxClientsReply = "-ERR max clients reached\r\n"

// acceptBackoff grows the pause after consecutive accept errors (EMFILE, ENFILE, ENOBUFS):
// retrying at once would spin a CPU while the process has no file descriptors left.
type acceptBackoff struct {
	delay time.Duration
}

// next returns how long to sleep after an accept error.
func (b *acceptBackoff) next() time.Duration {
	switch {
	case b.delay == 0:
		b.delay = 5 * time.Millisecond
	case b.delay < time.Second:
		b.delay *= 2
	}
	if b.delay > time.Second {
		b.delay = time.Second
	}
	return b.delay
}

func (b *acceptBackoff) reset() { b.delay = 0 }

// isListenerClosed reports whether an accept error means the listener was closed.
func isListenerClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
