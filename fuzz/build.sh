#!/usr/bin/env bash
# Builds the libFuzzer targets: CAMRuntime once as an instrumented static library, then one
# executable per fuzz/targets/<name>.swift (libFuzzer's main + FuzzSupport.swift + the target).
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
FLAGS=(-O -g -sanitize=fuzzer,address -enable-testing -swift-version 5
       -I Sources/CPNG -I Sources/CJPEG -I Sources/CJPEGScan/include -I Sources/COpenBLAS -I Sources/CDNNL -I Sources/CCrypto)
# The C target CJPEGScan (libjpeg behind setjmp) is compiled with clang, instrumented the same
# way, and archived into libCAMRuntime.a.
CLANG=${CLANG:-clang}

LIB_SOURCES=$(find Sources/CAMRuntime -name '*.swift' | sort)
STAMP="$OUT/CAMRuntime.sources"
# Rebuild the library only when a runtime source or this script changed.
if [[ ! -f "$OUT/libCAMRuntime.a" || ! -f "$STAMP" ]] \
   || [[ -n "$(find Sources/CAMRuntime Sources/CJPEGScan fuzz/build.sh -newer "$OUT/libCAMRuntime.a" -print -quit)" ]] \
   || [[ "$(cat "$STAMP")" != "$LIB_SOURCES" ]]; then
    echo "fuzz: building instrumented CAMRuntime"
    # shellcheck disable=SC2086
    "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name CAMRuntime \
        -emit-library -static -o "$OUT/libCAMRuntime.a" \
        -emit-module -emit-module-path "$OUT/CAMRuntime.swiftmodule" \
        $LIB_SOURCES
    "$CLANG" -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CJPEGScan/include \
        -c Sources/CJPEGScan/jpegscan.c -o "$OUT/jpegscan.o"
    ar r "$OUT/libCAMRuntime.a" "$OUT/jpegscan.o"
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
        "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name Interpreter -I "$OUT" \
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
    libs=(-lCAMRuntime)
    deps=("$OUT/libCAMRuntime.a")
    if grep -q '^// fuzz-needs: *Interpreter' "$src"; then
        build_interpreter
        libs=(-lInterpreter -lCAMRuntime)
        deps+=("$OUT/libInterpreter.a")
    fi
    if [[ ! -x "$exe" || -n "$(find "$src" fuzz/FuzzSupport.swift "${deps[@]}" -newer "$exe" -print -quit)" ]]; then
        echo "fuzz: building $exe"
        "$SWIFTC" "${FLAGS[@]}" -parse-as-library -module-name "Fuzz_$name" \
            -use-ld=lld -I "$OUT" -L "$OUT" "${libs[@]}" -lpng16 -lturbojpeg -ljpeg -lopenblas -ldnnl -lcrypto \
            fuzz/FuzzSupport.swift "$src" -o "$exe"
    fi
done
