package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// helloSource is the program packed into test images; running it back out of the image proves
// the layer carries the binary intact.
const helloSource = `package main

import "fmt"

func main() { fmt.Println("hello from the image") }
`

// buildHello compiles helloSource as a static linux binary for goarch and returns its path.
func buildHello(t *testing.T, goarch string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go tool is needed to build a test binary: %v", err)
		}
		t.Skipf("no go tool on PATH: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(helloSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building test binary: %v\n%s", err, b)
	}
	return out
}

func testSpec(binary, arch string) Spec {
	return Spec{
		Name:         "redis-ha-tunnel",
		Binary:       binary,
		Platform:     v1.Platform{OS: "linux", Architecture: arch},
		Args:         []string{"--log-format=json"},
		Env:          []string{"GOMAXPROCS=2"},
		ExposedPorts: []string{"6379", "8080/tcp"},
		Source:       "https://github.com/redis-ha/redis-ha",
		Version:      "v1.2.3",
		Labels:       map[string]string{"io.example/extra": "yes"},
		Created:      time.Unix(1700000000, 0),
	}
}

// layerEntry is what the tests compare of each tar entry.
type layerEntry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Size     int64
}

func readLayer(t *testing.T, img v1.Image) ([]layerEntry, map[string][]byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var entries []layerEntry
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, layerEntry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime.UTC(), hdr.Size})
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = b
		}
	}
	return entries, files
}

func TestBuildWriteTarballReadBack(t *testing.T) {
	binary := buildHello(t, "amd64")
	spec := testSpec(binary, "amd64")
	img, err := Build(spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	out := filepath.Join(t.TempDir(), "images", "tunnel.tar")
	tag, err := name.NewTag("ghcr.io/redis-ha/redis-ha-tunnel:v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTarball(out, tag, img); err != nil {
		t.Fatalf("WriteTarball: %v", err)
	}

	// Read back the way crossplane xpkg build does: the only image in the tarball.
	got, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatalf("reading tarball back: %v", err)
	}
	if _, err := tarball.ImageFromPath(out, &tag); err != nil {
		t.Errorf("tarball has no image tagged %s: %v", tag, err)
	}
	// An image tarball (docker save format) stores the config and layer blobs but no
	// manifest, so readers synthesize a Docker manifest; what must survive are the blobs.
	if diff := cmp.Diff(blobDigests(t, img), blobDigests(t, got)); diff != "" {
		t.Errorf("config and layer digests after the tarball round trip (-built +read):\n%s", diff)
	}
	// The image itself (what WriteLayout and registries get) uses OCI media types.
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	type mediaTypes struct{ Manifest, Config, Layer types.MediaType }
	wantMT := mediaTypes{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer}
	gotMT := mediaTypes{Manifest: mt, Config: m.Config.MediaType}
	if len(m.Layers) > 0 {
		gotMT.Layer = m.Layers[0].MediaType
	}
	if diff := cmp.Diff(wantMT, gotMT); diff != "" {
		t.Errorf("media types (-want +got):\n%s", diff)
	}

	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := v1.Config{
		User:       "65532:65532",
		Entrypoint: []string{"/usr/local/bin/redis-ha-tunnel"},
		Cmd:        []string{"--log-format=json"},
		Env:        []string{defaultPath, "GOMAXPROCS=2"},
		WorkingDir: "/",
		ExposedPorts: map[string]struct{}{
			"6379/tcp": {},
			"8080/tcp": {},
		},
		Labels: map[string]string{
			LabelTitle:         "redis-ha-tunnel",
			LabelSource:        "https://github.com/redis-ha/redis-ha",
			LabelVersion:       "v1.2.3",
			"io.example/extra": "yes",
		},
	}
	if diff := cmp.Diff(wantConfig, cf.Config); diff != "" {
		t.Errorf("image config (-want +got):\n%s", diff)
	}
	created := time.Unix(1700000000, 0).UTC()
	type platformAndTime struct {
		OS, Architecture string
		Created          time.Time
		HistoryCreated   time.Time
	}
	gotPT := platformAndTime{OS: cf.OS, Architecture: cf.Architecture, Created: cf.Created.UTC()}
	if len(cf.History) == 1 {
		gotPT.HistoryCreated = cf.History[0].Created.UTC()
	}
	if diff := cmp.Diff(platformAndTime{"linux", "amd64", created, created}, gotPT); diff != "" {
		t.Errorf("platform and times (-want +got):\n%s", diff)
	}

	entries, files := readLayer(t, got)
	binaryBytes, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	wantEntries := []layerEntry{
		{"etc/", tar.TypeDir, 0o755, 0, 0, created, 0},
		{"etc/group", tar.TypeReg, 0o644, 0, 0, created, int64(len(files["etc/group"]))},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, created, int64(len(files["etc/passwd"]))},
		{"home/", tar.TypeDir, 0o755, 0, 0, created, 0},
		{"home/nonroot/", tar.TypeDir, 0o700, 65532, 65532, created, 0},
		{"tmp/", tar.TypeDir, 0o1777, 0, 0, created, 0},
		{"usr/", tar.TypeDir, 0o755, 0, 0, created, 0},
		{"usr/local/", tar.TypeDir, 0o755, 0, 0, created, 0},
		{"usr/local/bin/", tar.TypeDir, 0o755, 0, 0, created, 0},
		{"usr/local/bin/redis-ha-tunnel", tar.TypeReg, 0o755, 0, 0, created, int64(len(binaryBytes))},
	}
	if diff := cmp.Diff(wantEntries, entries); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
	if !bytes.Equal(files["usr/local/bin/redis-ha-tunnel"], binaryBytes) {
		t.Errorf("binary in the image differs from %s", binary)
	}
	if !strings.Contains(string(files["etc/passwd"]), "\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n") {
		t.Errorf("etc/passwd has no nonroot entry:\n%s", files["etc/passwd"])
	}
	if !strings.Contains(string(files["etc/group"]), "\nnonroot:x:65532:\n") {
		t.Errorf("etc/group has no nonroot entry:\n%s", files["etc/group"])
	}

	// The program runs straight out of the layer: it is static and intact.
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		exe := filepath.Join(t.TempDir(), "from-image")
		if err := os.WriteFile(exe, files["usr/local/bin/redis-ha-tunnel"], 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(exe).CombinedOutput()
		if err != nil || string(b) != "hello from the image\n" {
			t.Errorf("running the binary from the image: %v, output %q", err, b)
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	binary := buildHello(t, "amd64")
	spec := testSpec(binary, "amd64")
	first, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Same bytes under another path with another file time: nothing of the build machine
	// may reach the image.
	copied := filepath.Join(t.TempDir(), "copy")
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(copied, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	spec.Binary = copied
	second, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if d1, d2 := digest(t, first), digest(t, second); d1 != d2 {
		t.Errorf("two builds of the same binary differ: %s vs %s", d1, d2)
	}

	// And through the tarball: writing twice gives identical files.
	tag := name.MustParseReference("example.com/r/x:v1").(name.Tag)
	dir := t.TempDir()
	for _, f := range []string{"a.tar", "b.tar"} {
		if err := WriteTarball(filepath.Join(dir, f), tag, first); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.tar"))
	bb, _ := os.ReadFile(filepath.Join(dir, "b.tar"))
	if !bytes.Equal(a, bb) {
		t.Error("two tarballs of the same image differ")
	}

	// The check above can fail: another creation time is another image.
	spec.Created = spec.Created.Add(time.Second)
	third, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, first) == digest(t, third) {
		t.Error("changing Created did not change the digest")
	}
}

func TestBuildRejectsBadSpecs(t *testing.T) {
	amd64 := buildHello(t, "amd64")
	notELF := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	valid := testSpec(amd64, "amd64")
	with := func(change func(*Spec)) Spec {
		s := valid
		change(&s)
		return s
	}
	cases := map[string]struct {
		reason string
		spec   Spec
		want   []string // substrings of the error
	}{
		"BadName": {
			reason: "the name becomes a path inside the image",
			spec:   with(func(s *Spec) { s.Name = "../evil" }),
			want:   []string{`Name "../evil"`},
		},
		"NoBinary": {
			reason: "a binary path is required",
			spec:   with(func(s *Spec) { s.Binary = "" }),
			want:   []string{"Binary is empty"},
		},
		"MissingBinary": {
			reason: "a missing file names the field",
			spec:   with(func(s *Spec) { s.Binary = filepath.Join(t.TempDir(), "nope") }),
			want:   []string{"Binary:", "no such file"},
		},
		"NotELF": {
			reason: "scripts cannot run on an empty base",
			spec:   with(func(s *Spec) { s.Binary = notELF }),
			want:   []string{"not an ELF executable", "GOOS=linux"},
		},
		"WrongArchitecture": {
			reason: "an amd64 binary in an arm64 image would not start",
			spec:   with(func(s *Spec) { s.Platform.Architecture = "arm64" }),
			want:   []string{"built for EM_X86_64", "Platform.Architecture is arm64", "GOARCH=arm64"},
		},
		"NotLinux": {
			reason: "only linux images",
			spec:   with(func(s *Spec) { s.Platform.OS = "windows" }),
			want:   []string{`Platform.OS "windows"`},
		},
		"UnknownArchitecture": {
			reason: "architectures without an ELF check are refused",
			spec:   with(func(s *Spec) { s.Platform.Architecture = "mips" }),
			want:   []string{`Platform.Architecture "mips"`, "amd64, arm, arm64"},
		},
		"BadEnv": {
			reason: "env entries need KEY=VALUE",
			spec:   with(func(s *Spec) { s.Env = []string{"JUSTKEY"} }),
			want:   []string{`Env entry "JUSTKEY"`},
		},
		"BadPorts": {
			reason: "every bad port is reported",
			spec:   with(func(s *Spec) { s.ExposedPorts = []string{"http", "70000", "53/sctp"} }),
			want:   []string{`"http"`, `"70000"`, `"53/sctp"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Build(tc.spec)
			if err == nil {
				t.Fatalf("%s: Build succeeded, want an error", tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not contain %q", tc.reason, err, w)
				}
			}
		})
	}
}

func TestBuildRejectsDynamicBinary(t *testing.T) {
	// Any dynamically linked system program will do; on amd64 Linux /bin/sh is one.
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs a dynamically linked linux/amd64 program")
	}
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	_, err = Build(testSpec(sh, "amd64"))
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("Build(%s) error = %v, want one about dynamic linking and CGO_ENABLED=0", sh, err)
	}
}

// blobDigests returns the config digest followed by the compressed layer digests of img.
func blobDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{cfg}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
