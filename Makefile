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
FUZZTIME ?= 20s
TUNNEL_FUZZ := FuzzParseSentinelEvent FuzzParseReplicationInfo FuzzParseRole FuzzParseSentinelMaster

.PHONY: test-tunnel fuzz-tunnel
test-tunnel: ## tunnel + redisproc tests only (unit, fuzz seeds, integration with real redis), -race
	CGO_ENABLED=1 $(GO) test -race -count=1 ./tunnel/... ./internal/redisproc/...

fuzz-tunnel: ## fuzz every tunnel parser for FUZZTIME each (new crashers land in tunnel/testdata/fuzz)
	@for f in $(TUNNEL_FUZZ); do $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./tunnel/ || exit 1; done

# Benchmarks against real redis/sentinel/haproxy processes on loopback; not part of `make test`.
BENCH_ARGS ?=
CHAOS_ARGS ?=
BENCH_BIN := $(OUTPUT)/bench

.PHONY: bench-tunnel chaos-tunnel bench-tunnel-go bench-binaries
bench-binaries: ## build the tunnel and the benchmark harness into _output/bench
	@mkdir -p $(BENCH_BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BENCH_BIN)/ ./tunnel/cmd/redis-ha-tunnel ./tunnel/bench/cmd/redis-ha-tunnel-bench

bench-tunnel: bench-binaries ## redis-benchmark: direct vs Helm-chart HAProxy vs tunnel (3 rounds, medians), 10k idle clients RSS; BENCH_ARGS=--rounds 1 ...
	$(BENCH_BIN)/redis-ha-tunnel-bench perf --tunnel-binary $(BENCH_BIN)/redis-ha-tunnel $(BENCH_ARGS)

chaos-tunnel: bench-binaries ## 3 graceful + 3 kill -9 failovers through tunnel and HAProxy: lost acked writes, time to first write, docs/images/failover-timeline.svg; CHAOS_ARGS=--graceful 1 ...
	$(BENCH_BIN)/redis-ha-tunnel-bench chaos --tunnel-binary $(BENCH_BIN)/redis-ha-tunnel $(CHAOS_ARGS)

bench-tunnel-go: ## Go benchmarks of the tunnel data path (round trips and connects through an in-process tunnel vs direct)
	$(GO) test -run '^$$' -bench . -benchmem ./tunnel/bench/


# ---- function, API and packages ---------------------------------------------


# ---- images -----------------------------------------------------------------


# ---- demo -------------------------------------------------------------------


# ---- end-to-end --------------------------------------------------------------

