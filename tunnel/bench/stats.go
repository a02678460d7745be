package bench

import (
	"slices"
	"time"
)

// Median returns the median of xs (mean of the two middle values for an even count),
// or 0 for no values. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Bucketize counts the times in [start, end) per bucket of width; times outside are
// ignored. The result has ceil((end-start)/width) buckets.
func Bucketize(times []time.Duration, start, end, width time.Duration) []int {
	if width <= 0 || end <= start {
		return nil
	}
	n := int((end - start + width - 1) / width)
	out := make([]int, n)
	for _, t := range times {
		if t < start || t >= end {
			continue
		}
		out[int((t-start)/width)]++
	}
	return out
}

// LongestGap returns the longest interval between consecutive times (sorted ascending)
// inside [from, to], counting from `from` to the first time and from the last time to
// `to` as gaps too, and the time the gap started. No times at all is one gap from..to.
func LongestGap(sorted []time.Duration, from, to time.Duration) (gap, at time.Duration) {
	prev := from
	for _, t := range sorted {
		if t < from {
			continue
		}
		if t > to {
			break
		}
		if t-prev > gap {
			gap, at = t-prev, prev
		}
		prev = t
	}
	if to-prev > gap {
		gap, at = to-prev, prev
	}
	return gap, at
}
