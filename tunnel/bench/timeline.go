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

// Timeline builds the chaos figure: one panel per round, each lane from 300 ms before
// its cluster's event to the latest of promotion, +switch-master and the paths' first
// surviving writes (plus 500 ms, at most 5 s), the same span for every panel; acked
// writes per bucket, lost ones in red; markers in the colour of the path whose cluster
// they belong to.
func (r *ChaosReport) Timeline(bucket time.Duration) Timeline {
	span := 1500 * time.Millisecond
	for _, p := range r.Paths {
		for i, round := range p.Rounds {
			last := max(round.Promoted, round.SwitchMaster)
			if a := p.Analyze(i); a.FirstWrite >= 0 {
				last = max(last, round.Promoted+a.FirstWrite)
			}
			if last > 0 {
				span = max(span, last-round.Start+timelineLead+500*time.Millisecond)
			}
		}
	}
	// A proxy that takes many seconds (HAProxy after a graceful failover) would squeeze
	// every panel; its figures are in the panel title anyway.
	span = min(span, timelineMaxSpan)
	span = ((span + bucket - 1) / bucket) * bucket
	t := Timeline{
		Title: fmt.Sprintf("Writes through a failover: redis-ha tunnel vs HAProxy (Helm chart config), %s",
			r.Started.UTC().Format("2006-01-02 15:04 MST")),
		Subtitle: fmt.Sprintf("make chaos-tunnel: per path 1 master + 2 replicas + 3 Sentinels on loopback, down-after %d ms, the same failover on both at once; one writer per path, sequential SETs of unique keys; load average %s",
			r.Options.DownAfter.Milliseconds(), r.LoadBefore),
		Bucket: bucket, Span: span, AxisOffset: -timelineLead,
	}
	for i, round := range r.Rounds() {
		p := TimelinePanel{Title: fmt.Sprintf("round %d: %s", round.Index, round.Kind)}
		p.Markers = append(p.Markers, TimelineMarker{At: timelineLead, Label: "failover command / kill -9", Color: "black"})
		for _, path := range r.Paths {
			if i >= len(path.Rounds) {
				continue
			}
			pr, a := path.Rounds[i], path.Analyze(i)
			// Each path's lane starts at its own round start (the failovers are sent to
			// both clusters within a millisecond).
			start := pr.Start - timelineLead
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
			if pr.Promoted > 0 {
				p.Markers = append(p.Markers, TimelineMarker{At: pr.Promoted - start, Label: "promotion behind " + path.Name, Color: pathColors[path.Name]})
			}
			if pr.SwitchMaster > 0 {
				p.Markers = append(p.Markers, TimelineMarker{At: pr.SwitchMaster - start, Label: "+switch-master behind " + path.Name, Color: pathColors[path.Name], Dashed: true})
			}
		}
		t.Panels = append(t.Panels, p)
	}
	return t
}
