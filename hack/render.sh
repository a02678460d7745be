#!/usr/bin/env bash
# hack/render.sh renders every example composite resource (XR) in examples/ through its
# Composition in compositions/ with our function, offline, the way Crossplane would compose it:
#
#   crossplane composition render XR COMPOSITION examples/functions.yaml \
#     --crossplane-binary=CORE --xrd=XRD --include-function-results \
#     --function-annotations=render.crossplane.io/runtime=Development \
#     --function-annotations=render.crossplane.io/runtime-development-target=127.0.0.1:PORT
#
# It starts the function binary (`--insecure`, the Development runtime) on a free loopback port
# in the background, waits until it accepts connections, and always stops it on exit. Each
# rendered XR goes to $RENDER_OUT/<example>.yaml; the function's log to $RENDER_OUT/function.log.
#
# An example is an XR when a Composition's spec.compositeTypeRef matches its apiVersion and
# kind. `render` takes no claims, so a claim (an XRD in $XRDS_DIR has it as spec.claimNames.kind)
# is first turned into the XR Crossplane would create for it (hack/claim-xr, written to
# $RENDER_OUT/<example>.xr.yaml). Other files (the Function object) are skipped and listed.
# The XRD whose spec.names.kind is the XR's kind is passed with --xrd, so schema defaults apply
# as in a cluster.
#
# Environment: GO (default go), FUNCTION_BIN (default _output/bin/function-redis-ha, built by `make render`),
# RENDER_OUT (default _output/render), FUNCTION_PORT (default 9443, the next free port when
# taken), EXAMPLES_DIR (examples), COMPOSITIONS_DIR (compositions), XRDS_DIR
# (package/configuration), FUNCTIONS_FILE (examples/functions.yaml), CROSSPLANE and
# CROSSPLANE_CORE (default: built and cached by hack/tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTION_BIN=${FUNCTION_BIN:-_output/bin/function-redis-ha}
RENDER_OUT=${RENDER_OUT:-_output/render}
FUNCTION_PORT=${FUNCTION_PORT:-9443}
EXAMPLES_DIR=${EXAMPLES_DIR:-examples}
COMPOSITIONS_DIR=${COMPOSITIONS_DIR:-compositions}
XRDS_DIR=${XRDS_DIR:-package/configuration}
FUNCTIONS_FILE=${FUNCTIONS_FILE:-$EXAMPLES_DIR/functions.yaml}
GO=${GO:-go}

die() { echo "hack/render.sh: $*" >&2; exit 1; }
log() { echo "render: $*" >&2; }

# yaml_get FILE KEY.PATH prints the scalar at KEY.PATH (maps only, e.g. spec.compositeTypeRef.kind)
# in the first document of FILE, or nothing. Enough for our own Compositions, XRDs and examples;
# list items are skipped.
yaml_get() {
  awk -v want="$2" '
    /^---/ { if (seen) exit; next }
    /^[[:space:]]*(#|$)/ { next }
    {
      match($0, /^ */); indent = RLENGTH; line = substr($0, indent + 1)
      if (line ~ /^- /) { inlist = indent; next }
      if (inlist >= 0 && indent > inlist) next
      inlist = -1
      if (line !~ /^[A-Za-z0-9_.\/-]+:( |$)/) next
      seen = 1
      key = line; sub(/:.*/, "", key)
      val = line; sub(/^[^:]*:[ ]*/, "", val); sub(/[ ]+#.*$/, "", val)
      while (depth > 0 && indents[depth] >= indent) depth--
      depth++; indents[depth] = indent; keys[depth] = key
      path = keys[1]; for (i = 2; i <= depth; i++) path = path "." keys[i]
      if (path == want && val != "") { gsub(/^["\x27]|["\x27]$/, "", val); print val; exit }
    }
    BEGIN { depth = 0; inlist = -1 }
  ' "$1"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ -x "$FUNCTION_BIN" ] || die "no function binary at $FUNCTION_BIN: run \`make render\` (it builds ./function/cmd/function-redis-ha) or set FUNCTION_BIN"
[ -f "$FUNCTIONS_FILE" ] || die "no Function objects at $FUNCTIONS_FILE: set FUNCTIONS_FILE"
[ -d "$COMPOSITIONS_DIR" ] || die "no Compositions directory $COMPOSITIONS_DIR: set COMPOSITIONS_DIR"
CROSSPLANE=${CROSSPLANE:-$(hack/tools.sh crossplane-cli)}
CROSSPLANE_CORE=${CROSSPLANE_CORE:-$(hack/tools.sh crossplane-core)}

# Composition per XR type ("apiVersion kind" -> file) and XRD per XR kind.
declare -A composition_for xrd_for xrd_for_claim
for f in "$COMPOSITIONS_DIR"/*.yaml; do
  [ "$(yaml_get "$f" kind)" = Composition ] || continue
  type="$(yaml_get "$f" spec.compositeTypeRef.apiVersion) $(yaml_get "$f" spec.compositeTypeRef.kind)"
  [ -z "${composition_for[$type]:-}" ] || die "$f and ${composition_for[$type]} both compose $type: render needs one Composition per XR type"
  composition_for[$type]=$f
done
[ ${#composition_for[@]} -gt 0 ] || die "no Composition in $COMPOSITIONS_DIR/*.yaml"
if [ -d "$XRDS_DIR" ]; then
  for f in "$XRDS_DIR"/*.yaml; do
    [ "$(yaml_get "$f" kind)" = CompositeResourceDefinition ] || continue
    xrd_for[$(yaml_get "$f" spec.names.kind)]=$f
    claim_kind=$(yaml_get "$f" spec.claimNames.kind)
    [ -z "$claim_kind" ] || xrd_for_claim[$claim_kind]=$f
  done
fi

# Start the function on a free port and stop it whatever happens.
port=$FUNCTION_PORT
while port_in_use "$port"; do
  port=$((port + 1))
  [ "$port" -lt $((FUNCTION_PORT + 100)) ] || die "no free port in $FUNCTION_PORT-$port for the function"
done
mkdir -p "$RENDER_OUT"
"$FUNCTION_BIN" --insecure --address="127.0.0.1:$port" >"$RENDER_OUT/function.log" 2>&1 &
fn_pid=$!
render_pid=
stop_function() {
  [ -z "$render_pid" ] || kill "$render_pid" 2>/dev/null || true
  kill "$fn_pid" 2>/dev/null || true
  wait "$fn_pid" 2>/dev/null || true
}
trap stop_function EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do
  port_in_use "$port" && break
  kill -0 "$fn_pid" 2>/dev/null || die "the function exited at start; its log ($RENDER_OUT/function.log):
$(tail -n 20 "$RENDER_OUT/function.log")"
  sleep 0.1
done
port_in_use "$port" || die "the function does not listen on 127.0.0.1:$port after 10s (log: $RENDER_OUT/function.log)"
log "function $FUNCTION_BIN listening on 127.0.0.1:$port (pid $fn_pid)"

rendered=0 failed=() skipped=()
for example in "$EXAMPLES_DIR"/*.yaml; do
  xr=$example
  type="$(yaml_get "$xr" apiVersion) $(yaml_get "$xr" kind)"
  claim_xrd=${xrd_for_claim[${type#* }]:-}
  if [ -z "${composition_for[$type]:-}" ] && [ -n "$claim_xrd" ]; then
    xr=$RENDER_OUT/$(basename "$example" .yaml).xr.yaml
    "$GO" run ./hack/claim-xr --claim "$example" --xrd "$claim_xrd" >"$xr" ||
      die "cannot turn the claim $example into an XR"
    type="$(yaml_get "$xr" apiVersion) $(yaml_get "$xr" kind)"
    log "$example is a claim: rendering its XR $xr"
  fi
  composition=${composition_for[$type]:-}
  if [ -z "$composition" ]; then
    skipped+=("$example ($type)")
    continue
  fi
  out=$RENDER_OUT/$(basename "$example")
  args=("$xr" "$composition" "$FUNCTIONS_FILE"
    --crossplane-binary="$CROSSPLANE_CORE"
    --include-function-results
    --function-annotations=render.crossplane.io/runtime=Development
    --function-annotations="render.crossplane.io/runtime-development-target=127.0.0.1:$port")
  kind=${type#* }
  [ -z "${xrd_for[$kind]:-}" ] || args+=(--xrd="${xrd_for[$kind]}")
  # In the background and waited for, so a signal reaches our trap at once instead of after
  # the render finishes.
  "$CROSSPLANE" composition render "${args[@]}" >"$out.tmp" 2>"$out.err" &
  render_pid=$!
  if wait "$render_pid"; then
    mv "$out.tmp" "$out"
    rm -f "$out.err"
    log "$example -> $out ($(grep -c '^kind:' "$out") objects)"
    rendered=$((rendered + 1))
  else
    rm -f "$out.tmp"
    log "FAILED $example with $composition:"
    sed 's/^/  /' "$out.err" >&2
    failed+=("$example")
  fi
done

for s in "${skipped[@]}"; do log "skipped $s: no Composition for this type (neither an XR nor a claim)"; done
[ ${#failed[@]} -eq 0 ] || die "rendering failed for: ${failed[*]}"
[ "$rendered" -gt 0 ] || die "no example in $EXAMPLES_DIR/*.yaml is an XR of a Composition in $COMPOSITIONS_DIR"
log "rendered $rendered example(s) into $RENDER_OUT"
