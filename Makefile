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
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./tunnel/cmd/redis-ha-tunnel ./function/cmd/function-redis-ha

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi

unit: ## unit and integration tests with the race detector
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

test: vet fmt-check unit

# ---- tunnel -----------------------------------------------------------------


# ---- function, API and packages ---------------------------------------------

.PHONY: generate generate-check
generate: ## write deepcopy code, XRDs + Composition copies (package/configuration/) and docs/api.md from apis/v1alpha1
	$(GO) run ./apis/cmd/xrd-gen -root .

generate-check: ## fail if a generated file is out of date (the drift tests check the same, with a diff)
	$(GO) run ./apis/cmd/xrd-gen -root . -check


# ---- images -----------------------------------------------------------------


# ---- demo -------------------------------------------------------------------


# ---- end-to-end --------------------------------------------------------------



# ---- gitops and catalog examples ---------------------------------------------

.PHONY: examples-generate examples-check examples-test
examples-generate: ## regenerate examples/argocd/argocd-cm.yaml and the Backstage OpenAPI definition
	$(GO) run ./examples/gitops/cmd/examples-gen

examples-check: ## fail when a generated GitOps/catalog example is stale
	$(GO) run ./examples/gitops/cmd/examples-gen -check

examples-test: ## Argo CD health Lua, Argo CD manifests, Backstage catalog and template tests
	$(GO) test -count=1 ./examples/gitops/...
