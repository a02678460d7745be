package main

// The checks of a built release, shared by TestReleaseArtifacts (on the real artifacts) and the
// unit tests (on small synthetic ones, to prove each check fails when it should). Every check
// returns errors instead of failing a test itself.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pkgv1 "github.com/crossplane/crossplane/apis/v2/pkg/v1"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/internal/image"
)

// Crossplane's package format (crossplane-runtime pkg/xpkg): the config label
// "io.crossplane.xpkg:<layer digest>" = "base" marks the layer holding package.yaml.
const (
	xpkgLabelPrefix = "io.crossplane.xpkg:"
	xpkgBaseLayer   = "base"
	xpkgStreamFile  = "package.yaml"
)

// checkSums checks dir/SHA256SUMS: in `sha256sum` format, every listed file matches, and every
// file of dir (but SHA256SUMS) is listed.
func checkSums(dir string) []error {
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return []error{err}
	}
	defer f.Close()
	var errs []error
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 64 || file == "" {
			errs = append(errs, fmt.Errorf("SHA256SUMS line %d %q: want \"<sha256 hex>  <path>\"", n, sc.Text()))
			continue
		}
		listed[file] = true
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			errs = append(errs, fmt.Errorf("SHA256SUMS lists %s: %w", file, err))
			continue
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			errs = append(errs, fmt.Errorf("SHA256SUMS: %s has sha256 %x, listed %s", file, got, sum))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel = filepath.ToSlash(rel); rel != "SHA256SUMS" && !listed[rel] {
			errs = append(errs, fmt.Errorf("SHA256SUMS does not list %s", rel))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}

// imageWant is what one program's image must look like on every platform.
type imageWant struct {
	name      string   // program: entrypoint /usr/local/bin/<name>, title label
	version   string   // org.opencontainers.image.version label and the layout's tag
	ports     []string // exposed ports, "6379/tcp"
	platforms []string // "linux/amd64", ...
}

// checkImageLayout checks an OCI layout written for a release: one index.json entry tagged
// want.version, an index with exactly want.platforms, and every image's config. It returns the
// images by platform for further checks.
func checkImageLayout(dir string, want imageWant) (map[string]v1.Image, []error) {
	idx, err := taggedIndex(dir, want.version)
	if err != nil {
		return nil, []error{err}
	}
	images, errs := indexImages(idx, want.platforms)
	for platform, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", platform, err))
			continue
		}
		for _, err := range checkImageConfig(cf, platform, want) {
			errs = append(errs, fmt.Errorf("%s image %s: %w", want.name, platform, err))
		}
		bin, _, err := layerFile(img, strings.TrimPrefix(image.BinDir+"/"+want.name, "/"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s image %s: %w", want.name, platform, err))
			continue
		}
		if err := checkStaticBinary(bin, cf.Architecture); err != nil {
			errs = append(errs, fmt.Errorf("%s image %s: %w", want.name, platform, err))
		}
	}
	return images, errs
}

// taggedIndex reads the one index of a release layout, whose index.json entry must carry tag as
// its org.opencontainers.image.ref.name (what `skopeo copy oci:DIR:TAG` looks up).
func taggedIndex(dir, tag string) (v1.ImageIndex, error) {
	outer, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	m, err := outer.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s/index.json has %d entries, want 1 (the release index)", dir, len(m.Manifests))
	}
	d := m.Manifests[0]
	if got := d.Annotations[image.AnnotationRefName]; got != tag {
		return nil, fmt.Errorf("%s/index.json entry is tagged %q, want %q", dir, got, tag)
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s/index.json entry is a %s, want an image index", dir, d.MediaType)
	}
	idx, err := outer.ImageIndex(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return idx, nil
}

// indexImages returns the images of idx by platform; idx must hold exactly platforms, and each
// descriptor's platform must be its image's config platform.
func indexImages(idx v1.ImageIndex, platforms []string) (map[string]v1.Image, []error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, []error{err}
	}
	var errs []error
	images := map[string]v1.Image{}
	for _, d := range m.Manifests {
		if d.Platform == nil {
			errs = append(errs, fmt.Errorf("index entry %s has no platform", d.Digest))
			continue
		}
		p := d.Platform.String()
		img, err := idx.Image(d.Digest)
		if err != nil {
			errs = append(errs, fmt.Errorf("index entry %s: %w", p, err))
			continue
		}
		cf, err := img.ConfigFile()
		if err != nil {
			errs = append(errs, fmt.Errorf("index entry %s: %w", p, err))
			continue
		}
		if got := cf.Platform().String(); got != p {
			errs = append(errs, fmt.Errorf("index entry for %s holds an image whose config says %s", p, got))
		}
		images[p] = img
	}
	if got := slices.Sorted(maps.Keys(images)); !slices.Equal(got, slices.Sorted(slices.Values(platforms))) {
		errs = append(errs, fmt.Errorf("index platforms %v, want %v", got, platforms))
	}
	return images, errs
}

// checkImageConfig checks the run-time settings of one image.
func checkImageConfig(cf *v1.ConfigFile, platform string, want imageWant) []error {
	var errs []error
	if got := cf.Platform().String(); got != platform {
		errs = append(errs, fmt.Errorf("config os/architecture %s, want %s", got, platform))
	}
	if got, w := cf.Config.User, fmt.Sprintf("%d:%d", image.NonRootUID, image.NonRootGID); got != w {
		errs = append(errs, fmt.Errorf("config user %q, want %q (non-root)", got, w))
	}
	if got, w := cf.Config.Entrypoint, []string{image.BinDir + "/" + want.name}; !slices.Equal(got, w) {
		errs = append(errs, fmt.Errorf("config entrypoint %q, want %q", got, w))
	}
	for label, w := range map[string]string{image.LabelVersion: want.version, image.LabelTitle: want.name} {
		if got := cf.Config.Labels[label]; got != w {
			errs = append(errs, fmt.Errorf("config label %s %q, want %q", label, got, w))
		}
	}
	if got := slices.Sorted(maps.Keys(cf.Config.ExposedPorts)); !slices.Equal(got, slices.Sorted(slices.Values(want.ports))) {
		errs = append(errs, fmt.Errorf("config exposed ports %v, want %v", got, want.ports))
	}
	return errs
}

// checkStaticBinary checks a program taken out of an image: a static Linux ELF for arch.
func checkStaticBinary(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("program is not an ELF executable: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != want {
		return fmt.Errorf("program is built for %s, want %s (%s)", f.Machine, want, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("program is dynamically linked; the image has no libc")
		}
	}
	return nil
}

// layerFile returns the content and mode of the regular file at name (no leading slash) in
// img's layers, the uppermost layer winning.
func layerFile(img v1.Image, name string) ([]byte, int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, 0, err
	}
	for i := len(layers) - 1; i >= 0; i-- {
		data, mode, found, err := tarFile(layers[i], name)
		if err != nil {
			return nil, 0, err
		}
		if found {
			return data, mode, nil
		}
	}
	return nil, 0, fmt.Errorf("no file /%s in the image", name)
}

func tarFile(l v1.Layer, name string) ([]byte, int64, bool, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, 0, false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, 0, false, nil
		}
		if err != nil {
			return nil, 0, false, err
		}
		if strings.TrimPrefix(hdr.Name, "/") == name && hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			return data, hdr.Mode, true, err
		}
	}
}

// checkArchive checks that the tar file archive holds exactly the files of the layout
// directory dir, byte for byte, at the root.
func checkArchive(dir, archive string) []error {
	want := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		want[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		return []error{err}
	}
	f, err := os.Open(archive)
	if err != nil {
		return []error{err}
	}
	defer f.Close()
	got := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return []error{fmt.Errorf("%s: %w", archive, err)}
		}
		if hdr.Typeflag == tar.TypeReg {
			if got[hdr.Name], err = io.ReadAll(tr); err != nil {
				return []error{fmt.Errorf("%s: %w", archive, err)}
			}
		}
	}
	var errs []error
	for _, n := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[n]; !ok {
			errs = append(errs, fmt.Errorf("%s lacks %s of %s", archive, n, dir))
		} else if !bytes.Equal(g, want[n]) {
			errs = append(errs, fmt.Errorf("%s: %s differs from %s", archive, n, dir))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[n]; !ok {
			errs = append(errs, fmt.Errorf("%s has %s, which %s does not", archive, n, dir))
		}
	}
	return errs
}

// xpkg is a Crossplane package read back from its file.
type xpkg struct {
	img      v1.Image
	config   *v1.ConfigFile
	pkgLayer v1.Hash          // diff ID (uncompressed digest) of the package layer
	docs     []map[string]any // package.yaml: metadata first, then the objects
}

func readXpkg(file string) (*xpkg, error) {
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return nil, fmt.Errorf("reading package %s: %w", file, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var marked []string
	for k, v := range cf.Config.Labels {
		if strings.HasPrefix(k, xpkgLabelPrefix) && v == xpkgBaseLayer {
			marked = append(marked, strings.TrimPrefix(k, xpkgLabelPrefix))
		}
	}
	if len(marked) != 1 {
		return nil, fmt.Errorf("%s: config marks %d layers as the package layer, want 1", file, len(marked))
	}
	h, err := v1.NewHash(marked[0])
	if err != nil {
		return nil, fmt.Errorf("%s: package layer label: %w", file, err)
	}
	l, err := img.LayerByDigest(h)
	if err != nil {
		return nil, fmt.Errorf("%s: package layer %s: %w", file, h, err)
	}
	stream, _, found, err := tarFile(l, xpkgStreamFile)
	if err != nil || !found {
		return nil, fmt.Errorf("%s: no %s in the package layer (%v)", file, xpkgStreamFile, err)
	}
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("%s: package layer %s: %w", file, h, err)
	}
	p := &xpkg{img: img, config: cf, pkgLayer: diffID}
	for i, doc := range splitYAML(stream) {
		var d map[string]any
		if err := yaml.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("%s: %s document %d: %w", file, xpkgStreamFile, i+1, err)
		}
		p.docs = append(p.docs, d)
	}
	if len(p.docs) == 0 {
		return nil, fmt.Errorf("%s: empty %s", file, xpkgStreamFile)
	}
	return p, nil
}

// meta returns apiVersion, kind and name of document i.
func (p *xpkg) meta(i int) (string, string, string) {
	d := p.docs[i]
	md, _ := d["metadata"].(map[string]any)
	av, _ := d["apiVersion"].(string)
	k, _ := d["kind"].(string)
	n, _ := md["name"].(string)
	return av, k, n
}

// checkFunctionPackage checks a per-architecture Function package: its metadata, and that its
// runtime image is the released function image for arch (the same layers, the same user and
// entrypoint).
func checkFunctionPackage(p *xpkg, arch string, runtime v1.Image) []error {
	var errs []error
	if av, k, n := p.meta(0); av != "meta.pkg.crossplane.io/v1" || k != "Function" || n != FunctionName {
		errs = append(errs, fmt.Errorf("package metadata is %s %s %q, want meta.pkg.crossplane.io/v1 Function %q", av, k, n, FunctionName))
	}
	if len(p.docs) != 1 {
		errs = append(errs, fmt.Errorf("Function package carries %d objects besides its metadata, want none", len(p.docs)-1))
	}
	if got := p.config.Platform().String(); got != "linux/"+arch {
		errs = append(errs, fmt.Errorf("package platform %s, want linux/%s", got, arch))
	}
	rcf, err := runtime.ConfigFile()
	if err != nil {
		return append(errs, err)
	}
	if p.config.Config.User != rcf.Config.User || !slices.Equal(p.config.Config.Entrypoint, rcf.Config.Entrypoint) {
		errs = append(errs, fmt.Errorf("package runs %q as %q, the released image %q as %q", p.config.Config.Entrypoint, p.config.Config.User, rcf.Config.Entrypoint, rcf.Config.User))
	}
	var got []v1.Hash
	for _, h := range p.config.RootFS.DiffIDs {
		if h != p.pkgLayer {
			got = append(got, h)
		}
	}
	if diff := cmp.Diff(rcf.RootFS.DiffIDs, got); diff != "" {
		errs = append(errs, fmt.Errorf("embedded runtime layers differ from the released linux/%s function image (-image +package):\n%s", arch, diff))
	}
	return errs
}

// checkConfigurationPackage checks the Configuration package: its metadata, that it depends
// on exactly version of functionPackage, and that it carries exactly wantKinds objects
// ("apiVersion kind" -> count).
func checkConfigurationPackage(p *xpkg, functionPackage, version string, wantKinds map[string]int) []error {
	var errs []error
	if av, k, n := p.meta(0); av != "meta.pkg.crossplane.io/v1" || k != "Configuration" || n != ConfigurationName {
		errs = append(errs, fmt.Errorf("package metadata is %s %s %q, want meta.pkg.crossplane.io/v1 Configuration %q", av, k, n, ConfigurationName))
	}
	spec, _ := p.docs[0]["spec"].(map[string]any)
	deps, _ := spec["dependsOn"].([]any)
	type dep struct{ APIVersion, Kind, Package, Version string }
	var gotDeps []dep
	for _, d := range deps {
		m, _ := d.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		gotDeps = append(gotDeps, dep{s("apiVersion"), s("kind"), s("package"), s("version")})
	}
	wantDeps := []dep{{"pkg.crossplane.io/v1", "Function", functionPackage, version}}
	if diff := cmp.Diff(wantDeps, gotDeps); diff != "" {
		errs = append(errs, fmt.Errorf("spec.dependsOn (-want +got):\n%s", diff))
	}
	kinds := map[string]int{}
	for i := 1; i < len(p.docs); i++ {
		av, k, _ := p.meta(i)
		kinds[av+" "+k]++
	}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		errs = append(errs, fmt.Errorf("package objects by kind (-want +got):\n%s", diff))
	}
	if layers, err := p.img.Layers(); err != nil || len(layers) != 1 || len(p.config.Config.Entrypoint) != 0 {
		errs = append(errs, fmt.Errorf("a Configuration package must be its package layer only; it has %d layers, entrypoint %q (%v)", len(layers), p.config.Config.Entrypoint, err))
	}
	return errs
}

// checkPackageIndex checks that the layout dir holds, tagged version, an index of exactly the
// per-architecture packages (by digest).
func checkPackageIndex(dir, version string, byArch map[string]*xpkg) []error {
	idx, err := taggedIndex(dir, version)
	if err != nil {
		return []error{err}
	}
	var platforms []string
	for arch := range byArch {
		platforms = append(platforms, "linux/"+arch)
	}
	images, errs := indexImages(idx, platforms)
	for arch, p := range byArch {
		img, ok := images["linux/"+arch]
		if !ok {
			continue
		}
		got, err1 := img.Digest()
		want, err2 := p.img.Digest()
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, err)
		} else if got != want {
			errs = append(errs, fmt.Errorf("index entry linux/%s is %s, the %s package is %s", arch, got, arch, want))
		}
	}
	return errs
}

// installWant is what install.yaml must hold.
type installWant struct {
	version              string
	functionPackage      string // repository, no tag
	configurationPackage string
	clusterRoles         []rbacv1.ClusterRole // from package/rbac
	functionRefs         []string             // functionRef names of the Compositions
}

// checkInstallYAML decodes every document of install.yaml strictly into its Go type (unknown
// fields fail) and checks the package references and the RBAC.
func checkInstallYAML(data []byte, want installWant) []error {
	var (
		errs          []error
		kinds         []string
		roles         []rbacv1.ClusterRole
		fns           []pkgv1.Function
		configuration []pkgv1.Configuration
	)
	for i, doc := range splitYAML(data) {
		var tm struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, fmt.Errorf("install.yaml document %d: %w", i+1, err))
			continue
		}
		kinds = append(kinds, tm.APIVersion+" "+tm.Kind)
		var err error
		switch tm.APIVersion + " " + tm.Kind {
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			var r rbacv1.ClusterRole
			err = yaml.UnmarshalStrict(doc, &r)
			roles = append(roles, r)
		case "pkg.crossplane.io/v1 Function":
			var f pkgv1.Function
			err = yaml.UnmarshalStrict(doc, &f)
			fns = append(fns, f)
		case "pkg.crossplane.io/v1 Configuration":
			var c pkgv1.Configuration
			err = yaml.UnmarshalStrict(doc, &c)
			configuration = append(configuration, c)
		default:
			err = errors.New("unexpected kind")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("install.yaml document %d (%s %s): %w", i+1, tm.APIVersion, tm.Kind, err))
		}
	}
	var wantKinds []string
	for range want.clusterRoles {
		wantKinds = append(wantKinds, "rbac.authorization.k8s.io/v1 ClusterRole")
	}
	wantKinds = append(wantKinds, "pkg.crossplane.io/v1 Function", "pkg.crossplane.io/v1 Configuration")
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		errs = append(errs, fmt.Errorf("install.yaml documents in order (-want +got):\n%s", diff))
	}
	if diff := cmp.Diff(want.clusterRoles, roles); len(roles) == len(want.clusterRoles) && diff != "" {
		errs = append(errs, fmt.Errorf("install.yaml ClusterRoles differ from package/rbac (-want +got):\n%s", diff))
	}
	for _, f := range fns {
		if w := want.functionPackage + ":" + want.version; f.Spec.Package != w {
			errs = append(errs, fmt.Errorf("Function spec.package %q, want %q", f.Spec.Package, w))
		}
		for _, ref := range want.functionRefs {
			if f.Name != ref {
				errs = append(errs, fmt.Errorf("Function is named %q, but a Composition calls functionRef %q", f.Name, ref))
			}
		}
	}
	for _, c := range configuration {
		if w := want.configurationPackage + ":" + want.version; c.Spec.Package != w {
			errs = append(errs, fmt.Errorf("Configuration spec.package %q, want %q", c.Spec.Package, w))
		}
	}
	return errs
}

// pushAndPull pushes the release index of the layout dir to ref as `crane push DIR REF` does
// (the index itself, not index.json around it), then pulls the index and every platform back by
// tag and compares digests.
func pushAndPull(dir, ref, version string, platforms []string) []error {
	idx, err := taggedIndex(dir, version)
	if err != nil {
		return []error{err}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return []error{err}
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		return []error{fmt.Errorf("pushing to %s: %w", ref, err)}
	}
	pulled, err := remote.Index(r)
	if err != nil {
		return []error{fmt.Errorf("pulling %s: %w", ref, err)}
	}
	want, err1 := idx.Digest()
	got, err2 := pulled.Digest()
	if err := errors.Join(err1, err2); err != nil {
		return []error{err}
	}
	var errs []error
	if got != want {
		errs = append(errs, fmt.Errorf("pulled index %s, pushed %s", got, want))
	}
	local, errs2 := indexImages(idx, platforms)
	errs = append(errs, errs2...)
	for _, platform := range platforms {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return append(errs, err)
		}
		img, err := remote.Image(r, remote.WithPlatform(*p))
		if err != nil {
			errs = append(errs, fmt.Errorf("pulling %s for %s: %w", ref, platform, err))
			continue
		}
		got, err1 := img.Digest()
		if l, ok := local[platform]; ok {
			want, err2 := l.Digest()
			if err := errors.Join(err1, err2); err != nil {
				errs = append(errs, err)
			} else if got != want {
				errs = append(errs, fmt.Errorf("pulling %s for %s gives %s, want %s", ref, platform, got, want))
			}
		}
	}
	return errs
}

// defaultTunnelImage runs the function binary (for this machine's architecture) on a unix
// socket, asks it to compose example (an XR) over gRPC the way Crossplane does, and returns the
// images of the composed tunnel Deployment's containers.
func defaultTunnelImage(ctx context.Context, functionBinary string, example *unstructured.Unstructured) ([]string, error) {
	sock := filepath.Join(filepath.Dir(functionBinary), "fn.sock")
	cmd := exec.CommandContext(ctx, functionBinary, "--insecure", "--network=unix", "--address="+sock)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", functionBinary, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	// The socket file appears at bind, before listen: only a successful dial means ready.
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("function did not listen on %s: %w; its output:\n%s", sock, ctx.Err(), logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	xr, err := resource.AsStruct(example)
	if err != nil {
		return nil, err
	}
	rsp, err := fnv1.NewFunctionRunnerServiceClient(conn).RunFunction(ctx, &fnv1.RunFunctionRequest{
		Meta:     &fnv1.RequestMeta{Tag: "release-check"},
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: xr}},
	})
	if err != nil {
		return nil, fmt.Errorf("RunFunction: %w; function output:\n%s", err, logs.String())
	}
	var images []string
	for _, r := range rsp.GetDesired().GetResources() {
		u := &unstructured.Unstructured{Object: r.GetResource().AsMap()}
		if u.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			if img, _ := c.(map[string]any)["image"].(string); img != "" {
				images = append(images, img)
			}
		}
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("the function composed no Deployment with a container image (results: %v)", rsp.GetResults())
	}
	return images, nil
}
