package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Report is the demo's closing report; `--report FILE` writes it as JSON too.
type Report struct {
	// Composed lists what the function composed, one "Kind/name" each.
	Composed []string `json:"composed"`
	// Phases are the failovers, in order.
	Phases []phase `json:"phases"`
	// AckedWrites is how many writes the application got acknowledged in all.
	AckedWrites uint64 `json:"ackedWrites"`
	// FailedWrites got an error or no answer; their fate is unknown, so they are not lost.
	FailedWrites uint64 `json:"failedWrites"`
	// MissingAtEnd is how many acknowledged writes the final check did not find.
	MissingAtEnd uint64 `json:"missingAtEnd"`
	// CurrentMaster is the Redis process that leads at the end.
	CurrentMaster string `json:"currentMaster"`
	// Rejoined says where the killed master came back.
	Rejoined string `json:"rejoined"`
}

// graceful returns the graceful failover phase, if it ran.
func (r *Report) graceful() (phase, bool) {
	for _, p := range r.Phases {
		if strings.HasPrefix(p.Name, "graceful") {
			return p, true
		}
	}
	return phase{}, false
}

// check returns why the report breaks the promise of redis-ha, or nil: no acknowledged write
// may be lost on a graceful failover.
func (r *Report) check() error {
	p, ok := r.graceful()
	if !ok {
		return fmt.Errorf("the graceful failover did not run")
	}
	if p.AckedSoFar == 0 {
		return fmt.Errorf("no write was acknowledged through the tunnel before the graceful failover was checked")
	}
	if p.AckedMissing > 0 {
		return fmt.Errorf("%d acknowledged writes were lost on the graceful failover; redis-ha promises none", p.AckedMissing)
	}
	return nil
}

// print writes the report for people.
func (r *Report) print(w io.Writer) {
	fmt.Fprintln(w, "\nredis-ha demo report")
	fmt.Fprintf(w, "  %-34s %d\n", "failovers", len(r.Phases))
	for _, p := range r.Phases {
		fmt.Fprintf(w, "  %-34s %s -> %s, promoted after %.0f ms\n", p.Name, p.OldMaster, p.NewMaster, p.PromotedAfterMs)
		fmt.Fprintf(w, "    %-32s %d\n", "acked writes missing afterwards", p.AckedMissing)
		fmt.Fprintf(w, "    %-32s %.1f ms\n", "longest write gap", p.LongestWriteGapMs)
		if p.FirstWriteAfterPromotionMs >= 0 {
			fmt.Fprintf(w, "    %-32s %.1f ms\n", "first write after promotion", p.FirstWriteAfterPromotionMs)
		}
	}
	fmt.Fprintf(w, "  %-34s %d\n", "writes acknowledged", r.AckedWrites)
	fmt.Fprintf(w, "  %-34s %d\n", "writes failed (client saw an error)", r.FailedWrites)
	fmt.Fprintf(w, "  %-34s %d\n", "acked writes missing at the end", r.MissingAtEnd)
	fmt.Fprintf(w, "  %-34s %s\n", "current master", r.CurrentMaster)
	fmt.Fprintf(w, "  %-34s %s\n", "old master", r.Rejoined)
}

// writeJSON writes the report to path.
func (r *Report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
