#!/usr/bin/env bash
# hack/tools.sh builds the third-party programs redis-ha needs (Crossplane CLI, Crossplane core,
# ...) from source through the Go module proxy and caches them outside the repository, keyed by
# version, so a warm run is instant and nothing large lands in the Git tree.
#
# Usage: hack/tools.sh TOOL...      build each TOOL if missing, print its path (one per line)
#        hack/tools.sh --list       print the known tools and their versions
#
# Cache layout (REDIS_HA_CACHE, default ~/.cache/redis-ha):
#   bin/<tool>-<version>            the binary, e.g. bin/crossplane-cli-v2.5.0
#   src/hack-tools/<tool>-<version>/           the wrapper Go module it was built from
#   src/hack-tools/<tool>-<version>/build.log  output of the last build attempt
# (src/hack-tools/ keeps these wrapper modules apart from those of e2e/tools.sh, which shares
# the cache directory: two scripts must never rewrite the same go.mod at once.)
#
# Why wrapper modules: the Go proxy refuses version lists (@latest) and `go install pkg@version`
# rejects modules with replace directives; a tiny module that requires the exact version (plus
# any replace the upstream build needs) and records the program with a `tool` directive builds
# the same binary with the normal module cache.
#
# Adding a tool: write a build_<name> function that calls build_go_tool (see below) and add the
# name to the TOOLS list. Builds run under `nice` because the machine is shared.
set -euo pipefail

CACHE_DIR=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
CACHE_BIN=${CACHE_BIN:-$CACHE_DIR/bin}
CACHE_SRC=$CACHE_DIR/src/hack-tools
GO=${GO:-go}

# Pinned versions (the environment may override them to try another release). The Makefile and
# scripts refer to tools by name only.
CROSSPLANE_CLI_VERSION=${CROSSPLANE_CLI_VERSION:-v2.5.0}
CROSSPLANE_CORE_VERSION=${CROSSPLANE_CORE_VERSION:-v2.4.0}

TOOLS=(crossplane-cli crossplane-core)

die() { echo "hack/tools.sh: $*" >&2; exit 1; }

# build_go_tool NAME VERSION MODULE PACKAGE LDFLAGS [REPLACE...]
# builds PACKAGE (a main package inside MODULE@VERSION) into $CACHE_BIN/NAME-VERSION unless it is
# there already, and prints the binary path. Each REPLACE is "old=new@version" and is written to
# the wrapper go.mod before the requirement is resolved.
build_go_tool() {
  local name=$1 version=$2 module=$3 package=$4 ldflags=$5
  shift 5
  local out=$CACHE_BIN/$name-$version
  if [ -x "$out" ]; then
    echo "$out"
    return 0
  fi
  local src=$CACHE_SRC/$name-$version
  mkdir -p "$CACHE_BIN" "$src"
  # One build per tool at a time: `make package` and `make render` may ask concurrently.
  exec {lock}>"$src/.lock"
  flock "$lock"
  if [ -x "$out" ]; then # built by whoever held the lock before us
    flock -u "$lock"
    echo "$out"
    return 0
  fi
  echo "hack/tools.sh: building $name $version from $module (a few minutes when cold; log: $src/build.log)" >&2
  local start=$SECONDS
  # Every step is chained explicitly: `set -e` does not apply inside a command whose status
  # is tested, as this subshell's is.
  if ! (
    cd "$src" || exit 1
    export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
    rm -f go.mod go.sum
    "$GO" mod init "redis-ha.local/tools/$name" >/dev/null 2>&1 || exit 1
    local r
    for r in "$@"; do
      "$GO" mod edit -replace "$r" || exit 1
    done
    "$GO" get -tool "$package@$version" &&
      "$GO" mod tidy &&
      nice -n 10 "$GO" build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$package" &&
      mv "$out.tmp" "$out"
  ) >"$src/build.log" 2>&1; then
    flock -u "$lock"
    tail -n 30 "$src/build.log" >&2
    die "building $name $version failed (full log: $src/build.log)"
  fi
  flock -u "$lock"
  echo "hack/tools.sh: built $name $version in $((SECONDS - start))s" >&2
  echo "$out"
}

# The Crossplane CLI (`crossplane xpkg build`, `crossplane composition render`).
build_crossplane-cli() {
  build_go_tool crossplane-cli "$CROSSPLANE_CLI_VERSION" \
    github.com/crossplane/cli/v2 github.com/crossplane/cli/v2/cmd/crossplane \
    "-s -w -X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$CROSSPLANE_CLI_VERSION"
}

# The Crossplane core binary: `crossplane composition render --crossplane-binary` runs it to
# compose offline. Upstream builds it with a replace of its apis module to ./apis, which a
# dependent module cannot see, so pin the apis module to the same release instead.
build_crossplane-core() {
  build_go_tool crossplane-core "$CROSSPLANE_CORE_VERSION" \
    github.com/crossplane/crossplane/v2 github.com/crossplane/crossplane/v2/cmd/crossplane \
    "-s -w -X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$CROSSPLANE_CORE_VERSION" \
    "github.com/crossplane/crossplane/apis/v2=github.com/crossplane/crossplane/apis/v2@$CROSSPLANE_CORE_VERSION"
}

main() {
  [ $# -gt 0 ] || die "usage: hack/tools.sh TOOL... | --list (tools: ${TOOLS[*]})"
  if [ "$1" = --list ]; then
    echo "crossplane-cli $CROSSPLANE_CLI_VERSION"
    echo "crossplane-core $CROSSPLANE_CORE_VERSION"
    return 0
  fi
  local tool
  for tool in "$@"; do
    declare -F "build_$tool" >/dev/null || die "unknown tool \"$tool\"; known: ${TOOLS[*]}"
    "build_$tool"
  done
}

main "$@"
