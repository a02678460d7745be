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


# ---- images -----------------------------------------------------------------


# ---- demo -------------------------------------------------------------------


# ---- end-to-end --------------------------------------------------------------
# A real kube-apiserver + etcd + controller manager + scheduler + KWOK fake nodes and Crossplane
# core run as local processes (in a network namespace of their own when unshare works), our
# function serves them over mTLS; see e2e/README.md. Tools are built from source once and cached
# in $(CACHE_BIN) (e2e/tools.sh; cold about 8 minutes, warm instant).
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

