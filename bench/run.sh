#!/usr/bin/env bash
# Runs the Swift runtime benchmark and PyTorch's on the same machine, one after the other, and
# prints them side by side: the Swift figures with inference convolutions on oneDNN (the
# default) and on OpenBLAS (CAMSCRIPT_ONEDNN=0), PyTorch's, and the ratio oneDNN / PyTorch.
# PyTorch runs twice, with OpenMP's default (spinning) wait policy and with OMP_WAIT_POLICY=passive
# (what CAMBench uses); its column is the better of the two per case.
# Usage: bash bench/run.sh [repeats]; CAMBENCH_MODELS, CAMBENCH_BATCHES, CAMBENCH_OPS select cases
# (see bench/Sources/CAMBench/main.swift); CAMBENCH_NO_OPENBLAS=1 skips the OpenBLAS column.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-5}"
swift build -c release --scratch-path .build-perf --product CAMBench >/dev/null
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
swift_out=$(.build-perf/release/CAMBench "$repeats")
echo "$swift_out" | grep '^#'
if [ "${CAMBENCH_NO_OPENBLAS:-0}" != 1 ]; then
    blas_out=$(CAMSCRIPT_ONEDNN=0 CAMBENCH_OPS="${CAMBENCH_OPS:-forward}" .build-perf/release/CAMBench "$repeats")
    echo "$blas_out" | grep '^#'
else
    blas_out=""
fi
if python3 -c 'import torch' 2>/dev/null; then
    torch_default=$(OMP_NUM_THREADS=2 python3 bench/pytorch_bench.py "$repeats")
    torch_passive=$(OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive python3 bench/pytorch_bench.py "$repeats")
    echo "$torch_default" | grep '^#'
    echo "# PyTorch, default wait policy:"; echo "$torch_default" | grep -v '^#' | sed 's/^/#   /'
    echo "# PyTorch, OMP_WAIT_POLICY=passive:"; echo "$torch_passive" | grep -v '^#' | sed 's/^/#   /'
    torch_out=$(printf '%s\n%s\n' "$torch_default" "$torch_passive")
else
    torch_out=""
    echo "# PyTorch not installed: Swift figures only"
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# The smallest figure of a case (PyTorch's two runs), empty when absent.
lookup() {
    echo "$1" | awk -v m="$2" -v o="$3" -v b="$4" '$1==m && $2==o && $3==b && (best == "" || $4 < best) {best = $4}
        END {if (best != "") print best}'
}
printf '%-20s %-17s %5s %12s %12s %12s %8s\n' model op batch "swift ms" "openblas ms" "pytorch ms" ratio
echo "$swift_out" | grep -v '^#' | while read -r model op batch ms; do
    blas=$(lookup "$blas_out" "$model" "$op" "$batch"); blas=${blas:--}
    ref=$(lookup "$torch_out" "$model" "$op" "$batch")
    if [ -n "$ref" ]; then
        ratio=$(awk -v a="$ms" -v b="$ref" 'BEGIN {printf "%.2f", a / b}')
    else
        ref="-"; ratio="-"
    fi
    printf '%-20s %-17s %5s %12s %12s %12s %8s\n' "$model" "$op" "$batch" "$ms" "$blas" "$ref" "$ratio"
done
