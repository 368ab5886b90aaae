#!/usr/bin/env bash
# A real one-node Slurm cluster on 127.0.0.1 runs a dataset script as an array job (issue 20):
# munged and slurmctld + slurmd from Debian's slurm-wlm and munge, with a key, a configuration
# and spool folders made for this test in a temporary folder (no cgroups: linuxproc process
# tracking, no task plugin, no accounting), then
#   sbatch --array=0-3 of `camscript run SCRIPT -- out-$SLURM_ARRAY_TASK_ID.jsonl` (each task
#   reads its shard from SLURM_ARRAY_TASK_ID/MIN/MAX), waits for the array to leave the queue,
#   `camscript merge`s the four files, and checks that the merged rows are the rows of a
#   single-process run of the same script.
# Usage: check_slurm.sh CAMSCRIPT SCRIPT DATA_FOLDER WORK_FOLDER
# Prints "slurm: ok …" on success; on failure the daemons' logs. Exit 0 ok, 1 failed,
# 77 Slurm or munge not installed (scripts/setup.sh installs them).
set -uo pipefail
camscript=$(realpath "$1"); script=$(realpath "$2"); data=$(realpath "$3"); work=$(realpath "$4")
for tool in munged slurmctld slurmd sbatch squeue; do
    command -v "$tool" >/dev/null || { echo "slurm: $tool is not installed (scripts/setup.sh installs slurm-wlm and munge)"; exit 77; }
done
cluster="$work/cluster"
mkdir -p "$cluster/state" "$cluster/spool" "$cluster/munge" "$work/logs"
chmod 700 "$cluster/munge"

fail() {
    echo "slurm: FAILED: $*"
    for log in "$cluster"/*.log "$work"/logs/*; do [ -f "$log" ] && { echo "--- $log"; tail -20 "$log"; }; done
    exit 1
}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    # munged puts itself in the background: stop it by its pid file.
    [ -f "$cluster/munge/munged.pid" ] && kill "$(cat "$cluster/munge/munged.pid")" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

# Free ports for slurmctld and slurmd (the kernel picks them).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# munge: its own key and socket; run as the current user (root in CI) with --force, since the
# test's folders are not the system's.
dd if=/dev/urandom of="$cluster/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$cluster/munge/munge.key"
munged --force --key-file="$cluster/munge/munge.key" --socket="$cluster/munge/munge.socket" \
    --pid-file="$cluster/munge/munged.pid" --log-file="$cluster/munged.log" \
    --seed-file="$cluster/munge/munge.seed" >>"$cluster/munged.log" 2>&1 </dev/null || fail "munged did not start"

node=$(hostname -s)
user=$(id -un)
cat > "$cluster/slurm.conf" <<CONF
ClusterName=camscript-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$cluster/munge/munge.socket
StateSaveLocation=$cluster/state
SlurmdSpoolDir=$cluster/spool
SlurmctldPidFile=$cluster/slurmctld.pid
SlurmdPidFile=$cluster/slurmd.pid
SlurmctldLogFile=$cluster/slurmctld.log
SlurmdLogFile=$cluster/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$cluster/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >>"$cluster/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$cluster/slurmd.out" 2>&1 &
pids+=($!)

# Wait until the node is idle (up to 60 s).
for _ in $(seq 120); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null | head -1)
    [ "$state" = idle ] && break
    sleep 0.5
done
[ "${state:-}" = idle ] || fail "the node did not become idle (state '${state:-none}')"

# The array job: every task runs the same script on its own shard.
cd "$work"
job=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --output="$work/logs/task-%a.log" \
    --chdir="$work" --export=ALL \
    --wrap="\"$camscript\" run \"$script\" -- \"$data\" \"$work/out-\$SLURM_ARRAY_TASK_ID.jsonl\"") \
    || fail "sbatch refused the array job"
for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || fail "array job $job still queued after 300 s"
for k in 0 1 2 3; do
    [ -f "$work/out-$k.jsonl" ] || fail "task $k wrote no results"
    grep -q "(Slurm array task)" "$work/logs/task-$k.log" || fail "task $k did not read its shard from Slurm"
done

# Merge, and compare with one process over the whole folder.
"$camscript" merge "$work/merged.jsonl" "$work"/out-{0,1,2,3}.jsonl > "$work/logs/merge.log" 2>&1 || fail "merge failed"
env -u SLURM_ARRAY_TASK_ID "$camscript" run "$script" -- "$data" "$work/single.jsonl" > "$work/logs/single.log" 2>&1 \
    || fail "the single-process run failed"
if ! diff <(tail -n +2 "$work/merged.jsonl") <(tail -n +2 "$work/single.jsonl" | LC_ALL=C sort) > "$work/logs/diff.log"; then
    fail "the merged table differs from the single-process run"
fi
rows=$(($(wc -l < "$work/merged.jsonl") - 1))
echo "slurm: ok: array job $job (4 tasks: $(for k in 0 1 2 3; do printf '%s ' "$(($(wc -l < "$work/out-$k.jsonl") - 1))"; done)rows) merged to $rows rows, equal to one process"
