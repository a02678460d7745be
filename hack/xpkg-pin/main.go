// Command xpkg-pin sets the version constraint of one dependency in a Crossplane package's
// crossplane.yaml, so a release's Configuration depends on exactly the Function of the same
// release while the committed file keeps a constraint that any local build satisfies:
//
//	go run ./hack/xpkg-pin --file _output/package/roots/configuration/crossplane.yaml \
//	    --package xpkg.crossplane.io/redis-ha/function-redis-ha --version v0.1.0
//
// It rewrites the file in place (comments are dropped: run it on a staged copy, never on the
// committed file) and fails when no dependency names the package, so a renamed package cannot
// silently ship unpinned.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"

	"sigs.k8s.io/yaml"
)

// semver is the shape Crossplane accepts as an exact dependency version.
var semver = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// pin returns the crossplane.yaml document with spec.dependsOn[package == pkg].version set to
// version.
func pin(doc []byte, pkg, version string) ([]byte, error) {
	if !semver.MatchString(version) {
		return nil, fmt.Errorf("--version %q: use a semantic version such as v0.1.0", version)
	}
	var meta map[string]any
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return nil, fmt.Errorf("decoding crossplane.yaml: %w", err)
	}
	spec, _ := meta["spec"].(map[string]any)
	deps, _ := spec["dependsOn"].([]any)
	found := 0
	for _, d := range deps {
		dep, ok := d.(map[string]any)
		if !ok || dep["package"] != pkg {
			continue
		}
		dep["version"] = version
		found++
	}
	if found == 0 {
		return nil, fmt.Errorf("no spec.dependsOn entry has package %q", pkg)
	}
	out, err := yaml.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encoding crossplane.yaml: %w", err)
	}
	return out, nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("xpkg-pin", flag.ContinueOnError)
	file := fs.String("file", "", "crossplane.yaml to rewrite in place (a staged copy)")
	pkg := fs.String("package", "", "package of the dependency to pin, e.g. xpkg.crossplane.io/redis-ha/function-redis-ha")
	version := fs.String("version", "", "exact version to depend on, e.g. v0.1.0")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *file == "":
		return errors.New("--file is required")
	case *pkg == "":
		return errors.New("--package is required")
	}
	doc, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("--file: %w", err)
	}
	out, err := pin(doc, *pkg, *version)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	return os.WriteFile(*file, out, 0o644)
}

func main() {
	if err := run(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "xpkg-pin:", err)
		os.Exit(1)
	}
}
