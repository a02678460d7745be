package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

const xrd = `apiVersion: apiextensions.crossplane.io/v1
kind: CompositeResourceDefinition
metadata:
  name: xredishas.redisha.io
spec:
  group: redisha.io
  names:
    kind: XRedisHA
    plural: xredishas
  claimNames:
    kind: RedisHAClaim
    plural: redishaclaims
`

const claim = `# a comment
apiVersion: redisha.io/v1alpha1
kind: RedisHAClaim
metadata:
  name: sessions
  namespace: team-a
  labels:
    team: a
spec:
  size: medium
  compositeDeletePolicy: Foreground
  writeConnectionSecretToRef:
    name: sessions-conn
`

func TestXRFor(t *testing.T) {
	cases := map[string]struct {
		reason string
		claim  string
		xrd    string
		want   string // YAML of the XR; empty when err is set
		err    string
	}{
		"Claim": {
			reason: "the XR carries the claim's spec, claim labels and claimRef, cluster scoped",
			claim:  claim,
			xrd:    xrd,
			want: `apiVersion: redisha.io/v1alpha1
kind: XRedisHA
metadata:
  name: sessions-claim
  labels:
    team: a
    crossplane.io/claim-name: sessions
    crossplane.io/claim-namespace: team-a
    crossplane.io/composite: sessions-claim
spec:
  size: medium
  claimRef:
    apiVersion: redisha.io/v1alpha1
    kind: RedisHAClaim
    name: sessions
    namespace: team-a
`,
		},
		"WrongKind": {
			reason: "an XR is not a claim",
			claim:  strings.Replace(claim, "kind: RedisHAClaim", "kind: RedisHA", 1),
			xrd:    xrd,
			err:    "but the XRD's claim is RedisHAClaim",
		},
		"WrongGroup": {
			reason: "the claim must belong to the XRD's group",
			claim:  strings.Replace(claim, "redisha.io/v1alpha1", "other.io/v1", 1),
			xrd:    xrd,
			err:    "in group redisha.io",
		},
		"NoNamespace": {
			reason: "claims are namespaced",
			claim:  strings.Replace(claim, "  namespace: team-a\n", "", 1),
			xrd:    xrd,
			err:    "has no metadata.namespace",
		},
		"XRDWithoutClaims": {
			reason: "a v2 namespaced XRD offers no claim",
			claim:  claim,
			xrd:    strings.Split(xrd, "  claimNames:")[0],
			err:    "spec.claimNames",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := xrFor([]byte(tc.claim), []byte(tc.xrd))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			var got, want map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: XR (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
