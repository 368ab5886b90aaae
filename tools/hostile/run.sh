#!/usr/bin/env bash
# Runs every hostile case of issue 17 against the real `camscript` binary, each in a fresh empty
# folder with a 30 s limit, and fails on any signal, timeout, peak RSS over 2 GiB, leftover
# temporary file or wrong outcome. Prints the per-class table that docs/reliability.md keeps.
#
# A case is tools/hostile/cases/<class>/<name>.case, a bash script run as `bash NAME.case` with
# the working directory an empty temporary folder and these variables set:
#   CAM   the camscript binary (absolute path)     ROOT  the repository
#   FIX   Tests/CAMRuntimeTests/Fixtures            GOLD  Tests/InterpreterTests/Golden
# Its header says what must happen:
#   # expect: refused      the case exits with a sysexits code (64-78); every `# stderr:` text
#                          must appear in what it wrote to stderr
#   # expect: right        the case exits 0 (it checks the answer itself)
#   # stderr: TEXT         (repeatable) a part of the message a refusal must give
#   # timeout: N           seconds instead of 30 (only to make a case stricter)
# The exit status of the case is the status of its last command, so a case ends with the
# camscript command whose outcome counts, or with the checks of its answer.
#
# Usage: tools/hostile/run.sh [camscript binary] [class ...]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cam=${1:-$root/.build/debug/camscript}
shift || true
[ -x "$cam" ] || { echo "hostile: no camscript binary at $cam (run swift build first)" >&2; exit 2; }
cam=$(cd "$(dirname "$cam")" && pwd)/$(basename "$cam")
limit_kb=$((2 * 1024 * 1024))
work=$(mktemp -d /tmp/camscript-hostile.XXXXXX)
trap 'rm -rf "$work"' EXIT

classes=("$@")
if [ ${#classes[@]} -eq 0 ]; then
  classes=()
  for d in "$root"/tools/hostile/cases/*/; do classes+=("$(basename "$d")"); done
fi

declare -A tried refused right crash hang wrong memory leftover
failures=0
for class in "${classes[@]}"; do
  tried[$class]=0; refused[$class]=0; right[$class]=0; crash[$class]=0; hang[$class]=0
  wrong[$class]=0; memory[$class]=0; leftover[$class]=0
  for case in "$root"/tools/hostile/cases/"$class"/*.case; do
    [ -e "$case" ] || continue
    name="$class/$(basename "$case" .case)"
    expect=$(sed -n 's/^# expect: *//p' "$case" | head -1)
    seconds=$(sed -n 's/^# timeout: *//p' "$case" | head -1)
    seconds=${seconds:-30}
    dir="$work/$class.$(basename "$case" .case)"
    mkdir -p "$dir"
    tried[$class]=$((tried[$class] + 1))
    (cd "$dir" && CAM="$cam" ROOT="$root" FIX="$root/Tests/CAMRuntimeTests/Fixtures" \
      GOLD="$root/Tests/InterpreterTests/Golden" SWIFT_BACKTRACE=enable=no \
      timeout -s KILL "$seconds" /usr/bin/time -f '%M' -o "$work/rss" \
      bash "$case" </dev/null >"$work/out" 2>"$work/err")
    status=$?
    rss=$(tail -1 "$work/rss" 2>/dev/null | tr -dc 0-9)
    rss=${rss:-0}
    verdict=""
    if [ "$status" -eq 137 ] && ! grep -q '^Command terminated by signal' "$work/rss" 2>/dev/null; then
      verdict="hang"; hang[$class]=$((hang[$class] + 1))
    elif grep -q '^Command terminated by signal\|^Command exited with non-zero status 1[3-9][0-9]' "$work/rss" 2>/dev/null \
         || [ "$status" -ge 128 ] || grep -q 'Fatal error\|Segmentation fault\|💣\|Illegal instruction' "$work/err"; then
      verdict="crash (status $status)"; crash[$class]=$((crash[$class] + 1))
    elif [ "$rss" -gt "$limit_kb" ]; then
      verdict="peak RSS $((rss / 1024)) MiB over 2 GiB"; memory[$class]=$((memory[$class] + 1))
    elif [ -n "$(find "$dir" -name '.*.tmp' -print -quit)" ]; then
      verdict="left a temporary file: $(find "$dir" -name '.*.tmp' | head -1)"; leftover[$class]=$((leftover[$class] + 1))
    elif [ "$expect" = "right" ]; then
      if [ "$status" -eq 0 ]; then right[$class]=$((right[$class] + 1)); else verdict="wrong (exit $status)"; wrong[$class]=$((wrong[$class] + 1)); fi
    elif [ "$expect" = "refused" ]; then
      if [ "$status" -ge 64 ] && [ "$status" -le 78 ]; then
        missing=""
        while IFS= read -r text; do
          grep -qF -- "$text" "$work/err" || missing="$text"
        done < <(sed -n 's/^# stderr: *//p' "$case")
        if [ -z "$missing" ]; then refused[$class]=$((refused[$class] + 1))
        else verdict="refused without \"$missing\""; wrong[$class]=$((wrong[$class] + 1)); fi
      else
        verdict="not refused (exit $status)"; wrong[$class]=$((wrong[$class] + 1))
      fi
    else
      verdict="no '# expect: refused|right' line"; wrong[$class]=$((wrong[$class] + 1))
    fi
    if [ -n "$verdict" ]; then
      failures=$((failures + 1))
      echo "FAIL $name: $verdict" >&2
      sed 's/^/    stderr: /' "$work/err" | head -8 >&2
      sed 's/^/    stdout: /' "$work/out" | head -4 >&2
    else
      printf 'ok   %-48s %6d MiB\n' "$name" "$((rss / 1024))"
    fi
  done
done

echo
echo "| class | tried | refused cleanly | right answer | crashes | hangs | wrong | over 2 GiB | temp files left |"
echo "|---|---|---|---|---|---|---|---|---|"
total=(0 0 0 0 0 0 0 0)
for class in "${classes[@]}"; do
  echo "| $class | ${tried[$class]} | ${refused[$class]} | ${right[$class]} | ${crash[$class]} | ${hang[$class]} | ${wrong[$class]} | ${memory[$class]} | ${leftover[$class]} |"
  row=(${tried[$class]} ${refused[$class]} ${right[$class]} ${crash[$class]} ${hang[$class]} ${wrong[$class]} ${memory[$class]} ${leftover[$class]})
  for i in "${!row[@]}"; do total[$i]=$((total[$i] + row[$i])); done
done
echo "| **all** | ${total[0]} | ${total[1]} | ${total[2]} | ${total[3]} | ${total[4]} | ${total[5]} | ${total[6]} | ${total[7]} |"
if [ "$failures" -gt 0 ]; then echo "hostile: $failures case(s) failed" >&2; exit 1; fi
echo "hostile: every case held"
