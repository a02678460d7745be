// Package procstat reads what Linux's /proc tells about a process: resident memory, CPU
// time and open descriptors. The benchmarks use it to measure proxies from the outside,
// the tunnel's tests to check for leaks.
package procstat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUTime is the user+system CPU time pid used so far, from /proc/<pid>/stat (in
// clock ticks of 10 ms, USER_HZ on Linux). pid 0 is an error.
func CPUTime(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads utime+stime (fields 14 and 15) of a /proc/<pid>/stat line. The
// command name (field 2) may hold spaces and parentheses, so fields count from its last ")".
func parseProcStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unreadable /proc stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat line %q", stat)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unreadable utime/stime in /proc stat line %q", stat)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// RSSBytes reads VmRSS of pid from /proc/<pid>/status.
func RSSBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS of pid %d: %w", pid, err)
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS reads the VmRSS line of a /proc/<pid>/status file, in bytes.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) != 2 || fields[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS line %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS line in status")
}

// OpenFDs is the number of open descriptors of pid, from /proc/<pid>/fd.
func OpenFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fdDir(pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// OpenSockets is the number of open sockets of pid: the descriptors in /proc/<pid>/fd
// that link to "socket:[inode]". Unlike OpenFDs it does not move with pipes and other
// descriptors a runtime or tool opens on its own, so it suits leak checks of network code.
func OpenSockets(pid int) (int, error) {
	dir := fdDir(pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		// A descriptor closed since ReadDir has no link any more: not open, not counted.
		if link, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(link, "socket:") {
			n++
		}
	}
	return n, nil
}

func fdDir(pid int) string { return fmt.Sprintf("/proc/%d/fd", pid) }
