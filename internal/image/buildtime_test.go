package image

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseBuildTime(t *testing.T) {
	type want struct {
		time time.Time
		err  string // how the error starts; empty means success
	}
	cases := map[string]struct {
		reason string
		from   string
		value  string
		want   want
	}{
		"Unset": {
			reason: "no value means the Unix epoch, as Spec.Created's zero value does",
			from:   SourceDateEpochEnv,
			want:   want{time: time.Unix(0, 0).UTC()},
		},
		"Seconds": {
			reason: "whole Unix seconds, as `git log -1 --format=%ct` prints them, in UTC",
			from:   SourceDateEpochEnv,
			value:  "1700000000",
			want:   want{time: time.Date(2023, time.November, 14, 22, 13, 20, 0, time.UTC)},
		},
		"Words": {
			reason: "anything else is refused, naming where it came from and the fix",
			from:   SourceDateEpochEnv,
			value:  "yesterday",
			want:   want{err: `SOURCE_DATE_EPOCH "yesterday": use Unix seconds, e.g. $(git log -1 --format=%ct)`},
		},
		"Fraction": {
			reason: "the spec allows whole seconds only",
			from:   "--created",
			value:  "1700000000.5",
			want:   want{err: `--created "1700000000.5": use Unix seconds`},
		},
		"Negative": {
			reason: "times before the epoch are no commit times",
			from:   "--created",
			value:  "-1",
			want:   want{err: `--created "-1": use Unix seconds`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBuildTime(tc.from, tc.value)
			if tc.want.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.want.err) {
					t.Errorf("%s: ParseBuildTime(%q, %q) error = %v, want it to start with %q", tc.reason, tc.from, tc.value, err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want.time, got); diff != "" {
				t.Errorf("%s: ParseBuildTime(%q, %q) -want +got:\n%s", tc.reason, tc.from, tc.value, diff)
			}
		})
	}
}
