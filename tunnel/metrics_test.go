package tunnel

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// masterSeries lists the redis_ha_tunnel_master series of m as name=addr, sorted; each
// must be 1.
func masterSeries(t *testing.T, m *metrics) []string {
	t.Helper()
	mfs, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, mf := range mfs {
		if mf.GetName() != "redis_ha_tunnel_master" {
			continue
		}
		for _, s := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if v := s.GetGauge().GetValue(); v != 1 {
				t.Errorf("redis_ha_tunnel_master%v = %v, want 1", labels, v)
			}
			series = append(series, labels["name"]+"="+labels["addr"])
		}
	}
	slices.Sort(series)
	return series
}

func TestSetMaster(t *testing.T) {
	type move struct{ name, from, to string }
	cases := map[string]struct {
		reason string
		moves  []move
		want   []string
	}{
		"First": {
			reason: "the first verified master gets its series",
			moves:  []move{{"mymaster", "", "10.0.0.1:6379"}},
			want:   []string{"mymaster=10.0.0.1:6379"},
		},
		"Failovers": {
			reason: "each cutover leaves only the new master's series",
			moves: []move{
				{"mymaster", "", "10.0.0.1:6379"},
				{"mymaster", "10.0.0.1:6379", "10.0.0.2:6379"},
				{"mymaster", "10.0.0.2:6379", "10.0.0.1:6379"},
			},
			want: []string{"mymaster=10.0.0.1:6379"},
		},
		"Names": {
			reason: "master names are independent",
			moves: []move{
				{"cache", "", "10.0.0.1:6379"},
				{"sessions", "", "10.0.0.3:6379"},
				{"cache", "10.0.0.1:6379", "10.0.0.2:6379"},
			},
			want: []string{"cache=10.0.0.2:6379", "sessions=10.0.0.3:6379"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMetrics()
			for _, mv := range tc.moves {
				m.setMaster(mv.name, mv.from, mv.to)
			}
			if diff := cmp.Diff(tc.want, masterSeries(t, m)); diff != "" {
				t.Errorf("%s: series -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}
