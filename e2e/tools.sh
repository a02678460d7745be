#!/usr/bin/env bash
# e2e/tools.sh builds the programs the end-to-end test runs, from source through the Go module
# proxy, and caches them outside the repository (default ~/.cache/redis-ha/bin, override with
# REDIS_HA_CACHE). Every binary name carries its version, so a version bump rebuilds and a warm
# cache costs nothing:
#
#   etcd-v3.6.16                      go.etcd.io/etcd/server/v3 (module root is package main)
#   kube-apiserver-v1.37.2            k8s.io/kubernetes cmd/..., one wrapper module with
#   kube-controller-manager-v1.37.2   replace k8s.io/X => k8s.io/X v0.37.2 for each staging
#   kube-scheduler-v1.37.2            module and the component-base version ldflags
#   kubectl-v1.37.2
#   kwok-v0.8.0                       sigs.k8s.io/kwok/cmd/kwok (stage files: module cache,
#                                     sigs.k8s.io/kwok@v0.8.0/kustomize/stage)
#   crossplane-core-v2.4.0            Crossplane core (cmd/crossplane); the same file hack/tools.sh
#                                     crossplane-core builds: delegated to it when it exists,
#                                     built here the same way otherwise
#
# Usage: e2e/tools.sh [all|etcd|kube|kwok|crossplane-core|env]   (default: all)
# `env` prints shell assignments of the binary paths for the Makefile and the test.
set -euo pipefail

ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CROSSPLANE_VERSION=${CROSSPLANE_VERSION:-v2.4.0}

CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
BIN=$CACHE/bin
SRC=$CACHE/src
GO=${GO:-go}
# The tools build outside our module: no vendoring, no GOFLAGS from the caller that could pin
# -mod=readonly, and static binaries.
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off

log() { printf 'tools: %s\n' "$*" >&2; }

# timed NAME CMD...: runs CMD and logs how long it took, so CI logs show cold build costs.
timed() {
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  log "$name built in $(($(date +%s) - start))s"
}

# wrapper DIR MODULE: creates an empty wrapper module in DIR, so builds never touch our go.mod.
wrapper() {
  mkdir -p "$1"
  if [ ! -f "$1/go.mod" ]; then
    printf 'module %s\n\ngo 1.26\n' "$2" >"$1/go.mod"
  fi
}

build_etcd() {
  local out=$BIN/etcd-$ETCD_VERSION
  [ -x "$out" ] && return 0
  local dir=$SRC/etcd-$ETCD_VERSION
  wrapper "$dir" redis-ha-e2e/etcd
  (cd "$dir" && $GO get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
    $GO build -trimpath -ldflags '-s -w' -o "$out.tmp" go.etcd.io/etcd/server/v3) &&
    mv "$out.tmp" "$out"
}

build_kube() {
  local v=$KUBE_VERSION staging_v="v0.${KUBE_VERSION#v1.}"
  # kubectl too: the test drives the API server through it, and a matching version avoids
  # client/server skew with whatever kubectl the machine has.
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=0 b
  for b in "${bins[@]}"; do [ -x "$BIN/$b-$v" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  local dir=$SRC/kubernetes-$v
  wrapper "$dir" redis-ha-e2e/kubernetes
  (
    cd "$dir"
    # k8s.io/kubernetes replaces every staging module with a relative path that does not
    # exist in the module zip; point each at its published version instead.
    local gomod
    gomod=$($GO mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [ -n "$gomod" ] || { log "cannot download k8s.io/kubernetes@$v"; exit 1; }
    local m
    for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
      $GO mod edit -replace "$m=$m@$staging_v"
    done
    $GO mod edit -require "k8s.io/kubernetes@$v"
    local pkgs=() ldflags
    for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    # Without the version stamps the API server reports v0.0.0-master+$Format:%H$, which
    # clients that parse server versions (Crossplane, kubectl) reject.
    ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$v"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$v" | cut -d. -f2)"
    ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
    mkdir -p "$dir/out"
    $GO build -trimpath -ldflags "$ldflags" -o "$dir/out/" "${pkgs[@]}"
    for b in "${bins[@]}"; do mv "$dir/out/$b" "$BIN/$b-$v"; done
  )
}

build_kwok() {
  local out=$BIN/kwok-$KWOK_VERSION
  [ -x "$out" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  GOBIN=$tmp GOFLAGS= $GO install -trimpath -ldflags '-s -w' "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" &&
    mv "$tmp/kwok" "$out"
  rm -rf "$tmp"
  # The stage files (fake pod and node lifecycles) ship in the module source.
  GOFLAGS= $GO mod download "sigs.k8s.io/kwok@$KWOK_VERSION"
}

build_crossplane_core() {
  local out=$BIN/crossplane-core-$CROSSPLANE_VERSION
  # core init reads Crossplane's own CRDs from the module source (cluster/crds), also when the
  # binary comes from the tooling build.
  GOFLAGS= $GO mod download "github.com/crossplane/crossplane/v2@$CROSSPLANE_VERSION"
  [ -x "$out" ] && return 0
  # One recipe for the core binary: hack/tools.sh (make tools) builds it into our cache.
  local hack
  hack=$(cd "$(dirname "$0")/.." && pwd)/hack/tools.sh
  REDIS_HA_CACHE=$CACHE CACHE_BIN=$BIN CROSSPLANE_CORE_VERSION=$CROSSPLANE_VERSION "$hack" crossplane-core >/dev/null
  [ -x "$out" ] || { log "hack/tools.sh crossplane-core did not produce $out"; return 1; }
}

print_env() {
  local kwok_src
  kwok_src=$(GOFLAGS= $GO env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION
  cat <<ENV
E2E_ETCD=$BIN/etcd-$ETCD_VERSION
E2E_KUBE_APISERVER=$BIN/kube-apiserver-$KUBE_VERSION
E2E_KUBE_CONTROLLER_MANAGER=$BIN/kube-controller-manager-$KUBE_VERSION
E2E_KUBE_SCHEDULER=$BIN/kube-scheduler-$KUBE_VERSION
E2E_KWOK=$BIN/kwok-$KWOK_VERSION
E2E_KUBECTL=$BIN/kubectl-$KUBE_VERSION
E2E_KWOK_STAGES=$kwok_src/kustomize/stage
E2E_CROSSPLANE=${E2E_CROSSPLANE:-$BIN/crossplane-core-$CROSSPLANE_VERSION}
E2E_CROSSPLANE_CRDS=$(GOFLAGS= $GO env GOMODCACHE)/github.com/crossplane/crossplane/v2@$CROSSPLANE_VERSION/cluster/crds
ENV
}

mkdir -p "$BIN" "$SRC"
case "${1:-all}" in
etcd) timed etcd build_etcd ;;
kube) timed kube build_kube ;;
kwok) timed kwok build_kwok ;;
crossplane-core) timed crossplane-core build_crossplane_core ;;
all)
  timed etcd build_etcd
  timed kwok build_kwok
  timed kube build_kube
  timed crossplane-core build_crossplane_core
  ;;
env) print_env ;;
*)
  echo "usage: $0 [all|etcd|kube|kwok|crossplane-core|env]" >&2
  exit 2
  ;;
esac
