#!/usr/bin/env bash
# Renders an HTML report to a PNG with headless Chromium, atomically (a temporary file, then a
# rename), for the README's screenshot: `make demo` calls it on out/quickstart.html so that the
# picture in the README is always today's report. Without Chromium it says so and leaves the
# old picture.
# Usage: bash scripts/screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]
set -euo pipefail
html="$1"; out="$2"; size="${3:-1000,1400}"
chromium=""
for c in /usr/bin/chromium /usr/bin/chromium-browser; do [ -x "$c" ] && chromium="$c" && break; done
if [ -z "$chromium" ]; then
  echo "screenshot: no Chromium here; $out is unchanged (scripts/setup.sh installs it)" >&2
  exit 0
fi
profile=$(mktemp -d)
tmp="$(dirname "$out")/.$(basename "$out").$$.png"
trap 'rm -rf "$profile" "$tmp"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions \
  --user-data-dir="$profile" --window-size="$size" --screenshot="$tmp" "file://$(realpath "$html")" >/dev/null 2>&1
mv "$tmp" "$out"
echo "screenshot: wrote $out"
