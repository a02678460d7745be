// Command release assembles the parts of a redis-ha release that hack/release.sh does not get
// from the other build tools (hack/image-build, hack/package.sh):
//
//	release oci-archive --layout DIR --output FILE
//	    packs an OCI image layout directory into one reproducible tar file (a release asset that
//	    `skopeo copy oci-archive:FILE:TAG` and `regctl image import` read)
//	release xpkg-index --xpkg A.xpkg --xpkg B.xpkg --tag REF --oci-layout DIR
//	    combines per-architecture Crossplane packages into one multi-platform index, the same
//	    shape `crossplane xpkg push -f A.xpkg,B.xpkg` pushes, so any registry tool can push it
//	release install-yaml --version V --function-package P --configuration-package P
//	        --rbac-dir DIR --output FILE
//	    writes the YAML a cluster admin applies: the RBAC ClusterRole(s), the Function and the
//	    Configuration (pkg.crossplane.io/v1) at exactly version V
//
// Times written (tar headers) come from $SOURCE_DATE_EPOCH. The release test in this
// directory (TestReleaseArtifacts, run by `make release-check`) checks every artifact.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/internal/image"
)

// FunctionName is the name of the Function object; every Composition's functionRef names it,
// so install.yaml must install the Function under exactly this name (a Function installed only
// as the Configuration's dependency would get a name derived from the package path).
const FunctionName = "function-redis-ha"

// ConfigurationName is the name of the Configuration object in install.yaml.
const ConfigurationName = "configuration-redis-ha"

// releaseVersion is what a release VERSION must look like: a semantic version that is also a
// valid image tag (so no "+build" suffix).
var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// yamlSeparator splits a YAML stream into documents.
var yamlSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// stringsFlag collects a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// writeOCIArchive writes the files under layoutDir into one tar at output: regular files and
// directories only, sorted by path, owned by 0:0, modes 0644/0755, every time mtime. The
// layout's own files (oci-layout, index.json, blobs/) sit at the root of the archive, which is
// what the oci-archive transport of skopeo and `regctl image import` expect.
func writeOCIArchive(layoutDir, output string, mtime time.Time) error {
	if _, err := os.Stat(filepath.Join(layoutDir, "oci-layout")); err != nil {
		return fmt.Errorf("--layout %s is not an OCI image layout (no oci-layout file): %w", layoutDir, err)
	}
	type entry struct {
		rel string
		dir bool
	}
	var entries []entry
	err := filepath.WalkDir(layoutDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(layoutDir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		switch {
		case d.IsDir():
			entries = append(entries, entry{filepath.ToSlash(rel) + "/", true})
		case d.Type().IsRegular():
			entries = append(entries, entry{filepath.ToSlash(rel), false})
		default:
			return fmt.Errorf("%s: only regular files and directories belong in an OCI layout", p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading layout %s: %w", layoutDir, err)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.rel, b.rel) })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.rel, ModTime: mtime, Format: tar.FormatPAX}
		var data []byte
		if e.dir {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		} else {
			if data, err = os.ReadFile(filepath.Join(layoutDir, filepath.FromSlash(e.rel))); err != nil {
				return fmt.Errorf("reading layout: %w", err)
			}
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, int64(len(data))
		}
		// USTAR when the name fits (always, for blobs/sha256/<hex>): no PAX records at all, so
		// nothing like atime or ctime can creep in.
		if len(e.rel) < 100 {
			hdr.Format = tar.FormatUSTAR
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archiving %s: %w", e.rel, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("archiving %s: %w", e.rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archiving %s: %w", layoutDir, err)
	}
	return writeFileAtomic(output, buf.Bytes())
}

// writeXpkgIndex reads the per-architecture .xpkg files (image tarballs, as `crossplane xpkg
// build` writes them) and writes them as one multi-platform index into a new OCI layout. The
// platform of each entry comes from the package's config, which `crossplane xpkg build` copies
// from the embedded runtime image.
func writeXpkgIndex(xpkgs []string, tag name.Tag, layoutDir string) (v1.Hash, error) {
	images := make([]v1.Image, 0, len(xpkgs))
	for _, f := range xpkgs {
		img, err := tarball.ImageFromPath(f, nil)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("--xpkg %s: reading package: %w", f, err)
		}
		images = append(images, img)
	}
	idx, err := image.Index(images...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("--xpkg: %w", err)
	}
	if err := image.WriteLayout(layoutDir, tag, idx); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

// installOptions are the inputs of install.yaml.
type installOptions struct {
	version              string
	functionPackage      string // without tag
	configurationPackage string // without tag
	rbacDir              string
}

// installYAML returns install.yaml: every ClusterRole document of rbacDir (*.yaml, sorted by
// file name), then the Function, then the Configuration. The Function comes first and under the
// name the Compositions reference; Crossplane then finds the Configuration's dependency already
// satisfied instead of installing a second copy under another name.
func installYAML(o installOptions) ([]byte, error) {
	if !releaseVersion.MatchString(o.version) {
		return nil, fmt.Errorf("--version %q: use a release version such as v0.1.0 or v0.2.0-rc.1", o.version)
	}
	for flagName, pkg := range map[string]string{"--function-package": o.functionPackage, "--configuration-package": o.configurationPackage} {
		if _, err := name.NewRepository(pkg, name.StrictValidation); err != nil || strings.ContainsAny(pkg, ":@") {
			return nil, fmt.Errorf("%s %q: give a package repository without tag, e.g. xpkg.crossplane.io/redis-ha/%s", flagName, pkg, strings.TrimPrefix(flagName, "--"))
		}
	}
	files, err := filepath.Glob(filepath.Join(o.rbacDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("--rbac-dir %q: no *.yaml files with the ClusterRole(s) found", o.rbacDir)
	}
	slices.Sort(files)

	var out bytes.Buffer
	fmt.Fprintf(&out, "# redis-ha %s: apply with `kubectl apply -f install.yaml` on a cluster running Crossplane v2.\n", o.version)
	out.WriteString("# The ClusterRole lets Crossplane manage what the function composes; the Function is the\n" +
		"# composition function every redis-ha Composition calls; the Configuration brings the\n" +
		"# RedisHA API (XRDs and Compositions) and depends on exactly this version of the Function.\n")
	labels := map[string]any{"app.kubernetes.io/part-of": "redis-ha", "app.kubernetes.io/version": o.version}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--rbac-dir: %w", err)
		}
		for i, doc := range splitYAML(data) {
			var obj map[string]any
			if err := yaml.UnmarshalStrict(doc, &obj); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", f, i+1, err)
			}
			if obj["apiVersion"] != "rbac.authorization.k8s.io/v1" || obj["kind"] != "ClusterRole" {
				return nil, fmt.Errorf("%s document %d is a %v %v; package/rbac holds only rbac.authorization.k8s.io/v1 ClusterRoles", f, i+1, obj["apiVersion"], obj["kind"])
			}
			if err := writeDoc(&out, obj); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	for _, obj := range []map[string]any{
		{
			"apiVersion": "pkg.crossplane.io/v1",
			"kind":       "Function",
			"metadata":   map[string]any{"name": FunctionName, "labels": labels},
			"spec":       map[string]any{"package": o.functionPackage + ":" + o.version},
		},
		{
			"apiVersion": "pkg.crossplane.io/v1",
			"kind":       "Configuration",
			"metadata":   map[string]any{"name": ConfigurationName, "labels": labels},
			"spec":       map[string]any{"package": o.configurationPackage + ":" + o.version},
		},
	} {
		if err := writeDoc(&out, obj); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

func writeDoc(w io.Writer, obj map[string]any) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encoding %v %v: %w", obj["kind"], obj["metadata"], err)
	}
	_, err = fmt.Fprintf(w, "---\n%s", b)
	return err
}

// splitYAML returns the documents of a YAML stream ("---" separators) that hold more than
// comments.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for _, chunk := range yamlSeparator.Split(string(data), -1) {
		for _, l := range strings.Split(chunk, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				docs = append(docs, []byte(chunk))
				break
			}
		}
	}
	return docs
}

// writeFileAtomic writes data next to path and renames it into place, so an interrupted run
// never leaves a truncated artifact that looks complete.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("give a subcommand: oci-archive, xpkg-index or install-yaml")
	}
	fs := flag.NewFlagSet("release "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	parse := func() error {
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q: every input is a flag", fs.Arg(0))
		}
		return nil
	}
	switch args[0] {
	case "oci-archive":
		layoutDir := fs.String("layout", "", "OCI image layout `DIR` to archive (required)")
		output := fs.String("output", "", "tar `FILE` to write (required)")
		if err := parse(); err != nil {
			return err
		}
		if *layoutDir == "" || *output == "" {
			return errors.New("oci-archive: --layout and --output are required")
		}
		mtime, err := image.ParseBuildTime(image.SourceDateEpochEnv, getenv(image.SourceDateEpochEnv))
		if err != nil {
			return err
		}
		if err := writeOCIArchive(*layoutDir, *output, mtime); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "release: %s -> %s\n", *layoutDir, *output)
		return nil

	case "xpkg-index":
		var xpkgs stringsFlag
		fs.Var(&xpkgs, "xpkg", "per-architecture package `FILE` (repeat, one per platform)")
		tag := fs.String("tag", "", "package `reference` with tag, e.g. xpkg.crossplane.io/redis-ha/function-redis-ha:v0.1.0 (required)")
		layoutDir := fs.String("oci-layout", "", "OCI image layout `DIR` to write; must not exist (required)")
		if err := parse(); err != nil {
			return err
		}
		if len(xpkgs) == 0 || *layoutDir == "" {
			return errors.New("xpkg-index: give --xpkg at least once and --oci-layout")
		}
		t, err := name.NewTag(*tag, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("xpkg-index --tag %q: %w", *tag, err)
		}
		d, err := writeXpkgIndex(xpkgs, t, *layoutDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "release: %s index %s (%d packages) -> %s\n", t, d, len(xpkgs), *layoutDir)
		return nil

	case "install-yaml":
		var o installOptions
		fs.StringVar(&o.version, "version", "", "release `version`, e.g. v0.1.0 (required)")
		fs.StringVar(&o.functionPackage, "function-package", "xpkg.crossplane.io/redis-ha/function-redis-ha", "Function package `repository` (no tag)")
		fs.StringVar(&o.configurationPackage, "configuration-package", "xpkg.crossplane.io/redis-ha/configuration-redis-ha", "Configuration package `repository` (no tag)")
		fs.StringVar(&o.rbacDir, "rbac-dir", "package/rbac", "`DIR` holding the ClusterRole YAML")
		output := fs.String("output", "", "`FILE` to write (required)")
		if err := parse(); err != nil {
			return err
		}
		if *output == "" {
			return errors.New("install-yaml: --output is required")
		}
		data, err := installYAML(o)
		if err != nil {
			return fmt.Errorf("install-yaml: %w", err)
		}
		return writeFileAtomic(*output, data)
	}
	return fmt.Errorf("unknown subcommand %q: use oci-archive, xpkg-index or install-yaml", args[0])
}

func main() {
	err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}
