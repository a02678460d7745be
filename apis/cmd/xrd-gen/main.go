// Command xrd-gen writes every file derived from the apis/v1alpha1 Go types: the deepcopy code,
// the Crossplane XRDs and Composition copies in package/configuration/, and docs/api.md.
// `make generate` runs it from the repository root; with -check it writes nothing and exits 1
// listing the files that are out of date.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/redis-ha/redis-ha/apis/internal/xrdgen"
)

func main() {
	root := flag.String("root", ".", "repository root (the directory holding go.mod)")
	check := flag.Bool("check", false, "write nothing; exit 1 if a generated file is out of date")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "xrd-gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, check bool) error {
	files, err := xrdgen.Generate(ctx, root)
	if err != nil {
		return err
	}
	if !check {
		if err := xrdgen.Write(root, files); err != nil {
			return err
		}
		for _, p := range files.Paths() {
			fmt.Println("wrote", p)
		}
		return nil
	}
	stale := xrdgen.Stale(root, files)
	if len(stale) > 0 {
		return fmt.Errorf("out of date, run `make generate`: %v", stale)
	}
	return nil
}
