// Command image-build packs static Go binaries into OCI images with internal/image, for the
// Makefile (`make image-tunnel`, `make image-function`, later `make release`). It only wires
// flags; see internal/image for what goes into an image.
//
// One platform, written as an image tarball:
//
//	go run ./hack/image-build --binary _output/images/linux_amd64/redis-ha-tunnel \
//	    --tag ghcr.io/redis-ha/redis-ha-tunnel:v0.1.0 --output _output/images/redis-ha-tunnel.tar \
//	    --port 6379 --port 8080
//
// Several platforms, written as one multi-platform index in an OCI image layout directory:
//
//	go run ./hack/image-build --binary linux/amd64=bin/amd64/x --binary linux/arm64=bin/arm64/x \
//	    --name x --tag ghcr.io/redis-ha/x:v0.1.0 --oci-layout _output/release/images/x
//
// Image times come from --created, else $SOURCE_DATE_EPOCH, else the Unix epoch.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/redis-ha/redis-ha/internal/image"
)

// binaryFlag is one --binary value: a platform and the path of the binary built for it.
type binaryFlag struct {
	platform v1.Platform
	path     string
}

// options are the parsed flags.
type options struct {
	binaries  []binaryFlag
	tag       name.Tag
	output    string
	ociLayout string
	spec      image.Spec // everything but Binary and Platform
}

// stringsFlag collects a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("image-build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		binaries, argsFlag, env, ports, labels stringsFlag
		o                                      options
		tag, platform, created                 string
	)
	fs.Var(&binaries, "binary", "`[OS/ARCH=]PATH` of a static binary; repeat with OS/ARCH= for a multi-platform --oci-layout")
	fs.StringVar(&platform, "platform", "linux/amd64", "`OS/ARCH` of a --binary given without one")
	fs.StringVar(&o.spec.Name, "name", "", "program `name`: installed as /usr/local/bin/NAME, the entrypoint (default: the base name of the first --binary)")
	fs.StringVar(&tag, "tag", "", "image `reference` with a tag, e.g. ghcr.io/redis-ha/redis-ha-tunnel:v0.1.0 (required)")
	fs.StringVar(&o.output, "output", "", "write a single-platform image tarball to `PATH`")
	fs.StringVar(&o.ociLayout, "oci-layout", "", "write a multi-platform image index as an OCI image layout into `DIR` (must not exist)")
	fs.Var(&argsFlag, "arg", "default argument after the entrypoint (repeatable)")
	fs.Var(&env, "env", "`KEY=VALUE` environment entry (repeatable)")
	fs.Var(&ports, "port", "exposed `PORT[/tcp|/udp]` (repeatable)")
	fs.Var(&labels, "label", "extra image label `KEY=VALUE` (repeatable)")
	fs.StringVar(&o.spec.Source, "source", "", "org.opencontainers.image.source label, e.g. the repository URL")
	fs.StringVar(&o.spec.Version, "version", "", "org.opencontainers.image.version label")
	fs.StringVar(&created, "created", "", "image time in Unix `seconds` (default $SOURCE_DATE_EPOCH, else 0)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q: every input is a flag", fs.Arg(0))
	}

	defaultPlatform, err := v1.ParsePlatform(platform)
	if err != nil || defaultPlatform.OS == "" || defaultPlatform.Architecture == "" {
		return options{}, fmt.Errorf("--platform %q: use OS/ARCH, e.g. linux/amd64", platform)
	}
	if len(binaries) == 0 {
		return options{}, errors.New("--binary is required: the path of the static binary to pack")
	}
	for _, b := range binaries {
		bf := binaryFlag{platform: *defaultPlatform, path: b}
		if p, path, ok := strings.Cut(b, "="); ok {
			pl, err := v1.ParsePlatform(p)
			if err != nil || pl.OS == "" || pl.Architecture == "" || path == "" {
				return options{}, fmt.Errorf("--binary %q: use PATH or OS/ARCH=PATH, e.g. linux/arm64=bin/arm64/prog", b)
			}
			bf = binaryFlag{platform: *pl, path: path}
		}
		o.binaries = append(o.binaries, bf)
	}
	if o.spec.Name == "" {
		o.spec.Name = filepath.Base(o.binaries[0].path)
	}
	if tag == "" {
		return options{}, errors.New("--tag is required: the image reference with a tag, e.g. ghcr.io/redis-ha/redis-ha-tunnel:v0.1.0")
	}
	if o.tag, err = name.NewTag(tag); err != nil {
		return options{}, fmt.Errorf("--tag %q: %w", tag, err)
	}
	switch {
	case o.output == "" && o.ociLayout == "":
		return options{}, errors.New("give --output PATH (image tarball) or --oci-layout DIR (multi-platform index), or both")
	case o.output != "" && len(o.binaries) != 1:
		return options{}, fmt.Errorf("--output writes one image but %d --binary flags were given: use --oci-layout for several platforms", len(o.binaries))
	}

	o.spec.Args = argsFlag
	o.spec.Env = env
	o.spec.ExposedPorts = ports
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return options{}, fmt.Errorf("--label %q: use KEY=VALUE", l)
		}
		if o.spec.Labels == nil {
			o.spec.Labels = map[string]string{}
		}
		o.spec.Labels[k] = v
	}

	createdFrom := "--created"
	if created == "" {
		created, createdFrom = getenv(image.SourceDateEpochEnv), image.SourceDateEpochEnv
	}
	if o.spec.Created, err = image.ParseBuildTime(createdFrom, created); err != nil {
		return options{}, err
	}
	return o, nil
}

func run(o options) error {
	images := make([]v1.Image, 0, len(o.binaries))
	for _, b := range o.binaries {
		spec := o.spec
		spec.Binary = b.path
		spec.Platform = b.platform
		img, err := image.Build(spec)
		if err != nil {
			return fmt.Errorf("image for --binary %s (%s): %w", b.path, b.platform, err)
		}
		images = append(images, img)
	}
	if o.output != "" {
		if err := image.WriteTarball(o.output, o.tag, images[0]); err != nil {
			return err
		}
		d, err := images[0].Digest()
		if err != nil {
			return fmt.Errorf("image digest: %w", err)
		}
		fmt.Printf("image-build: %s %s (%s) -> %s\n", o.tag, d, o.binaries[0].platform, o.output)
	}
	if o.ociLayout != "" {
		idx, err := image.Index(images...)
		if err != nil {
			return err
		}
		if err := image.WriteLayout(o.ociLayout, o.tag, idx); err != nil {
			return err
		}
		d, err := idx.Digest()
		if err != nil {
			return fmt.Errorf("index digest: %w", err)
		}
		fmt.Printf("image-build: %s index %s (%d platforms) -> %s\n", o.tag, d, len(images), o.ociLayout)
	}
	return nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image-build:", err)
		os.Exit(1)
	}
}
