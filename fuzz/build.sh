#!/usr/bin/env bash
# Builds the libFuzzer targets: SwiftProtobuf, ONNXProto and CAMRuntime once each as instrumented
# static libraries, then one executable per fuzz/targets/<name>.swift (libFuzzer's main +
# FuzzSupport.swift + the target).
#
# SwiftPM is not used: `swift build -Xswiftc -sanitize=fuzzer` fails to link because SwiftPM
# renames `main` (see docs/reliability.md). swiftc is driven directly instead.
#
# Usage: fuzz/build.sh [target ...]      (default: every file in fuzz/targets)
# Environment: FUZZ_BUILD (output folder, default .build-fuzz/fuzz), SWIFTC (default swiftc).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${FUZZ_BUILD:-.build-fuzz/fuzz}
SWIFTC=${SWIFTC:-swiftc}
mkdir -p "$OUT"

# Instrumentation: libFuzzer coverage + AddressSanitizer (with LeakSanitizer) everywhere.
# lld (shipped with the toolchain) links the targets: ld.gold prints ~200 harmless warnings
# about ASan's local symbols. -enable-testing lets a target reach internal entry points (the unpickler) with @testable.
INSTRUMENT=(-O -g -sanitize=fuzzer,address -enable-testing)
FLAGS=("${INSTRUMENT[@]}" -swift-version 5 -I "$OUT"
       -I Sources/CPNG -I Sources/CPNGRead/include -I Sources/CJPEG -I Sources/CJPEGScan/include -I Sources/COpenBLAS -I Sources/CDNNL -I Sources/CCrypto -I Sources/CSuiteSparse
       -I Sources/CFreeType $(pkg-config --cflags-only-I freetype2 | sed 's/-I/-Xcc -I/g'))
# FreeType's headers are in include/freetype2, which pkg-config names (SwiftPM asks it too).
# The C targets CJPEGScan and CPNGRead (libjpeg and libpng behind setjmp) are compiled with
# clang, instrumented the same way, and archived into libCAMRuntime.a.
CLANG=${CLANG:-clang}

# SwiftProtobuf (the ONNX reader's protobuf runtime) from SwiftPM's checkout of the version
# Package.resolved pins, compiled as its own package compiles it (Swift 6, ExistentialAny, its
# package name and default traits); then ONNXProto, the committed generated messages. Both are
# instrumented like the runtime, so the fuzzer also sees the protobuf decoder's branches.
PROTOBUF_DIR=.build/checkouts/swift-protobuf/Sources/SwiftProtobuf
if [[ ! -d "$PROTOBUF_DIR" ]]; then
    echo "fuzz: resolving packages for the SwiftProtobuf sources"
    "${SWIFT:-swift}" package resolve
fi
[[ -d "$PROTOBUF_DIR" ]] || { echo "fuzz: no $PROTOBUF_DIR after swift package resolve" >&2; exit 1; }
PROTOBUF_SOURCES=$(find "$PROTOBUF_DIR" -name '*.swift' | sort)
if [[ ! -f "$OUT/libSwiftProtobuf.a" || ! -f "$OUT/SwiftProtobuf.sources" ]] \
   || [[ -n "$(find "$PROTOBUF_DIR" fuzz/build.sh -newer "$OUT/libSwiftProtobuf.a" -print -quit)" ]] \
   || [[ "$(cat "$OUT/SwiftProtobuf.sources")" != "$PROTOBUF_SOURCES" ]]; then
    echo "fuzz: building instrumented SwiftProtobuf"
    # shellcheck disable=SC2086
    "$SWIFTC" "${INSTRUMENT[@]}" -swift-version 6 -enable-upcoming-feature ExistentialAny \
        -package-name swift_protobuf -DBinaryDelimitedStreams -DFieldMaskUtilities -suppress-warnings \
        -parse-as-library -module-name SwiftProtobuf \
        -emit-library -static -o "$OUT/libSwiftProtobuf.a" \
        -emit-module -emit-module-path "$OUT/SwiftProtobuf.swiftmodule" \
        $PROTOBUF_SOURCES
    echo "$PROTOBUF_SOURCES" > "$OUT/SwiftProtobuf.sources"
fi
if [[ ! -f "$OUT/libONNXProto.a" ]] \
   || [[ -n "$(find Sources/ONNXProto fuzz/build.sh "$OUT/libSwiftProtobuf.a" -newer "$OUT/libONNXProto.a" -print -quit)" ]]; then
    echo "fuzz: building instrumented ONNXProto"
    "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name ONNXProto \
        -emit-library -static -o "$OUT/libONNXProto.a" \
        -emit-module -emit-module-path "$OUT/ONNXProto.swiftmodule" \
        Sources/ONNXProto/*.swift
fi

LIB_SOURCES=$(find Sources/CAMRuntime -name '*.swift' | sort)
STAMP="$OUT/CAMRuntime.sources"
# Rebuild the library only when a runtime source or this script changed.
if [[ ! -f "$OUT/libCAMRuntime.a" || ! -f "$STAMP" ]] \
   || [[ -n "$(find Sources/CAMRuntime Sources/CJPEGScan Sources/CPNGRead fuzz/build.sh "$OUT/libONNXProto.a" -newer "$OUT/libCAMRuntime.a" -print -quit)" ]] \
   || [[ "$(cat "$STAMP")" != "$LIB_SOURCES" ]]; then
    echo "fuzz: building instrumented CAMRuntime"
    # shellcheck disable=SC2086
    "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name CAMRuntime \
        -emit-library -static -o "$OUT/libCAMRuntime.a" \
        -emit-module -emit-module-path "$OUT/CAMRuntime.swiftmodule" \
        $LIB_SOURCES
    "$CLANG" -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CJPEGScan/include \
        -c Sources/CJPEGScan/jpegscan.c -o "$OUT/jpegscan.o"
    "$CLANG" -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CPNGRead/include $(pkg-config --cflags libpng16) \
        -c Sources/CPNGRead/pngread.c -o "$OUT/pngread.o"
    ar r "$OUT/libCAMRuntime.a" "$OUT/jpegscan.o" "$OUT/pngread.o"
    echo "$LIB_SOURCES" > "$STAMP"
fi

# The Interpreter module (language, NPY) as a second instrumented library, built only when a
# target asks for it (header line `// fuzz-needs: Interpreter`) and rebuilt when its sources,
# the runtime library or this script changed.
build_interpreter() {
    local sources stamp="$OUT/Interpreter.sources"
    sources=$(find Sources/Interpreter -name '*.swift' | sort)
    if [[ ! -f "$OUT/libInterpreter.a" || ! -f "$stamp" ]] \
       || [[ -n "$(find Sources/Interpreter fuzz/build.sh "$OUT/libCAMRuntime.a" -newer "$OUT/libInterpreter.a" -print -quit)" ]] \
       || [[ "$(cat "$stamp")" != "$sources" ]]; then
        echo "fuzz: building instrumented Interpreter"
        # shellcheck disable=SC2086
        "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name Interpreter \
            -emit-library -static -o "$OUT/libInterpreter.a" \
            -emit-module -emit-module-path "$OUT/Interpreter.swiftmodule" \
            $sources
        echo "$sources" > "$stamp"
    fi
}

if [[ $# -eq 0 ]]; then
    set -- $(cd fuzz/targets && ls *.swift | sed 's/\.swift$//')
fi
for name in "$@"; do
    src="fuzz/targets/$name.swift"
    exe="$OUT/fuzz-$name"
    [[ -f "$src" ]] || { echo "fuzz: no target $src" >&2; exit 1; }
    libs=(-lCAMRuntime -lONNXProto -lSwiftProtobuf)
    deps=("$OUT/libCAMRuntime.a" "$OUT/libONNXProto.a" "$OUT/libSwiftProtobuf.a")
    if grep -q '^// fuzz-needs: *Interpreter' "$src"; then
        build_interpreter
        libs=(-lInterpreter "${libs[@]}")
        deps+=("$OUT/libInterpreter.a")
    fi
    # Files of the executable's own target a fuzz target compiles in (header line
    # `// fuzz-sources: FILE ...`): the kernel's message reader lives in the camscript executable,
    # not in a library.
    # shellcheck disable=SC2207
    extra=($(sed -n 's|^// fuzz-sources: *||p' "$src" | head -1))
    if [[ ! -x "$exe" || -n "$(find "$src" fuzz/FuzzSupport.swift "${deps[@]}" "${extra[@]}" -newer "$exe" -print -quit)" ]]; then
        echo "fuzz: building $exe"
        "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name "Fuzz_$name" \
            -use-ld=lld -L "$OUT" "${libs[@]}" -lpng16 -lturbojpeg -ljpeg -lopenblas -ldnnl -lcrypto -lfreetype \
            fuzz/FuzzSupport.swift "${extra[@]}" "$src" -o "$exe"
    fi
done
