package main

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadmeFlagTable keeps the README's table of tunnel flags true: every flag the command
// has is documented, every documented flag exists, and documented defaults are the real ones.
func TestReadmeFlagTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "| Flag | Default | Meaning |")
	if !ok {
		t.Fatal("README.md has no tunnel flag table (| Flag | Default | Meaning |)")
	}
	flagName := regexp.MustCompile("`--([a-z-]+)")
	backticked := regexp.MustCompile("`([^`]*)`")
	documented := map[string]string{} // flag -> documented default ("" when none is given)
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			t.Fatalf("README flag table row has too few cells: %s", line)
		}
		var names []string
		for _, m := range flagName.FindAllStringSubmatch(cells[1], -1) {
			names = append(names, m[1])
		}
		var defaults []string
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			defaults = append(defaults, m[1])
		}
		for i, n := range names {
			documented[n] = ""
			if len(defaults) == len(names) {
				documented[n] = defaults[i]
			}
		}
	}

	fs := newFlagSet(&options{})
	var real []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return // --version prints and exits; not a setting
		}
		real = append(real, f.Name)
		if def, ok := documented[f.Name]; ok && def != "" && def != f.DefValue {
			t.Errorf("README documents --%s with default %q, the command's default is %q", f.Name, def, f.DefValue)
		}
	})
	var docNames []string
	for n := range documented {
		docNames = append(docNames, n)
	}
	slices.Sort(real)
	slices.Sort(docNames)
	if diff := cmp.Diff(real, docNames); diff != "" {
		t.Errorf("README flag table and the command's flags differ (-command, +README):\n%s", diff)
	}
}
