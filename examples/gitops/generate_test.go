package gitops

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := Generate(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(repoRoot, f.Path))
		if err != nil {
			t.Fatalf("%v: run make examples-generate", err)
		}
		if diff := cmp.Diff(string(f.Content), string(got)); diff != "" {
			t.Errorf("%s is stale; run make examples-generate (-generated +committed):\n%s", f.Path, diff)
		}
	}
	stale, err := Stale(repoRoot, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 0 {
		t.Errorf("Stale reports %v although every file matches", stale)
	}
}

func TestStaleReportsEditedAndMissingFiles(t *testing.T) {
	dir := t.TempDir()
	files := []GeneratedFile{{Path: "same.yaml", Content: []byte("a\n")}, {Path: "edited.yaml", Content: []byte("b\n")}, {Path: "missing.yaml", Content: []byte("c\n")}}
	for name, content := range map[string]string{"same.yaml": "a\n", "edited.yaml": "b edited by hand\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Stale(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"edited.yaml", "missing.yaml"}, got); diff != "" {
		t.Errorf("Stale (-want +got):\n%s", diff)
	}
}

func TestLiteralBlockRefusesTextYAMLWouldChange(t *testing.T) {
	cases := map[string]struct {
		reason string
		text   string
		want   string
		ok     bool
	}{
		"Script":         {reason: "blank lines stay unindented", text: "a\n\n  b\n", want: "    a\n\n      b\n", ok: true},
		"NoFinalNewline": {reason: "| keeps exactly one final newline", text: "a"},
		"TwoNewlines":    {reason: "| would drop the second", text: "a\n\n"},
		"IndentedFirst":  {reason: "YAML infers the block indentation from the first line", text: "  a\n"},
		"Tab":            {reason: "tabs are not indentation in YAML", text: "a\n\tb\n"},
		"TrailingSpace":  {reason: "editors and linters strip it, breaking the drift check", text: "a \n"},
		"CarriageReturn": {reason: "CRLF sources would differ from the embedded copy", text: "a\r\n"},
		"BlankFirstLine": {reason: "YAML infers the block indentation from the first line", text: "\na\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := literalBlock(tc.text, "    ")
			if (err == nil) != tc.ok {
				t.Fatalf("%s: error %v, want ok=%v", tc.reason, err, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
