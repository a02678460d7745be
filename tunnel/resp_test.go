package tunnel

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	for name, tc := range map[string]struct {
		reason  string
		in      string
		want    []string
		n       int
		wantErr bool
	}{
		"array":            {reason: "a RESP array of bulk strings", in: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", want: []string{"GET", "k"}, n: 20},
		"pipeline":         {reason: "only the first command is taken", in: "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", want: []string{"PING"}, n: 14},
		"binary value":     {reason: "a bulk string may hold CRLF", in: "*2\r\n$4\r\nECHO\r\n$2\r\n\r\n\r\n", want: []string{"ECHO", "\r\n"}, n: 22},
		"empty array":      {reason: "an empty array is a command of no arguments", in: "*0\r\n", want: []string{}, n: 4},
		"inline":           {reason: "telnet-style words", in: "SET  k v\r\n", want: []string{"SET", "k", "v"}, n: 10},
		"inline LF":        {reason: "a bare LF ends an inline command too", in: "PING\n", want: []string{"PING"}, n: 5},
		"partial header":   {reason: "wait for more bytes", in: "*2\r", n: 0},
		"partial bulk":     {reason: "wait for more bytes", in: "*2\r\n$3\r\nGET\r\n$1\r\nk", n: 0},
		"partial inline":   {reason: "wait for the end of the line", in: "PIN", n: 0},
		"not a bulk":       {reason: "array elements must be bulk strings", in: "*1\r\n:1\r\n", wantErr: true},
		"negative bulk":    {reason: "bulk lengths are not negative", in: "*1\r\n$-1\r\n", wantErr: true},
		"huge bulk":        {reason: "proto-max-bulk-len", in: "*1\r\n$999999999999\r\n", wantErr: true},
		"too many args":    {reason: "multibulk length limit", in: "*99999999\r\n", wantErr: true},
		"garbage length":   {reason: "a length must be a number", in: "*x\r\n", wantErr: true},
		"bad terminator":   {reason: "a bulk string ends with CRLF", in: "*1\r\n$1\r\nab\r\n", wantErr: true},
		"overlong inline":  {reason: "inline lines are bounded", in: strings.Repeat("a", respMaxLine+1), wantErr: true},
		"overlong header":  {reason: "a length line is short", in: "*" + strings.Repeat("1", 40), wantErr: true},
		"CR without LF":    {reason: "CR must be followed by LF", in: "*1\rx", wantErr: true},
		"negative array":   {reason: "a null array is no command; nothing to parse", in: "*-1\r\n", want: []string{}, n: 5},
		"overflowing size": {reason: "lengths past 18 digits are refused", in: "*1\r\n$1111111111111111111111\r\n", wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			args, n, err := parseCommand([]byte(tc.in), nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: err = %v, want error %t", tc.reason, err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errRESPProtocol) {
					t.Errorf("%s: error %v does not wrap errRESPProtocol", tc.reason, err)
				}
				return
			}
			if n != tc.n {
				t.Errorf("%s: consumed %d bytes, want %d", tc.reason, n, tc.n)
			}
			if n == 0 {
				return
			}
			got := []string{}
			for _, a := range args {
				got = append(got, string(a))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestScanReply(t *testing.T) {
	for name, tc := range map[string]struct {
		reason  string
		in      string
		n       int
		wantErr bool
	}{
		"simple":          {reason: "a status line", in: "+OK\r\n+more", n: 5},
		"error":           {reason: "an error line", in: "-MOVED 1 127.0.0.1:1\r\n", n: 22},
		"bulk":            {reason: "a bulk string holding CRLF", in: "$4\r\na\r\nb\r\n", n: 10},
		"null bulk":       {reason: "RESP2 null", in: "$-1\r\n", n: 5},
		"null array":      {reason: "RESP2 null array", in: "*-1\r\n", n: 5},
		"nested":          {reason: "arrays of arrays", in: "*2\r\n*1\r\n:1\r\n$1\r\nx\r\n", n: 19},
		"map":             {reason: "RESP3 maps hold 2n values", in: "%1\r\n+a\r\n:1\r\n", n: 12},
		"attribute":       {reason: "an attribute goes with the reply after it", in: "|1\r\n+a\r\n:1\r\n+OK\r\n", n: 17},
		"resp3 scalars":   {reason: "null, double, boolean, big number", in: "*4\r\n_\r\n,1.5\r\n#t\r\n(1\r\n", n: 21},
		"verbatim":        {reason: "a verbatim string is a bulk", in: "=7\r\ntxt:abc\r\n", n: 13},
		"partial":         {reason: "wait for more", in: "*2\r\n:1\r\n", n: 0},
		"partial bulk":    {reason: "wait for more", in: "$10\r\nabc", n: 0},
		"bad type":        {reason: "unknown type byte", in: "?\r\n", wantErr: true},
		"bad length":      {reason: "a negative length other than -1", in: "$-2\r\n", wantErr: true},
		"deep":            {reason: "nesting is bounded", in: strings.Repeat("*1\r\n", respMaxDepth+2) + ":1\r\n", wantErr: true},
		"LF without CR":   {reason: "lines end with CRLF", in: "+OK\n", wantErr: true},
		"overlong status": {reason: "lines are bounded", in: "+" + strings.Repeat("a", respMaxLine+1), wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := scanReply([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: err = %v, want error %t", tc.reason, err, tc.wantErr)
			}
			if n != tc.n {
				t.Errorf("%s: scanned %d bytes, want %d", tc.reason, n, tc.n)
			}
		})
	}
}

// TestRESPReaderGrowsAndShrinks reads a value larger than the initial buffer in small
// chunks, then drops the grown buffer once it is empty.
func TestRESPReaderGrowsAndShrinks(t *testing.T) {
	value := strings.Repeat("v", 10000)
	wire := string(appendCommand(nil, []byte("SET"), []byte("k"), []byte(value)))
	rr := newRESPReader(&chunkedReader{data: []byte(wire + "*1\r\n$4\r\nPING\r\n"), chunk: 100}, 64)
	var got [][]string
	for len(got) < 2 {
		args, ok, err := rr.command()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if err := rr.fill(); err != nil {
				t.Fatalf("fill: %v", err)
			}
			continue
		}
		var strs []string
		for _, a := range args {
			strs = append(strs, string(a))
		}
		got = append(got, strs)
	}
	if diff := cmp.Diff([][]string{{"SET", "k", value}, {"PING"}}, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	rr.shrink(64)
	if len(rr.buf) != 64 {
		t.Errorf("buffer of %d bytes kept after the large value was consumed, want 64", len(rr.buf))
	}
	if err := rr.fill(); err != io.EOF {
		t.Errorf("fill at the end = %v, want EOF", err)
	}
}

// readReplies reads n complete replies (copies) from rr.
func readReplies(t *testing.T, rr *respReader, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for len(out) < n {
		reply, ok, err := rr.reply()
		if err != nil {
			t.Fatalf("reply %d: %v", len(out), err)
		}
		if !ok {
			if err := rr.fill(); err != nil {
				t.Fatalf("after %d replies: %v", len(out), err)
			}
			continue
		}
		out = append(out, bytes.Clone(reply))
	}
	return out
}

type chunkedReader struct {
	data  []byte
	chunk int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestAppendError(t *testing.T) {
	got := string(appendError(nil, "bad\r\nthing"))
	if got != "-bad  thing\r\n" {
		t.Errorf("appendError = %q: CR and LF must not end the error early", got)
	}
}

// FuzzParseCommand: any input parses to a command, needs more bytes, or is a protocol
// error; never a panic, and a parsed command re-encodes to what a second parse agrees with.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING\r\n", "*1\r\n$-1\r\n", "*3\r\n$3\r\nSET\r\n", "", "\r\n", "*-5\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		args, n, err := parseCommand(in, nil)
		if err != nil {
			if !errors.Is(err, errRESPProtocol) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		if n < 0 || n > len(in) {
			t.Fatalf("consumed %d of %d bytes", n, len(in))
		}
		if n == 0 {
			return
		}
		wire := appendCommand(nil, args...)
		again, m, err := parseCommand(wire, nil)
		if err != nil || m != len(wire) {
			t.Fatalf("re-encoded command %q: n=%d err=%v", wire, m, err)
		}
		if len(again) != len(args) {
			t.Fatalf("re-encoded command has %d args, want %d", len(again), len(args))
		}
		for i := range args {
			if !bytes.Equal(args[i], again[i]) {
				t.Fatalf("arg %d: %q != %q", i, again[i], args[i])
			}
		}
	})
}

// FuzzScanReply: any input is a complete reply of a length within it, needs more bytes,
// or is a protocol error; never a panic.
func FuzzScanReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-MOVED 1 a:1\r\n", "$3\r\nabc\r\n", "*2\r\n:1\r\n$-1\r\n", "%1\r\n+a\r\n+b\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n", ">2\r\n+a\r\n+b\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := scanReply(in)
		if err != nil {
			if !errors.Is(err, errRESPProtocol) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		if n < 0 || n > len(in) {
			t.Fatalf("scanned %d of %d bytes", n, len(in))
		}
		if n > 0 {
			// A complete reply stays complete and the same length with more bytes after it.
			m, err := scanReply(append(append([]byte(nil), in[:n]...), "+next\r\n"...))
			if err != nil || m != n {
				t.Fatalf("reply %q followed by more: n=%d err=%v, want %d", in[:n], m, err, n)
			}
		}
	})
}
