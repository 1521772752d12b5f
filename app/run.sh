#!/usr/bin/env bash
# README command 1: set up, build, and open GradProbe Studio on the built-in demo model. With no
# display it says so and runs the same job headless: `gradprobe prune` on the demo model, which
# prints the result and writes its report.
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds only the two programs it runs and their libraries; tests/run.sh builds the rest.
app/setup.sh --target gradprobe gradprobe-studio
# OpenMP threads that spin while waiting slow everything down on a shared machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
bin=build/release/bin

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    exec "$bin/gradprobe-studio" "$@"
fi

echo "run: no display (DISPLAY and WAYLAND_DISPLAY are unset); running the same job headless:" >&2
out=build/demo-run
echo "run: $bin/gradprobe prune --model resources/demo-model --method wanda --sparsity 0.5 --out $out --force" >&2
exec "$bin/gradprobe" prune --model resources/demo-model --method wanda --sparsity 0.5 --out "$out" --force "$@"
