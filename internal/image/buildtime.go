package image

import (
	"fmt"
	"strconv"
	"time"
)

// SourceDateEpochEnv is the environment variable reproducible builds take their time from
// (https://reproducible-builds.org/specs/source-date-epoch/): whole Unix seconds, usually the
// time of the last commit.
const SourceDateEpochEnv = "SOURCE_DATE_EPOCH"

// ParseBuildTime parses value, a time in whole Unix seconds as SourceDateEpochEnv holds it,
// into the UTC time a reproducible build records (Spec.Created, the file times of a release
// archive). An empty value means the Unix epoch. from names where value came from (a flag
// such as --created, or SOURCE_DATE_EPOCH) in the error, which also says how to get a good one.
func ParseBuildTime(from, value string) (time.Time, error) {
	if value == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	secs, err := strconv.ParseInt(value, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("%s %q: use Unix seconds, e.g. $(git log -1 --format=%%ct)", from, value)
	}
	return time.Unix(secs, 0).UTC(), nil
}
