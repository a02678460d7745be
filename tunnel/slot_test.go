package tunnel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// TestKeySlotMatchesServer compares keySlot with CLUSTER KEYSLOT of a cluster-enabled
// redis-server, hash tag rules included.
func TestKeySlotMatchesServer(t *testing.T) {
	p := redisproctest.Start(t, redisproc.Spec{Kind: redisproc.KindServer, Name: "keyslot",
		Config: "cluster-enabled yes\ncluster-config-file nodes.conf\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cases := map[string]struct {
		reason string
		key    string
	}{
		"plain":             {reason: "the whole key is hashed", key: "user:1000"},
		"empty":             {reason: "the empty key", key: ""},
		"tag":               {reason: "only the tag is hashed", key: "{user1000}.following"},
		"same tag":          {reason: "same tag, same slot", key: "{user1000}.followers"},
		"empty tag":         {reason: "{} is no tag: the whole key is hashed", key: "foo{}{bar}"},
		"first tag only":    {reason: "only the first {...} counts", key: "foo{{bar}}zap"},
		"tag at the end":    {reason: "a tag may end the key", key: "foo{bar}"},
		"unclosed":          {reason: "a lone { is no tag", key: "foo{bar"},
		"close before open": {reason: "} before { does not close", key: "}foo{bar}"},
		"binary":            {reason: "any bytes", key: "\x00\xff\r\n{\x01}"},
		"123456789":         {reason: "the CRC16 check value input", key: "123456789"},
	}
	for i := range 200 {
		cases[fmt.Sprintf("generated %d", i)] = struct {
			reason string
			key    string
		}{reason: "spread over the slots", key: fmt.Sprintf("key:%d:%x", i, i*7919)}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := redis.Int(conn.Do("CLUSTER", "KEYSLOT", tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if got := keySlot([]byte(tc.key)); got != want {
				t.Errorf("%s: keySlot(%q) = %d, CLUSTER KEYSLOT says %d", tc.reason, tc.key, got, want)
			}
		})
	}
}

func TestCRC16CheckValue(t *testing.T) {
	// The XMODEM variant's published check value; Redis's cluster spec quotes it.
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
}
