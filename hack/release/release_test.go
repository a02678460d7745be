package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, seen from this package's directory (where go test runs).
const repoRoot = "../.."

// TestReleaseArtifacts inspects a release built by `make release-build` (hack/release.sh): the
// image indexes and their archives, the packages, install.yaml and SHA256SUMS. It needs the
// built files, so it runs only when REDIS_HA_RELEASE_DIR names them and
// REDIS_HA_RELEASE_VERSION the version (`make release-check` sets both); `go test ./...`
// skips it.
func TestReleaseArtifacts(t *testing.T) {
	dir, version := os.Getenv("REDIS_HA_RELEASE_DIR"), os.Getenv("REDIS_HA_RELEASE_VERSION")
	if dir == "" {
		t.Skip("REDIS_HA_RELEASE_DIR is not set: run `make release VERSION=v0.1.0`, which builds the artifacts and runs this test")
	}
	if !releaseVersion.MatchString(version) {
		t.Fatalf("REDIS_HA_RELEASE_VERSION %q: set the release version, e.g. v0.1.0 (make release-check VERSION=v0.1.0)", version)
	}
	imageRegistry := envOr("REDIS_HA_IMAGE_REGISTRY", "ghcr.io/redis-ha")
	packageRegistry := envOr("REDIS_HA_PACKAGE_REGISTRY", "xpkg.crossplane.io/redis-ha")
	platforms := strings.Fields(envOr("REDIS_HA_RELEASE_PLATFORMS", "linux/amd64 linux/arm64"))
	functionPackage := packageRegistry + "/function-redis-ha"
	hostPlatform := "linux/" + runtime.GOARCH

	report := func(t *testing.T, errs []error) {
		t.Helper()
		for _, err := range errs {
			t.Error(err)
		}
	}

	t.Run("SHA256SUMS", func(t *testing.T) { report(t, checkSums(dir)) })

	wants := map[string]imageWant{
		"redis-ha-tunnel":   {name: "redis-ha-tunnel", version: version, ports: []string{"6379/tcp", "6380/tcp", "8080/tcp"}, platforms: platforms},
		"function-redis-ha": {name: "function-redis-ha", version: version, ports: []string{"9443/tcp"}, platforms: platforms},
	}
	binaries := map[string]string{} // program -> its host-platform binary, extracted
	binDir := t.TempDir()
	var functionImages map[string]v1.Image
	for name, want := range wants {
		t.Run("Image/"+name, func(t *testing.T) {
			layoutDir := filepath.Join(dir, "images", name)
			images, errs := checkImageLayout(layoutDir, want)
			report(t, errs)
			report(t, checkArchive(layoutDir, layoutDir+".oci.tar"))
			if name == "function-redis-ha" {
				functionImages = images
			}
			if img, ok := images[hostPlatform]; ok {
				bin, _, err := layerFile(img, "usr/local/bin/"+name)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(binDir, name)
				if err := os.WriteFile(path, bin, 0o755); err != nil {
					t.Fatal(err)
				}
				binaries[name] = path
			}
		})
	}

	// hostBinary returns the program taken out of its image for this machine's platform.
	hostBinary := func(t *testing.T, program string) string {
		t.Helper()
		if !slices.Contains(platforms, hostPlatform) {
			t.Skipf("the release has no %s image to run on this machine", hostPlatform)
		}
		bin, ok := binaries[program]
		if !ok {
			t.Fatalf("no %s %s image to take the program out of (see the Image/%s failure)", program, hostPlatform, program)
		}
		return bin
	}

	// The programs report the release version: the tunnel prints it, the function composes the
	// tunnel image of this release by default (the image the tunnel index is tagged as).
	t.Run("TunnelVersion", func(t *testing.T) {
		bin := hostBinary(t, "redis-ha-tunnel")
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("redis-ha-tunnel --version: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != version {
			t.Errorf("redis-ha-tunnel --version prints %q, want %q (check the Makefile LDFLAGS)", got, version)
		}
	})
	t.Run("FunctionDefaultTunnelImage", func(t *testing.T) {
		bin := hostBinary(t, "function-redis-ha")
		example := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(mustRead(t, filepath.Join(repoRoot, "examples", "redisha.yaml")), &example.Object); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		images, err := defaultTunnelImage(ctx, bin, example)
		if err != nil {
			t.Fatal(err)
		}
		// The tunnel image as released: registry/name and the tag of the tunnel index.
		want := imageRegistry + "/redis-ha-tunnel:" + version
		if !slices.Contains(images, want) {
			t.Errorf("the released function composes container images %q for examples/redisha.yaml; want the released tunnel image %q among them", images, want)
		}
	})

	t.Run("Packages", func(t *testing.T) {
		byArch := map[string]*xpkg{}
		for _, platform := range platforms {
			arch := strings.TrimPrefix(platform, "linux/")
			p, err := readXpkg(filepath.Join(dir, "packages", "function-redis-ha-"+arch+".xpkg"))
			if err != nil {
				t.Error(err)
				continue
			}
			byArch[arch] = p
			runtimeImage, ok := functionImages[platform]
			if !ok {
				t.Errorf("no released %s function image to compare the %s package with", platform, arch)
				continue
			}
			for _, err := range checkFunctionPackage(p, arch, runtimeImage) {
				t.Errorf("function-redis-ha-%s.xpkg: %v", arch, err)
			}
		}
		report(t, checkPackageIndex(filepath.Join(dir, "packages", "function-redis-ha"), version, byArch))
		report(t, checkArchive(filepath.Join(dir, "packages", "function-redis-ha"), filepath.Join(dir, "packages", "function-redis-ha.oci.tar")))

		c, err := readXpkg(filepath.Join(dir, "packages", "configuration-redis-ha.xpkg"))
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range checkConfigurationPackage(c, functionPackage, version, configurationObjects(t)) {
			t.Errorf("configuration-redis-ha.xpkg: %v", err)
		}
	})

	// Push every index and package the way `crane push` does (go-containerregistry remote) to
	// a registry on loopback, pull each platform back, and compare digests.
	t.Run("Push", func(t *testing.T) {
		reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer reg.Close()
		host := strings.TrimPrefix(reg.URL, "http://")
		for _, layoutDir := range []string{"images/redis-ha-tunnel", "images/function-redis-ha", "packages/function-redis-ha"} {
			ref := host + "/" + filepath.Base(layoutDir) + ":" + version
			for _, err := range pushAndPull(filepath.Join(dir, layoutDir), ref, version, platforms) {
				t.Errorf("%s: %v", layoutDir, err)
			}
		}
		img, err := tarball.ImageFromPath(filepath.Join(dir, "packages", "configuration-redis-ha.xpkg"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/configuration-redis-ha:" + version)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("pushing the Configuration package: %v", err)
		}
		pulled, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := digestOf(t, pulled), digestOf(t, img); got != want {
			t.Errorf("pulled Configuration package %s, pushed %s", got, want)
		}
	})

	t.Run("InstallYAML", func(t *testing.T) {
		want := installWant{
			version:              version,
			functionPackage:      functionPackage,
			configurationPackage: packageRegistry + "/configuration-redis-ha",
			clusterRoles:         committedClusterRoles(t),
			functionRefs:         compositionFunctionRefs(t),
		}
		report(t, checkInstallYAML(mustRead(t, filepath.Join(dir, "install.yaml")), want))
	})
}

// committedClusterRoles reads the ClusterRoles of package/rbac, which install.yaml must carry
// unchanged.
func committedClusterRoles(t *testing.T) []rbacv1.ClusterRole {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "package", "rbac", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no package/rbac/*.yaml (%v)", err)
	}
	slices.Sort(files)
	var roles []rbacv1.ClusterRole
	for _, f := range files {
		for _, doc := range splitYAML(mustRead(t, f)) {
			var r rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			roles = append(roles, r)
		}
	}
	return roles
}

// compositionFunctionRefs returns the functionRef names of every Composition the Configuration
// ships: install.yaml's Function must carry that name.
func compositionFunctionRefs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "package", "configuration", "composition-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no package/configuration/composition-*.yaml (%v)", err)
	}
	var refs []string
	for _, f := range files {
		var c struct {
			Spec struct {
				Pipeline []struct {
					FunctionRef struct{ Name string } `json:"functionRef"`
				}
			}
		}
		if err := yaml.Unmarshal(mustRead(t, f), &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range c.Spec.Pipeline {
			if !slices.Contains(refs, s.FunctionRef.Name) {
				refs = append(refs, s.FunctionRef.Name)
			}
		}
	}
	if len(refs) == 0 {
		t.Fatal("no Composition has a functionRef")
	}
	return refs
}

// configurationObjects counts the objects of the Configuration's source root by "apiVersion
// kind"; the package must carry exactly these.
func configurationObjects(t *testing.T) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "package", "configuration", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no package/configuration/*.yaml (%v)", err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		if filepath.Base(f) == "crossplane.yaml" {
			continue
		}
		for _, doc := range splitYAML(mustRead(t, f)) {
			var tm struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			kinds[tm.APIVersion+" "+tm.Kind]++
		}
	}
	return kinds
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
