#!/bin/sh
# Render a monitor HTML report to a PNG with headless Chromium, to look at it as a person would.
# usage: scripts/render_monitor_report.sh report.html out.png [WIDTHxHEIGHT]
set -eu
html=$(realpath "$1")
out=$(realpath -m "$2")
size=${3:-1300,2400}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no chromium on PATH (apt-get install -y chromium)" >&2; exit 2; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$size" \
  --screenshot="$out" "file://$html" 2>/dev/null
echo "$out"
