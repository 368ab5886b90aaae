#!/usr/bin/env bash
# Runs the Swift runtime benchmark and PyTorch's on the same machine, one after the other, and
# prints them side by side. Usage: bash bench/run.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-5}"
swift build -c release --scratch-path .build-runtime --product CAMBench >/dev/null
swift_out=$(.build-runtime/release/CAMBench "$repeats")
echo "$swift_out" | grep '^#'
if python3 -c 'import torch' 2>/dev/null; then
    torch_out=$(OMP_NUM_THREADS=2 python3 bench/pytorch_bench.py "$repeats")
    echo "$torch_out" | grep '^#'
else
    torch_out=""
    echo "# PyTorch not installed: Swift figures only"
fi
printf '%-20s %-17s %5s %12s %12s %8s\n' model op batch "swift ms" "pytorch ms" ratio
echo "$swift_out" | grep -v '^#' | while read -r model op batch ms; do
    ref=$(echo "$torch_out" | awk -v m="$model" -v o="$op" -v b="$batch" '$1==m && $2==o && $3==b {print $4}')
    if [ -n "$ref" ]; then
        ratio=$(awk -v a="$ms" -v b="$ref" 'BEGIN {printf "%.2f", a / b}')
    else
        ref="-"; ratio="-"
    fi
    printf '%-20s %-17s %5s %12s %12s %8s\n' "$model" "$op" "$batch" "$ms" "$ref" "$ratio"
done
