package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/internal/image"
)

// imageShape is what users of either build (Dockerfile or make image-*) rely on.
type imageShape struct {
	Entrypoint string
	User       string
	Ports      []string
}

// TestDockerfilesMatchMakefileImages keeps tunnel/Dockerfile and function/Dockerfile in step
// with the images the Makefile builds with hack/image-build: same entrypoint path, same user,
// same exposed ports.
func TestDockerfilesMatchMakefileImages(t *testing.T) {
	root := filepath.Join("..", "..")
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for name, dockerfile := range map[string]string{
		"redis-ha-tunnel":   "tunnel/Dockerfile",
		"function-redis-ha": "function/Dockerfile",
	} {
		t.Run(name, func(t *testing.T) {
			call := regexp.MustCompile(`\$\(call image-build,` + regexp.QuoteMeta(name) + `,[^,]*,([^)]*)\)`).FindSubmatch(makefile)
			if call == nil {
				t.Fatalf("Makefile has no $(call image-build,%s,...)", name)
			}
			fromMake := imageShape{
				Entrypoint: image.BinDir + "/" + name,
				User:       "65532:65532",
			}
			for _, m := range regexp.MustCompile(`--port (\S+)`).FindAllSubmatch(call[1], -1) {
				fromMake.Ports = append(fromMake.Ports, strings.TrimSuffix(string(m[1]), "/tcp"))
			}

			df, err := os.ReadFile(filepath.Join(root, dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			var fromDocker imageShape
			for _, line := range strings.Split(string(df), "\n") {
				instr, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
				switch instr {
				case "ENTRYPOINT":
					fromDocker.Entrypoint = strings.Trim(arg, `[]"`)
				case "USER":
					fromDocker.User = arg
				case "EXPOSE":
					fromDocker.Ports = append(fromDocker.Ports, strings.Fields(arg)...)
				}
			}
			slices.Sort(fromMake.Ports)
			slices.Sort(fromDocker.Ports)
			if diff := cmp.Diff(fromMake, fromDocker); diff != "" {
				t.Errorf("%s differs from the Makefile image (-make +dockerfile):\n%s", dockerfile, diff)
			}
		})
	}
}
