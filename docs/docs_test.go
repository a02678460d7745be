// Package docs holds the project's documentation. Its test keeps the Markdown in the
// repository true: every relative link points at a file that exists, and every `make TARGET`
// it tells people to run is a target of the Makefile.
package docs

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// markdownFiles are the documents a user reads, relative to the repository root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", "..", "ls-files", "*.md").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	return strings.Fields(string(out))
}

func TestRelativeLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, doc := range markdownFiles(t) {
		data, err := os.ReadFile(filepath.Join("..", doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path := filepath.Join("..", filepath.Dir(doc), target)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
			}
		}
	}
}

func TestMakeTargetsExist(t *testing.T) {
	targets := makefileTargets(t)
	mention := regexp.MustCompile("`make ([a-z][a-z0-9-]*)")
	for _, doc := range markdownFiles(t) {
		data, err := os.ReadFile(filepath.Join("..", doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mention.FindAllStringSubmatch(string(data), -1) {
			if !targets[m[1]] {
				t.Errorf("%s tells people to run `make %s`, which is not a Makefile target", doc, m[1])
			}
		}
	}
}

// makefileTargets lists the targets defined in the Makefile ("name:" at a line start).
func makefileTargets(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rule := regexp.MustCompile(`^([a-z][a-z0-9-]*):`)
	targets := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m := rule.FindStringSubmatch(s.Text()); m != nil {
			targets[m[1]] = true
		}
	}
	if len(targets) == 0 {
		t.Fatal("found no targets in the Makefile")
	}
	return targets
}
