#!/usr/bin/env bash
#
# generate_onnx_proto.sh — regenerate the Swift protobuf bindings for ONNX's `onnx.proto`.
#
# Output: Sources/NIONNX/Generated/onnx.pb.swift (committed; SwiftPM never runs protoc at build time).
#
# What it does:
#   1. Creates a throwaway Python venv in a temp dir and `pip install`s
#        - `onnx`          (its wheel ships onnx/onnx.proto, the plain proto2 schema, package `onnx`)
#        - `grpcio-tools`  (ships a full `protoc`, run as `python -m grpc_tools.protoc`)
#   2. Builds the swift-protobuf code generator plugin `protoc-gen-swift` at a pinned tag, in the temp dir,
#      from https://github.com/apple/swift-protobuf (the tag must match the SwiftProtobuf runtime the
#      package resolves; the generated file contains a compile-time API version check).
#   3. Runs protoc on the plain `onnx.proto` (not onnx-ml / onnx-data / onnx-operators) with
#      `--swift_opt=Visibility=Public`, so the types (`Onnx_ModelProto`, `Onnx_GraphProto`,
#      `Onnx_TensorProto`, ...) are public, prepends a provenance header and writes the file.
#   4. Prints the onnx, protoc and swift-protobuf versions used.
#
# Usage:
#   scripts/generate_onnx_proto.sh
#
# Environment overrides (all optional):
#   ONNX_VERSION            onnx wheel to take the proto from (default below; empty = latest on PyPI)
#   SWIFT_PROTOBUF_VERSION  swift-protobuf git tag for protoc-gen-swift (default below)
#   SWIFT_PROTOBUF_URL      git URL of swift-protobuf (default https://github.com/apple/swift-protobuf)
#   PROTOC_GEN_SWIFT        path to an existing protoc-gen-swift binary; skips the build (its
#                           `--version` must report SWIFT_PROTOBUF_VERSION)
#   PROTOC                  path to an existing protoc binary instead of grpcio-tools' bundled one
#   PYTHON                  Python interpreter used to create the venv (default python3)
#   OUTPUT                  output file (default <repo>/Sources/NIONNX/Generated/onnx.pb.swift)
#   KEEP_TMP=1              keep the temp dir (venv, swift-protobuf checkout) for inspection
#
# Requirements: bash, git, python3 (with venv), a Swift toolchain (`swift build`), network access to
# PyPI and to the swift-protobuf git repository. Building the plugin takes a few minutes on 2 cores.
# The output does not depend on the protoc version (protoc only parses; the plugin generates the code).

set -euo pipefail

ONNX_VERSION="${ONNX_VERSION-1.23.2}"
SWIFT_PROTOBUF_VERSION="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
SWIFT_PROTOBUF_URL="${SWIFT_PROTOBUF_URL:-https://github.com/apple/swift-protobuf}"
PYTHON="${PYTHON:-python3}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUTPUT="${OUTPUT:-$REPO_ROOT/Sources/NIONNX/Generated/onnx.pb.swift}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in git swift "$PYTHON"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/onnx-proto-gen.XXXXXX")"
cleanup() {
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept temp dir $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- 1. onnx (for the .proto) and protoc --------------------------------------------------------------
log "creating Python venv in $WORK/venv"
"$PYTHON" -m venv "$WORK/venv" || die "could not create a venv (on Debian: apt-get install python3-venv)"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --disable-pip-version-check --upgrade pip

onnx_req="onnx"
[[ -n "$ONNX_VERSION" ]] && onnx_req="onnx==$ONNX_VERSION"
pip_pkgs=("$onnx_req")
[[ -z "${PROTOC:-}" ]] && pip_pkgs+=("grpcio-tools")
log "pip install ${pip_pkgs[*]}"
"$VPY" -m pip install --quiet --disable-pip-version-check "${pip_pkgs[@]}"

ONNX_INSTALLED_VERSION="$("$VPY" -c 'import onnx; print(onnx.__version__)')"
ONNX_DIR="$("$VPY" -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')"
PROTO="$ONNX_DIR/onnx.proto"
[[ -f "$PROTO" ]] || die "onnx.proto not found in $ONNX_DIR"
grep -q '^syntax = "proto2";' "$PROTO" || die "$PROTO is not proto2 (layout of the onnx wheel changed?)"
grep -q '^package onnx;' "$PROTO" || die "$PROTO does not declare 'package onnx;'"
PROTO_SHA256="$(sha256sum "$PROTO" | cut -d' ' -f1)"

if [[ -n "${PROTOC:-}" ]]; then
    PROTOC_CMD=("$PROTOC")
else
    PROTOC_CMD=("$VPY" -m grpc_tools.protoc)
fi
PROTOC_VERSION="$("${PROTOC_CMD[@]}" --version)"

# --- 2. protoc-gen-swift --------------------------------------------------------------------------------
if [[ -n "${PROTOC_GEN_SWIFT:-}" ]]; then
    PLUGIN="$PROTOC_GEN_SWIFT"
    [[ -x "$PLUGIN" ]] || die "PROTOC_GEN_SWIFT=$PLUGIN is not executable"
else
    log "cloning swift-protobuf $SWIFT_PROTOBUF_VERSION from $SWIFT_PROTOBUF_URL"
    git clone --quiet "$SWIFT_PROTOBUF_URL" "$WORK/swift-protobuf"
    git -C "$WORK/swift-protobuf" -c advice.detachedHead=false checkout --quiet "refs/tags/$SWIFT_PROTOBUF_VERSION"
    log "building protoc-gen-swift (release; takes a few minutes)"
    (cd "$WORK/swift-protobuf" &&
        swift build -c release --product protoc-gen-swift --scratch-path "$WORK/swift-protobuf-build" >&2)
    PLUGIN="$WORK/swift-protobuf-build/release/protoc-gen-swift"
    [[ -x "$PLUGIN" ]] || die "build finished but $PLUGIN is missing"
fi
PLUGIN_VERSION="$("$PLUGIN" --version)"   # e.g. "protoc-gen-swift 1.39.0"
[[ "$PLUGIN_VERSION" == "protoc-gen-swift $SWIFT_PROTOBUF_VERSION" ]] ||
    die "plugin reports '$PLUGIN_VERSION', expected 'protoc-gen-swift $SWIFT_PROTOBUF_VERSION'"

# --- 3. generate ----------------------------------------------------------------------------------------
mkdir -p "$WORK/out"
log "running protoc on $PROTO"
"${PROTOC_CMD[@]}" \
    --plugin="protoc-gen-swift=$PLUGIN" \
    -I "$ONNX_DIR" \
    --swift_out="$WORK/out" \
    --swift_opt=Visibility=Public \
    "$PROTO"
GENERATED="$WORK/out/onnx.pb.swift"
[[ -f "$GENERATED" ]] || die "protoc did not produce onnx.pb.swift (got: $(ls "$WORK/out"))"

mkdir -p "$(dirname "$OUTPUT")"
{
    cat <<EOF
// ============================================================================================
// GENERATED FILE: do not edit by hand. Regenerate with scripts/generate_onnx_proto.sh.
//
// Swift bindings for ONNX's onnx.proto (proto2, package \`onnx\`, plain schema: not onnx-ml,
// onnx-data or onnx-operators) as shipped in the onnx $ONNX_INSTALLED_VERSION Python package (onnx/onnx.proto,
// sha256 $PROTO_SHA256).
// Generated by scripts/generate_onnx_proto.sh with protoc-gen-swift $SWIFT_PROTOBUF_VERSION (swift-protobuf
// $SWIFT_PROTOBUF_VERSION), protoc ($PROTOC_VERSION), option Visibility=Public.
// Requires the SwiftProtobuf runtime at a version compatible with $SWIFT_PROTOBUF_VERSION.
// ============================================================================================

EOF
    cat "$GENERATED"
} > "$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"

# --- 4. report ------------------------------------------------------------------------------------------
echo "wrote:          $OUTPUT ($(wc -l < "$OUTPUT") lines)"
echo "onnx:           $ONNX_INSTALLED_VERSION (onnx/onnx.proto, sha256 $PROTO_SHA256)"
echo "protoc:         $PROTOC_VERSION"
echo "swift-protobuf: $SWIFT_PROTOBUF_VERSION ($PLUGIN_VERSION)"
