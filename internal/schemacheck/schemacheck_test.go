package schemacheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeYAMLDocuments(t *testing.T) {
	cases := map[string]struct {
		reason  string
		in      string
		want    []map[string]any
		wantErr bool
	}{
		"CommentsAndSeparators": {
			reason: "leading comments, a leading --- and an empty trailing document are skipped",
			in:     "# header\n---\nkind: A\n---\n# only a comment\n---\nkind: B\nspec: {count: 3}\n---\n",
			want:   []map[string]any{{"kind": "A"}, {"kind": "B", "spec": map[string]any{"count": float64(3)}}},
		},
		"DuplicateKey": {
			reason:  "strict decoding rejects a key given twice, which YAML would silently resolve",
			in:      "kind: A\nkind: B\n",
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeYAMLDocuments([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: error = %v, wantErr %v", tc.reason, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestNormalizeMakesWholeNumbersIntegers(t *testing.T) {
	got, err := normalize(map[string]any{"replicas": float64(3), "ratio": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"replicas": int64(3), "ratio": 0.5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("normalize -want +got:\n%s", diff)
	}
}
