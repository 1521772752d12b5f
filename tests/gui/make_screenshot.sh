#!/bin/sh
# Makes resources/screenshots/studio.png: GradProbe Studio on the built-in demo model after a few
# runs (magnitude + GradProbe probe at several targets, one with the statistical search so both
# searches show side by side), under Xvfb, with throw-away settings.
# Usage: tests/gui/make_screenshot.sh [build folder] [output png]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
output=${2:-$root/resources/screenshots/studio.png}
model=${GP_DEMO_MODEL_DIR:-$root/resources/demo-model}
studio=$build/bin/gradprobe-studio
[ -x "$studio" ] || { echo "no $studio: build the gradprobe-studio target first" >&2; exit 2; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat > "$scratch/studio.ini" <<INI
[General]
started=true

[prune]
method=magnitude
group=global
select=exact
schedule=oneshot
probe=true
probe-threshold=2
reduction=0.1
probe-batches=4
nsamples=16
evaluate=true
eval-max-windows=8
seed=0
INI

xvfb-run -a -s "-screen 0 1920x1200x24" \
    "$studio" --settings "$scratch/studio.ini" --run 0.3:statistical,0.5,0.7,0.6 \
    --screenshot "$output" "$model"
echo "wrote $output"
