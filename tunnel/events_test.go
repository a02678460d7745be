package tunnel

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSentinelEvent(t *testing.T) {
	tests := map[string]struct {
		reason  string
		channel string
		payload string
		want    sentinelEvent
		wantErr string
	}{
		"switch-master": {
			reason:  "old and new master of a completed failover",
			channel: "+switch-master", payload: "mymaster 127.0.0.1 6379 127.0.0.1 6380",
			want: sentinelEvent{Channel: "+switch-master", MasterName: "mymaster", MasterAddr: "127.0.0.1:6379", NewMasterAddr: "127.0.0.1:6380"},
		},
		"switch-master hostnames": {
			reason:  "announce-hostnames yes puts DNS names in the ip fields",
			channel: "+switch-master", payload: "cache redis-0.redis.ns.svc 6379 redis-1.redis.ns.svc 6379",
			want: sentinelEvent{Channel: "+switch-master", MasterName: "cache", MasterAddr: "redis-0.redis.ns.svc:6379", NewMasterAddr: "redis-1.redis.ns.svc:6379"},
		},
		"selected-slave": {
			reason:  "slave instance events carry the master after @",
			channel: "+selected-slave", payload: "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
			want: sentinelEvent{Channel: "+selected-slave", InstanceType: "slave", InstanceAddr: "127.0.0.1:6380", MasterName: "mymaster", MasterAddr: "127.0.0.1:6379"},
		},
		"try-failover": {
			reason:  "master instance events: the instance is the master",
			channel: "+try-failover", payload: "master mymaster 127.0.0.1 6379",
			want: sentinelEvent{Channel: "+try-failover", InstanceType: "master", InstanceAddr: "127.0.0.1:6379", MasterName: "mymaster", MasterAddr: "127.0.0.1:6379"},
		},
		"odown with quorum": {
			reason:  "extra fields after the address are ignored",
			channel: "+odown", payload: "master mymaster 127.0.0.1 6379 #quorum 2/2",
			want: sentinelEvent{Channel: "+odown", InstanceType: "master", InstanceAddr: "127.0.0.1:6379", MasterName: "mymaster", MasterAddr: "127.0.0.1:6379"},
		},
		"ipv6": {
			reason:  "IPv6 addresses are bracketed when joined",
			channel: "+sdown", payload: "master mymaster ::1 6379",
			want: sentinelEvent{Channel: "+sdown", InstanceType: "master", InstanceAddr: "[::1]:6379", MasterName: "mymaster", MasterAddr: "[::1]:6379"},
		},
		"sentinel instance": {
			reason:  "sentinel instance events name a run id",
			channel: "+sentinel", payload: "sentinel 3f1e 127.0.0.1 26380 @ mymaster 127.0.0.1 6379",
			want: sentinelEvent{Channel: "+sentinel", InstanceType: "sentinel", InstanceAddr: "127.0.0.1:26380", MasterName: "mymaster", MasterAddr: "127.0.0.1:6379"},
		},
		"abort": {
			reason:  "aborts use the master format",
			channel: "-failover-abort-not-elected", payload: "master mymaster 127.0.0.1 6379",
			want: sentinelEvent{Channel: "-failover-abort-not-elected", InstanceType: "master", InstanceAddr: "127.0.0.1:6379", MasterName: "mymaster", MasterAddr: "127.0.0.1:6379"},
		},
		"new-epoch":              {reason: "just a number", channel: "+new-epoch", payload: "42", want: sentinelEvent{Channel: "+new-epoch", Epoch: 42}},
		"new-epoch garbage":      {reason: "not a number", channel: "+new-epoch", payload: "x", wantErr: "epoch"},
		"switch-master short":    {reason: "five fields", channel: "+switch-master", payload: "mymaster 127.0.0.1 6379", wantErr: "want 5 fields"},
		"switch-master bad port": {reason: "port range", channel: "+switch-master", payload: "m h 1 h 70000", wantErr: "bad port"},
		"slave without master":   {reason: "needs @ part", channel: "+selected-slave", payload: "slave a:1 a 1", wantErr: "without"},
		"unknown type":           {reason: "only master/slave/sentinel", channel: "+sdown", payload: "cluster x h 1", wantErr: "unknown instance type"},
		"empty":                  {reason: "no fields", channel: "+sdown", payload: "", wantErr: "want <type>"},
		"empty host":             {reason: "fields split by spaces never give empty hosts, but ports are checked", channel: "+sdown", payload: "master m h 0", wantErr: "bad port"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseSentinelEvent(tc.channel, tc.payload)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error = %v, want containing %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: unexpected error %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: parseSentinelEvent() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// FuzzParseSentinelEvent: any channel/payload is either rejected or yields addresses that
// split back into host and a valid port; it never panics.
func FuzzParseSentinelEvent(f *testing.F) {
	f.Add("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380")
	f.Add("+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379")
	f.Add("+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2")
	f.Add("+new-epoch", "7")
	f.Fuzz(func(t *testing.T, channel, payload string) {
		ev, err := parseSentinelEvent(channel, payload)
		if err != nil {
			return
		}
		for _, a := range []string{ev.InstanceAddr, ev.MasterAddr, ev.NewMasterAddr} {
			if a == "" {
				continue
			}
			if _, err := splitCheck(a); err != nil {
				t.Fatalf("address %q from %q %q: %v", a, channel, payload, err)
			}
		}
	})
}
