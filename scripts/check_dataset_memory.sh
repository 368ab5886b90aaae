#!/usr/bin/env bash
# Memory stays flat over a long dataset run (issue 20): N small generated PNGs (default 10,000,
# 24×20 pixels in 10 class folders, made by camscript itself), Grad-CAM on a random ResNet-18 in
# batches of 32 with a results row per image, while the process's resident memory (VmRSS) is read
# every second. Passes when the largest RSS after the first minute is within 10 % of the largest
# in the first minute, every image has its row, and the run lasted long enough to judge (> 90 s).
# Usage: scripts/check_dataset_memory.sh CAMSCRIPT [N]    (make test-dataset-memory)
set -euo pipefail
camscript=$(realpath "$1")
count="${2:-10000}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p $(for c in $(seq 0 9); do echo "data/c$c"; done)
cat > make.cam <<CAM
for i in range($count):
    save to_image(zeros([3, 24, 20]) + (i % 97) / 97) "data/c" + str(i % 10) + "/" + str(i) + ".png"
CAM
"$camscript" run make.cam
cat > run.cam <<'CAM'
model = random_model "resnet18"
out = results "r.jsonl" model=model method="gradcam"
for b in batch(pending(out, dataset("data", labels="folder")), 32, model):
    cams = gradcam model b.x layer="layer4"
    for i in range(len(b)):
        record out b[i] label=b[i].label target=cams[i].target
print out.done
CAM
"$camscript" run run.cam > run.log 2>&1 &
pid=$!
start=$(date +%s)
: > rss.log
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )) $rss" >> rss.log
    sleep 1
done
wait "$pid" || { echo "memory: the run failed:"; cat run.log; exit 1; }
elapsed=$(( $(date +%s) - start ))
done_rows=$(tail -1 run.log)
first=$(awk '$1 <= 60 {if ($2 > m) m = $2} END {print m + 0}' rss.log)
later=$(awk '$1 > 60 {if ($2 > m) m = $2} END {print m + 0}' rss.log)
echo "memory: $count images in ${elapsed}s; RSS max $((first / 1024)) MiB in the first minute, $((later / 1024)) MiB after ($(awk -v a="$first" -v b="$later" 'BEGIN {printf "%+.1f", (b - a) * 100 / a}') %)"
[ "$done_rows" = "$count" ] || { echo "memory: FAILED: $done_rows rows, expected $count"; exit 1; }
[ "$elapsed" -gt 90 ] || { echo "memory: FAILED: the run took ${elapsed}s, too short to judge; raise N"; exit 1; }
awk -v a="$first" -v b="$later" 'BEGIN {exit !(b <= a * 1.10)}' || { echo "memory: FAILED: RSS grew by more than 10 %"; exit 1; }
echo "memory: ok"
