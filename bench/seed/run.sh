#!/usr/bin/env bash
# The seed workflow as a process benchmark: `camscript run seed.cam` (examples/seed.cam, copied
# unchanged into a temporary folder so that its out/ lands there) against bench/seed/seed.py (the
# same work with torch + torchvision + pytorch-grad-cam), each as a whole process: wall time and
# peak RSS, 1 warm-up + N timed runs (default 5), interleaved, medians, min/max and ratios
# (against seed.py under OpenMP's default wait policy and under OMP_WAIT_POLICY=passive).
#
# Weights: a random-init torchvision ResNet-50 state dict written once per run with torch.save
# (zip format, ~100 MB .pth) into the temporary folder; both sides load that file. Without
# PyTorch (or with SEEDBENCH_NO_TORCH=1) CAMBench writes CAMScript's deterministic random
# ResNet-50 as safetensors instead (`CAMBench write-random-weights`), and only our side runs.
# Also measured: `python3 -c "import torch, torchvision, pytorch_grad_cam"` alone, and an empty
# .cam script (process start-up); then one extra run of each side for a per-step time split
# (camscript --ipynb cell times; seed.py with SEED_TIMINGS=1), and the two PNGs compared.
# Output pictures and logs go to the temporary folder, removed at the end (SEEDBENCH_KEEP=1 keeps it).
#
# Usage: bash bench/seed/run.sh [N]; SEEDBENCH_SCRATCH (default .build-seedbench) is the build
# folder; SEED_IMAGE (default examples/images/chelsea.png) the photo.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
runs="${1:-5}"
scratch="${SEEDBENCH_SCRATCH:-.build-seedbench}"
image=$(realpath "${SEED_IMAGE:-examples/images/chelsea.png}")

# The Python with torch, torchvision, pytorch-grad-cam and Pillow (as bench/run.sh).
py="${CAMBENCH_PYTHON:-python3}"
torch=1
if [ "${SEEDBENCH_NO_TORCH:-0}" = 1 ] || ! "$py" -c 'import torch' 2>/dev/null; then torch=0; fi

echo "# building camscript (release, $scratch)"
swift build -c release --scratch-path "$scratch" --product camscript >/dev/null
camscript="$repo/$scratch/release/camscript"
if [ "$torch" = 0 ]; then
    swift build -c release --scratch-path "$scratch" --product CAMBench >/dev/null
fi

workdir=$(mktemp -d)
if [ "${SEEDBENCH_KEEP:-0}" = 1 ]; then echo "# keeping $workdir"; else trap 'rm -rf "$workdir"' EXIT; fi
export SEED_WORKDIR="$workdir"
mkdir "$workdir/out"
cp examples/seed.cam "$workdir/seed.cam"
stub='import sys, types; sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")'
if [ "$torch" = 1 ]; then
    weights="$workdir/resnet50.pth"
    OMP_NUM_THREADS=2 "$py" -c "$stub
import torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.resnet50(weights=None).state_dict(), sys.argv[1])" "$weights"
else
    weights="$workdir/resnet50.safetensors"
    "$repo/$scratch/release/CAMBench" write-random-weights resnet50 "$weights"
fi

# Both sides get the same environment; OMP_NUM_THREADS=2 as bench/run.sh. camscript sets
# OMP_WAIT_POLICY=passive for itself; seed.py runs twice per round, with OpenMP's default (as a
# user has it) and with OMP_WAIT_POLICY=passive (much faster on a loaded machine, docs/performance.md).
export OMP_NUM_THREADS=2 RESNET50_WEIGHTS="$weights" SEED_IMAGE="$image" SEED_OUT="$workdir/out/seed_py.png"
printf '' >"$workdir/empty.cam"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# machine: $(nproc) CPUs ($cpu), $mem RAM; $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "# $(swift --version 2>/dev/null | head -1)"
echo "# camscript: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo ' (Sources modified)'), release build, $(du -h "$weights" | cut -f1) weights $(basename "$weights")"
if [ "$torch" = 1 ]; then
    "$py" -c "$stub
import platform, torch, torchvision, numpy, PIL, importlib.metadata as m
print(f'# Python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'grad-cam {m.version(\"grad-cam\")}, numpy {numpy.__version__}, Pillow {PIL.__version__}; torch threads {torch.get_num_threads()}')"
else
    echo "# PyTorch not installed (or SEEDBENCH_NO_TORCH=1): CAMScript figures only"
fi
echo "# command: bash bench/seed/run.sh $runs; 1 warm-up + $runs timed runs per case, interleaved; the OS page cache"
echo "#   is warm after the warm-up round (weights, photo, binaries and Python packages were just read)"

cases=(camscript "$camscript" run "$workdir/seed.cam" --no-images
       :: camscript-empty "$camscript" run "$workdir/empty.cam" --no-images)
if [ "$torch" = 1 ]; then
    cases+=(:: python "$py" bench/seed/seed.py
            :: python-passive env OMP_WAIT_POLICY=passive "$py" bench/seed/seed.py
            :: python-imports "$py" -c "$stub
import torch, torchvision, pytorch_grad_cam")
fi
summary=$(python3 bench/seed/measure.py "$runs" "${cases[@]}")
echo "$summary"
echo "# $(date -u '+%H:%M UTC'), load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Per-step split, one extra run each (not part of the figures above).
"$camscript" run "$workdir/seed.cam" --no-images --ipynb "$workdir/seed.ipynb" >/dev/null
python3 -c '
import json, sys
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"] == "code"]
times = [(c["metadata"]["title"], 1000 * c["metadata"]["camscript"]["duration_seconds"]) for c in cells]
print("# camscript cells: " + ", ".join("%s %.0f ms" % t for t in times) + ", sum %.0f ms" % sum(t[1] for t in times))
' "$workdir/seed.ipynb"
if [ "$torch" = 1 ]; then
    echo "# seed.py steps: $(SEED_TIMINGS=1 "$py" bench/seed/seed.py 2>&1 >/dev/null | sed 's/^# //' | paste -sd, | sed 's/,/, /g')"
    "$py" -c '
import sys
import numpy as np
from PIL import Image
ours, theirs = (np.asarray(Image.open(p).convert("RGB")).astype(int) for p in sys.argv[1:3])
if ours.shape != theirs.shape:
    sys.exit(f"# pictures differ in size: camscript {ours.shape}, python {theirs.shape}")
d = np.abs(ours - theirs)
panels = ", ".join(f"{d[:, i * 224:(i + 1) * 224].max()}" for i in range(ours.shape[1] // 224))
print(f"# pictures ({ours.shape[1]}x{ours.shape[0]}): max difference {d.max()} levels (per panel: {panels}), "
      f"{int((d.max(axis=2) > 0).sum())} of {d.shape[0] * d.shape[1]} pixels differ")
' "$workdir/out/cam_compare.png" "$workdir/out/seed_py.png"
fi

# The table (markdown).
field() { echo "$summary" | awk -v l="$1" -v f="$2" '$2 == l {print $f}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "-"}'; }
echo
echo "| process | wall median (s) | wall min–max (s) | peak RSS median (MiB) | RSS min–max (MiB) |"
echo "|---|---:|---:|---:|---:|"
for label in camscript camscript-empty python python-passive python-imports; do
    [ -n "$(field "$label" 3)" ] || continue
    echo "| $label | $(field "$label" 3) | $(field "$label" 4)–$(field "$label" 5) | $(field "$label" 6) | $(field "$label" 7)–$(field "$label" 8) |"
done
if [ "$torch" = 1 ]; then
    echo
    for ref in python python-passive; do
        echo "ratio camscript / $ref: wall $(ratio "$(field camscript 3)" "$(field "$ref" 3)") (goal ≤ 0.1),"\
             "peak RSS $(ratio "$(field camscript 6)" "$(field "$ref" 6)") (goal ≤ 0.25)"
    done
fi
