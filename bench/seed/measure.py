"""Times commands as whole processes: one warm-up round, then N timed rounds (Python stdlib only).

Usage: python3 measure.py N LABEL COMMAND [ARG...] [:: LABEL COMMAND [ARG...]]...

Each round runs every command once, in the order given (interleaved, so that a change of load on
the shared machine touches every case alike). Each run is a fresh child process; its wall time is
measured around spawn..wait, and its peak resident set size is the child's own ru_maxrss from
os.wait4 (Linux reports KiB; the kernel keeps the maximum across execve, so a program that
re-executes itself is counted whole). A child's stdout and stderr go to LABEL.log in
$SEED_WORKDIR (default: the current folder); a failing run aborts with its log. Prints one line
per run to stderr, then per case a summary line to stdout:
"= LABEL median_s min_s max_s median_MiB min_MiB max_MiB".
"""
import os
import statistics
import subprocess
import sys
import time


def run_once(label, command):
    log_path = os.path.join(os.environ.get("SEED_WORKDIR", "."), f"{label}.log")
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    if code != 0:
        with open(log_path, "r", errors="replace") as log:
            sys.stderr.write(log.read())
        sys.exit(f"measure.py: {label} ({' '.join(command)}) failed with exit code {code}")
    return wall, usage.ru_maxrss / 1024


def parse(arguments):
    cases, current = [], []
    for argument in arguments + ["::"]:
        if argument == "::":
            if len(current) < 2:
                sys.exit("measure.py: every case needs a label and a command")
            cases.append((current[0], current[1:]))
            current = []
        else:
            current.append(argument)
    return cases


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: measure.py N LABEL COMMAND [ARG...] [:: LABEL COMMAND [ARG...]]...")
    runs = int(sys.argv[1])
    if runs < 1:
        sys.exit(f"measure.py: N must be at least 1, got {runs}")
    cases = parse(sys.argv[2:])
    for label, command in cases:
        wall, rss = run_once(label, command)
        print(f"#   warm-up {label}: {wall:.2f} s, {rss:.0f} MiB", file=sys.stderr, flush=True)
    results = {label: ([], []) for label, _ in cases}
    for i in range(runs):
        for label, command in cases:
            wall, rss = run_once(label, command)
            results[label][0].append(wall)
            results[label][1].append(rss)
            print(f"#   run {i + 1} {label}: {wall:.2f} s, {rss:.0f} MiB", file=sys.stderr, flush=True)
    for label, (walls, rsss) in results.items():
        print(f"= {label} {statistics.median(walls):.3f} {min(walls):.3f} {max(walls):.3f} "
              f"{statistics.median(rsss):.1f} {min(rsss):.1f} {max(rsss):.1f}", flush=True)


if __name__ == "__main__":
    main()
