package function

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime is the CPU time the calling OS thread has used (CLOCK_THREAD_CPUTIME_ID, in
// nanoseconds; getrusage would only count scheduler ticks). Unlike wall-clock time it does
// not grow while other processes hold the CPU, so the benchmark can report the function's
// own cost on a busy machine.
func threadCPUTime() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
