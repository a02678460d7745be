package tunnel

import (
	"strconv"
	"strings"
)

// commandFlags are the properties of a Redis command the cluster router acts on, taken
// from the server's COMMAND INFO (flags and request_policy tips).
type commandFlags uint16

const (
	// cmdWrite: the command may modify data.
	cmdWrite commandFlags = 1 << iota
	// cmdReadonly: the command only reads data.
	cmdReadonly
	// cmdAdmin: an administrative command (CONFIG SET, SHUTDOWN, CLIENT KILL, ...).
	cmdAdmin
	// cmdPubSub: a pub/sub command.
	cmdPubSub
	// cmdBlocking: the command may block the connection.
	cmdBlocking
	// cmdMovableKeys: the key positions depend on the arguments (EVAL, ZUNIONSTORE, ...).
	cmdMovableKeys
	// cmdAllShards: the command means something for the whole data set, so a cluster
	// client sends it to every shard (tip request_policy:all_shards, all_nodes or special).
	cmdAllShards
)

// commandInfo is one command (or subcommand) of the command table.
type commandInfo struct {
	// arity is the Redis arity: the exact argument count with the name, or -N for at least N.
	arity int
	flags commandFlags
	// keys are the Redis 7 key specs: where the key arguments are.
	keys []keySpec
}

// keySpec is one Redis 7 key specification: begin_search finds the first key, find_keys
// how many follow. Specs of type "unknown" are kept with both types 0 and find no key.
type keySpec struct {
	// beginIndex is begin_search index.pos (0 when the search is by keyword or unknown).
	beginIndex int
	// keyword and startFrom are begin_search keyword: the first key follows keyword,
	// searched from startFrom (negative: backwards from the end).
	keyword   string
	startFrom int
	// findKeys is 'r' (range: lastKey, keyStep, limit), 'n' (keynum: keyNumIdx,
	// firstKey, keyStep) or 0 (unknown).
	findKeys  byte
	lastKey   int
	keyStep   int
	limit     int
	keyNumIdx int
	firstKey  int
}

// commandName is the table name of args: the lower-case command, or "command|subcommand"
// for commands with subcommands (OBJECT ENCODING is "object|encoding"). It is written into
// buf, so looking it up in commandTable allocates nothing.
func commandName(buf []byte, args [][]byte) []byte {
	buf = appendLower(buf[:0], args[0])
	if hasSubcommands[string(buf)] && len(args) > 1 {
		buf = append(buf, '|')
		buf = appendLower(buf, args[1])
	}
	return buf
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// lookupCommand finds args's command in the table (nil: unknown to this Redis version).
func lookupCommand(buf []byte, args [][]byte) (*commandInfo, []byte) {
	name := commandName(buf, args)
	return commandTable[string(name)], name
}

// hasSubcommands lists the container commands of the table (OBJECT, CLIENT, ...).
var hasSubcommands = func() map[string]bool {
	m := map[string]bool{}
	for name := range commandTable {
		if i := strings.IndexByte(name, '|'); i > 0 {
			m[name[:i]] = true
		}
	}
	return m
}()

// appendKeyIndexes appends to dst the argument positions of every key of args, by the key
// specs (as Redis's getKeysUsingKeySpecs does). Positions past the arguments are skipped:
// the command then fails its own syntax check on the node.
func (c *commandInfo) appendKeyIndexes(dst []int, args [][]byte) []int {
	argc := len(args)
	for i := range c.keys {
		ks := &c.keys[i]
		first := 0
		switch {
		case ks.beginIndex > 0:
			first = ks.beginIndex
		case ks.keyword != "":
			start, end, step := ks.startFrom, argc-1, 1
			if ks.startFrom < 0 {
				start, end, step = argc+ks.startFrom, 0, -1
			}
			for j := start; j != end+step && j >= 1 && j < argc; j += step {
				if asciiEqualFold(args[j], ks.keyword) {
					first = j + 1
					break
				}
			}
		}
		if first == 0 {
			continue
		}
		last, step := 0, 1
		switch ks.findKeys {
		case 'r':
			step = ks.keyStep
			switch {
			case ks.lastKey >= 0:
				last = first + ks.lastKey
			case ks.limit == 0:
				last = argc + ks.lastKey
			default:
				last = first + ((argc-first)/ks.limit + ks.lastKey)
			}
		case 'n':
			step = ks.keyStep
			if first+ks.keyNumIdx >= argc {
				continue
			}
			n, err := strconv.Atoi(string(args[first+ks.keyNumIdx]))
			if err != nil || n < 0 || n > argc {
				continue
			}
			first += ks.firstKey
			last = first + (n-1)*step
		default:
			continue
		}
		if step <= 0 {
			continue
		}
		for j := first; j <= last && j < argc; j += step {
			dst = append(dst, j)
		}
	}
	return dst
}

// asciiEqualFold compares b and s ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
