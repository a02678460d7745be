// Package image builds the OCI images of the redis-ha programs (the tunnel and the composition
// function) with go-containerregistry, without Docker: an empty base, one layer holding a static
// Go binary plus the few files a non-root process expects (/etc/passwd and /etc/group entries
// for user 65532 "nonroot", its home directory and a world-writable /tmp), and a config that
// runs the binary as 65532:65532.
//
// Builds are reproducible: every timestamp is Spec.Created (callers pass SOURCE_DATE_EPOCH),
// tar entries are written in a fixed order with fixed owners and modes, and nothing from the
// build machine (file times, user names, paths) reaches the image, so the same binary gives the
// same digest on every machine.
//
// Build makes a single-platform image; WriteTarball writes it as a tarball that `docker load`,
// `crane push` and `crossplane xpkg build --embed-runtime-image-tarball` read. Index and
// WriteLayout combine the per-platform images of a release into one multi-platform image index
// stored as an OCI image layout directory.
package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The non-root identity the images run as. 65532 is the "nonroot" user of the distroless
// images, so our images and the Dockerfiles (which use distroless) agree on file ownership and
// Kubernetes runAsUser settings.
const (
	NonRootUID  = 65532
	NonRootGID  = 65532
	NonRootName = "nonroot"
)

// BinDir is the directory inside the image that holds the program; the entrypoint is
// BinDir/<Spec.Name>.
const BinDir = "/usr/local/bin"

// Standard OCI annotation keys that Build sets as image config labels.
const (
	LabelSource  = "org.opencontainers.image.source"
	LabelVersion = "org.opencontainers.image.version"
	LabelTitle   = "org.opencontainers.image.title"
)

// defaultPath is the PATH of the image environment; the same as distroless static.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// elfMachines maps the Go architectures we may build images for to their ELF machine type, so
// a binary built for the wrong architecture is caught before it is packed.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

var programName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Spec describes a single-platform image of one program.
type Spec struct {
	// Name of the program: the binary is installed as BinDir/Name, which is the entrypoint, and
	// Name is the image title label. Lower case letters, digits, '.', '_' and '-'.
	Name string

	// Binary is the path of the program on the build machine. It must be a statically linked
	// Linux ELF executable for Platform (CGO_ENABLED=0): the image has no libc.
	Binary string

	// Platform of the binary. OS must be "linux"; Architecture one of amd64, arm64, arm,
	// ppc64le, s390x, riscv64.
	Platform v1.Platform

	// Args are the default arguments after the entrypoint (the image config's Cmd).
	Args []string

	// Env holds extra KEY=VALUE environment entries; PATH is always set.
	Env []string

	// ExposedPorts lists the ports the program listens on, "6379" or "6379/tcp" ("/udp" too).
	ExposedPorts []string

	// Source and Version fill the org.opencontainers.image.source and .version labels when
	// not empty.
	Source  string
	Version string

	// Labels are extra image config labels; they override the standard ones.
	Labels map[string]string

	// Created is the time recorded everywhere in the image (config, history, file times).
	// Pass SOURCE_DATE_EPOCH for reproducible builds; the zero value means the Unix epoch.
	Created time.Time
}

// Entrypoint returns the path of the program inside the image.
func (s Spec) Entrypoint() string { return path.Join(BinDir, s.Name) }

// Build returns the image described by spec. It reads the binary into memory once, validates
// that it can run on an empty base image for spec.Platform, and returns an error naming the
// offending Spec field otherwise.
func Build(spec Spec) (v1.Image, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	binary, err := readStaticBinary(spec.Binary, spec.Platform.Architecture)
	if err != nil {
		return nil, err
	}
	created := spec.created()

	layerTar, err := rootfsTar(spec.Entrypoint(), binary, created)
	if err != nil {
		return nil, fmt.Errorf("image %s: writing layer: %w", spec.Name, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image %s: creating layer: %w", spec.Name, err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "redis-ha internal/image: " + spec.Entrypoint(),
			Comment:   "static binary, passwd/group entries for " + NonRootName + ", /tmp",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: appending layer: %w", spec.Name, err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: reading config: %w", spec.Name, err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS = spec.Platform.OS
	cf.Architecture = spec.Platform.Architecture
	cf.Variant = spec.Platform.Variant
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", NonRootUID, NonRootGID),
		Entrypoint:   []string{spec.Entrypoint()},
		Cmd:          slices.Clone(spec.Args),
		Env:          append([]string{defaultPath}, spec.Env...),
		WorkingDir:   "/",
		ExposedPorts: spec.exposedPorts(),
		Labels:       spec.labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s: writing config: %w", spec.Name, err)
	}
	return img, nil
}

// WriteTarball writes img to the file at path as an image tarball tagged tag, the format
// `crossplane xpkg build --embed-runtime-image-tarball`, `docker load` and `crane push` read.
// The file is written next to path and renamed, so an interrupted build never leaves a
// truncated tarball behind for make to consider up to date.
func WriteTarball(path string, tag name.Tag, img v1.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // already renamed on success
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close() //nolint:errcheck // the write error is the one to report
		return fmt.Errorf("writing image tarball %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing image tarball %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing image tarball %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing image tarball %s: %w", path, err)
	}
	return nil
}

func (s Spec) validate() error {
	var errs []error
	if !programName.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("Name %q: use lower case letters, digits, '.', '_' and '-' (it becomes %s/<Name>)", s.Name, BinDir))
	}
	if s.Binary == "" {
		errs = append(errs, errors.New("Binary is empty: give the path of a static linux binary"))
	}
	if s.Platform.OS != "linux" {
		errs = append(errs, fmt.Errorf("Platform.OS %q: only linux images are supported", s.Platform.OS))
	}
	if _, ok := elfMachines[s.Platform.Architecture]; !ok {
		errs = append(errs, fmt.Errorf("Platform.Architecture %q: use one of %s", s.Platform.Architecture, strings.Join(slices.Sorted(maps.Keys(elfMachines)), ", ")))
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("Env entry %q: use KEY=VALUE", e))
		}
	}
	for _, p := range s.ExposedPorts {
		if _, err := exposedPort(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s Spec) created() time.Time {
	if s.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return s.Created.UTC()
}

func (s Spec) exposedPorts() map[string]struct{} {
	if len(s.ExposedPorts) == 0 {
		return nil
	}
	ports := make(map[string]struct{}, len(s.ExposedPorts))
	for _, p := range s.ExposedPorts {
		key, _ := exposedPort(p) // validated
		ports[key] = struct{}{}
	}
	return ports
}

func (s Spec) labels() map[string]string {
	labels := map[string]string{LabelTitle: s.Name}
	if s.Source != "" {
		labels[LabelSource] = s.Source
	}
	if s.Version != "" {
		labels[LabelVersion] = s.Version
	}
	maps.Copy(labels, s.Labels)
	return labels
}

// exposedPort normalizes "6379" to "6379/tcp", the key format of the image config.
func exposedPort(p string) (string, error) {
	port, proto, hasProto := strings.Cut(p, "/")
	if !hasProto {
		proto = "tcp"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
		return "", fmt.Errorf("ExposedPorts entry %q: use PORT or PORT/tcp or PORT/udp, PORT in 1-65535", p)
	}
	return strconv.Itoa(n) + "/" + proto, nil
}

// readStaticBinary reads the program and checks it is a Linux ELF executable for arch without
// a dynamic loader: on an empty base a dynamically linked binary fails with a confusing
// "no such file or directory" at container start, so catch it at build time.
func readStaticBinary(file, arch string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("Binary: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("Binary %s is not an ELF executable (build it with GOOS=linux): %w", file, err)
	}
	defer f.Close() //nolint:errcheck // reads from memory
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("Binary %s is an ELF %s, not an executable", file, f.Type)
	}
	if want := elfMachines[arch]; f.Machine != want {
		return nil, fmt.Errorf("Binary %s is built for %s, but Platform.Architecture is %s (build it with GOARCH=%s)", file, f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("Binary %s is dynamically linked; the image has no libc: build it with CGO_ENABLED=0", file)
		}
	}
	return data, nil
}

// rootfsTar returns the single layer of the image: the directories, passwd/group files and the
// program, in a fixed order with fixed owners, modes and times.
func rootfsTar(entrypoint string, binary []byte, mtime time.Time) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		fmt.Sprintf("%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", NonRootName, NonRootUID, NonRootGID, NonRootName, NonRootName)
	group := "root:x:0:\n" +
		"nobody:x:65534:\n" +
		fmt.Sprintf("%s:x:%d:\n", NonRootName, NonRootGID)

	type entry struct {
		name     string
		mode     int64
		uid, gid int
		data     []byte
		dir      bool
	}
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/" + NonRootName + "/", mode: 0o700, uid: NonRootUID, gid: NonRootGID, dir: true},
		// Sticky and world-writable like every /tmp: Go's os.TempDir and many libraries use it.
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	// Parent directories of the program, then the program itself (root-owned, so the
	// non-root process cannot replace it).
	rel := strings.TrimPrefix(entrypoint, "/")
	parts := strings.Split(path.Dir(rel), "/")
	for i := range parts {
		entries = append(entries, entry{name: strings.Join(parts[:i+1], "/") + "/", mode: 0o755, dir: true})
	}
	entries = append(entries, entry{name: rel, mode: 0o755, data: binary})

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
		}
		if e.dir {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
