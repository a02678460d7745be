// Package xpkg_test checks the Crossplane packages that `make package` builds from the package
// roots in this directory: each .xpkg is read back as an OCI image the way Crossplane reads it,
// and its package.yaml layer must carry exactly the metadata and objects of the source root; the
// Function package must also carry our runtime image (entrypoint, non-root user, the binary).
//
// The test needs the built files, so it runs only when REDIS_HA_XPKG_DIR names their directory
// (`make package` sets it); `go test ./...` skips it. When REDIS_HA_PINNED_FUNCTION_VERSION is
// set (a release build), the Configuration must depend on exactly that version of the
// REDIS_HA_FUNCTION_PACKAGE dependency instead of the committed constraint.
package xpkg_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"
)

// Crossplane's package format: a config label "io.crossplane.xpkg:<layer digest>" = "base"
// marks the layer that holds package.yaml (crossplane-runtime pkg/xpkg).
const (
	xpkgLabelPrefix = "io.crossplane.xpkg:"
	xpkgBaseLayer   = "base"
	xpkgStreamFile  = "package.yaml"
)

// object is the identity of a Kubernetes object in a package.
type object struct{ APIVersion, Kind, Name string }

func TestBuiltPackages(t *testing.T) {
	dir := os.Getenv("REDIS_HA_XPKG_DIR")
	if dir == "" {
		t.Skip("REDIS_HA_XPKG_DIR is not set: run `make package`, which builds the .xpkg files and runs this test")
	}
	cases := map[string]struct {
		reason  string
		xpkg    string
		root    string
		kind    string
		runtime string // the program of the embedded runtime image; empty: none
	}{
		"Function": {
			reason:  "the Function package embeds the runtime image built by make image-function",
			xpkg:    "function-redis-ha.xpkg",
			root:    "function",
			kind:    "Function",
			runtime: "function-redis-ha",
		},
		"Configuration": {
			reason: "the Configuration package carries the XRDs and Compositions and depends on the Function",
			xpkg:   "configuration-redis-ha.xpkg",
			root:   "configuration",
			kind:   "Configuration",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			img, err := tarball.ImageFromPath(filepath.Join(dir, tc.xpkg), nil)
			if err != nil {
				t.Fatalf("%s: reading %s: %v", tc.reason, tc.xpkg, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			pkgLayer := packageLayer(t, img, cf)
			files := layerFiles(t, pkgLayer)
			if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{xpkgStreamFile}) {
				t.Fatalf("%s: package layer holds %v, want only %s", tc.reason, got, xpkgStreamFile)
			}
			docs := yamlDocs(t, files[xpkgStreamFile])
			if len(docs) == 0 {
				t.Fatalf("%s: empty %s", tc.reason, xpkgStreamFile)
			}

			// The metadata is crossplane.yaml of the root, dependencies included.
			srcMeta := yamlDocs(t, mustRead(t, filepath.Join(tc.root, "crossplane.yaml")))
			if len(srcMeta) != 1 {
				t.Fatalf("%s/crossplane.yaml holds %d documents, want 1", tc.root, len(srcMeta))
			}
			type meta struct {
				Object    object
				DependsOn any
			}
			summarize := func(d map[string]any) meta {
				spec, _ := d["spec"].(map[string]any)
				return meta{identity(d), spec["dependsOn"]}
			}
			want := summarize(srcMeta[0])
			if pinned := os.Getenv("REDIS_HA_PINNED_FUNCTION_VERSION"); pinned != "" && tc.kind == "Configuration" {
				pinDependency(t, srcMeta[0], os.Getenv("REDIS_HA_FUNCTION_PACKAGE"), pinned)
				want = summarize(srcMeta[0])
			}
			if want.Object.Kind != tc.kind {
				t.Fatalf("%s/crossplane.yaml is a %s, want %s", tc.root, want.Object.Kind, tc.kind)
			}
			if diff := cmp.Diff(want, summarize(docs[0])); diff != "" {
				t.Errorf("%s: package metadata (-crossplane.yaml +package):\n%s", tc.reason, diff)
			}

			// Every object of the root is in the package, and nothing else.
			var wantObjects, gotObjects []object
			for _, f := range yamlFiles(t, tc.root) {
				if filepath.Base(f) == "crossplane.yaml" {
					continue
				}
				for _, d := range yamlDocs(t, mustRead(t, f)) {
					wantObjects = append(wantObjects, identity(d))
				}
			}
			for _, d := range docs[1:] {
				gotObjects = append(gotObjects, identity(d))
			}
			sortObjects(wantObjects)
			sortObjects(gotObjects)
			if diff := cmp.Diff(wantObjects, gotObjects); diff != "" {
				t.Errorf("%s: package objects (-%s +package):\n%s", tc.reason, tc.root, diff)
			}

			checkRuntime(t, img, cf, pkgLayer, tc.runtime)
		})
	}
}

// pinDependency sets the version of the dependency on pkg in meta, as hack/xpkg-pin does for
// a release; the committed crossplane.yaml must have that dependency.
func pinDependency(t *testing.T, meta map[string]any, pkg, version string) {
	t.Helper()
	spec, _ := meta["spec"].(map[string]any)
	deps, _ := spec["dependsOn"].([]any)
	for _, d := range deps {
		if dep, ok := d.(map[string]any); ok && dep["package"] == pkg {
			dep["version"] = version
			return
		}
	}
	t.Fatalf("configuration/crossplane.yaml has no dependency on %q to pin", pkg)
}

// packageLayer returns the one layer that the config labels mark as the package layer.
func packageLayer(t *testing.T, img v1.Image, cf *v1.ConfigFile) v1.Layer {
	t.Helper()
	var marked []string
	for k, v := range cf.Config.Labels {
		if strings.HasPrefix(k, xpkgLabelPrefix) && v == xpkgBaseLayer {
			marked = append(marked, strings.TrimPrefix(k, xpkgLabelPrefix))
		}
	}
	if len(marked) != 1 {
		t.Fatalf("config marks %d layers as the package layer (%v), want 1", len(marked), marked)
	}
	h, err := v1.NewHash(marked[0])
	if err != nil {
		t.Fatalf("package layer label: %v", err)
	}
	l, err := img.LayerByDigest(h)
	if err != nil {
		t.Fatalf("package layer %s is not in the image: %v", h, err)
	}
	return l
}

// checkRuntime checks the runtime image of a Function package, or that a Configuration has
// none.
func checkRuntime(t *testing.T, img v1.Image, cf *v1.ConfigFile, pkgLayer v1.Layer, program string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if program == "" {
		if len(layers) != 1 || len(cf.Config.Entrypoint) != 0 {
			t.Errorf("a Configuration package has %d layers and entrypoint %v, want only the package layer", len(layers), cf.Config.Entrypoint)
		}
		return
	}
	type runtime struct {
		OS, Architecture, User string
		Entrypoint             []string
		Port9443               bool
		BinaryMode             int64
	}
	want := runtime{"linux", cf.Architecture, "65532:65532", []string{"/usr/local/bin/" + program}, true, 0o755}
	if want.Architecture != "amd64" && want.Architecture != "arm64" {
		t.Errorf("runtime architecture %q, want amd64 or arm64", cf.Architecture)
	}
	_, port := cf.Config.ExposedPorts["9443/tcp"]
	got := runtime{cf.OS, cf.Architecture, cf.Config.User, cf.Config.Entrypoint, port, 0}
	pkgDigest, err := pkgLayer.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if d, _ := l.Digest(); d == pkgDigest {
			continue
		}
		if mode, ok := fileMode(t, l, "usr/local/bin/"+program); ok {
			got.BinaryMode = mode
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runtime image of the Function package (-want +got):\n%s", diff)
	}
}

func fileMode(t *testing.T, l v1.Layer, name string) (int64, bool) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return 0, false
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(hdr.Name, "/") == name && hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			return hdr.Mode, true
		}
	}
}

func layerFiles(t *testing.T, l v1.Layer) map[string][]byte {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = b
	}
}

// yamlDocs splits a YAML stream and decodes every non-empty document.
func yamlDocs(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, chunk := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		var d map[string]any
		if err := yaml.Unmarshal(chunk, &d); err != nil {
			t.Fatalf("decoding YAML document: %v\n%s", err, chunk)
		}
		if len(d) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

func identity(d map[string]any) object {
	md, _ := d["metadata"].(map[string]any)
	apiVersion, _ := d["apiVersion"].(string)
	kind, _ := d["kind"].(string)
	name, _ := md["name"].(string)
	return object{apiVersion, kind, name}
}

func sortObjects(o []object) {
	slices.SortFunc(o, func(a, b object) int {
		return strings.Compare(a.APIVersion+"/"+a.Kind+"/"+a.Name, b.APIVersion+"/"+b.Kind+"/"+b.Name)
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
