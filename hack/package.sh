#!/usr/bin/env bash
# hack/package.sh builds the two Crossplane packages of redis-ha offline with the Crossplane CLI
# (built and cached by hack/tools.sh) and checks what it built (package/xpkg_test.go):
#
#   $PACKAGES_OUT/function-redis-ha.xpkg       package/function + the runtime image tarball
#   $PACKAGES_OUT/configuration-redis-ha.xpkg  package/configuration (XRDs, Compositions)
#
# The package roots are staged under $PACKAGES_OUT/roots first. With FUNCTION_PACKAGE_VERSION
# set (a release: `make package VERSION=v0.1.0`), the staged Configuration depends on exactly
# that version of the Function; otherwise it keeps the committed constraint.
# The packages carry no examples layer (--examples-root points at a directory that does not
# exist): examples/ holds the render-only Function object and, later, Argo CD and Backstage
# files that are not examples of the API.
#
# Environment: PACKAGES_OUT (default _output/package), FUNCTION_IMAGE_TARBALL (default
# _output/images/function-redis-ha.tar, from `make image-function`), FUNCTION_PACKAGE_VERSION,
# FUNCTION_PACKAGE (default xpkg.crossplane.io/redis-ha/function-redis-ha), CROSSPLANE (default:
# hack/tools.sh crossplane-cli), GO (default go).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES_OUT=${PACKAGES_OUT:-_output/package}
FUNCTION_IMAGE_TARBALL=${FUNCTION_IMAGE_TARBALL:-_output/images/function-redis-ha.tar}
FUNCTION_PACKAGE_VERSION=${FUNCTION_PACKAGE_VERSION:-}
FUNCTION_PACKAGE=${FUNCTION_PACKAGE:-xpkg.crossplane.io/redis-ha/function-redis-ha}
GO=${GO:-go}

die() { echo "hack/package.sh: $*" >&2; exit 1; }

[ -f "$FUNCTION_IMAGE_TARBALL" ] || die "no function image at $FUNCTION_IMAGE_TARBALL: run \`make image-function\` (or \`make package\`, which does)"
for root in package/function package/configuration; do
  [ -f "$root/crossplane.yaml" ] || die "no $root/crossplane.yaml: the package metadata is missing"
done
CROSSPLANE=${CROSSPLANE:-$(hack/tools.sh crossplane-cli)}

roots=$PACKAGES_OUT/roots
rm -rf "$roots"
mkdir -p "$roots"
cp -R package/function package/configuration "$roots/"
if [ -n "$FUNCTION_PACKAGE_VERSION" ]; then
  "$GO" run ./hack/xpkg-pin --file "$roots/configuration/crossplane.yaml" \
    --package "$FUNCTION_PACKAGE" --version "$FUNCTION_PACKAGE_VERSION"
  echo "package: configuration depends on $FUNCTION_PACKAGE $FUNCTION_PACKAGE_VERSION" >&2
fi

no_examples=$PACKAGES_OUT/no-examples
[ ! -e "$no_examples" ] || die "$no_examples exists; it must not (it turns the examples layer off)"
(
  set -x
  "$CROSSPLANE" xpkg build --package-root="$roots/function" \
    --embed-runtime-image-tarball="$FUNCTION_IMAGE_TARBALL" \
    --examples-root="$no_examples" --package-file="$PACKAGES_OUT/function-redis-ha.xpkg"
  "$CROSSPLANE" xpkg build --package-root="$roots/configuration" \
    --examples-root="$no_examples" --package-file="$PACKAGES_OUT/configuration-redis-ha.xpkg"
)

# Check the result against the committed roots (and the pin).
abs_out=$(cd "$PACKAGES_OUT" && pwd)
REDIS_HA_XPKG_DIR=$abs_out REDIS_HA_PINNED_FUNCTION_VERSION=$FUNCTION_PACKAGE_VERSION \
  REDIS_HA_FUNCTION_PACKAGE=$FUNCTION_PACKAGE \
  "$GO" test -count=1 -run '^TestBuiltPackages$' ./package/
