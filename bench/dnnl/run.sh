#!/usr/bin/env bash
# Builds and runs the oneDNN-vs-OpenBLAS convolution micro-benchmark (2 threads each).
set -euo pipefail
cd "$(dirname "$0")"
out=${TMPDIR:-/tmp}/camscript_conv_bench
cc -O2 -o "$out" conv_bench.c -ldnnl -lopenblas
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$out" "${1:-10}"
