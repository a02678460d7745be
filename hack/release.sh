#!/usr/bin/env bash
# hack/release.sh builds every artifact of a redis-ha release offline and reproducibly into
# $RELEASE_OUT (default _output/release), which `make release-check`
# then checks (hack/release, TestReleaseArtifacts):
#
#   images/redis-ha-tunnel/              OCI image layout: one index, linux/amd64 + linux/arm64
#   images/redis-ha-tunnel.oci.tar       the same layout as one tar file (a release asset)
#   images/function-redis-ha/            OCI image layout of the function runtime image
#   images/function-redis-ha.oci.tar
#   packages/function-redis-ha-amd64.xpkg    Function package, linux/amd64 runtime image embedded
#   packages/function-redis-ha-arm64.xpkg    Function package, linux/arm64 runtime image embedded
#   packages/function-redis-ha/          OCI image layout: both Function packages in one index
#   packages/function-redis-ha.oci.tar
#   packages/configuration-redis-ha.xpkg     Configuration, dependsOn the Function at exactly VERSION
#   install.yaml                         ClusterRole + Function + Configuration (pkg.crossplane.io/v1)
#   SHA256SUMS                           sha256sum of every file above (`sha256sum -c SHA256SUMS`)
#
# It reuses the build tooling: hack/image-build (internal/image) packs the binaries,
# hack/package.sh builds and checks each .xpkg with the cached Crossplane CLI (hack/tools.sh).
# Intermediate files (binaries, per-platform image tarballs, staged package roots) go to
# $RELEASE_WORK (default _output/release-work), never into the release directory.
#
# Reproducible: binaries are built with -trimpath -buildvcs=false and CGO_ENABLED=0, every time
# in images and archives is SOURCE_DATE_EPOCH (the Makefile passes the last commit's time), and
# nothing depends on the machine, the user or the checkout path. Two runs at the same commit give
# the same SHA256SUMS.
#
# Environment: VERSION (required, vMAJOR.MINOR.PATCH[-PRERELEASE]), SOURCE_DATE_EPOCH (required),
# LDFLAGS (the Makefile's; must set internal/version.Version to VERSION), IMAGE_REGISTRY (default
# ghcr.io/redis-ha), PACKAGE_REGISTRY (default xpkg.crossplane.io/redis-ha), IMAGE_SOURCE,
# RELEASE_OUT, RELEASE_WORK, RELEASE_PLATFORMS (default "linux/amd64 linux/arm64"), GO.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "hack/release.sh: $*" >&2; exit 1; }
log() { echo "release: $*" >&2; }

VERSION=${VERSION:-}
GO=${GO:-go}
RELEASE_OUT=${RELEASE_OUT:-_output/release}
RELEASE_WORK=${RELEASE_WORK:-_output/release-work}
IMAGE_REGISTRY=${IMAGE_REGISTRY:-ghcr.io/redis-ha}
PACKAGE_REGISTRY=${PACKAGE_REGISTRY:-xpkg.crossplane.io/redis-ha}
IMAGE_SOURCE=${IMAGE_SOURCE:-https://github.com/redis-ha/redis-ha}
RELEASE_PLATFORMS=${RELEASE_PLATFORMS:-linux/amd64 linux/arm64}
LDFLAGS=${LDFLAGS:-"-s -w -X github.com/redis-ha/redis-ha/internal/version.Version=$VERSION"}

# A tag must be a valid image tag and an exact Crossplane dependency version: no '+build'.
[[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  die "VERSION \"$VERSION\": give a release version such as v0.1.0 or v0.2.0-rc.1 (make release VERSION=v0.1.0)"
[[ ${SOURCE_DATE_EPOCH:-} =~ ^[0-9]+$ ]] ||
  die "SOURCE_DATE_EPOCH \"${SOURCE_DATE_EPOCH:-}\": set it to Unix seconds, e.g. \$(git log -1 --format=%ct)"
[[ $LDFLAGS == *"internal/version.Version=$VERSION"* ]] ||
  die "LDFLAGS \"$LDFLAGS\" does not set internal/version.Version=$VERSION: the function would compose the wrong tunnel image"
export SOURCE_DATE_EPOCH

# name:go package:image-build port flags
PROGRAMS=(
  "redis-ha-tunnel:./tunnel/cmd/redis-ha-tunnel:--port 6379 --port 6380 --port 8080"
  "function-redis-ha:./function/cmd/function-redis-ha:--port 9443"
)
FUNCTION_PACKAGE=$PACKAGE_REGISTRY/function-redis-ha
CONFIGURATION_PACKAGE=$PACKAGE_REGISTRY/configuration-redis-ha

rm -rf "$RELEASE_OUT" "$RELEASE_WORK"
mkdir -p "$RELEASE_OUT/images" "$RELEASE_OUT/packages" "$RELEASE_WORK/tools"

# The helpers once, for the host.
"$GO" build -o "$RELEASE_WORK/tools/" ./hack/image-build ./hack/release
IMAGE_BUILD=$RELEASE_WORK/tools/image-build
RELEASE_TOOL=$RELEASE_WORK/tools/release

# 1. Static binaries per platform. nice: the build machine is shared.
for platform in $RELEASE_PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  for p in "${PROGRAMS[@]}"; do
    IFS=: read -r name pkg _ <<<"$p"
    log "building $name for $platform"
    GOOS=$os GOARCH=$arch CGO_ENABLED=0 nice -n 10 "$GO" build -trimpath -buildvcs=false \
      -ldflags "$LDFLAGS" -o "$RELEASE_WORK/bin/${os}_$arch/$name" "$pkg"
  done
done

# 2. One multi-platform image index per program (OCI layout + archive); per-platform tarballs
#    of the function image for the packages.
for p in "${PROGRAMS[@]}"; do
  IFS=: read -r name _ ports <<<"$p"
  binaries=()
  for platform in $RELEASE_PLATFORMS; do
    binaries+=(--binary "$platform=$RELEASE_WORK/bin/${platform/\//_}/$name")
  done
  # shellcheck disable=SC2086 # ports are separate flags
  "$IMAGE_BUILD" "${binaries[@]}" --name "$name" --tag "$IMAGE_REGISTRY/$name:$VERSION" \
    --oci-layout "$RELEASE_OUT/images/$name" --source "$IMAGE_SOURCE" --version "$VERSION" $ports
  "$RELEASE_TOOL" oci-archive --layout "$RELEASE_OUT/images/$name" --output "$RELEASE_OUT/images/$name.oci.tar"
  if [ "$name" = function-redis-ha ]; then
    for platform in $RELEASE_PLATFORMS; do
      # shellcheck disable=SC2086
      "$IMAGE_BUILD" --binary "$platform=$RELEASE_WORK/bin/${platform/\//_}/$name" --name "$name" \
        --tag "$IMAGE_REGISTRY/$name:$VERSION" --output "$RELEASE_WORK/images/$name-${platform#*/}.tar" \
        --source "$IMAGE_SOURCE" --version "$VERSION" $ports
    done
  fi
done

# 3. Packages: hack/package.sh per platform (it builds and checks both packages; the
#    Configuration is the same every time, pinned to this VERSION of the Function).
function_xpkgs=()
for platform in $RELEASE_PLATFORMS; do
  arch=${platform#*/}
  log "packaging for $platform"
  PACKAGES_OUT=$RELEASE_WORK/package-$arch \
    FUNCTION_IMAGE_TARBALL=$RELEASE_WORK/images/function-redis-ha-$arch.tar \
    FUNCTION_PACKAGE_VERSION=$VERSION FUNCTION_PACKAGE=$FUNCTION_PACKAGE GO=$GO hack/package.sh
  cp "$RELEASE_WORK/package-$arch/function-redis-ha.xpkg" "$RELEASE_OUT/packages/function-redis-ha-$arch.xpkg"
  function_xpkgs+=(--xpkg "$RELEASE_OUT/packages/function-redis-ha-$arch.xpkg")
  configuration=$RELEASE_WORK/package-$arch/configuration-redis-ha.xpkg
done
cp "$configuration" "$RELEASE_OUT/packages/configuration-redis-ha.xpkg"
"$RELEASE_TOOL" xpkg-index "${function_xpkgs[@]}" --tag "$FUNCTION_PACKAGE:$VERSION" \
  --oci-layout "$RELEASE_OUT/packages/function-redis-ha"
"$RELEASE_TOOL" oci-archive --layout "$RELEASE_OUT/packages/function-redis-ha" \
  --output "$RELEASE_OUT/packages/function-redis-ha.oci.tar"

# 4. Install YAML.
"$RELEASE_TOOL" install-yaml --version "$VERSION" --function-package "$FUNCTION_PACKAGE" \
  --configuration-package "$CONFIGURATION_PACKAGE" --rbac-dir package/rbac --output "$RELEASE_OUT/install.yaml"

# 5. Checksums of every file, sorted bytewise so the file is the same everywhere.
(
  cd "$RELEASE_OUT"
  find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum >SHA256SUMS
)

log "done: $RELEASE_OUT"
(cd "$RELEASE_OUT" && du -b --apparent-size $(LC_ALL=C find . -maxdepth 2 -type f -printf '%P\n' | LC_ALL=C sort)) >&2
