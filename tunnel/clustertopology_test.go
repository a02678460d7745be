package tunnel

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// shardsReply builds a RESP2 CLUSTER SHARDS reply as redigo returns it.
func shardsReply(shards ...[]any) []any {
	out := make([]any, len(shards))
	for i, s := range shards {
		out[i] = s
	}
	return out
}

func shard(slots []any, nodes ...[]any) []any {
	ns := make([]any, len(nodes))
	for i, n := range nodes {
		ns[i] = n
	}
	return []any{[]byte("slots"), slots, []byte("nodes"), ns}
}

func shardNode(ip, endpoint string, port int64, role string, extra ...any) []any {
	n := []any{[]byte("id"), []byte("x"), []byte("port"), port, []byte("ip"), []byte(ip), []byte("endpoint"), []byte(endpoint),
		[]byte("role"), []byte(role), []byte("health"), []byte("online")}
	return append(n, extra...)
}

func TestParseClusterShards(t *testing.T) {
	for name, tc := range map[string]struct {
		reason     string
		reply      any
		tls        bool
		wantRanges []slotRange
		wantNodes  []string
		wantErr    bool
	}{
		"two shards": {
			reason: "each slot range goes to its shard's master; replicas are nodes too",
			reply: shardsReply(
				shard([]any{int64(0), int64(100), int64(200), int64(300)}, shardNode("10.0.0.1", "10.0.0.1", 7000, "master"), shardNode("10.0.0.2", "10.0.0.2", 7001, "replica")),
				shard([]any{int64(101), int64(199)}, shardNode("10.0.0.3", "node-3", 7002, "master")),
			),
			wantRanges: []slotRange{{0, 100, "10.0.0.1:7000"}, {200, 300, "10.0.0.1:7000"}, {101, 199, "node-3:7002"}},
			wantNodes:  []string{"10.0.0.1:7000", "10.0.0.2:7001", "node-3:7002"},
		},
		"unknown endpoint": {
			reason:     "a lone node does not know its IP: the host of the node asked",
			reply:      shardsReply(shard([]any{int64(0), int64(16383)}, shardNode("", "", 7000, "master"))),
			wantRanges: []slotRange{{0, 16383, "127.0.0.9:7000"}},
			wantNodes:  []string{"127.0.0.9:7000"},
		},
		"tls port": {
			reason:     "with upstream TLS the tls-port is dialed",
			reply:      shardsReply(shard([]any{int64(0), int64(5)}, shardNode("h", "h", 7000, "master", []byte("tls-port"), int64(8000)))),
			tls:        true,
			wantRanges: []slotRange{{0, 5, "h:8000"}},
			wantNodes:  []string{"h:8000"},
		},
		"no master": {
			reason:    "a shard whose master failed and no replica took over serves nothing",
			reply:     shardsReply(shard([]any{int64(0), int64(5)}, shardNode("h", "h", 7001, "replica"))),
			wantNodes: []string{"h:7001"},
		},
		"slot out of range": {reason: "garbage from a node is an error", reply: shardsReply(shard([]any{int64(0), int64(16384)}, shardNode("h", "h", 1, "master"))), wantErr: true},
		"odd slots":         {reason: "slots come in pairs", reply: shardsReply(shard([]any{int64(0)}, shardNode("h", "h", 1, "master"))), wantErr: true},
		"not an array":      {reason: "garbage", reply: []byte("x"), wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			ranges, nodes, err := parseClusterShards(tc.reply, "127.0.0.9:7000", tc.tls)
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: err = %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.wantRanges, ranges, cmp.AllowUnexported(slotRange{})); diff != "" {
				t.Errorf("%s: ranges (-want +got):\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantNodes, nodes); diff != "" && !tc.wantErr {
				t.Errorf("%s: nodes (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestParseClusterSlots(t *testing.T) {
	reply := []any{
		[]any{int64(0), int64(10), []any{[]byte("a"), int64(1), []byte("id")}, []any{[]byte("b"), int64(2), []byte("id")}},
		[]any{int64(11), int64(16383), []any{[]byte(""), int64(3), []byte("id")}},
	}
	ranges, nodes, err := parseClusterSlots(reply, "10.1.1.1:3")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]slotRange{{0, 10, "a:1"}, {11, 16383, "10.1.1.1:3"}}, ranges, cmp.AllowUnexported(slotRange{})); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a:1", "b:2", "10.1.1.1:3"}, nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

func TestMergeClusterViews(t *testing.T) {
	full := func(from string, epoch int64, owners ...slotRange) clusterView {
		return clusterView{from: from, epoch: epoch, ranges: owners}
	}
	for name, tc := range map[string]struct {
		reason string
		views  []clusterView
		// want names the owner of a few slots.
		want map[int]string
	}{
		"agreement": {
			reason: "all views agree",
			views:  []clusterView{full("a", 5, slotRange{0, 16383, "a"}), full("b", 5, slotRange{0, 16383, "a"})},
			want:   map[int]string{0: "a", 16383: "a"},
		},
		"stale node loses": {
			reason: "a demoted master that missed its failover (lower epoch) still claims its slots: the newer view wins",
			views: []clusterView{
				full("old", 3, slotRange{0, 8191, "old"}, slotRange{8192, 16383, "c"}),
				full("new", 4, slotRange{0, 8191, "new"}, slotRange{8192, 16383, "c"}),
			},
			want: map[int]string{0: "new", 8191: "new", 8192: "c"},
		},
		"stale view fills gaps": {
			reason: "slots the freshest view does not cover are taken from older views",
			views:  []clusterView{full("x", 9, slotRange{0, 99, "x"}), full("y", 1, slotRange{0, 16383, "y"})},
			want:   map[int]string{0: "x", 99: "x", 100: "y", 16383: "y"},
		},
		"equal epochs": {
			reason: "among equal epochs the node that claims the slot for itself is trusted first",
			views: []clusterView{
				full("a", 7, slotRange{0, 10, "b"}),
				full("b", 7, slotRange{0, 10, "b"}),
				full("c", 7, slotRange{0, 10, "c"}),
			},
			want: map[int]string{0: "b", 10: "b", 11: ""},
		},
		"no views": {reason: "nothing known", want: map[int]string{0: ""}},
	} {
		t.Run(name, func(t *testing.T) {
			owners := mergeClusterViews(tc.views)
			got := map[int]string{}
			for slot := range tc.want {
				got[slot] = owners[slot]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestParseClusterEpoch(t *testing.T) {
	epoch, err := parseClusterEpoch("cluster_state:ok\r\ncluster_current_epoch:42\r\ncluster_my_epoch:3\r\n")
	if err != nil || epoch != 42 {
		t.Errorf("epoch = %d, %v; want 42", epoch, err)
	}
	if _, err := parseClusterEpoch("cluster_state:ok\r\n"); err == nil {
		t.Error("CLUSTER INFO without cluster_current_epoch: want an error")
	}
}

func TestParseRedirect(t *testing.T) {
	for name, tc := range map[string]struct {
		reason   string
		reply    string
		wantSlot int
		wantAddr string
		wantOK   bool
	}{
		"moved":      {reason: "slot and address", reply: "-MOVED 3999 127.0.0.1:6381\r\n", wantSlot: 3999, wantAddr: "127.0.0.1:6381", wantOK: true},
		"ask":        {reason: "same shape", reply: "-ASK 1 h:2\r\n", wantSlot: 1, wantAddr: "h:2", wantOK: true},
		"empty host": {reason: "the answering node's host", reply: "-MOVED 5 :6390\r\n", wantSlot: 5, wantAddr: "10.0.0.5:6390", wantOK: true},
		"bad slot":   {reason: "out of range", reply: "-MOVED 16384 h:1\r\n"},
		"short":      {reason: "fields missing", reply: "-MOVED 5\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			slot, addr, ok := parseRedirect([]byte(tc.reply), "10.0.0.5:7000")
			if diff := cmp.Diff([]any{tc.wantSlot, tc.wantAddr, tc.wantOK}, []any{slot, addr, ok}); diff != "" && tc.wantOK {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
			if ok != tc.wantOK {
				t.Errorf("%s: ok = %t", tc.reason, ok)
			}
		})
	}
}
