#!/usr/bin/env bash
# The dataset benchmark (issue 20): images per second end to end — read, decode, preprocess,
# Grad-CAM, overlay, save PNG, append a results row — over a folder of photos of mixed sizes
# (bench/dataset/make_folder.py: N photos, default 1000, 0.3–12 MP JPEGs made from
# examples/images), for ResNet-50 and EfficientNet-Lite0 (random weights on both sides):
#   camscript   `camscript run dataset.cam` (batch() decodes the next batch behind the model)
#   model only  `camscript run model_only.cam`: Grad-CAM on one preprocessed batch, as many
#               times as the folder has batches (the throughput the loading must hide behind)
#   pytorch     pytorch_dataset.py: DataLoader (2 workers) + pytorch-grad-cam + OpenCV
# each as a whole process (wall time, start-up included), interleaved, the median of R rounds
# (default 1). Goals: camscript ≥ 4× pytorch, and ≥ 0.85× model only.
# Usage: bash bench/dataset/run.sh [R]; DATASETBENCH_COUNT (photos, default 1000),
# DATASETBENCH_MODELS (default resnet50,efficientnet_lite0), CAMBENCH_PYTHON (torch, torchvision,
# grad-cam, opencv, Pillow), DATASETBENCH_SCRATCH (default .build-bench/dataset: the folder, kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
rounds="${1:-1}"
count="${DATASETBENCH_COUNT:-1000}"
py="${CAMBENCH_PYTHON:-python3}"
scratch="${DATASETBENCH_SCRATCH:-.build-bench/dataset}"
models="${DATASETBENCH_MODELS:-resnet50,efficientnet_lite0}"
mkdir -p "$scratch"
scratch=$(realpath "$scratch")
folder="$scratch/photos-$count"
[ -d "$folder" ] || "$py" bench/dataset/make_folder.py "$folder" "$count"
echo "# building camscript (release)"
swift build -c release --product camscript >/dev/null
camscript="$repo/.build/release/camscript"
export OMP_NUM_THREADS=2
echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; $count photos; median of $rounds"

seconds() {  # seconds COMMAND…: runs it with fresh output folders, prints its wall time
    rm -rf "$scratch/out" "$scratch/results.jsonl"
    mkdir -p "$scratch/out"
    local start end
    start=$(date +%s.%N)
    "$@" >"$scratch/last.log" 2>&1 || { cat "$scratch/last.log" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-20s %12s %12s %12s %10s %12s\n' model camscript "model only" pytorch "vs torch" "vs model"
for model in ${models//,/ }; do
    ours=() alone=() theirs=()
    for _ in $(seq "$rounds"); do
        ours+=("$(seconds "$camscript" run bench/dataset/dataset.cam -- "$model" "$folder" "$scratch/out" "$scratch/results.jsonl")")
        alone+=("$(seconds "$camscript" run bench/dataset/model_only.cam -- "$model" "$folder")")
        theirs+=("$(seconds "$py" bench/dataset/pytorch_dataset.py "$model" "$folder" "$scratch/out" "$scratch/results.jsonl")")
    done
    o=$(printf '%s\n' "${ours[@]}" | median); a=$(printf '%s\n' "${alone[@]}" | median); t=$(printf '%s\n' "${theirs[@]}" | median)
    printf '%-20s %9.2f/s %9.2f/s %9.2f/s %9.2fx %11.2fx\n' "$model" \
        "$(echo "$count / $o" | bc -l)" "$(echo "$count / $a" | bc -l)" "$(echo "$count / $t" | bc -l)" \
        "$(echo "$t / $o" | bc -l)" "$(echo "$a / $o" | bc -l)"
done
