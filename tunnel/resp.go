package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// RESP limits. They match Redis's own (proto-max-bulk-len, the inline and multibulk
// limits), so the tunnel refuses nothing a single Redis would accept, and a peer sending
// garbage cannot make it allocate more than one bounded value.
const (
	// respMaxBulk is the largest bulk string accepted (Redis: proto-max-bulk-len 512mb).
	respMaxBulk = 512 << 20
	// respMaxLine bounds a line: an inline command or a simple string, error, number.
	respMaxLine = 64 << 10
	// respMaxArgs bounds the arguments of one command (Redis: 1024*1024 before AUTH).
	respMaxArgs = 1 << 20
	// respMaxElements bounds the elements of one reply aggregate.
	respMaxElements = 1 << 26
	// respMaxDepth bounds the nesting of reply aggregates (Redis replies nest a few levels).
	respMaxDepth = 64
	// respMaxValue bounds one whole value held in the read buffer.
	respMaxValue = respMaxBulk + 1<<20
)

// errRESPProtocol is wrapped by every malformed-input error of the RESP parser.
var errRESPProtocol = errors.New("Protocol error")

// protocolErrorf is a malformed-input error of the RESP parser.
func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errRESPProtocol}, args...)...)
}

// parseCommand parses one client command at the start of b: a RESP array of bulk strings
// or an inline command (words separated by spaces, as typed into telnet). The arguments
// are slices of b appended to args[:0]; n is the number of bytes the command took. n is 0
// (and err nil) when b holds only part of a command. Nothing is copied.
func parseCommand(b []byte, args [][]byte) (_ [][]byte, n int, err error) {
	args = args[:0]
	if len(b) == 0 {
		return args, 0, nil
	}
	if b[0] != '*' {
		return parseInline(b, args)
	}
	count, pos, err := parseHeader(b, 1)
	if err != nil || pos == 0 {
		return args, 0, err
	}
	if count > respMaxArgs {
		return args, 0, protocolErrorf("invalid multibulk length")
	}
	for i := int64(0); i < count; i++ {
		if pos >= len(b) {
			return args, 0, nil
		}
		if b[pos] != '$' {
			return args, 0, protocolErrorf("expected '$', got '%c'", b[pos])
		}
		size, next, err := parseHeader(b, pos+1)
		if err != nil || next == 0 {
			return args, 0, err
		}
		if size < 0 || size > respMaxBulk {
			return args, 0, protocolErrorf("invalid bulk length")
		}
		end := next + int(size)
		if end+2 > len(b) {
			return args, 0, nil
		}
		if b[end] != '\r' || b[end+1] != '\n' {
			return args, 0, protocolErrorf("bulk string not terminated by CRLF")
		}
		args = append(args, b[next:end])
		pos = end + 2
	}
	return args, pos, nil
}

// parseInline parses an inline command: one line of space-separated words.
func parseInline(b []byte, args [][]byte) (_ [][]byte, n int, err error) {
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		if len(b) > respMaxLine {
			return args, 0, protocolErrorf("too big inline request")
		}
		return args, 0, nil
	}
	line := b[:eol]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	for len(line) > 0 {
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		line = line[i:]
		j := 0
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > 0 {
			if len(args) >= respMaxArgs {
				return args, 0, protocolErrorf("too many inline arguments")
			}
			args = append(args, line[:j])
		}
		line = line[j:]
	}
	return args, eol + 1, nil
}

// parseHeader parses the integer after a type byte, from b[pos] to its CRLF. next is the
// position after the CRLF, 0 when the line is not complete yet.
func parseHeader(b []byte, pos int) (v int64, next int, err error) {
	end := bytes.IndexByte(b[pos:], '\r')
	if end < 0 {
		if len(b)-pos > 32 {
			return 0, 0, protocolErrorf("invalid length line")
		}
		return 0, 0, nil
	}
	end += pos
	if end+1 >= len(b) {
		return 0, 0, nil
	}
	if b[end+1] != '\n' {
		return 0, 0, protocolErrorf("line not terminated by CRLF")
	}
	v, ok := parseInt(b[pos:end])
	if !ok {
		return 0, 0, protocolErrorf("invalid length %q", b[pos:end])
	}
	return v, end + 2, nil
}

// parseInt parses a decimal integer of at most 18 digits (no overflow), optionally negative.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// scanReply returns the length of the one complete RESP2 or RESP3 reply at the start of b,
// or 0 when b holds only part of it. An attribute (|) is scanned together with the reply
// it annotates.
func scanReply(b []byte) (int, error) {
	return scanValue(b, 0, 0)
}

func scanValue(b []byte, pos, depth int) (int, error) {
	if depth > respMaxDepth {
		return 0, protocolErrorf("reply nested deeper than %d", respMaxDepth)
	}
	if pos >= len(b) {
		return 0, nil
	}
	switch b[pos] {
	case '+', '-', ':', '_', ',', '#', '(':
		end := bytes.IndexByte(b[pos:], '\n')
		if end < 0 {
			if len(b)-pos > respMaxLine {
				return 0, protocolErrorf("line longer than %d bytes", respMaxLine)
			}
			return 0, nil
		}
		if end == 0 || b[pos+end-1] != '\r' {
			return 0, protocolErrorf("line not terminated by CRLF")
		}
		return pos + end + 1, nil
	case '$', '=', '!':
		size, next, err := parseHeader(b, pos+1)
		if err != nil || next == 0 {
			return 0, err
		}
		if size == -1 && b[pos] == '$' {
			return next, nil // RESP2 null bulk
		}
		if size < 0 || size > respMaxBulk {
			return 0, protocolErrorf("invalid bulk length %d", size)
		}
		end := next + int(size)
		if end+2 > len(b) {
			return 0, nil
		}
		if b[end] != '\r' || b[end+1] != '\n' {
			return 0, protocolErrorf("bulk string not terminated by CRLF")
		}
		return end + 2, nil
	case '*', '%', '~', '>', '|':
		start := pos
		count, next, err := parseHeader(b, pos+1)
		if err != nil || next == 0 {
			return 0, err
		}
		if count == -1 && b[pos] == '*' {
			return next, nil // RESP2 null array
		}
		if count < 0 || count > respMaxElements {
			return 0, protocolErrorf("invalid aggregate length %d", count)
		}
		if b[pos] == '%' || b[pos] == '|' {
			count *= 2
		}
		pos = next
		for i := int64(0); i < count; i++ {
			if pos, err = scanValue(b, pos, depth+1); err != nil || pos == 0 {
				return 0, err
			}
		}
		if b[start] == '|' {
			// An attribute annotates the reply that follows it: both are one value.
			return scanValue(b, pos, depth+1)
		}
		return pos, nil
	default:
		return 0, protocolErrorf("unexpected reply type byte %q", b[pos])
	}
}

// respReader reads RESP values from a connection into one buffer that grows to hold the
// largest value seen (up to respMaxValue) and is reused: values are handed out as slices
// valid until the next call.
type respReader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	args [][]byte
	// read counts the bytes read so far.
	read int64
}

func newRESPReader(rd io.Reader, size int) *respReader {
	return &respReader{rd: rd, buf: make([]byte, size)}
}

// command returns the next complete buffered command, or ok false when more bytes must
// be read first (fill). The arguments alias the buffer.
func (rr *respReader) command() (args [][]byte, ok bool, err error) {
	args, n, err := parseCommand(rr.buf[rr.r:rr.w], rr.args)
	rr.args = args
	if err != nil || n == 0 {
		return nil, false, err
	}
	rr.r += n
	return args, true, nil
}

// reply returns the next complete buffered reply, or ok false when more bytes must be
// read first (fill). The reply aliases the buffer.
func (rr *respReader) reply() (reply []byte, ok bool, err error) {
	n, err := scanReply(rr.buf[rr.r:rr.w])
	if err != nil || n == 0 {
		return nil, false, err
	}
	reply = rr.buf[rr.r : rr.r+n]
	rr.r += n
	return reply, true, nil
}

// buffered reports the unparsed bytes in the buffer.
func (rr *respReader) buffered() int { return rr.w - rr.r }

// fill reads more bytes, first moving unparsed bytes to the front and growing the buffer
// when it is full, up to respMaxValue.
func (rr *respReader) fill() error {
	if rr.r > 0 {
		if rr.r == rr.w {
			rr.r, rr.w = 0, 0
		} else if rr.w == len(rr.buf) || rr.r > len(rr.buf)/2 {
			rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
			rr.r = 0
		}
	}
	if rr.w == len(rr.buf) {
		if len(rr.buf) >= respMaxValue {
			return protocolErrorf("value larger than %d bytes", respMaxValue)
		}
		grown := make([]byte, min(2*len(rr.buf), respMaxValue))
		rr.w = copy(grown, rr.buf[rr.r:rr.w])
		rr.r = 0
		rr.buf = grown
	}
	n, err := rr.rd.Read(rr.buf[rr.w:])
	rr.w += n
	rr.read += int64(n)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// shrink drops a buffer grown past size once it holds nothing: one large value must not
// pin its memory for the life of an idle connection.
func (rr *respReader) shrink(size int) {
	if len(rr.buf) > size && rr.r == rr.w {
		rr.buf = make([]byte, size)
		rr.r, rr.w = 0, 0
	}
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = appendBulk(dst, a)
	}
	return dst
}

// appendBulk appends one bulk string.
func appendBulk(dst, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// appendError appends an error reply; CR and LF in msg become spaces (they would end it).
func appendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// isErrorReply reports whether reply is an error (RESP2 simple or RESP3 blob error) whose
// text starts with prefix.
func isErrorReply(reply []byte, prefix string) bool {
	if len(reply) == 0 || reply[0] != '-' {
		return false
	}
	return bytes.HasPrefix(reply[1:], []byte(prefix))
}
