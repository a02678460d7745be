package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// event is one line of demo-app's output. Event names: "start", "progress", "verify",
// "resumed" (the first acknowledged write after a gap of at least --gap-report) and "summary".
type event struct {
	Event string    `json:"event"`
	Time  time.Time `json:"time"`

	// Acked counts writes Redis answered OK; Failed those that got an error or no answer
	// (their fate is unknown, so they are never counted as lost).
	Acked      uint64 `json:"acked"`
	Failed     uint64 `json:"failed"`
	Reconnects uint64 `json:"reconnects"`
	// Reads counts read-backs of earlier acknowledged keys; ReadsMissing those that came back
	// empty or with another value.
	Reads        uint64 `json:"reads"`
	ReadsMissing uint64 `json:"readsMissing"`

	// MaxGapMs is the longest time between two acknowledged writes since the previous
	// "verify" event; TotalMaxGapMs since the start.
	MaxGapMs      float64 `json:"maxGapMs"`
	TotalMaxGapMs float64 `json:"totalMaxGapMs"`

	// Checked and Missing are set on "verify" and "summary": how many acknowledged keys were
	// read back, and how many of them were gone or changed.
	Checked uint64 `json:"checked,omitempty"`
	Missing uint64 `json:"missing"`

	// GapMs and GapStart are set on "resumed": how long no write was acknowledged, and when
	// the last acknowledged write before the gap was.
	GapMs    float64   `json:"gapMs,omitempty"`
	GapStart time.Time `json:"gapStart,omitzero"`

	Addr      string `json:"addr,omitempty"`
	KeyPrefix string `json:"keyPrefix,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

// reporter writes events as JSON lines; safe for concurrent use.
type reporter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newReporter(w io.Writer) *reporter {
	return &reporter{enc: json.NewEncoder(w)}
}

func (r *reporter) emit(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.enc.Encode(e) // stdout going away is no reason to stop writing to Redis
}
