package tunnel

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// splitCheck verifies addr is host:port with a port in 1..65535.
func splitCheck(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", p)
	}
	return n, nil
}

func TestParseRole(t *testing.T) {
	tests := map[string]struct {
		reason  string
		reply   any
		want    roleInfo
		wantErr string
	}{
		"master": {
			reason: "offset and replica list",
			reply:  []any{[]byte("master"), int64(3129659), []any{[]any{[]byte("127.0.0.1"), []byte("9001"), []byte("3129242")}}},
			want:   roleInfo{Role: "master", Offset: 3129659},
		},
		"replica": {
			reason: "master address, link state and offset",
			reply:  []any{[]byte("slave"), []byte("127.0.0.1"), int64(9000), []byte("connected"), int64(3167038)},
			want:   roleInfo{Role: "slave", MasterAddr: "127.0.0.1:9000", LinkState: "connected", Offset: 3167038},
		},
		"sentinel":        {reason: "no offsets", reply: []any{[]byte("sentinel"), []any{[]byte("mymaster")}}, want: roleInfo{Role: "sentinel"}},
		"empty":           {reason: "no role", reply: []any{}, wantErr: "empty"},
		"not array":       {reason: "wrong type", reply: []byte("master"), wantErr: "ROLE reply"},
		"short master":    {reason: "missing offset", reply: []any{[]byte("master")}, wantErr: "want 3"},
		"short replica":   {reason: "missing fields", reply: []any{[]byte("slave"), []byte("h")}, wantErr: "want 5"},
		"bad port":        {reason: "port range", reply: []any{[]byte("slave"), []byte("h"), int64(0), []byte("connect"), int64(-1)}, wantErr: "master address"},
		"unknown role":    {reason: "future roles are errors", reply: []any{[]byte("leader")}, wantErr: "unknown role"},
		"bad offset type": {reason: "offset must be an integer", reply: []any{[]byte("master"), []byte("x")}, wantErr: "offset"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseRole(tc.reply)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error = %v, want containing %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: parseRole() -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestParseReplicationInfo(t *testing.T) {
	tests := map[string]struct {
		reason        string
		text          string
		want          replicationInfo
		wantPromotion int64
		wantErr       string
	}{
		"promoted master": {
			reason:        "second_repl_offset-1 is where the old master's stream ends",
			text:          "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:5600\r\nsecond_repl_offset:5538\r\n",
			want:          replicationInfo{Role: "master", MasterReplOffset: 5600, SecondReplOffset: 5538, SlaveReplOffset: -1, GoodReplicas: -1},
			wantPromotion: 5537,
		},
		"never promoted master": {
			reason:        "second_repl_offset -1: the node's own offset",
			text:          "role:master\nmaster_repl_offset:10\nsecond_repl_offset:-1\n",
			want:          replicationInfo{Role: "master", MasterReplOffset: 10, SecondReplOffset: -1, SlaveReplOffset: -1, GoodReplicas: -1},
			wantPromotion: 10,
		},
		"replica": {
			reason:        "a replica holds what it processed",
			text:          "role:slave\nmaster_link_status:up\nslave_repl_offset:99\nmaster_repl_offset:99\n",
			want:          replicationInfo{Role: "slave", MasterReplOffset: 99, SecondReplOffset: -1, SlaveReplOffset: 99, MasterLinkStatus: "up", GoodReplicas: -1},
			wantPromotion: 99,
		},
		"min-replicas guard": {
			reason:        "min_slaves_good_slaves appears with min-replicas-to-write set",
			text:          "role:master\nconnected_slaves:1\nmin_slaves_good_slaves:0\nmaster_repl_offset:7\n",
			want:          replicationInfo{Role: "master", MasterReplOffset: 7, SecondReplOffset: -1, SlaveReplOffset: -1, GoodReplicas: 0},
			wantPromotion: 7,
		},
		"bad good replicas": {reason: "numbers are checked", text: "role:master\nmin_slaves_good_slaves:x\n", wantErr: "min_slaves_good_slaves"},
		"no role":           {reason: "role is required", text: "master_repl_offset:1\n", wantErr: "no role"},
		"bad offset":        {reason: "numbers are checked", text: "role:master\nmaster_repl_offset:x\n", wantErr: "master_repl_offset"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseReplicationInfo(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error = %v, want containing %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
			if p := got.promotionOffset(); p != tc.wantPromotion {
				t.Errorf("%s: promotionOffset() = %d, want %d", tc.reason, p, tc.wantPromotion)
			}
		})
	}
}

func TestParseSentinelMasterAndReplica(t *testing.T) {
	tests := map[string]struct {
		reason  string
		fields  map[string]string
		want    any
		replica bool
		wantErr string
	}{
		"master": {
			reason: "address, epoch, flags",
			fields: map[string]string{"name": "mymaster", "ip": "10.0.0.1", "port": "6379", "flags": "master", "config-epoch": "3"},
			want:   sentinelMasterView{Addr: "10.0.0.1:6379", ConfigEpoch: 3, Flags: "master"},
		},
		"master bad epoch": {reason: "numbers checked", fields: map[string]string{"ip": "h", "port": "1", "config-epoch": "x"}, wantErr: "config-epoch"},
		"master no ip":     {reason: "address required", fields: map[string]string{"port": "1"}, wantErr: "address"},
		"healthy replica": {
			reason: "link ok, plain slave flags", replica: true,
			fields: map[string]string{"ip": "h", "port": "2", "flags": "slave", "master-link-status": "ok"},
			want:   sentinelReplicaView{Addr: "h:2", Healthy: true},
		},
		"down replica": {
			reason: "s_down excludes it", replica: true,
			fields: map[string]string{"ip": "h", "port": "2", "flags": "s_down,slave,disconnected", "master-link-status": "ok"},
			want:   sentinelReplicaView{Addr: "h:2"},
		},
		"syncing replica": {
			reason: "link not ok: not caught up", replica: true,
			fields: map[string]string{"ip": "h", "port": "2", "flags": "slave", "master-link-status": "err"},
			want:   sentinelReplicaView{Addr: "h:2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got any
			var err error
			if tc.replica {
				got, err = parseSentinelReplica(tc.fields)
			} else {
				got, err = parseSentinelMaster(tc.fields)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error = %v, want containing %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// FuzzParseReplicationInfo: arbitrary INFO text never panics and a parsed reply has a role.
func FuzzParseReplicationInfo(f *testing.F) {
	f.Add("# Replication\r\nrole:master\r\nmaster_repl_offset:5600\r\nsecond_repl_offset:5538\r\n")
	f.Add("role:slave\nslave_repl_offset:99\nmaster_link_status:up\n")
	f.Add("garbage\x00:\n:::\n")
	f.Fuzz(func(t *testing.T, text string) {
		ri, err := parseReplicationInfo(text)
		if err == nil && ri.Role == "" {
			t.Fatalf("accepted %q without a role", text)
		}
		_ = ri.promotionOffset()
	})
}

// FuzzParseRole builds ROLE-shaped replies from fuzzed parts (the reply arrives already
// decoded by redigo) and checks parseRole never panics and only returns valid addresses.
func FuzzParseRole(f *testing.F) {
	f.Add("slave", "127.0.0.1", int64(6379), "connected", int64(10), uint8(5))
	f.Add("master", "", int64(0), "", int64(99), uint8(3))
	f.Add("sentinel", "x", int64(-1), "y", int64(0), uint8(1))
	f.Fuzz(func(t *testing.T, role, host string, port int64, state string, offset int64, n uint8) {
		full := []any{[]byte(role), []byte(host), port, []byte(state), offset}
		if role == "master" {
			full = []any{[]byte(role), offset, []any{}}
		}
		reply := full[:int(n)%(len(full)+1)]
		ri, err := parseRole(reply)
		if err != nil {
			return
		}
		if ri.MasterAddr != "" {
			if _, err := splitCheck(ri.MasterAddr); err != nil {
				t.Fatalf("bad address %q: %v", ri.MasterAddr, err)
			}
		}
	})
}

// FuzzParseSentinelMaster: field maps from fuzzed strings never panic.
func FuzzParseSentinelMaster(f *testing.F) {
	f.Add("10.0.0.1", "6379", "master", "3", "ok")
	f.Add("", "x", "s_down,slave", "-1", "err")
	f.Fuzz(func(t *testing.T, ip, port, flags, epoch, link string) {
		fields := map[string]string{"ip": ip, "port": port, "flags": flags, "config-epoch": epoch, "master-link-status": link}
		if v, err := parseSentinelMaster(fields); err == nil {
			if _, err := splitCheck(v.Addr); err != nil {
				t.Fatalf("bad address %q", v.Addr)
			}
		}
		if v, err := parseSentinelReplica(fields); err == nil {
			if _, err := splitCheck(v.Addr); err != nil {
				t.Fatalf("bad address %q", v.Addr)
			}
		}
	})
}
