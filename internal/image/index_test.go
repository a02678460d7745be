package image

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestIndexAndLayout(t *testing.T) {
	amd64, err := Build(testSpec(buildHello(t, "amd64"), "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	// Index reads only the platform from the config, so a relabelled copy stands in for an
	// arm64 build (cross-compiling the standard library would slow down make test).
	arm64 := withArchitecture(t, amd64, "arm64")
	idx, err := Index(amd64, arm64)
	if err != nil {
		t.Fatalf("Index: %v", err)
	}

	type entry struct {
		MediaType types.MediaType
		Digest    v1.Hash
		Platform  string
	}
	want := []entry{
		{types.OCIManifestSchema1, digest(t, amd64), "linux/amd64"},
		{types.OCIManifestSchema1, digest(t, arm64), "linux/arm64"},
	}
	entries := func(idx v1.ImageIndex) (types.MediaType, []entry) {
		t.Helper()
		mt, err := idx.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var got []entry
		for _, d := range m.Manifests {
			p := ""
			if d.Platform != nil {
				p = d.Platform.String()
			}
			got = append(got, entry{d.MediaType, d.Digest, p})
		}
		return mt, got
	}
	mt, got := entries(idx)
	if mt != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", mt, types.OCIImageIndex)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index entries (-want +got):\n%s", diff)
	}

	// Reproducible: the same images give the same index.
	again, err := Index(amd64, arm64)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two indexes of the same images differ: %s vs %s", d1, d2)
	}

	// Through an OCI layout on disk and back.
	dir := filepath.Join(t.TempDir(), "redis-ha-tunnel")
	tag, err := name.NewTag("ghcr.io/redis-ha/redis-ha-tunnel:v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(dir, tag, idx); err != nil {
		t.Fatalf("WriteLayout: %v", err)
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading layout back: %v", err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topManifest.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(topManifest.Manifests))
	}
	desc := topManifest.Manifests[0]
	if desc.Digest != d1 || desc.Annotations[AnnotationRefName] != "v1.2.3" {
		t.Errorf("index.json entry %s %v, want %s with %s=v1.2.3", desc.Digest, desc.Annotations, d1, AnnotationRefName)
	}
	child, err := top.ImageIndex(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	_, gotFromDisk := entries(child)
	if diff := cmp.Diff(want, gotFromDisk); diff != "" {
		t.Errorf("index entries read from the layout (-want +got):\n%s", diff)
	}
	img, err := child.Image(digest(t, arm64))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" || cf.Config.User != "65532:65532" {
		t.Errorf("arm64 image from the layout: architecture %q user %q", cf.Architecture, cf.Config.User)
	}

	// An existing directory is refused rather than mixed with stale blobs.
	if err := WriteLayout(dir, tag, idx); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("WriteLayout into an existing directory: %v, want an 'already exists' error", err)
	}
}

func TestIndexRejects(t *testing.T) {
	amd64, err := Build(testSpec(buildHello(t, "amd64"), "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason string
		images []v1.Image
		want   string
	}{
		"Empty": {
			reason: "an index needs at least one image",
			want:   "no images",
		},
		"DuplicatePlatform": {
			reason: "clients would pick one of two images for the same platform at random",
			images: []v1.Image{amd64, amd64},
			want:   "images 0 and 1 are both for linux/amd64",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Index(tc.images...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: Index error %v, want one containing %q", tc.reason, err, tc.want)
			}
		})
	}
}

func withArchitecture(t *testing.T, img v1.Image, arch string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
