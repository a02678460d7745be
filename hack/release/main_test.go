package main

// Fast tests (part of `go test ./...`): the subcommands on small synthetic inputs, and every
// release check shown to fail on an artifact that is wrong in one way.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/redis-ha/redis-ha/internal/image"
)

// testImage returns an image with one layer holding files, for platform ("linux/arm64"),
// configured as internal/image configures ours; edit changes the config afterwards.
func testImage(t *testing.T, platform string, files map[string]string, edit func(*v1.ConfigFile)) (v1.Image, v1.Layer) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range sortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = p.OS, p.Architecture
	cf.Config.User = "65532:65532"
	cf.Config.Entrypoint = []string{"/usr/local/bin/prog"}
	cf.Config.Labels = map[string]string{image.LabelVersion: "v1.2.3", image.LabelTitle: "prog"}
	cf.Config.ExposedPorts = map[string]struct{}{"9443/tcp": {}}
	if edit != nil {
		edit(cf)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img, layer
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// errorsMention fails unless errs is empty (want == "") or one error contains want.
func errorsMention(t *testing.T, reason string, errs []error, want string) {
	t.Helper()
	if want == "" {
		for _, err := range errs {
			t.Errorf("%s: unexpected error: %v", reason, err)
		}
		return
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return
		}
	}
	t.Errorf("%s: want an error mentioning %q, got %v", reason, want, errs)
}

func TestCheckImageConfig(t *testing.T) {
	want := imageWant{name: "prog", version: "v1.2.3", ports: []string{"9443/tcp"}, platforms: []string{"linux/arm64"}}
	cases := map[string]struct {
		reason string
		edit   func(*v1.ConfigFile)
		want   string
	}{
		"Good":       {reason: "an image as internal/image builds it passes", want: ""},
		"Root":       {reason: "an image running as root is caught", edit: func(c *v1.ConfigFile) { c.Config.User = "0:0" }, want: "config user"},
		"Entrypoint": {reason: "a wrong entrypoint is caught", edit: func(c *v1.ConfigFile) { c.Config.Entrypoint = []string{"/bin/sh"} }, want: "entrypoint"},
		"Arch":       {reason: "a config for another architecture is caught", edit: func(c *v1.ConfigFile) { c.Architecture = "amd64" }, want: "os/architecture"},
		"Version":    {reason: "a missing version label is caught", edit: func(c *v1.ConfigFile) { delete(c.Config.Labels, image.LabelVersion) }, want: image.LabelVersion},
		"Ports":      {reason: "a missing exposed port is caught", edit: func(c *v1.ConfigFile) { c.Config.ExposedPorts = nil }, want: "exposed ports"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			img, _ := testImage(t, "linux/arm64", map[string]string{"x": "y"}, tc.edit)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			errorsMention(t, tc.reason, checkImageConfig(cf, "linux/arm64", want), tc.want)
		})
	}
}

func TestCheckStaticBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkStaticBinary([]byte("#!/bin/sh\n"), "amd64"); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("a shell script passed as a program: %v", err)
	}
	// The test binary is an ELF for this machine; claiming the other architecture must fail.
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	if other == "" {
		t.Skipf("no release architecture to contrast with %s", runtime.GOARCH)
	}
	if err := checkStaticBinary(bin, other); err == nil || !strings.Contains(err.Error(), "built for") {
		t.Errorf("a %s binary passed as %s: %v", runtime.GOARCH, other, err)
	}
}

func TestOCIArchive(t *testing.T) {
	dir := t.TempDir()
	amd, _ := testImage(t, "linux/amd64", map[string]string{"a": "1"}, nil)
	arm, _ := testImage(t, "linux/arm64", map[string]string{"a": "2"}, nil)
	idx, err := image.Index(amd, arm)
	if err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(dir, "layout")
	if err := image.WriteLayout(layoutDir, name.MustParseReference("example.com/prog:v1.2.3").(name.Tag), idx); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1700000000, 0)
	first, second := filepath.Join(dir, "1.tar"), filepath.Join(dir, "2.tar")
	for _, out := range []string{first, second} {
		if err := writeOCIArchive(layoutDir, out, mtime); err != nil {
			t.Fatal(err)
		}
	}
	a, b := mustRead(t, first), mustRead(t, second)
	if !bytes.Equal(a, b) {
		t.Error("two archives of one layout differ: the archive is not reproducible")
	}
	errorsMention(t, "the archive holds the layout", checkArchive(layoutDir, first), "")

	// Header fields that would make archives machine-dependent.
	tr := tar.NewReader(bytes.NewReader(a))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if !hdr.ModTime.Equal(mtime) || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || len(hdr.PAXRecords) > 0 {
			t.Errorf("%s: header %+v carries more than the name, mode, size and SOURCE_DATE_EPOCH", hdr.Name, hdr)
		}
	}
	if len(names) < 3 || names[0] != "blobs/" || !slices.Contains(names, "index.json") || !slices.Contains(names, "oci-layout") {
		t.Errorf("archive entries %v: want blobs/, index.json and oci-layout at the root, sorted", names)
	}

	// A changed layout no longer matches the archive.
	if err := os.WriteFile(filepath.Join(layoutDir, "index.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	errorsMention(t, "a changed layout file is caught", checkArchive(layoutDir, first), "index.json differs")
	if err := writeOCIArchive(dir, filepath.Join(dir, "x.tar"), mtime); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("archiving a directory that is no layout: %v", err)
	}
}

// testXpkg writes a Crossplane-style package: the runtime image (if any) plus a package layer
// holding stream as package.yaml, marked by the io.crossplane.xpkg label, to a tarball file.
func testXpkg(t *testing.T, file, platform, stream string, withRuntime bool) v1.Image {
	t.Helper()
	files := map[string]string{"usr/local/bin/prog": "binary"}
	base, _ := testImage(t, platform, files, nil)
	if !withRuntime {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	_, pkgLayer := testImage(t, platform, map[string]string{xpkgStreamFile: stream}, nil)
	img, err := mutate.AppendLayers(base, pkgLayer)
	if err != nil {
		t.Fatal(err)
	}
	d, err := pkgLayer.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	cf.Config.Labels[xpkgLabelPrefix+d.String()] = xpkgBaseLayer
	if withRuntime {
		cf.OS, cf.Architecture = "linux", strings.TrimPrefix(platform, "linux/")
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(file, name.MustParseReference("example.com/pkg:v1.2.3"), img); err != nil {
		t.Fatal(err)
	}
	return img
}

const testFunctionMeta = `apiVersion: meta.pkg.crossplane.io/v1
kind: Function
metadata:
  name: function-redis-ha
`

const testConfigurationStream = `apiVersion: meta.pkg.crossplane.io/v1
kind: Configuration
metadata:
  name: configuration-redis-ha
spec:
  dependsOn:
  - apiVersion: pkg.crossplane.io/v1
    kind: Function
    package: example.com/fn
    version: VERSION
---
apiVersion: apiextensions.crossplane.io/v2
kind: CompositeResourceDefinition
metadata:
  name: a
`

func TestCheckPackages(t *testing.T) {
	dir := t.TempDir()
	runtimeImage, _ := testImage(t, "linux/arm64", map[string]string{"usr/local/bin/prog": "binary"}, nil)
	xrds := map[string]int{"apiextensions.crossplane.io/v2 CompositeResourceDefinition": 1}
	cases := map[string]struct {
		reason string
		check  func(t *testing.T, file string) []error
		want   string
	}{
		"Function": {
			reason: "a Function package embedding the released runtime image passes",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/arm64", testFunctionMeta, true)
				return checkFunctionXpkg(t, f, "arm64", runtimeImage)
			},
		},
		"FunctionWrongArch": {
			reason: "a Function package checked as another architecture is caught",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/arm64", testFunctionMeta, true)
				return checkFunctionXpkg(t, f, "amd64", runtimeImage)
			},
			want: "package platform linux/arm64, want linux/amd64",
		},
		"FunctionOtherRuntime": {
			reason: "a Function package embedding another runtime image is caught",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/arm64", testFunctionMeta, true)
				other, _ := testImage(t, "linux/arm64", map[string]string{"usr/local/bin/prog": "other"}, nil)
				return checkFunctionXpkg(t, f, "arm64", other)
			},
			want: "embedded runtime layers differ",
		},
		"FunctionIsConfiguration": {
			reason: "a Configuration where the Function package should be is caught",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/arm64", strings.ReplaceAll(testConfigurationStream, "VERSION", "v1.2.3"), true)
				return checkFunctionXpkg(t, f, "arm64", runtimeImage)
			},
			want: "want meta.pkg.crossplane.io/v1 Function",
		},
		"Configuration": {
			reason: "a Configuration depending on exactly the release's Function passes",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/amd64", strings.ReplaceAll(testConfigurationStream, "VERSION", "v1.2.3"), false)
				return checkConfigurationXpkg(t, f, "v1.2.3", xrds)
			},
		},
		"ConfigurationUnpinned": {
			reason: "a Configuration with the committed (unpinned) constraint is caught",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/amd64", strings.ReplaceAll(testConfigurationStream, "VERSION", `">=v0.0.0-0"`), false)
				return checkConfigurationXpkg(t, f, "v1.2.3", xrds)
			},
			want: "spec.dependsOn",
		},
		"ConfigurationMissingObject": {
			reason: "a Configuration lacking an XRD of the source root is caught",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/amd64", strings.ReplaceAll(testConfigurationStream, "VERSION", "v1.2.3"), false)
				return checkConfigurationXpkg(t, f, "v1.2.3", map[string]int{"apiextensions.crossplane.io/v2 CompositeResourceDefinition": 2})
			},
			want: "package objects by kind",
		},
		"ConfigurationWithRuntime": {
			reason: "a Configuration carrying a runtime image is caught",
			check: func(t *testing.T, f string) []error {
				testXpkg(t, f, "linux/amd64", strings.ReplaceAll(testConfigurationStream, "VERSION", "v1.2.3"), true)
				return checkConfigurationXpkg(t, f, "v1.2.3", xrds)
			},
			want: "package layer only",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errorsMention(t, tc.reason, tc.check(t, filepath.Join(dir, name+".xpkg")), tc.want)
		})
	}
}

func checkFunctionXpkg(t *testing.T, file, arch string, runtime v1.Image) []error {
	t.Helper()
	p, err := readXpkg(file)
	if err != nil {
		return []error{err}
	}
	return checkFunctionPackage(p, arch, runtime)
}

func checkConfigurationXpkg(t *testing.T, file, version string, kinds map[string]int) []error {
	t.Helper()
	p, err := readXpkg(file)
	if err != nil {
		return []error{err}
	}
	return checkConfigurationPackage(p, "example.com/fn", version, kinds)
}

func TestXpkgIndex(t *testing.T) {
	dir := t.TempDir()
	byArch := map[string]*xpkg{}
	var files []string
	for _, arch := range []string{"amd64", "arm64"} {
		f := filepath.Join(dir, "function-"+arch+".xpkg")
		testXpkg(t, f, "linux/"+arch, testFunctionMeta, true)
		p, err := readXpkg(f)
		if err != nil {
			t.Fatal(err)
		}
		byArch[arch] = p
		files = append(files, f)
	}
	tag := name.MustParseReference("example.com/fn:v1.2.3").(name.Tag)
	layoutDir := filepath.Join(dir, "index")
	if _, err := writeXpkgIndex(files, tag, layoutDir); err != nil {
		t.Fatal(err)
	}
	errorsMention(t, "the index of both packages passes", checkPackageIndex(layoutDir, "v1.2.3", byArch), "")
	errorsMention(t, "the index is tagged with the version", checkPackageIndex(layoutDir, "v9.9.9", byArch), `tagged "v1.2.3", want "v9.9.9"`)
	swapped := map[string]*xpkg{"amd64": byArch["arm64"], "arm64": byArch["amd64"]}
	errorsMention(t, "an index entry that is not the file of its architecture is caught", checkPackageIndex(layoutDir, "v1.2.3", swapped), "index entry linux/amd64 is")

	if _, err := writeXpkgIndex([]string{files[0], files[0]}, tag, filepath.Join(dir, "dup")); err == nil || !strings.Contains(err.Error(), "both for linux/amd64") {
		t.Errorf("two packages for one platform: %v", err)
	}
}

func TestCheckSums(t *testing.T) {
	cases := map[string]struct {
		reason string
		files  map[string]string
		sums   func(files map[string]string) string
		want   string
	}{
		"Good": {
			reason: "sums of every file pass",
			files:  map[string]string{"a": "1", "sub/b": "2"},
			sums:   sumsOf,
		},
		"Changed": {
			reason: "a file that changed after summing is caught",
			files:  map[string]string{"a": "1", "sub/b": "2"},
			sums:   func(map[string]string) string { return sumsOf(map[string]string{"a": "1", "sub/b": "3"}) },
			want:   "sub/b has sha256",
		},
		"Unlisted": {
			reason: "a file that is not summed is caught",
			files:  map[string]string{"a": "1", "sub/b": "2"},
			sums:   func(map[string]string) string { return sumsOf(map[string]string{"a": "1"}) },
			want:   "does not list sub/b",
		},
		"Missing": {
			reason: "a summed file that is not there is caught",
			files:  map[string]string{"a": "1"},
			sums:   func(map[string]string) string { return sumsOf(map[string]string{"a": "1", "c": "3"}) },
			want:   "lists c",
		},
		"Malformed": {
			reason: "a line not in sha256sum format is caught",
			files:  map[string]string{"a": "1"},
			sums:   func(map[string]string) string { return "abc a\n" },
			want:   "line 1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, c := range tc.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(tc.sums(tc.files)), 0o644); err != nil {
				t.Fatal(err)
			}
			errorsMention(t, tc.reason, checkSums(dir), tc.want)
		})
	}
}

// sumsOf returns SHA256SUMS for files, as sha256sum writes it.
func sumsOf(files map[string]string) string {
	var b strings.Builder
	for _, f := range sortedKeys(files) {
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256([]byte(files[f])), f)
	}
	return b.String()
}

func TestInstallYAML(t *testing.T) {
	good := installOptions{
		version:              "v1.2.3",
		functionPackage:      "xpkg.crossplane.io/redis-ha/function-redis-ha",
		configurationPackage: "xpkg.crossplane.io/redis-ha/configuration-redis-ha",
		rbacDir:              filepath.Join(repoRoot, "package", "rbac"),
	}
	notRBAC := t.TempDir()
	if err := os.WriteFile(filepath.Join(notRBAC, "role.yaml"), []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason string
		edit   func(*installOptions)
		want   string // error text; empty: success
	}{
		"Release":          {reason: "a release version gives install.yaml", edit: func(*installOptions) {}},
		"ReleaseCandidate": {reason: "a pre-release version is a release too", edit: func(o *installOptions) { o.version = "v1.2.3-rc.1" }},
		"NoV":              {reason: "a version without v is not a tag we publish", edit: func(o *installOptions) { o.version = "1.2.3" }, want: "--version"},
		"BuildMetadata":    {reason: "+build is not a valid image tag", edit: func(o *installOptions) { o.version = "v1.2.3+abc" }, want: "--version"},
		"TaggedPackage":    {reason: "the package must come without tag", edit: func(o *installOptions) { o.functionPackage += ":v1" }, want: "--function-package"},
		"NoRBAC":           {reason: "an empty RBAC directory is an error", edit: func(o *installOptions) { o.rbacDir = t.TempDir() }, want: "--rbac-dir"},
		"NotClusterRole":   {reason: "only ClusterRoles belong in package/rbac", edit: func(o *installOptions) { o.rbacDir = notRBAC }, want: "only rbac.authorization.k8s.io/v1 ClusterRoles"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			data, err := installYAML(o)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: want an error mentioning %q, got %v", tc.reason, tc.want, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			errorsMention(t, tc.reason, checkInstallYAML(data, installWant{
				version:              o.version,
				functionPackage:      o.functionPackage,
				configurationPackage: o.configurationPackage,
				clusterRoles:         committedClusterRoles(t),
				functionRefs:         compositionFunctionRefs(t),
			}), "")
		})
	}
}

// TestCheckInstallYAML proves checkInstallYAML catches each way install.yaml can be wrong.
func TestCheckInstallYAML(t *testing.T) {
	o := installOptions{
		version:              "v1.2.3",
		functionPackage:      "xpkg.crossplane.io/redis-ha/function-redis-ha",
		configurationPackage: "xpkg.crossplane.io/redis-ha/configuration-redis-ha",
		rbacDir:              filepath.Join(repoRoot, "package", "rbac"),
	}
	data, err := installYAML(o)
	if err != nil {
		t.Fatal(err)
	}
	want := installWant{
		version:              o.version,
		functionPackage:      o.functionPackage,
		configurationPackage: o.configurationPackage,
		clusterRoles:         committedClusterRoles(t),
		functionRefs:         compositionFunctionRefs(t),
	}
	cases := map[string]struct {
		reason string
		edit   func(string) string
		want   string
	}{
		"UnknownField": {
			reason: "a misspelt field fails strict decoding",
			edit: func(s string) string {
				return strings.Replace(s, "  package: xpkg.crossplane.io/redis-ha/function", "  pakage: xpkg.crossplane.io/redis-ha/function", 1)
			},
			want: "unknown field",
		},
		"FunctionVersion": {
			reason: "a Function of another version is caught",
			edit: func(s string) string {
				return strings.Replace(s, "function-redis-ha:v1.2.3", "function-redis-ha:v1.2.2", 1)
			},
			want: "Function spec.package",
		},
		"ConfigurationVersion": {
			reason: "a Configuration of another version is caught",
			edit: func(s string) string {
				return strings.Replace(s, "configuration-redis-ha:v1.2.3", "configuration-redis-ha:latest", 1)
			},
			want: "Configuration spec.package",
		},
		"FunctionName": {
			reason: "a Function the Compositions do not call is caught",
			edit: func(s string) string {
				return strings.Replace(s, "  name: function-redis-ha\n", "  name: redis-ha-function\n", 1)
			},
			want: "functionRef",
		},
		"RBAC": {
			reason: "a ClusterRole that differs from package/rbac is caught",
			edit:   func(s string) string { return strings.Replace(s, "  - delete\n", "", 1) },
			want:   "differ from package/rbac",
		},
		"MissingConfiguration": {
			reason: "install.yaml without the Configuration is caught",
			edit:   func(s string) string { return s[:strings.LastIndex(s, "---\n")] },
			want:   "documents in order",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			edited := tc.edit(string(data))
			if edited == string(data) {
				t.Fatalf("%s: the edit changed nothing; update the test to the install.yaml format", tc.reason)
			}
			errorsMention(t, tc.reason, checkInstallYAML([]byte(edited), want), tc.want)
		})
	}
}

func TestRunFlags(t *testing.T) {
	cases := map[string]struct {
		reason string
		args   []string
		want   string
	}{
		"NoSubcommand": {reason: "the subcommand is required", args: nil, want: "give a subcommand"},
		"Unknown":      {reason: "an unknown subcommand is named", args: []string{"publish"}, want: `unknown subcommand "publish"`},
		"ArchiveFlags": {reason: "oci-archive needs both paths", args: []string{"oci-archive", "--layout", "x"}, want: "--layout and --output are required"},
		"IndexTag":     {reason: "xpkg-index needs a valid tag", args: []string{"xpkg-index", "--xpkg", "a", "--oci-layout", "d", "--tag", "UPPER/x:"}, want: "--tag"},
		"InstallOut":   {reason: "install-yaml needs --output", args: []string{"install-yaml", "--version", "v1.0.0"}, want: "--output is required"},
		"Positional":   {reason: "stray arguments are refused", args: []string{"install-yaml", "extra"}, want: `unexpected argument "extra"`},
		"BadEpoch": {
			reason: "a malformed SOURCE_DATE_EPOCH is named",
			args:   []string{"oci-archive", "--layout", "x", "--output", "y"},
			want:   "SOURCE_DATE_EPOCH",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "SOURCE_DATE_EPOCH" {
					return "yesterday"
				}
				return ""
			}
			err := run(tc.args, getenv, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: want an error mentioning %q, got %v", tc.reason, tc.want, err)
			}
		})
	}
}

// TestSplitYAML checks the document splitter both the tool and the checks use.
func TestSplitYAML(t *testing.T) {
	in := "# header only\n---\na: 1\n---\n\n# comment\n---\nb: 2\n--- \nc: 3\n"
	var got []string
	for _, d := range splitYAML([]byte(in)) {
		got = append(got, strings.TrimSpace(string(d)))
	}
	if diff := cmp.Diff([]string{"a: 1", "b: 2", "c: 3"}, got); diff != "" {
		t.Errorf("splitYAML (-want +got):\n%s", diff)
	}
}
