package bench

import (
	"fmt"
	"time"
)

// Lane colours of the chaos timeline.
var pathColors = map[string]string{TargetTunnel: "#1f77b4", TargetHAProxy: "#ff7f0e"}

// timelineLead is how much of each round is shown before its event.
const timelineLead = 300 * time.Millisecond

// timelineMaxSpan caps the time shown per panel.
const timelineMaxSpan = 5 * time.Second

// Timeline builds the chaos figure: one panel per round, from 300 ms before the event
// to the latest of promotion, +switch-master and the paths' first surviving writes (plus
// 500 ms, at most 5 s), the same span for every panel; acked writes per bucket, lost ones in red.
func (r *ChaosReport) Timeline(bucket time.Duration) Timeline {
	span := 1500 * time.Millisecond
	for _, round := range r.Rounds {
		last := max(round.Promoted, round.SwitchMaster)
		for _, p := range r.Paths {
			if a := r.Analyze(p, round); a.FirstWrite >= 0 {
				last = max(last, round.Promoted+a.FirstWrite)
			}
		}
		if last > 0 {
			span = max(span, last-round.Start+timelineLead+500*time.Millisecond)
		}
	}
	// A proxy that takes many seconds (HAProxy after a graceful failover) would squeeze
	// every panel; its figures are in the panel title anyway.
	span = min(span, timelineMaxSpan)
	span = ((span + bucket - 1) / bucket) * bucket
	t := Timeline{
		Title: fmt.Sprintf("Writes through a failover: redis-ha tunnel vs HAProxy (Helm chart config), %s",
			r.Started.UTC().Format("2006-01-02 15:04 MST")),
		Subtitle: fmt.Sprintf("make chaos-tunnel: 1 master + 2 replicas + 3 Sentinels on loopback, down-after %d ms; one writer per path, sequential SETs of unique keys; load average %s",
			r.Options.DownAfter.Milliseconds(), r.LoadBefore),
		Bucket: bucket, Span: span, AxisOffset: -timelineLead,
	}
	for _, round := range r.Rounds {
		start := round.Start - timelineLead
		p := TimelinePanel{Title: fmt.Sprintf("round %d: %s", round.Index, round.Kind)}
		for _, path := range r.Paths {
			a := r.Analyze(path, round)
			p.Title += fmt.Sprintf("   |   %s: %d lost, first write %s after promotion, gap %s", path.Name, a.Lost,
				durOrNone(a.FirstWrite), a.Gap.Round(time.Millisecond))
			var ok, bad []time.Duration
			for _, ack := range path.Acks {
				if ack.Lost {
					bad = append(bad, ack.At)
				} else {
					ok = append(ok, ack.At)
				}
			}
			p.Lanes = append(p.Lanes, TimelineLane{Name: path.Name, Color: pathColors[path.Name],
				OK: Bucketize(ok, start, start+span, bucket), Bad: Bucketize(bad, start, start+span, bucket)})
		}
		p.Markers = append(p.Markers, TimelineMarker{At: timelineLead, Label: "failover command / kill -9", Color: "black"})
		if round.Promoted > 0 {
			p.Markers = append(p.Markers, TimelineMarker{At: round.Promoted - start, Label: "replica answers ROLE master (promotion)", Color: "#2ca02c"})
		}
		if round.SwitchMaster > 0 {
			p.Markers = append(p.Markers, TimelineMarker{At: round.SwitchMaster - start, Label: "first +switch-master", Color: "#9467bd", Dashed: true})
		}
		t.Panels = append(t.Panels, p)
	}
	return t
}
