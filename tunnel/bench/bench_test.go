package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseBenchmarkCSV(t *testing.T) {
	header := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"` + "\n"
	cases := map[string]struct {
		reason  string
		in      string
		want    []BenchmarkRow
		wantErr string
	}{
		"two tests": {
			reason: "the normal -t set,get --csv output",
			in: header + `"SET","42194.09","0.797","0.144","0.607","1.847","4.559","24.895"` + "\n" +
				`"GET","46082.95","0.709","0.112","0.647","1.383","2.047","3.591"` + "\n",
			want: []BenchmarkRow{
				{Test: "SET", RPS: 42194.09, AvgMs: 0.797, P50Ms: 0.607, P95Ms: 1.847, P99Ms: 4.559},
				{Test: "GET", RPS: 46082.95, AvgMs: 0.709, P50Ms: 0.647, P95Ms: 1.383, P99Ms: 2.047},
			},
		},
		"warning glued to the end": {
			reason: "-k 0 prints an unquoted tcp_tw_reuse warning, possibly on the last line",
			in: header + `"GET","8865.25","3.879","0.424","2.671","11.087","17.887","44.127"` + "\n" +
				"WARNING: Keepalive disabled. You probably need 'echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse'\n",
			want: []BenchmarkRow{{Test: "GET", RPS: 8865.25, AvgMs: 3.879, P50Ms: 2.671, P95Ms: 11.087, P99Ms: 17.887}},
		},
		"columns reordered": {
			reason: "columns are found by name",
			in:     `"rps","test","p99_latency_ms","p95_latency_ms","p50_latency_ms","avg_latency_ms"` + "\n" + `"10","PING","4","3","2","1"` + "\n",
			want:   []BenchmarkRow{{Test: "PING", RPS: 10, AvgMs: 1, P50Ms: 2, P95Ms: 3, P99Ms: 4}},
		},
		"old format": {
			reason:  "redis-benchmark 5/6 prints only test and rps",
			in:      `"SET","42194.09"` + "\n",
			wantErr: `lacks column "test"`,
		},
		"no output": {
			reason:  "a crashed redis-benchmark",
			in:      "Could not connect to Redis at 127.0.0.1:1: Connection refused\n",
			wantErr: "no csv header",
		},
		"header only": {
			reason:  "no result lines",
			in:      header,
			wantErr: "no results",
		},
		"bad number": {
			reason:  "garbage in a numeric column names the column",
			in:      header + `"SET","fast","0.797","0.144","0.607","1.847","4.559","24.895"` + "\n",
			wantErr: "column rps",
		},
		"short line": {
			reason:  "a truncated line",
			in:      header + `"SET","1"` + "\n",
			wantErr: "has 2 fields, header has 8",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBenchmarkCSV(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErr)
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

func TestMedian(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     []float64
		want   float64
	}{
		"empty": {reason: "no samples", in: nil, want: 0},
		"odd":   {reason: "middle of sorted", in: []float64{9, 1, 5}, want: 5},
		"even":  {reason: "mean of the two middle values", in: []float64{4, 1, 3, 2}, want: 2.5},
		"one":   {reason: "single sample", in: []float64{7}, want: 7},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := Median(tc.in); got != tc.want {
				t.Errorf("%s: Median(%v) = %v, want %v", tc.reason, tc.in, got, tc.want)
			}
			if diff := cmp.Diff(in, tc.in); diff != "" {
				t.Errorf("Median modified its input: %s", diff)
			}
		})
	}
}

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestBucketize(t *testing.T) {
	cases := map[string]struct {
		reason            string
		times             []time.Duration
		start, end, width time.Duration
		want              []int
	}{
		"edges": {
			reason: "start is inclusive, end exclusive, a time on a bucket edge belongs to the later bucket",
			times:  ms(100, 105, 109, 110, 129, 130, 99),
			start:  100 * time.Millisecond, end: 130 * time.Millisecond, width: 10 * time.Millisecond,
			want: []int{3, 1, 1},
		},
		"partial last bucket": {
			reason: "the span is rounded up to whole buckets",
			times:  ms(0, 24),
			start:  0, end: 25 * time.Millisecond, width: 10 * time.Millisecond,
			want: []int{1, 0, 1},
		},
		"empty span": {reason: "end before start", times: ms(1), start: 10, end: 5, width: 1, want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Bucketize(tc.times, tc.start, tc.end, tc.width)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestLongestGap(t *testing.T) {
	cases := map[string]struct {
		reason          string
		times           []time.Duration
		from, to        time.Duration
		wantGap, wantAt time.Duration
	}{
		"middle": {reason: "gap between two acks", times: ms(10, 20, 300, 310), from: 0, to: 320 * time.Millisecond,
			wantGap: 280 * time.Millisecond, wantAt: 20 * time.Millisecond},
		"leading": {reason: "from the window start to the first ack", times: ms(500, 510), from: 0, to: 520 * time.Millisecond,
			wantGap: 500 * time.Millisecond, wantAt: 0},
		"trailing": {reason: "from the last ack to the window end", times: ms(0, 10), from: 0, to: 900 * time.Millisecond,
			wantGap: 890 * time.Millisecond, wantAt: 10 * time.Millisecond},
		"outside ignored": {reason: "acks outside the window do not count", times: ms(0, 100, 150, 5000), from: 90 * time.Millisecond, to: 160 * time.Millisecond,
			wantGap: 50 * time.Millisecond, wantAt: 100 * time.Millisecond},
		"none": {reason: "no acks: the whole window", times: nil, from: 0, to: time.Second, wantGap: time.Second, wantAt: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			gap, at := LongestGap(tc.times, tc.from, tc.to)
			if gap != tc.wantGap || at != tc.wantAt {
				t.Errorf("%s: LongestGap = %s at %s, want %s at %s", tc.reason, gap, at, tc.wantGap, tc.wantAt)
			}
		})
	}
}

func TestHAProxyConfig(t *testing.T) {
	cfg := HAProxyConfig("127.0.0.1:7000", "mymaster", []HAProxyServer{
		{RedisAddr: "127.0.0.1:40001", SentinelAddr: "127.0.0.1:40011"},
		{RedisAddr: "127.0.0.1:40002", SentinelAddr: "127.0.0.1:40012"},
		{RedisAddr: "127.0.0.1:40003", SentinelAddr: "127.0.0.1:40013"},
	})
	for _, want := range []string{
		"defaults REDIS\n  mode tcp\n  timeout connect 4s\n  timeout server 330s\n  timeout client 330s\n  timeout check 2s\n",
		"frontend ft_redis_master\n  bind 127.0.0.1:7000\n  use_backend bk_redis_master\n",
		"  tcp-check send info\\ replication\\r\\n\n  tcp-check expect string role:master\n",
		"  tcp-check send SENTINEL\\ get-master-addr-by-name\\ mymaster\\r\\n\n  tcp-check expect string 40002\n",
		"  use-server R2 if { srv_is_up(R2) } { nbsrv(check_if_redis_is_master_2) ge 2 }\n  server R2 127.0.0.1:40003 check inter 1s fall 1 rise 1\n",
		"backend check_if_redis_is_master_1\n",
		"  server R2 127.0.0.1:40013 check inter 1s\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q; config:\n%s", want, cfg)
		}
	}
	if n := strings.Count(cfg, "backend check_if_redis_is_master_"); n != 3 {
		t.Errorf("want one Sentinel check backend per server (3), got %d", n)
	}
}

// TestChecksPending reads HAProxy's "show stat" CSV (columns trimmed to the ones read,
// in HAProxy's order): ready only once every server finished its first health check.
func TestChecksPending(t *testing.T) {
	const header = "# pxname,svname,status,check_status,check_code\n"
	cases := map[string]struct {
		csv     string
		wantErr string // "" for ready
	}{
		"first checks running or not started": {
			csv: header + "ft_redis_master,FRONTEND,OPEN,,\n" +
				"bk_redis_master,R0,UP,L7OK,0\n" +
				"bk_redis_master,R1,UP,* INI,\n" +
				"check_if_redis_is_master_0,R2,UP 1/3,INI,\n" +
				"bk_redis_master,BACKEND,UP,,\n",
			wantErr: "first health checks still running: bk_redis_master/R1 check_if_redis_is_master_0/R2",
		},
		"every server checked once, a later check in progress": {
			csv: header + "bk_redis_master,R0,UP,* L7OK,0\n" +
				"bk_redis_master,R1,DOWN,L7TOUT,\n" +
				"check_if_redis_is_master_0,R0,DOWN,L7TOUT,\n",
		},
		"no servers":      {csv: header + "ft_redis_master,FRONTEND,OPEN,,\n", wantErr: "haproxy show stat lists no servers"},
		"not a stat CSV":  {csv: "Unknown command\n", wantErr: `haproxy show stat: unexpected answer "Unknown command\n"`},
		"missing columns": {csv: "# pxname,svname\nbk,R0\n", wantErr: `haproxy show stat: no pxname, svname or check_status column in "# pxname,svname"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := checksPending(tc.csv)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("checksPending: got error %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// svgStats walks the whole document with encoding/xml (fails on malformed XML) and
// counts bar rectangles by class and their summed heights.
func svgStats(t *testing.T, doc []byte) (counts map[string]int, texts []string) {
	t.Helper()
	counts = map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			inText = el.Name.Local == "text"
			for _, a := range el.Attr {
				if a.Name.Local == "class" {
					counts[a.Value]++
				}
			}
			counts["<"+el.Name.Local+">"]++
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return counts, texts
}

func TestTimelineSVG(t *testing.T) {
	tl := Timeline{
		Title:    `Writes <tunnel> & "HAProxy"`,
		Subtitle: "test",
		Bucket:   10 * time.Millisecond, Span: 100 * time.Millisecond, AxisOffset: -30 * time.Millisecond,
		Panels: []TimelinePanel{{
			Title: "round 1",
			Lanes: []TimelineLane{
				{Name: "tunnel", Color: "#00f", OK: []int{1, 0, 3, 0, 0, 0, 0, 0, 0, 2}},
				{Name: "haproxy", Color: "#f80", OK: []int{1, 1}, Bad: []int{0, 4, 5}},
			},
			Markers: []TimelineMarker{
				{At: 30 * time.Millisecond, Label: "kill -9", Color: "black"},
				{At: 500 * time.Millisecond, Label: "outside the span", Color: "red"},
			},
		}},
	}
	var buf bytes.Buffer
	if err := tl.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	counts, texts := svgStats(t, buf.Bytes())
	// tunnel: 3 non-empty buckets; haproxy: ok in buckets 0,1, bad in 1,2.
	if counts["ok"] != 5 || counts["bad"] != 2 {
		t.Errorf("bars: ok %d bad %d, want 5 and 2", counts["ok"], counts["bad"])
	}
	if counts["marker"] != 1 {
		t.Errorf("markers drawn: %d, want 1 (the one outside the span is skipped)", counts["marker"])
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{`Writes <tunnel> & "HAProxy"`, "round 1", "acked writes via tunnel", "acked writes via haproxy",
		"acked but lost (not on the final master)", "kill -9", "|0|", "s after event"} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG text lacks %q; texts: %s", want, all)
		}
	}
	if !strings.Contains(buf.String(), `class="ok" x="150.00"`) {
		t.Errorf("first tunnel bar should start at the plot's left edge (x=150); svg:\n%s", buf.String())
	}
}

func TestTimelineSVGRejectsBadScale(t *testing.T) {
	if err := (Timeline{}).WriteSVG(io.Discard); err == nil || !strings.Contains(err.Error(), "Bucket and Span") {
		t.Errorf("zero Bucket/Span: err %v, want one naming Bucket and Span", err)
	}
}

func TestChaosAnalyze(t *testing.T) {
	round := Round{Index: 1, Kind: EventFailover, Start: 1000 * time.Millisecond, Promoted: 1200 * time.Millisecond, End: 3000 * time.Millisecond}
	path := PathResult{Name: TargetHAProxy, Rounds: []Round{round}, Acks: []Ack{
		{At: 900 * time.Millisecond, Seq: 1},               // before the round
		{At: 1010 * time.Millisecond, Seq: 2},              // before promotion
		{At: 1250 * time.Millisecond, Seq: 3, Lost: true},  // to the old master after promotion: lost
		{At: 1300 * time.Millisecond, Seq: 4, Lost: true},  // lost
		{At: 1700 * time.Millisecond, Seq: 5},              // first surviving write after promotion
		{At: 3000 * time.Millisecond, Seq: 6, Lost: false}, // next round
	}}
	got := path.Analyze(0)
	// The gap spans the whole round: the path wrote nothing from 1.7 s to the round end.
	want := PathRound{Lost: 2, Acked: 4, FirstWrite: 500 * time.Millisecond, Gap: 1300 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	none := PathResult{Rounds: []Round{round}}.Analyze(0)
	if none.FirstWrite != -1 || none.Gap != 2*time.Second {
		t.Errorf("no acks: FirstWrite %s Gap %s, want -1 and the whole round", none.FirstWrite, none.Gap)
	}
}

// TestChaosAnalyzeKillExposure: a write acked just before a kill -9 and lost with the
// killed master counts in the kill round, not in the round before; only one acked in the
// KillLossWindow before the kill is the documented exception.
func TestChaosAnalyzeKillExposure(t *testing.T) {
	rounds := []Round{
		{Index: 1, Kind: EventFailover, Start: 1000 * time.Millisecond, Promoted: 1200 * time.Millisecond},
		{Index: 2, Kind: EventKill, Start: 5000 * time.Millisecond, Promoted: 6400 * time.Millisecond},
	}
	setRoundEnds(rounds, 9000*time.Millisecond)
	path := PathResult{Name: TargetTunnel, Rounds: rounds, Acks: []Ack{
		{At: 1300 * time.Millisecond, Seq: 1},             // first write after the graceful promotion
		{At: 4850 * time.Millisecond, Seq: 2},             // graceful round, before the kill round's window
		{At: 4950 * time.Millisecond, Seq: 3, Lost: true}, // acked 50 ms before the kill and lost: a real loss
		{At: 4995 * time.Millisecond, Seq: 4, Lost: true}, // acked 5 ms before the kill, not replicated
		{At: 6410 * time.Millisecond, Seq: 5},             // first write after the kill promotion
		{At: 6500 * time.Millisecond, Seq: 6, Lost: true}, // acked after the kill and lost: a real loss
		{At: 8990 * time.Millisecond, Seq: 7},
	}}
	rep := &ChaosReport{Paths: []PathResult{path}}
	if got, want := path.Analyze(0), (PathRound{Acked: 2, FirstWrite: 100 * time.Millisecond, Gap: 3550 * time.Millisecond}); !cmp.Equal(want, got) {
		t.Errorf("graceful round: -want +got:\n%s", cmp.Diff(want, got))
	}
	want := PathRound{Lost: 3, LostInKillWindow: 1, Acked: 5, FirstWrite: 10 * time.Millisecond, Gap: 2490 * time.Millisecond}
	if got := path.Analyze(1); !cmp.Equal(want, got) {
		t.Errorf("kill round: -want +got:\n%s", cmp.Diff(want, got))
	}
	var md strings.Builder
	rep.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| 3 (1 acked < 10ms before the kill) |") {
		t.Errorf("report does not show the loss just before the kill:\n%s", md.String())
	}
}

// TestChaosVerdicts: each round is judged against the targets, HAProxy's figures of the
// same round as the yardstick.
func TestChaosVerdicts(t *testing.T) {
	second := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	// acks writes one ack every 10 ms in [from, to) seconds, lost where lost says so.
	acks := func(lost func(at time.Duration) bool, spans ...[2]float64) []Ack {
		var out []Ack
		for _, sp := range spans {
			for at := second(sp[0]); at < second(sp[1]); at += 10 * time.Millisecond {
				out = append(out, Ack{At: at, Seq: int64(len(out) + 1), Lost: lost != nil && lost(at)})
			}
		}
		return out
	}
	rounds := []Round{
		{Index: 1, Kind: EventFailover, Start: second(1), Promoted: second(1.2)},
		{Index: 2, Kind: EventKill, Start: second(10), Promoted: second(11.4)},
		{Index: 3, Kind: EventKill, Start: second(20), Promoted: second(21.4)},
	}
	setRoundEnds(rounds, second(30))
	tunnel := PathResult{Name: TargetTunnel, Rounds: rounds, Acks: acks(func(at time.Duration) bool {
		return at == second(20)-5*time.Millisecond // in the kill window: forgiven
	}, [2]float64{0, 1}, [2]float64{1.15, 10}, [2]float64{11.4, 20}, [2]float64{22.6, 30})}
	haproxy := PathResult{Name: TargetHAProxy, Rounds: rounds, Acks: acks(func(at time.Duration) bool {
		return at >= second(1.2) && at < second(9) // wrote to the demoted master
	}, [2]float64{0, 10}, [2]float64{13, 20}, [2]float64{23, 30})}
	rep := &ChaosReport{Paths: []PathResult{tunnel, haproxy}}
	var got [][]string
	for _, v := range rep.Verdicts() {
		got = append(got, v.Failures)
	}
	want := [][]string{nil, nil, {"gap 0.87x HAProxy's"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failures per round -want +got:\n%s", diff)
	}
	var md strings.Builder
	rep.WriteTargets(&md)
	if !strings.Contains(md.String(), "2 of 3 rounds met every target (1 of 2 kill -9 rounds).") {
		t.Errorf("targets summary:\n%s", md.String())
	}
}
