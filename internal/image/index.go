package image

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AnnotationRefName is the OCI image layout annotation that names an entry of index.json;
// `skopeo copy oci:DIR:REF` and `crane` look entries up by it.
const AnnotationRefName = "org.opencontainers.image.ref.name"

// Index returns a multi-platform OCI image index of images, one entry per platform, in the
// order given. Each image's platform is taken from its config (set by Build, or by `crossplane
// xpkg build` from the embedded runtime image), so the index always matches the binaries.
// Two images for the same platform are an error: a registry client would pick one at random.
func Index(images ...v1.Image) (v1.ImageIndex, error) {
	if len(images) == 0 {
		return nil, errors.New("image index: no images given")
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]int{}
	adds := make([]mutate.IndexAddendum, 0, len(images))
	for i, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image index: image %d: reading config: %w", i, err)
		}
		p := cf.Platform()
		if p == nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("image index: image %d has no os/architecture in its config", i)
		}
		if j, dup := seen[p.String()]; dup {
			return nil, fmt.Errorf("image index: images %d and %d are both for %s", j, i, p)
		}
		seen[p.String()] = i
		mt, err := img.MediaType()
		if err != nil {
			return nil, fmt.Errorf("image index: image %d: reading media type: %w", i, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: mt, Platform: p},
		})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// WriteLayout writes idx as an OCI image layout in dir (created; it must not exist yet, so
// stale blobs of an earlier build never linger), with one index.json entry annotated with the
// tag's identifier as AnnotationRefName. `crane push DIR REF` (without --index, which would
// wrap the index in another one) and `skopeo copy --all oci:DIR:TAG docker://REF` push it.
func WriteLayout(dir string, tag name.Tag, idx v1.ImageIndex) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("writing OCI layout: %s already exists; remove it first", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{AnnotationRefName: tag.TagStr()})); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	return nil
}
