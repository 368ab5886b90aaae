#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/camscript_onnx.pb.swift from Sources/ONNXProto/camscript_onnx.proto.
#
# The generated file is committed: the build never runs protoc. Run this only after editing the
# .proto, with the same swift-protobuf version as Package.swift resolves (1.39.0), and commit both.
#
# Needs, at generation time only:
#   - protoc (Debian: apt-get install protobuf-compiler; 3.21.12 was used);
#   - protoc-gen-swift 1.39.0, built from swift-protobuf's source:
#       git clone --branch 1.39.0 https://github.com/apple/swift-protobuf /tmp/swift-protobuf
#       (cd /tmp/swift-protobuf && swift build -c release --product protoc-gen-swift)
#     Its path is $PROTOC_GEN_SWIFT (default: where the commands above put it).
#
# Usage: tools/onnx/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PROTOC=${PROTOC:-protoc}
PROTOC_GEN_SWIFT=${PROTOC_GEN_SWIFT:-/tmp/swift-protobuf/.build/x86_64-unknown-linux-gnu/release/protoc-gen-swift}
[[ -x "$PROTOC_GEN_SWIFT" ]] || { echo "regenerate: no protoc-gen-swift at $PROTOC_GEN_SWIFT (see the comment in $0)" >&2; exit 1; }
echo "regenerate: $("$PROTOC" --version), protoc-gen-swift $("$PROTOC_GEN_SWIFT" --version 2>&1 | head -1)"
set -x
"$PROTOC" --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --proto_path=Sources/ONNXProto \
    --swift_opt=Visibility=Public \
    --swift_out=Sources/ONNXProto \
    Sources/ONNXProto/camscript_onnx.proto
