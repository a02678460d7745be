// Command examples-gen writes the derived GitOps and catalog example files (the argocd-cm
// snippet and the Backstage OpenAPI definition) from their sources, or with -check reports
// the ones that are out of date and exits non-zero.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/redis-ha/redis-ha/examples/gitops"
)

func main() {
	root := flag.String("root", ".", "repository root")
	check := flag.Bool("check", false, "report stale files and exit 1 instead of writing them")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "examples-gen:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	files, err := gitops.Generate(root)
	if err != nil {
		return err
	}
	if check {
		stale, err := gitops.Stale(root, files)
		if err != nil {
			return err
		}
		if len(stale) > 0 {
			return fmt.Errorf("out of date: %v: run make examples-generate", stale)
		}
		return nil
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, f.Path), f.Content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		fmt.Println("wrote", f.Path)
	}
	return nil
}
