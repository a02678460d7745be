# redis-ha: transparent, highly available Redis as a Crossplane API.
#
#   make demo   run a RedisHA on this machine: function -> real redis + sentinel -> tunnel -> app
#   make test   everything that fits in CI (vet, gofmt, unit + integration tests with -race, demo)

SHELL := /bin/bash
GO ?= go
OUTPUT := _output
BIN := $(OUTPUT)/bin
CACHE_BIN ?= $(HOME)/.cache/redis-ha/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/redis-ha/redis-ha/internal/version.Version=$(VERSION)
export CGO_ENABLED ?= 0

.PHONY: all build test vet fmt-check unit
all: build

build: ## build every binary into _output/bin
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./tunnel/cmd/redis-ha-tunnel ./function/cmd/function-redis-ha \
		./demo/cmd/redis-ha-demo ./examples/demo-app

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi

unit: ## unit and integration tests with the race detector
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

test: vet fmt-check unit demo-check

# ---- tunnel -----------------------------------------------------------------
FUZZTIME ?= 20s
TUNNEL_FUZZ := FuzzParseSentinelEvent FuzzParseReplicationInfo FuzzParseRole FuzzParseSentinelMaster

.PHONY: test-tunnel fuzz-tunnel
test-tunnel: ## tunnel + redisproc tests only (unit, fuzz seeds, integration with real redis), -race
	CGO_ENABLED=1 $(GO) test -race -count=1 ./tunnel/... ./internal/redisproc/...

fuzz-tunnel: ## fuzz every tunnel parser for FUZZTIME each (new crashers land in tunnel/testdata/fuzz)
	@for f in $(TUNNEL_FUZZ); do $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./tunnel/ || exit 1; done

# Benchmarks against real redis/sentinel/haproxy processes on loopback. The full runs are not
# part of `make test`; a tiny run of both harnesses is (tunnel/bench TestHarnessRunsEndToEnd).
BENCH_ARGS ?=
CHAOS_ARGS ?=
BENCH_BIN := $(OUTPUT)/bench

.PHONY: bench-tunnel chaos-tunnel chaos-tunnel-crash bench-tunnel-go bench-binaries
bench-binaries: ## build the tunnel and the benchmark harness into _output/bench
	@mkdir -p $(BENCH_BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BENCH_BIN)/ ./tunnel/cmd/redis-ha-tunnel ./tunnel/bench/cmd/redis-ha-tunnel-bench

bench-tunnel: bench-binaries ## redis-benchmark: direct vs Helm-chart HAProxy vs tunnel (3 rounds, medians), 10k idle clients RSS; BENCH_ARGS=--rounds 1 ...
	$(BENCH_BIN)/redis-ha-tunnel-bench perf --tunnel-binary $(BENCH_BIN)/redis-ha-tunnel $(BENCH_ARGS)

chaos-tunnel: bench-binaries ## 3 graceful + 3 kill -9 failovers through tunnel and HAProxy: lost acked writes, time to first write, docs/images/failover-timeline.svg; CHAOS_ARGS=--graceful 1 ...
	$(BENCH_BIN)/redis-ha-tunnel-bench chaos --tunnel-binary $(BENCH_BIN)/redis-ha-tunnel $(CHAOS_ARGS)

chaos-tunnel-crash: bench-binaries ## crash profile: 2 graceful, 4 graceful+kill -9 pairs, 20 kill -9 (old master down 3 s), writers paced at 5000/s; per-round verdicts vs HAProxy
	$(BENCH_BIN)/redis-ha-tunnel-bench chaos --tunnel-binary $(BENCH_BIN)/redis-ha-tunnel --graceful 2 --graceful-kill-pairs 4 --kills 20 \
	  --write-rate 5000 --kill-down-for 3s --svg '' $(CHAOS_ARGS)

bench-tunnel-go: ## Go benchmarks of the tunnel data path (round trips and connects through an in-process tunnel vs direct)
	$(GO) test -run '^$$' -bench . -benchmem ./tunnel/ ./tunnel/bench/


# ---- function, API and packages ---------------------------------------------

.PHONY: generate generate-check
generate: ## write deepcopy code, XRDs + Composition copies (package/configuration/) and docs/api.md from apis/v1alpha1
	$(GO) run ./apis/cmd/xrd-gen -root .

generate-check: ## fail if a generated file is out of date (the drift tests check the same, with a diff)
	$(GO) run ./apis/cmd/xrd-gen -root . -check

.PHONY: function-test function-golden function-bench function-run
function-test: ## the composition function's tests only (golden files, bad input, pod scripts against real redis)
	CGO_ENABLED=1 $(GO) test -race -count=1 ./function/...

function-golden: ## rewrite function/testdata/golden/*.yaml from the current output; review the diff before committing
	$(GO) test ./function -run TestGolden -count=1 -update

function-bench: ## RunFunction on the full example: ns/op and p99-ms (target p99 < 5 ms)
	$(GO) test ./function -run '^$$' -bench BenchmarkRunFunction -benchtime=2000x -count=3

FUNCTION_ADDRESS ?= localhost:9443
function-run: ## serve the function without TLS for `crossplane composition render` (examples/functions.yaml targets localhost:9443)
	$(GO) run ./function/cmd/function-redis-ha --insecure --debug --address=$(FUNCTION_ADDRESS)


# ---- images -----------------------------------------------------------------
# OCI images without Docker: hack/image-build (internal/image) packs a static binary into an
# empty base as /usr/local/bin/NAME (the entrypoint), running as 65532:65532 (nonroot).
# Reproducible: every timestamp is SOURCE_DATE_EPOCH (default: time of the last commit).
# tunnel/Dockerfile and function/Dockerfile make equivalent images for users with Docker.
# The images are tagged $(IMAGE_REGISTRY)/NAME:$(IMAGE_TAG), the reference the function
# composes for the tunnel by default (ghcr.io/redis-ha/redis-ha-tunnel:<version>).
IMAGE_REGISTRY ?= ghcr.io/redis-ha
IMAGE_TAG ?= $(VERSION)
IMAGE_PLATFORM ?= linux/amd64
IMAGE_SOURCE ?= https://github.com/redis-ha/redis-ha
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
IMAGES := $(OUTPUT)/images
image_bin_dir = $(IMAGES)/$(subst /,_,$(IMAGE_PLATFORM))

# image-build NAME,GO-PACKAGE,IMAGE-BUILD-FLAGS: static build of GO-PACKAGE for IMAGE_PLATFORM,
# packed as $(IMAGES)/NAME.tar.
define image-build
	@mkdir -p $(image_bin_dir)
	GOOS=$(word 1,$(subst /, ,$(IMAGE_PLATFORM))) GOARCH=$(word 2,$(subst /, ,$(IMAGE_PLATFORM))) CGO_ENABLED=0 \
	  $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(image_bin_dir)/$(1) $(2)
	$(GO) run ./hack/image-build --binary $(IMAGE_PLATFORM)=$(image_bin_dir)/$(1) \
	  --tag $(IMAGE_REGISTRY)/$(1):$(IMAGE_TAG) --output $(IMAGES)/$(1).tar \
	  --source $(IMAGE_SOURCE) --version $(VERSION) $(3)
endef

.PHONY: images image-tunnel image-function
images: image-tunnel image-function ## both OCI image tarballs into _output/images

image-tunnel: ## OCI image tarball of the tunnel: _output/images/redis-ha-tunnel.tar
	$(call image-build,redis-ha-tunnel,./tunnel/cmd/redis-ha-tunnel,--port 6379 --port 6380 --port 8080)

image-function: ## OCI image tarball of the function: _output/images/function-redis-ha.tar
	$(call image-build,function-redis-ha,./function/cmd/function-redis-ha,--port 9443)

# A release (hack/release.sh, docs/release.md): linux/amd64 + linux/arm64 image indexes of both
# programs, the Function (per arch + index) and Configuration packages, install.yaml and
# SHA256SUMS in _output/release, then release-check inspects them. Offline and reproducible: two
# runs at one commit give the same SHA256SUMS. The Crossplane CLI comes from hack/tools.sh.
RELEASE_OUT := $(OUTPUT)/release
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
PACKAGE_REGISTRY ?= xpkg.crossplane.io/redis-ha

.PHONY: release release-build release-check
release: release-build ## all release artifacts into _output/release, then release-check: make release VERSION=v0.1.0
	$(MAKE) --no-print-directory release-check VERSION='$(VERSION)'

release-build: ## only build the release artifacts (no checks): make release-build VERSION=v0.1.0
	VERSION='$(VERSION)' LDFLAGS='$(LDFLAGS)' RELEASE_OUT=$(RELEASE_OUT) RELEASE_WORK=$(OUTPUT)/release-work \
	  RELEASE_PLATFORMS='$(RELEASE_PLATFORMS)' IMAGE_REGISTRY=$(IMAGE_REGISTRY) \
	  PACKAGE_REGISTRY=$(PACKAGE_REGISTRY) IMAGE_SOURCE=$(IMAGE_SOURCE) GO=$(GO) hack/release.sh

release-check: ## inspect _output/release (images, packages, install.yaml, SHA256SUMS) for VERSION
	REDIS_HA_RELEASE_DIR=$(abspath $(RELEASE_OUT)) REDIS_HA_RELEASE_VERSION='$(VERSION)' \
	  REDIS_HA_IMAGE_REGISTRY=$(IMAGE_REGISTRY) REDIS_HA_PACKAGE_REGISTRY=$(PACKAGE_REGISTRY) \
	  REDIS_HA_RELEASE_PLATFORMS='$(RELEASE_PLATFORMS)' \
	  $(GO) test -count=1 -v -run '^TestReleaseArtifacts$$' ./hack/release/

# ---- Crossplane packages and render (Crossplane CLI built once by hack/tools.sh) -------------
# hack/tools.sh builds the Crossplane CLI and core from source on first use (2-3 minutes each
# on an idle machine, cached in ~/.cache/redis-ha/bin by version; REDIS_HA_CACHE moves the cache).
# A release version (vX.Y.Z or vX.Y.Z-rc.N) pins the Configuration's dependency on the Function
# to that exact version: `make package VERSION=v0.1.0`.
PACKAGE_PIN := $(shell echo '$(VERSION)' | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+(-rc\.[0-9]+)?$$')

.PHONY: tools package render
tools: ## build and cache the Crossplane CLI and core binaries (hack/tools.sh)
	hack/tools.sh crossplane-cli crossplane-core

package: image-function ## Function and Configuration .xpkg into _output/package, checked by package/xpkg_test.go
	PACKAGES_OUT=$(OUTPUT)/package FUNCTION_IMAGE_TARBALL=$(IMAGES)/function-redis-ha.tar \
	  FUNCTION_PACKAGE_VERSION=$(PACKAGE_PIN) hack/package.sh

render: ## crossplane composition render of every examples/*.yaml XR into _output/render (hack/render.sh)
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./function/cmd/function-redis-ha
	hack/render.sh



# ---- demo -------------------------------------------------------------------
.PHONY: demo demo-check
ARGS ?=

demo: build ## render examples/redisha.yaml, run it locally, fail over twice, report (ARGS=--keep-running ...)
	$(BIN)/redis-ha-demo $(ARGS)

demo-check: build ## the demo as CI runs it: fails unless the graceful failover lost no acknowledged write
	$(BIN)/redis-ha-demo --report $(OUTPUT)/demo-report.json $(ARGS)


# ---- end-to-end --------------------------------------------------------------
# A real kube-apiserver + etcd + controller manager + scheduler + KWOK fake nodes and Crossplane
# core run as local processes (in a network namespace of their own when unshare works), our
# function serves them over mTLS; see e2e/README.md. Tools are built from source once and cached
# in $(CACHE_BIN) (e2e/tools.sh; cold 10-25 minutes on 2 shared cores, warm instant).
# `make e2e E2E_KUBECONFIG=path` (or `make e2e KUBECONFIG=path` on the command line) runs the
# RedisHA steps against that cluster instead, which must already run Crossplane and the function.
E2E_TIMEOUT ?= 30m
E2E_KUBECONFIG ?= $(if $(filter command line,$(origin KUBECONFIG)),$(KUBECONFIG),)
E2E_TEST_FLAGS ?= -v

.PHONY: e2e e2e-tools e2e-binaries
e2e-tools: ## build and cache etcd, kube-apiserver/-controller-manager/-scheduler, KWOK, Crossplane core
	nice -n 10 e2e/tools.sh all

e2e-binaries: ## build the function (when present) and the e2e stand-in function into _output/bin
	@mkdir -p $(BIN)
	@if [ -d function/cmd/function-redis-ha ]; then \
	  echo "$(GO) build ./function/cmd/function-redis-ha"; \
	  $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./function/cmd/function-redis-ha; \
	else echo "e2e: function/cmd/function-redis-ha not here yet, the RedisHA steps will skip"; fi
	cd e2e/standin && $(GO) build -trimpath -o $(CURDIR)/$(BIN)/e2e-standin-function .

e2e: e2e-binaries $(if $(E2E_KUBECONFIG),,e2e-tools) ## end-to-end: claim to Ready on a real API server with Crossplane (see e2e/README.md)
	@set -euo pipefail; \
	if [ -z "$(E2E_KUBECONFIG)" ]; then set -a; eval "$$(e2e/tools.sh env)"; set +a; fi; \
	start=$$(date +%s); \
	E2E_KUBECONFIG="$(E2E_KUBECONFIG)" $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) $(E2E_TEST_FLAGS) ./e2e/; \
	echo "e2e: test took $$(( $$(date +%s) - start ))s"



# ---- gitops and catalog examples ---------------------------------------------

.PHONY: examples-generate examples-check examples-test
examples-generate: ## regenerate examples/argocd/argocd-cm.yaml and the Backstage OpenAPI definition
	$(GO) run ./examples/gitops/cmd/examples-gen

examples-check: ## fail when a generated GitOps/catalog example is stale
	$(GO) run ./examples/gitops/cmd/examples-gen -check

examples-test: ## Argo CD health Lua, Argo CD manifests, Backstage catalog and template tests
	$(GO) test -count=1 ./examples/gitops/...
