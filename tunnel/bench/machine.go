package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// MachineInfo describes the machine and tool versions for recorded results: CPU count
// and model, Go, redis-server, haproxy.
func MachineInfo() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), %s; Go %s; %s; %s", runtime.NumCPU(), model, runtime.GOOS+"/"+runtime.GOARCH,
		strings.TrimPrefix(runtime.Version(), "go"), firstLine("redis-server", "--version"), firstLine("haproxy", "-v"))
}

func firstLine(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return bin + " (not found)"
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	return strings.TrimSpace(string(line))
}
