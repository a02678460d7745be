package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

const configuration = `# comment
apiVersion: meta.pkg.crossplane.io/v1
kind: Configuration
metadata:
  name: configuration-redis-ha
spec:
  crossplane:
    version: ">=v2.0.0"
  dependsOn:
  - apiVersion: pkg.crossplane.io/v1
    kind: Function
    package: xpkg.crossplane.io/crossplane-contrib/function-other
    version: ">=v0.1.0"
  - apiVersion: pkg.crossplane.io/v1
    kind: Function
    package: xpkg.crossplane.io/redis-ha/function-redis-ha
    version: ">=v0.0.0-0"
`

func TestPin(t *testing.T) {
	type want struct {
		versions map[string]string // package -> version after pinning
		err      string
	}
	cases := map[string]struct {
		reason  string
		doc     string
		pkg     string
		version string
		want    want
	}{
		"PinsOnlyTheNamedPackage": {
			reason:  "the Function of the release is pinned, other dependencies keep their constraints",
			doc:     configuration,
			pkg:     "xpkg.crossplane.io/redis-ha/function-redis-ha",
			version: "v0.1.0",
			want: want{versions: map[string]string{
				"xpkg.crossplane.io/crossplane-contrib/function-other": ">=v0.1.0",
				"xpkg.crossplane.io/redis-ha/function-redis-ha":        "v0.1.0",
			}},
		},
		"PreRelease": {
			reason:  "release candidates are versions too",
			doc:     configuration,
			pkg:     "xpkg.crossplane.io/redis-ha/function-redis-ha",
			version: "v0.2.0-rc.1",
			want: want{versions: map[string]string{
				"xpkg.crossplane.io/crossplane-contrib/function-other": ">=v0.1.0",
				"xpkg.crossplane.io/redis-ha/function-redis-ha":        "v0.2.0-rc.1",
			}},
		},
		"UnknownPackage": {
			reason:  "a renamed package must not ship unpinned",
			doc:     configuration,
			pkg:     "xpkg.crossplane.io/redis-ha/function-renamed",
			version: "v0.1.0",
			want:    want{err: `no spec.dependsOn entry has package "xpkg.crossplane.io/redis-ha/function-renamed"`},
		},
		"NotAVersion": {
			reason:  "a git describe output is not a release version",
			doc:     configuration,
			pkg:     "xpkg.crossplane.io/redis-ha/function-redis-ha",
			version: "a353913-dirty",
			want:    want{err: `--version "a353913-dirty"`},
		},
		"NotYAML": {
			reason:  "broken input is reported",
			doc:     "spec: [",
			pkg:     "p",
			version: "v1.0.0",
			want:    want{err: "decoding crossplane.yaml"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := pin([]byte(tc.doc), tc.pkg, tc.version)
			if tc.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.err) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Spec struct {
					Crossplane struct {
						Version string `json:"version"`
					} `json:"crossplane"`
					DependsOn []struct {
						Package string `json:"package"`
						Version string `json:"version"`
					} `json:"dependsOn"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(out, &meta); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, d := range meta.Spec.DependsOn {
				got[d.Package] = d.Version
			}
			if diff := cmp.Diff(tc.want.versions, got); diff != "" {
				t.Errorf("%s: dependency versions (-want +got):\n%s", tc.reason, diff)
			}
			if meta.Kind != "Configuration" || meta.Metadata.Name != "configuration-redis-ha" || meta.Spec.Crossplane.Version != ">=v2.0.0" {
				t.Errorf("%s: the rest of the document changed: kind %q name %q crossplane %q", tc.reason, meta.Kind, meta.Metadata.Name, meta.Spec.Crossplane.Version)
			}
		})
	}
}
