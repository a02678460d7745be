package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Timeline is a figure of stacked panels, each showing lanes of per-bucket counts over
// the same time span, with vertical markers. It is written as a self-contained SVG.
type Timeline struct {
	// Title and Subtitle head the figure.
	Title, Subtitle string
	// Bucket is the bar width in time; Span is the time shown per panel.
	Bucket, Span time.Duration
	// AxisOffset is the axis label at a panel's left edge (e.g. -300ms: the event is at 0).
	AxisOffset time.Duration
	// Panels are drawn top to bottom.
	Panels []TimelinePanel
}

// TimelinePanel is one window of the timeline.
type TimelinePanel struct {
	Title   string
	Lanes   []TimelineLane
	Markers []TimelineMarker
}

// TimelineLane is one row of bars: OK[i] and Bad[i] are the counts of bucket i, drawn
// stacked (Bad in red on top).
type TimelineLane struct {
	Name, Color string
	OK, Bad     []int
}

// TimelineMarker is a vertical line at At (from the panel's left edge).
type TimelineMarker struct {
	At           time.Duration
	Label, Color string
	Dashed       bool
}

const (
	svgWidth      = 1200
	svgLeft       = 150
	svgRight      = 20
	svgLaneHeight = 44
	svgLaneGap    = 6
	svgPanelHead  = 38
	svgAxis       = 30
	svgBadColor   = "#d62728"
)

// WriteSVG renders the timeline. All panels share the time and count scales.
func (t Timeline) WriteSVG(w io.Writer) error {
	if t.Bucket <= 0 || t.Span <= 0 {
		return fmt.Errorf("timeline: Bucket and Span must be positive, got %s and %s", t.Bucket, t.Span)
	}
	nb := int((t.Span + t.Bucket - 1) / t.Bucket)
	maxCount := 1
	for _, p := range t.Panels {
		for _, l := range p.Lanes {
			for i := range max(len(l.OK), len(l.Bad)) {
				maxCount = max(maxCount, at(l.OK, i)+at(l.Bad, i))
			}
		}
	}
	plotW := float64(svgWidth - svgLeft - svgRight)
	bw := plotW / float64(nb)
	x := func(d time.Duration) float64 { return svgLeft + plotW*float64(d)/float64(t.Span) }

	// Legend entries: every distinct lane, "lost", every distinct marker label.
	type legend struct {
		label, color string
		line, dash   bool
	}
	var legends []legend
	seen := map[string]bool{}
	for _, p := range t.Panels {
		for _, l := range p.Lanes {
			if !seen["lane:"+l.Name] {
				seen["lane:"+l.Name] = true
				legends = append(legends, legend{label: "acked writes via " + l.Name, color: l.Color})
			}
		}
	}
	legends = append(legends, legend{label: "acked but lost (not on the final master)", color: svgBadColor})
	for _, p := range t.Panels {
		for _, m := range p.Markers {
			if !seen["marker:"+m.Label] {
				seen["marker:"+m.Label] = true
				legends = append(legends, legend{label: m.Label, color: m.Color, line: true, dash: m.Dashed})
			}
		}
	}
	legendRows := (len(legends) + 2) / 3
	top := 58 + legendRows*18 + 10
	panelH := func(p TimelinePanel) int {
		return svgPanelHead + len(p.Lanes)*(svgLaneHeight+svgLaneGap) + svgAxis
	}
	height := top
	for _, p := range t.Panels {
		height += panelH(p)
	}
	height += 10

	bw2 := bufio.NewWriter(w)
	pf := func(format string, a ...any) { fmt.Fprintf(bw2, format, a...) }
	pf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	pf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	pf(`<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", svgWidth, height)
	pf(`<text x="%d" y="24" font-size="17" font-weight="bold">%s</text>`+"\n", svgLeft-140, esc(t.Title))
	pf(`<text x="%d" y="44" fill="#444">%s</text>`+"\n", svgLeft-140, esc(t.Subtitle))
	for i, l := range legends {
		lx := 10 + (i%3)*390
		ly := 58 + (i/3)*18
		if l.line {
			dash := ""
			if l.dash {
				dash = ` stroke-dasharray="4,3"`
			}
			pf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly+6, lx+18, ly+6, l.color, dash)
		} else {
			pf(`<rect x="%d" y="%d" width="18" height="12" fill="%s"/>`+"\n", lx, ly, l.color)
		}
		pf(`<text x="%d" y="%d">%s</text>`+"\n", lx+24, ly+11, esc(l.label))
	}

	y := top
	for _, p := range t.Panels {
		pf(`<g class="panel">` + "\n")
		pf(`<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", 10, y+22, esc(p.Title))
		laneTop := y + svgPanelHead
		for li, l := range p.Lanes {
			ly := laneTop + li*(svgLaneHeight+svgLaneGap)
			pf(`<rect x="%d" y="%d" width="%.0f" height="%d" fill="#f4f4f4"/>`+"\n", svgLeft, ly, plotW, svgLaneHeight)
			pf(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgLeft-8, ly+svgLaneHeight/2+4, esc(l.Name))
			for i := 0; i < nb && i < max(len(l.OK), len(l.Bad)); i++ {
				ok, bad := at(l.OK, i), at(l.Bad, i)
				if ok+bad == 0 {
					continue
				}
				hOK := float64(svgLaneHeight) * float64(ok) / float64(maxCount)
				hBad := float64(svgLaneHeight) * float64(bad) / float64(maxCount)
				base := float64(ly + svgLaneHeight)
				bx := svgLeft + float64(i)*bw
				if ok > 0 {
					pf(`<rect class="ok" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"/>`+"\n", bx, base-hOK, bw, hOK, l.Color)
				}
				if bad > 0 {
					pf(`<rect class="bad" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"/>`+"\n", bx, base-hOK-hBad, bw, hBad, svgBadColor)
				}
			}
		}
		plotBottom := laneTop + len(p.Lanes)*(svgLaneHeight+svgLaneGap) - svgLaneGap
		for _, m := range p.Markers {
			if m.At < 0 || m.At > t.Span {
				continue
			}
			dash := ""
			if m.Dashed {
				dash = ` stroke-dasharray="4,3"`
			}
			pf(`<line class="marker" x1="%.2f" y1="%d" x2="%.2f" y2="%d" stroke="%s" stroke-width="2"%s><title>%s</title></line>`+"\n",
				x(m.At), laneTop-4, x(m.At), plotBottom, m.Color, dash, esc(m.Label))
		}
		// Time axis: a tick every 250 ms, labelled every 500 ms, relative to the event.
		pf(`<line x1="%d" y1="%d" x2="%.0f" y2="%d" stroke="black"/>`+"\n", svgLeft, plotBottom, svgLeft+plotW, plotBottom)
		step := 250 * time.Millisecond
		first := ((t.AxisOffset + step - 1) / step) * step
		if t.AxisOffset < 0 {
			first = (t.AxisOffset / step) * step
		}
		for tick := first; tick <= t.AxisOffset+t.Span; tick += step {
			tx := x(tick - t.AxisOffset)
			if tx < svgLeft-0.5 {
				continue
			}
			pf(`<line x1="%.2f" y1="%d" x2="%.2f" y2="%d" stroke="black"/>`+"\n", tx, plotBottom, tx, plotBottom+4)
			if tick%(2*step) == 0 {
				pf(`<text x="%.2f" y="%d" text-anchor="middle" font-size="10">%s</text>`+"\n", tx, plotBottom+15, fmtSeconds(tick))
			}
		}
		pf(`<text x="%d" y="%d" text-anchor="end" font-size="10" fill="#444">s after event; bars: acked writes per %s (max %d)</text>`+"\n",
			svgWidth-svgRight, plotBottom+27, t.Bucket, maxCount)
		pf("</g>\n")
		y += panelH(p)
	}
	pf("</svg>\n")
	return bw2.Flush()
}

func at(xs []int, i int) int {
	if i < len(xs) {
		return xs[i]
	}
	return 0
}

func fmtSeconds(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", d.Seconds()), "0"), ".")
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
