package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/internal/image"
)

// parsed is what the tests compare of options (name.Tag has unexported fields).
type parsed struct {
	Binaries  []string // "os/arch=path"
	Tag       string
	Output    string
	OCILayout string
	Spec      image.Spec
}

func summarize(o options) parsed {
	p := parsed{Tag: o.tag.String(), Output: o.output, OCILayout: o.ociLayout, Spec: o.spec}
	for _, b := range o.binaries {
		p.Binaries = append(p.Binaries, b.platform.String()+"="+b.path)
	}
	return p
}

func TestParseFlags(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	type want struct {
		parsed parsed
		err    string // substring; empty means success
	}
	cases := map[string]struct {
		reason string
		args   []string
		env    map[string]string
		want   want
	}{
		"Tarball": {
			reason: "the make image-tunnel invocation",
			args: []string{"--binary", "out/redis-ha-tunnel", "--tag", "ghcr.io/redis-ha/redis-ha-tunnel:v0.1.0",
				"--output", "out/t.tar", "--port", "6379", "--port", "8080/tcp", "--arg", "--log-format=json",
				"--env", "A=b", "--label", "k=v", "--source", "https://github.com/redis-ha/redis-ha", "--version", "v0.1.0"},
			env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"},
			want: want{parsed: parsed{
				Binaries: []string{"linux/amd64=out/redis-ha-tunnel"},
				Tag:      "ghcr.io/redis-ha/redis-ha-tunnel:v0.1.0",
				Output:   "out/t.tar",
				Spec: image.Spec{
					Name: "redis-ha-tunnel", Args: []string{"--log-format=json"}, Env: []string{"A=b"},
					ExposedPorts: []string{"6379", "8080/tcp"}, Labels: map[string]string{"k": "v"},
					Source: "https://github.com/redis-ha/redis-ha", Version: "v0.1.0",
					Created: time.Unix(1700000000, 0).UTC(),
				},
			}},
		},
		"MultiPlatformLayout": {
			reason: "per-binary platforms for a release index; --created wins over the environment",
			args: []string{"--binary", "linux/amd64=a/x", "--binary", "linux/arm64=b/x", "--name", "prog",
				"--tag", "example.com/prog:v1", "--oci-layout", "out/prog", "--created", "5"},
			env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"},
			want: want{parsed: parsed{
				Binaries:  []string{"linux/amd64=a/x", "linux/arm64=b/x"},
				Tag:       "example.com/prog:v1",
				OCILayout: "out/prog",
				Spec:      image.Spec{Name: "prog", Created: time.Unix(5, 0).UTC()},
			}},
		},
		"DefaultPlatformFlag": {
			reason: "a --binary without platform takes --platform",
			args:   []string{"--binary", "x", "--platform", "linux/arm64", "--tag", "r/x:1", "--output", "o"},
			want: want{parsed: parsed{
				Binaries: []string{"linux/arm64=x"}, Tag: "r/x:1", Output: "o",
				Spec: image.Spec{Name: "x", Created: time.Unix(0, 0).UTC()},
			}},
		},
		"NoBinary": {
			reason: "the binary is required",
			args:   []string{"--tag", "r/x:1", "--output", "o"},
			want:   want{err: "--binary is required"},
		},
		"NoTag": {
			reason: "the tarball needs a reference",
			args:   []string{"--binary", "x", "--output", "o"},
			want:   want{err: "--tag is required"},
		},
		"BadTag": {
			reason: "references are parsed",
			args:   []string{"--binary", "x", "--tag", "UPPER/x:1", "--output", "o"},
			want:   want{err: `--tag "UPPER/x:1"`},
		},
		"NoOutput": {
			reason: "an output is required",
			args:   []string{"--binary", "x", "--tag", "r/x:1"},
			want:   want{err: "give --output PATH"},
		},
		"TarballOfTwo": {
			reason: "a tarball holds one platform",
			args:   []string{"--binary", "linux/amd64=a", "--binary", "linux/arm64=b", "--tag", "r/x:1", "--output", "o"},
			want:   want{err: "use --oci-layout for several platforms"},
		},
		"BadBinaryPlatform": {
			reason: "a platform prefix needs OS/ARCH and a path",
			args:   []string{"--binary", "linux/amd64=", "--tag", "r/x:1", "--output", "o"},
			want:   want{err: `--binary "linux/amd64="`},
		},
		"BadPlatform": {
			reason: "--platform needs OS/ARCH",
			args:   []string{"--binary", "x", "--platform", "linux", "--tag", "r/x:1", "--output", "o"},
			want:   want{err: `--platform "linux"`},
		},
		"BadLabel": {
			reason: "labels need KEY=VALUE",
			args:   []string{"--binary", "x", "--tag", "r/x:1", "--output", "o", "--label", "novalue"},
			want:   want{err: `--label "novalue"`},
		},
		"BadSourceDateEpoch": {
			reason: "a broken SOURCE_DATE_EPOCH is named",
			args:   []string{"--binary", "x", "--tag", "r/x:1", "--output", "o"},
			env:    map[string]string{"SOURCE_DATE_EPOCH": "yesterday"},
			want:   want{err: `SOURCE_DATE_EPOCH "yesterday"`},
		},
		"StrayArgument": {
			reason: "positional arguments are mistakes",
			args:   []string{"--binary", "x", "--tag", "r/x:1", "--output", "o", "extra"},
			want:   want{err: `unexpected argument "extra"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := parseFlags(tc.args, env(tc.env), io.Discard)
			if tc.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.err) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want.parsed, summarize(o)); diff != "" {
				t.Errorf("%s: options (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
