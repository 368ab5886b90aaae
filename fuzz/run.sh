#!/usr/bin/env bash
# Runs libFuzzer targets one after another (never two at once: the machine has 2 cores).
#
# Usage: fuzz/run.sh SECONDS [target ...]       (default: every file in fuzz/targets)
#
# Each target file declares its options in its first lines:
#   // fuzz-max-len: N              the largest input libFuzzer generates
#   // fuzz-seeds: DIR [DIR ...]    read-only seed folders (repository paths)
# and fuzz/dict/<target>.dict, if present, is its dictionary. The growing corpus is kept in
# .build-fuzz/corpus/<target> (reused by later runs); crash, leak, timeout and OOM inputs go to
# .build-fuzz/artifacts/<target>/; the full log to .build-fuzz/logs/<target>.log.
#
# Exits non-zero when any target finds a crash, a leak, a timeout (> 1 s) or an OOM (> 2 GB).
# Environment: FUZZ_BUILD (build folder), FUZZ_RUNS (stop after N inputs as well).
set -uo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 && "$1" =~ ^[0-9]+$ ]] || { echo "usage: fuzz/run.sh SECONDS [target ...]" >&2; exit 2; }
SECONDS_PER_TARGET=$1; shift
if [[ $# -eq 0 ]]; then
    set -- $(cd fuzz/targets && ls *.swift | sed 's/\.swift$//')
fi
fuzz/build.sh "$@" || exit 1

OUT=${FUZZ_BUILD:-.build-fuzz/fuzz}
ROOT=$(dirname "$OUT")
export SWIFT_BACKTRACE=enable=no
# detect_leaks: LeakSanitizer at exit and libFuzzer's per-input leak check.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
failed=()
summary=()
for name in "$@"; do
    src="fuzz/targets/$name.swift"
    maxlen=$(sed -n 's|^// fuzz-max-len: *||p' "$src" | head -1)
    seeds=$(sed -n 's|^// fuzz-seeds: *||p' "$src" | head -1)
    corpus="$ROOT/corpus/$name"; artifacts="$ROOT/artifacts/$name"; log="$ROOT/logs/$name.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=1 -rss_limit_mb=2048 -detect_leaks=1
          -print_final_stats=1 -artifact_prefix="$artifacts/" -max_len="${maxlen:-4096}")
    [[ -n "${FUZZ_RUNS:-}" ]] && args+=(-runs="$FUZZ_RUNS")
    [[ -f "fuzz/dict/$name.dict" ]] && args+=(-dict="fuzz/dict/$name.dict")
    echo "fuzz: $name for ${SECONDS_PER_TARGET}s: $OUT/fuzz-$name ${args[*]} $corpus $seeds"
    # shellcheck disable=SC2086
    "$OUT/fuzz-$name" "${args[@]}" "$corpus" $seeds > "$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    line="$name: status $status, ${runs:-?} executions, ${speed:-?} exec/s, corpus $(ls "$corpus" | wc -l) files"
    summary+=("$line")
    if [[ $status -ne 0 ]]; then
        failed+=("$name")
        echo "fuzz: $name FAILED (exit $status); last lines of $log:" >&2
        grep -E 'ERROR|SUMMARY|Test unit written|escaped|Fatal error|==[0-9]+==' "$log" | head -20 >&2
        tail -5 "$log" >&2
    fi
done
printf 'fuzz: %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: failures in: ${failed[*]} (inputs in $ROOT/artifacts/)" >&2
    exit 1
fi
