#!/usr/bin/env bash
# Runs the Swift runtime benchmark and PyTorch's on the same machine, one after the other, and
# prints them side by side: the Swift figures with inference convolutions on oneDNN (the
# default) and on OpenBLAS (CAMSCRIPT_ONEDNN=0), PyTorch's, and the ratio oneDNN / PyTorch.
# PyTorch runs twice, with OpenMP's default (spinning) wait policy and with OMP_WAIT_POLICY=passive
# (what CAMBench uses); its column is the better of the two per case.
# It first writes a 12-megapixel JPEG (examples/images/rocket.jpg upscaled to 4000×3000 with Pillow,
# quality 90) into a temporary folder, which both sides decode and preprocess.
# CAMBENCH_SLOW=1 adds AblationCAM, ScoreCAM, ROAD combined and deletion + insertion at 224 steps
# (issue 18; TorchCAM's DeletionInsertionMetric on the PyTorch side, which then needs torchcam) on
# ResNet-50 and the cascading randomisation (Quantus' MPRT with pytorch-grad-cam's GradCAM on the
# PyTorch side, which then needs quantus) (or name one in CAMBENCH_OPS: ablationcam, scorecam,
# road, curves, sanity); the CAMs are timed once, ROAD, the curves and the randomisation as the
# median of up to 3,
# and on the PyTorch side only in its first (default wait policy) run: pytorch-grad-cam's take minutes.
# CAMBENCH_PYTHON names the Python with PyTorch, torchvision, pytorch-grad-cam and Pillow (default
# python3, e.g. CAMBENCH_PYTHON=~/venvs/torch/bin/python); without PyTorch there, our figures only.
# Usage: bash bench/run.sh [repeats]; CAMBENCH_MODELS, CAMBENCH_BATCHES, CAMBENCH_OPS select cases
# (see bench/Sources/CAMBench/main.swift); CAMBENCH_NO_OPENBLAS=1 skips the OpenBLAS column.
# CAMBENCH_SEED=1 then also runs the seed workflow as whole processes (bench/seed/run.sh, same repeats).
# CAMBENCH_ISA=avx2 runs both sides on the kernels an AVX2-only CPU gets, on this CPU: OpenBLAS's
# Haswell kernels and oneDNN capped at AVX2 for CAMScript; ATen's AVX2 kernels, its oneDNN capped at
# AVX2 and MKL limited to AVX2 for PyTorch (issue 14). Each side's header line names what it ran.
# CAMBENCH_ONNX=1 then also compares imported ONNX models with their peers (issue 15); =only runs
# that comparison alone. bench/onnx/export.py writes full-size torchvision resnet50,
# mobilenet_v3_large, convnext_tiny and vit_b_16 (224×224, batch 1, deterministic random weights,
# TorchScript exporter, opset 17) to $CAMBENCH_SCRATCH/onnx once (reruns reuse them); CAMBench times
# each .onnx's forward and Grad-CAM at pytorch-grad-cam's tutorial target (layer4[-1], features[-1],
# encoder.layers[-1].ln_1; class 281) and the native resnet50's; bench/onnx_bench.py times
# onnxruntime's forward (2 intra-op threads, 1 inter-op, sequential) and PyTorch's forward and
# pytorch-grad-cam's GradCAM on the same weights (2 threads, both wait policies, the better per case).
# Its table gives the ratios against the issue's goals: forward ≤ 1.0× onnxruntime's (the CNNs),
# Grad-CAM ≤ 0.3× PyTorch + pytorch-grad-cam's, the ONNX ResNet-50 within 1.1× of the native one.
# (It needs torch, torchvision, onnx, onnxruntime and grad-cam in CAMBENCH_PYTHON, and ~600 MB for
# the .onnx files; CAMBENCH_ISA=avx2 does not cap onnxruntime's kernels.)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${CAMBENCH_ISA:-native}" in
    native) ;;
    avx2) export OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ;;
    *) echo "bench/run.sh: CAMBENCH_ISA is native or avx2, not ${CAMBENCH_ISA}" >&2; exit 2 ;;
esac
repeats="${1:-5}"
py="${CAMBENCH_PYTHON:-python3}"
scratch="${CAMBENCH_SCRATCH:-.build-bench}"
onnx="${CAMBENCH_ONNX:-0}"
case "$onnx" in
    0|1|only) ;;
    *) echo "bench/run.sh: CAMBENCH_ONNX is 0, 1 or only, not ${onnx}" >&2; exit 2 ;;
esac
# CAMBench reads CAMBENCH_ONNX as a folder of models: only the ONNX comparison passes it one.
unset CAMBENCH_ONNX
swift build -c release --scratch-path "$scratch" --product CAMBench >/dev/null
bench="$scratch/release/CAMBench"
# The smaller median of a case over PyTorch's two runs (its better wait policy), empty when absent.
lookup() {
    echo "$1" | awk -v m="$2" -v o="$3" -v b="$4" '$1==m && $2==o && $3==b && (best == "" || $4 < best) {best = $4}
        END {if (best != "") print best}'
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b != "") printf "%.2f", a / b; else printf "-"}'
}

# The ONNX comparison (CAMBENCH_ONNX=1 or only): the exports (cached), then CAMScript, onnxruntime
# and PyTorch one after the other, and the table.
onnx_comparison() {
    local dir="$scratch/onnx" ours ort torch_default torch_passive torch_out op native imported
    "$py" bench/onnx/export.py "$dir"
    echo "# ONNX comparison starts $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(grep -c '^processor' /proc/cpuinfo) cores, $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo 'no AVX-512')"
    ours=$(CAMBENCH_SLOW=0 CAMBENCH_MODELS=resnet50 CAMBENCH_BATCHES=1 CAMBENCH_OPS=forward,gradcam \
        CAMBENCH_ONNX="$dir" "$bench" "$repeats")
    ort=$("$py" bench/onnx_bench.py ort "$dir" "$repeats")
    torch_default=$(OMP_NUM_THREADS=2 "$py" bench/onnx_bench.py torch "$dir" "$repeats")
    torch_passive=$(OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive "$py" bench/onnx_bench.py torch "$dir" "$repeats")
    echo "$ours" | grep '^#'
    echo "$ort" | grep '^#'
    echo "$torch_default" | grep '^#'
    echo "# PyTorch, default wait policy:"; echo "$torch_default" | { grep -v '^#' || true; } | sed 's/^/#   /'
    echo "# PyTorch, OMP_WAIT_POLICY=passive:"; echo "$torch_passive" | { grep -v '^#' || true; } | sed 's/^/#   /'
    torch_out=$(printf '%s\n%s\n' "$torch_default" "$torch_passive")
    echo "# ONNX comparison ends $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-24s %-8s %12s %14s %11s %6s %8s  %s\n' model op "camscript ms" "onnxruntime ms" "pytorch ms" "/ort" "/pytorch" goal
    echo "$ours" | { grep -v '^#' || true; } | while read -r model op batch ms; do
        local o t r_ort r_torch goal=""
        o=$(lookup "$ort" "$model" "$op" "$batch"); t=$(lookup "$torch_out" "$model" "$op" "$batch")
        r_ort=$(ratio "$ms" "$o"); r_torch=$(ratio "$ms" "$t")
        if [ "$op" = forward ] && [ "$model" != vit_b_16.onnx ] && [ "$r_ort" != - ]; then
            goal="≤ 1.0 ort: $(awk -v r="$r_ort" 'BEGIN {print (r <= 1.0 ? "met" : "MISSED")}')"
        elif [ "$op" = gradcam ] && [ "$r_torch" != - ]; then
            goal="≤ 0.3 pytorch: $(awk -v r="$r_torch" 'BEGIN {print (r <= 0.3 ? "met" : "MISSED")}')"
        fi
        printf '%-24s %-8s %12s %14s %11s %6s %8s  %s\n' "$model" "$op" "$ms" "${o:--}" "${t:--}" "$r_ort" "$r_torch" "$goal"
    done
    for op in forward gradcam; do
        native=$(lookup "$ours" resnet50 "$op" 1); imported=$(lookup "$ours" resnet50.onnx "$op" 1)
        [ -n "$native" ] && [ -n "$imported" ] || continue
        awk -v op="$op" -v a="$imported" -v b="$native" 'BEGIN {r = a / b
            printf "resnet50.onnx / native resnet50, %s: %s / %s ms = %.2f (≤ 1.1: %s)\n", op, a, b, r, (r <= 1.1 ? "met" : "MISSED")}'
    done
}
if [ "$onnx" = only ]; then
    onnx_comparison
    exit 0
fi
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
export CAMBENCH_JPEG="$workdir/rocket-4000x3000.jpg"
if "$py" -c 'import PIL' 2>/dev/null; then
    "$py" -c 'import sys; from PIL import Image
Image.open("examples/images/rocket.jpg").convert("RGB").resize((4000, 3000), Image.BICUBIC).save(sys.argv[1], quality=90)' \
        "$CAMBENCH_JPEG"
else
    # No Pillow (a machine set up by scripts/setup.sh alone): camscript makes the file instead
    # (its own bilinear resize; both sides read whatever file this is).
    swift build -c release --scratch-path "$scratch" --product camscript >/dev/null
    printf 'img = load "%s"\nsave resize(img, 4000, 3000) "%s" quality=90\n' "$PWD/examples/images/rocket.jpg" \
        "$CAMBENCH_JPEG" > "$workdir/make-jpeg.cam"
    "$scratch/release/camscript" run "$workdir/make-jpeg.cam" >/dev/null
fi
slow="${CAMBENCH_SLOW:-0}"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg); CAMBENCH_SLOW=$slow; CAMBENCH_ISA=${CAMBENCH_ISA:-native}"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(grep -c '^processor' /proc/cpuinfo) cores, $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo 'no AVX-512')"
swift_out=$(CAMBENCH_SLOW="$slow" "$bench" "$repeats")
echo "$swift_out" | grep '^#'
if [ "${CAMBENCH_NO_OPENBLAS:-0}" != 1 ]; then
    blas_out=$(CAMSCRIPT_ONEDNN=0 CAMBENCH_SLOW=0 CAMBENCH_OPS="${CAMBENCH_OPS:-forward}" "$bench" "$repeats")
    echo "$blas_out" | grep '^#'
else
    blas_out=""
fi
if "$py" -c 'import torch' 2>/dev/null; then
    echo "# PyTorch starts $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    torch_default=$(CAMBENCH_SLOW="$slow" OMP_NUM_THREADS=2 "$py" bench/pytorch_bench.py "$repeats")
    # The slow methods run once, in the first run only, even when CAMBENCH_OPS names them.
    quick_ops=$(echo "${CAMBENCH_OPS:-forward,forward+backward,gradcam,eigencam,decode}" | tr ',' '\n' \
        | { grep -vx -e ablationcam -e scorecam -e road -e curves -e sanity || true; } | paste -sd, -)
    torch_passive=$(CAMBENCH_SLOW=0 CAMBENCH_OPS="$quick_ops" OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive \
        "$py" bench/pytorch_bench.py "$repeats")
    echo "$torch_default" | grep '^#'
    echo "# PyTorch, default wait policy:"; echo "$torch_default" | { grep -v '^#' || true; } | sed 's/^/#   /'
    echo "# PyTorch, OMP_WAIT_POLICY=passive:"; echo "$torch_passive" | { grep -v '^#' || true; } | sed 's/^/#   /'
    torch_out=$(printf '%s\n%s\n' "$torch_default" "$torch_passive")
else
    torch_out=""
    echo "# PyTorch not installed: Swift figures only"
fi
echo "# $(date -u '+%H:%M UTC'), load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-32s %-26s %5s %12s %12s %12s %8s\n' model op batch "swift ms" "openblas ms" "pytorch ms" ratio
echo "$swift_out" | { grep -v '^#' || true; } | while read -r model op batch ms; do
    blas=$(lookup "$blas_out" "$model" "$op" "$batch"); blas=${blas:--}
    ref=$(lookup "$torch_out" "$model" "$op" "$batch")
    if [ -n "$ref" ]; then
        ratio=$(awk -v a="$ms" -v b="$ref" 'BEGIN {printf "%.2f", a / b}')
    else
        ref="-"; ratio="-"
    fi
    printf '%-32s %-26s %5s %12s %12s %12s %8s\n' "$model" "$op" "$batch" "$ms" "$blas" "$ref" "$ratio"
done
if [ "$onnx" = 1 ]; then
    echo
    onnx_comparison
fi
if [ "${CAMBENCH_SEED:-0}" = 1 ]; then
    echo
    bash bench/seed/run.sh "$repeats"
fi
