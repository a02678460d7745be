package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BenchmarkRow is one line of `redis-benchmark --csv` output (Redis 7 format).
type BenchmarkRow struct {
	// Test is the command name, e.g. "SET".
	Test string
	// RPS is requests per second.
	RPS float64
	// AvgMs, P50Ms, P95Ms, P99Ms are latencies in milliseconds.
	AvgMs, P50Ms, P95Ms, P99Ms float64
}

// ParseBenchmarkCSV reads the --csv output of redis-benchmark 7.x: a header line
// "test","rps","avg_latency_ms",... followed by one line per test. Columns are found by
// header name, so added columns do not break it; lines that are not CSV records with the
// header's column count (warnings redis-benchmark prints) are rejected with the line text.
func ParseBenchmarkCSV(r io.Reader) ([]BenchmarkRow, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read redis-benchmark output: %w", err)
	}
	var header []string
	col := map[string]int{}
	var rows []BenchmarkRow
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || !strings.HasPrefix(line, `"`) {
			// redis-benchmark prints warnings (e.g. about tcp_tw_reuse) without quotes.
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil, fmt.Errorf("redis-benchmark csv line %q: %w", line, err)
		}
		if header == nil {
			header = rec
			for i, h := range rec {
				col[h] = i
			}
			for _, need := range []string{"test", "rps", "avg_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms"} {
				if _, ok := col[need]; !ok {
					return nil, fmt.Errorf("redis-benchmark csv header %q lacks column %q (need redis-benchmark >= 7)", line, need)
				}
			}
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("redis-benchmark csv line %q has %d fields, header has %d", line, len(rec), len(header))
		}
		num := func(name string) (float64, error) {
			v, err := strconv.ParseFloat(rec[col[name]], 64)
			if err != nil {
				return 0, fmt.Errorf("redis-benchmark csv line %q: column %s: %w", line, name, err)
			}
			return v, nil
		}
		row := BenchmarkRow{Test: rec[col["test"]]}
		for name, dst := range map[string]*float64{"rps": &row.RPS, "avg_latency_ms": &row.AvgMs,
			"p50_latency_ms": &row.P50Ms, "p95_latency_ms": &row.P95Ms, "p99_latency_ms": &row.P99Ms} {
			if *dst, err = num(name); err != nil {
				return nil, err
			}
		}
		rows = append(rows, row)
	}
	if header == nil {
		return nil, fmt.Errorf("redis-benchmark printed no csv header; output was %q", truncate(string(data), 200))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("redis-benchmark printed a header but no results; output was %q", truncate(string(data), 200))
	}
	return rows, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
