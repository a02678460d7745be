package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCollectKWOKStages(t *testing.T) {
	write := func(t *testing.T, root, rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(t *testing.T) string {
		root := t.TempDir()
		for _, d := range kwokStageDirs {
			write(t, root, d+"/kustomization.yaml", "resources: []\n")
			write(t, root, d+"/stage.yaml", "kind: Stage\nmetadata: {name: "+filepath.Base(d)+"}\n")
		}
		write(t, root, "volume/fast/storage-class.yaml", "kind: StorageClass\nmetadata: {name: kwok-volume}\n")
		return root
	}
	cases := map[string]struct {
		reason     string
		root       func(t *testing.T) string
		wantStages int
		wantErr    string
	}{
		"AllStageSets": {
			reason:     "one Stage document per file, kustomizations and the StorageClass left out",
			root:       complete,
			wantStages: len(kwokStageDirs),
		},
		"WrongDirectory": {
			reason:  "pointing E2E_KWOK_STAGES elsewhere must say what it should be",
			root:    func(t *testing.T) string { return t.TempDir() },
			wantErr: "E2E_KWOK_STAGES must be the kustomize/stage directory",
		},
		"NoStorageClass": {
			reason: "without the kwok-volume class, volume claims would never bind",
			root: func(t *testing.T) string {
				root := complete(t)
				if err := os.Remove(filepath.Join(root, "volume/fast/storage-class.yaml")); err != nil {
					t.Fatal(err)
				}
				return root
			},
			wantErr: "no StorageClass",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stages, sc, err := collectKWOKStages(tc.root(t))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error = %v, want it to contain %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.wantStages, strings.Count(string(stages), "kind: Stage")); diff != "" {
				t.Errorf("%s: Stage documents (-want +got):\n%s", tc.reason, diff)
			}
			if strings.Contains(string(stages), "StorageClass") || strings.Contains(string(stages), "resources:") {
				t.Errorf("%s: stages contain a StorageClass or kustomization:\n%s", tc.reason, stages)
			}
			if !strings.Contains(string(sc), "kind: StorageClass") {
				t.Errorf("%s: StorageClass not returned separately: %q", tc.reason, sc)
			}
		})
	}
}

func TestFakeNodes(t *testing.T) {
	out := string(fakeNodes(4))
	if got := strings.Count(out, "kind: Node\n"); got != 4 {
		t.Errorf("%d Node documents, want 4", got)
	}
	zones := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if z, ok := strings.CutPrefix(strings.TrimSpace(line), "topology.kubernetes.io/zone: "); ok {
			zones[z]++
		}
	}
	if diff := cmp.Diff(map[string]int{"zone-a": 2, "zone-b": 1, "zone-c": 1}, zones); diff != "" {
		t.Errorf("zone spread (-want +got):\n%s", diff)
	}
	if !strings.Contains(out, kwokNodeLabel+`: "true"`) {
		t.Errorf("nodes lack the label KWOK selects them by (%s)", kwokNodeLabel)
	}
}
