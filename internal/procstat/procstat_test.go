package procstat

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	cases := map[string]struct {
		reason  string
		in      string
		want    int64
		wantErr bool
	}{
		"kernel format": {reason: "tab-separated kB", in: "Name:\tx\nVmPeak:\t  10 kB\nVmRSS:\t   46388 kB\nThreads: 4\n", want: 46388 * 1024},
		"missing":       {reason: "a kernel thread has no VmRSS", in: "Name:\tkthreadd\n", wantErr: true},
		"bad unit":      {reason: "unexpected unit", in: "VmRSS: 12 MB\n", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseVmRSS(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: err %v, wantErr %v", tc.reason, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("%s: got %d, want %d", tc.reason, got, tc.want)
			}
		})
	}
}

func TestParseProcStatCPU(t *testing.T) {
	cases := map[string]struct {
		reason  string
		in      string
		want    time.Duration
		wantErr bool
	}{
		"kernel format": {
			reason: "utime 150 + stime 50 ticks of 10 ms",
			in:     "4242 (haproxy) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 2 0 100 1000000 500 18446744073709551615\n",
			want:   2 * time.Second,
		},
		"name with spaces and parens": {
			reason: "fields count from the last )",
			in:     "7 (a b) (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1 1\n",
			want:   70 * time.Millisecond,
		},
		"truncated": {reason: "too few fields", in: "7 (x) R 1 2\n", wantErr: true},
		"garbage":   {reason: "no command name", in: "nonsense", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseProcStatCPU(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: err %v, wantErr %v", tc.reason, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("%s: got %s, want %s", tc.reason, got, tc.want)
			}
		})
	}
}

func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	rss, err := RSSBytes(pid)
	if err != nil || rss <= 0 {
		t.Errorf("RSSBytes(self) = %d, %v; want a positive size", rss, err)
	}
	if _, err := CPUTime(pid); err != nil {
		t.Errorf("CPUTime(self): %v", err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	before, err := OpenFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	after, err := OpenFDs(pid)
	if err != nil || after != before-1 {
		t.Errorf("OpenFDs after closing one file: %d (%v), want %d", after, err, before-1)
	}
}

func TestOpenSocketsCountsSocketsOnly(t *testing.T) {
	pid := os.Getpid()
	before, err := OpenSockets(pid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	withOne, err := OpenSockets(pid)
	if err != nil || withOne != before+1 {
		t.Errorf("OpenSockets with one listener and one file more: %d (%v), want %d", withOne, err, before+1)
	}
	ln.Close()
	if after, err := OpenSockets(pid); err != nil || after != before {
		t.Errorf("OpenSockets after closing the listener: %d (%v), want %d", after, err, before)
	}
}
